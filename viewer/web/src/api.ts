// REST calls of the viewer: districts, scenarios, road and stop geometry, comments and votes.
// Every call goes to the server that served the page; errors carry the server's message. The bodies'
// types are generated from the server's OpenAPI (api.gen.ts, scripts/gen_api_ts.py): each call names
// its route in ApiOperations, so a changed server model fails the type check here.

import type { ApiOperations, CommentCreate, DistrictOut } from "./api.gen";
import type { RoadGeometry } from "./mobility";

type Res<R extends keyof ApiOperations> = ApiOperations[R]["response"];

export type ScenarioSummary = Res<"GET /api/scenarios">[number];

/** A district; the keys of its summary the viewer reads (``District.summary`` on the server). */
export type DistrictInfo = DistrictOut & { summary: { centre_lonlat?: [number, number]; bbox_local_m?: number[] } };

export type ToLocal = (lon: number, lat: number) => [number, number];

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class Api {
  token = "";
  /** Anonymous clients say whether they are a citizen or a kiosk. */
  role: "citizen" | "kiosk" = "citizen";
  constructor(readonly base = "") {}

  private headers(json = false): HeadersInit {
    const h: Record<string, string> = {};
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    else h["X-Landtwin-Role"] = this.role;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  async get<T>(path: string): Promise<T> {
    const res = await fetch(this.base + path, { headers: this.headers() });
    if (!res.ok) throw new ApiError(res.status, await errorText(res));
    return (await res.json()) as T;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    const res = await fetch(this.base + path, { method: "POST", headers: this.headers(true), body: JSON.stringify(body) });
    if (!res.ok) throw new ApiError(res.status, await errorText(res));
    return (await res.json()) as T;
  }

  districts(): Promise<Res<"GET /api/districts">> {
    return this.get("/api/districts");
  }

  district(name: string): Promise<DistrictInfo> {
    return this.get<Res<"GET /api/districts/{name}">>(`/api/districts/${encodeURIComponent(name)}`) as Promise<DistrictInfo>;
  }

  scenarios(district?: string): Promise<Res<"GET /api/scenarios">> {
    const q = district ? `?district=${encodeURIComponent(district)}` : "";
    return this.get(`/api/scenarios${q}`);
  }

  /** Road polylines of the district in the order of its edges, in local metres. */
  async roads(district: string, toLocal: ToLocal): Promise<RoadGeometry> {
    const fc = await this.get<GeoJsonLines>(`/api/districts/${encodeURIComponent(district)}/links.geojson`);
    return linesToGeometry(fc, toLocal);
  }

  /** Stop positions (S, 2) local metres, in the order of the district's stops. */
  async stops(district: string, toLocal: ToLocal): Promise<Float32Array> {
    const fc = await this.get<GeoJsonPoints>(`/api/districts/${encodeURIComponent(district)}/stops.geojson`);
    const feats = fc.features.slice();
    if (feats.every((f) => typeof f.properties?.stop_index === "number")) {
      feats.sort((a, b) => (a.properties!.stop_index as number) - (b.properties!.stop_index as number));
    }
    const out = new Float32Array(feats.length * 2);
    feats.forEach((f, i) => {
      const [x, y] = toLocal(f.geometry.coordinates[0], f.geometry.coordinates[1]);
      out[2 * i] = x;
      out[2 * i + 1] = y;
    });
    return out;
  }

  comments(scenarioId: string): Promise<Res<"GET /api/scenarios/{scenario_id}/comments">> {
    return this.get(`/api/scenarios/${encodeURIComponent(scenarioId)}/comments`);
  }

  addComment(scenarioId: string, body: CommentCreate): Promise<Res<"POST /api/scenarios/{scenario_id}/comments">> {
    return this.post(`/api/scenarios/${encodeURIComponent(scenarioId)}/comments`, body);
  }

  /** One vote per browser: the voter key is a random id kept in local storage (nothing personal). */
  vote(commentId: number, value: -1 | 0 | 1 = 1): Promise<Res<"POST /api/comments/{comment_id}/vote">> {
    let key = localStorage.getItem("landtwin.voter") ?? "";
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(key)) {
      key = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem("landtwin.voter", key);
    }
    return this.post(`/api/comments/${commentId}/vote`, { value, voter_key: key });
  }

  /** This kiosk device's sandbox copy of a scenario (the server resets it after inactivity); `fresh`
   * replaces the device's open copy by a new one. */
  sandbox(scenarioId: string, fresh = false): Promise<ScenarioSummary> {
    return this.post(`/api/scenarios/${encodeURIComponent(scenarioId)}/sandbox${fresh ? "?fresh=true" : ""}`, {});
  }
}

async function errorText(res: Response): Promise<string> {
  try {
    const j = await res.json();
    return typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail ?? j);
  } catch {
    return `HTTP ${res.status}`;
  }
}

interface GeoJsonLines {
  features: Array<{ properties?: { edge_index?: number }; geometry: { coordinates: number[][] } }>;
}
interface GeoJsonPoints {
  features: Array<{ properties?: { stop_index?: number }; geometry: { coordinates: number[] } }>;
}

/** GeoJSON lines (ordered by `edge_index` when given) into offsets and a flat coordinate array. */
export function linesToGeometry(fc: GeoJsonLines, toLocal: ToLocal = (x, y) => [x, y]): RoadGeometry {
  const feats = fc.features.slice();
  if (feats.every((f) => typeof f.properties?.edge_index === "number")) {
    feats.sort((a, b) => (a.properties!.edge_index as number) - (b.properties!.edge_index as number));
  }
  const offsets = new Int32Array(feats.length + 1);
  let k = 0;
  feats.forEach((f, i) => {
    offsets[i] = k;
    k += f.geometry.coordinates.length;
  });
  offsets[feats.length] = k;
  const xy = new Float32Array(2 * k);
  let j = 0;
  for (const f of feats) for (const c of f.geometry.coordinates) {
    const [x, y] = toLocal(c[0], c[1]);
    xy[j++] = x;
    xy[j++] = y;
  }
  return { offsets, xy };
}
