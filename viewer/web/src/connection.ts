// The websocket to the server: msgpack frames of the typed protocol, a Hello on every (re)connect,
// one handler per message tag, request ids for edits.

import { decode, encode } from "@msgpack/msgpack";
import {
  PROTOCOL_VERSION,
  type ClientMessage,
  type Hello,
  type Intervention,
  type ServerMessage,
  type ServerMessageTag,
} from "./protocol.gen";

export type Handlers = {
  [K in ServerMessageTag]?: (msg: Extract<ServerMessage, { t: K }>) => void;
};

export type ConnectionStatus = "connecting" | "open" | "closed";

/** Decode one binary frame into a server message; throws on anything that is not a tagged map. */
export function decodeServerFrame(data: ArrayBuffer | Uint8Array): ServerMessage {
  const msg = decode(data instanceof Uint8Array ? data : new Uint8Array(data)) as ServerMessage;
  if (typeof msg !== "object" || msg === null || typeof (msg as { t?: unknown }).t !== "string") {
    throw new Error("server frame is not a tagged message");
  }
  return msg;
}

export function encodeClientMessage(msg: ClientMessage): Uint8Array {
  return encode(msg, { ignoreUndefined: true });
}

export class Connection {
  status: ConnectionStatus = "closed";
  private ws: WebSocket | null = null;
  private nextRequest = 1;
  private retryMs = 500;
  private stopped = false;
  onStatus: (s: ConnectionStatus, closeCode?: number) => void = () => {};
  /** Every decoded message, before its handler (for the test handle and logs). */
  onMessage: (m: ServerMessage) => void = () => {};

  constructor(
    private url: string,
    private hello: Omit<Hello, "t" | "protocol">,
    private handlers: Handlers,
  ) {}

  connect(): void {
    this.stopped = false;
    this.status = "connecting";
    this.onStatus(this.status);
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.status = "open";
      this.send({ t: "hello", protocol: PROTOCOL_VERSION, ...this.hello });
      this.onStatus(this.status);
    };
    ws.onmessage = (ev) => {
      if (!(ev.data instanceof ArrayBuffer)) return;
      const msg = decodeServerFrame(ev.data);
      this.onMessage(msg);
      const h = this.handlers[msg.t] as ((m: ServerMessage) => void) | undefined;
      if (h) h(msg);
    };
    ws.onclose = (ev) => {
      this.status = "closed";
      this.onStatus(this.status, ev.code);
      if (this.stopped || (ev.code >= 4400 && ev.code < 4500 && ev.code !== 4429)) return;
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(8000, this.retryMs * 2);
    };
  }

  close(): void {
    this.stopped = true;
    this.ws?.close();
  }

  send(msg: ClientMessage): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(encodeClientMessage(msg));
    return true;
  }

  /** Stream ``layers`` for ``hour``; ``fields`` names the heat fields wanted (the server sends only these). */
  subscribe(layers: Array<"heat" | "traffic" | "agents" | "access">, hour: number, fields: string[] = ["utci_c"]): void {
    this.send({ t: "subscribe", layers, hour, fields });
  }

  /** Send an edit; returns its request id (the acknowledgement is the EditApplied with this id). */
  add(intervention: Intervention): number {
    const request_id = this.nextRequest++;
    this.send({ t: "add", request_id, intervention });
    return request_id;
  }

  update(intervention: Intervention, base_revision: number): number {
    const request_id = this.nextRequest++;
    this.send({ t: "update", request_id, intervention, base_revision });
    return request_id;
  }

  remove(object_id: string, base_revision: number): number {
    const request_id = this.nextRequest++;
    this.send({ t: "remove", request_id, object_id, base_revision });
    return request_id;
  }

  undo(): number {
    const request_id = this.nextRequest++;
    this.send({ t: "undo", request_id });
    return request_id;
  }

  redo(): number {
    const request_id = this.nextRequest++;
    this.send({ t: "redo", request_id });
    return request_id;
  }

  view(camera: [number, number, number], target: [number, number, number], selected = ""): void {
    this.send({ t: "view", camera_local_m: camera, target_local_m: target, selected });
  }
}
