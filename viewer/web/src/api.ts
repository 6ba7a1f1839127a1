// REST calls of the viewer: districts, scenarios, road and stop geometry, comments and votes.
// Every call goes to the server that served the page; errors carry the server's message.

import type { CommentInfo } from "./protocol.gen";
import type { RoadGeometry } from "./mobility";

export interface ScenarioSummary {
  scenario_id: string;
  name: string;
  district: string;
  kind: string;
  status: string;
  version: number;
  parent_id?: string;
}

export interface DistrictInfo {
  name: string;
  lonlat?: [number, number];
  design_date?: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class Api {
  token = "";
  constructor(readonly base = "") {}

  private headers(json = false): HeadersInit {
    const h: Record<string, string> = {};
    if (this.token) h.Authorization = `Bearer ${this.token}`;
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

  districts(): Promise<Array<string | DistrictInfo>> {
    return this.get("/api/districts");
  }

  district(name: string): Promise<DistrictInfo> {
    return this.get(`/api/districts/${encodeURIComponent(name)}`);
  }

  scenarios(district?: string): Promise<ScenarioSummary[]> {
    const q = district ? `?district=${encodeURIComponent(district)}` : "";
    return this.get(`/api/scenarios${q}`);
  }

  /** Road polylines of the district in the order of its edges (GeoJSON lines in local metres). */
  async roads(district: string): Promise<RoadGeometry> {
    const fc = await this.get<GeoJsonLines>(`/api/districts/${encodeURIComponent(district)}/roads.geojson`);
    return linesToGeometry(fc);
  }

  /** Stop positions (S, 2) local metres, in the order of the district's stops. */
  async stops(district: string): Promise<Float32Array> {
    const fc = await this.get<GeoJsonPoints>(`/api/districts/${encodeURIComponent(district)}/stops.geojson`);
    const out = new Float32Array(fc.features.length * 2);
    fc.features.forEach((f, i) => {
      out[2 * i] = f.geometry.coordinates[0];
      out[2 * i + 1] = f.geometry.coordinates[1];
    });
    return out;
  }

  comments(scenarioId: string): Promise<CommentInfo[]> {
    return this.get(`/api/scenarios/${encodeURIComponent(scenarioId)}/comments`);
  }

  addComment(scenarioId: string, body: { xyz_local_m: [number, number, number]; kind: "comment" | "idea"; text: string }): Promise<CommentInfo> {
    return this.post(`/api/scenarios/${encodeURIComponent(scenarioId)}/comments`, body);
  }

  vote(scenarioId: string, commentId: number): Promise<CommentInfo> {
    return this.post(`/api/scenarios/${encodeURIComponent(scenarioId)}/comments/${commentId}/vote`, {});
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
  features: Array<{ geometry: { coordinates: number[] } }>;
}

/** GeoJSON lines (ordered by `edge_index` when given) into offsets and a flat coordinate array. */
export function linesToGeometry(fc: GeoJsonLines): RoadGeometry {
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
    xy[j++] = c[0];
    xy[j++] = c[1];
  }
  return { offsets, xy };
}
