// Run by tests/test_web_protocol.py: decodes server frames that Python encoded (one .msgpack file per
// frame in the folder given as argument) with the viewer's own decoding code and prints what it read
// as JSON; then encodes client messages the Python side must accept.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toFloat32 } from "../src/arrays";
import { decodeServerFrame, encodeClientMessage } from "../src/connection";
import { applyAccessFrame, applyFieldFrame, sampleField, type AccessState, type FieldState } from "../src/fields";
import { linesToGeometry } from "../src/api";
import type { ClientMessage, ServerMessage } from "../src/protocol.gen";
import { lonlatToUtm, zoneOfEpsg } from "../src/utm";

const dir = process.argv[2];
const out: Record<string, unknown> = {};
const fields = new Map<string, FieldState>();
let access: AccessState | null = null;
const list = (a: ArrayLike<number>): Array<number | null> => Array.from(a, (v) => (Number.isFinite(v) ? v : null));

for (const name of readdirSync(dir).filter((f) => f.endsWith(".msgpack")).sort()) {
  const msg = decodeServerFrame(readFileSync(join(dir, name)));
  const rec: Record<string, unknown> = { t: msg.t };
  out[name] = rec;
  try {
    describe(msg, rec);
  } catch (e) {
    rec.error = String(e);
  }
}

function describe(msg: ServerMessage, rec: Record<string, unknown>): void {
  switch (msg.t) {
    case "field": {
      rec.result = applyFieldFrame(fields, msg);
      const f = fields.get(msg.layer);
      rec.version = f?.version;
      rec.values = f ? list(f.values) : null;
      rec.sample_centre = f ? sampleField(f, msg.grid.west_m + msg.grid.cell_m * 1.5, msg.grid.south_m + msg.grid.cell_m * 0.5) : null;
      break;
    }
    case "edges":
      rec.flow = list(toFloat32(msg.flow_veh_h));
      rec.vc = list(toFloat32(msg.vc_ratio));
      rec.speed = list(toFloat32(msg.speed_kmh));
      break;
    case "agents":
      rec.kind = msg.kind;
      rec.xy = list(toFloat32(msg.xy_local_m));
      rec.t_s = msg.t_s;
      break;
    case "access": {
      const r = applyAccessFrame(access, msg);
      rec.result = r === "needs_full" ? r : "applied";
      if (r !== "needs_full") access = r;
      const a = access ?? msg;
      rec.version = a.scenario_version;
      rec.time = list(toFloat32(a.building_time_min));
      rec.by_category = a.building_time_by_category_min ? list(toFloat32(a.building_time_by_category_min)) : null;
      rec.building_class = a.building_class ? list(toFloat32(a.building_class)) : null;
      rec.quality = list(toFloat32(a.stop_quality));
      rec.deficits = a.deficits;
      break;
    }
    case "welcome":
      rec.version = msg.scenario.version;
      rec.kinds = msg.scenario.interventions.map((e) => e.intervention.kind);
      rec.can_edit = msg.can_edit;
      rec.grid = msg.grid;
      break;
    case "applied":
      rec.version = msg.scenario_version;
      rec.intervention = msg.intervention;
      break;
    case "kpis":
      rec.values = msg.values;
      break;
    default:
      rec.raw = JSON.parse(JSON.stringify(msg));
  }
}

const client: ClientMessage[] = [
  { t: "hello", protocol: 1, role: "planner", token: "abc", name: "", lang: "de" },
  { t: "subscribe", layers: ["heat", "traffic"], hour: 14 },
  { t: "add", request_id: 7, intervention: { kind: "tree", id: "tree-1", xy_local_m: [120.5, 340.25] } },
  { t: "add", request_id: 8, intervention: { kind: "bus_line", id: "line-1", stops_local_m: [[0, 0], [100, 50]], headway_min: 20, first_hour: 6, last_hour: 20, name: "" } },
  { t: "remove", request_id: 9, object_id: "tree-1", base_revision: 1 },
  { t: "undo", request_id: 10 },
  { t: "view", camera_local_m: [1, 2, 3], target_local_m: [4, 5, 6], selected: "" },
];
client.forEach((m, i) => writeFileSync(join(dir, `client_${i}.bin`), encodeClientMessage(m)));
out.geometry = (() => {
  const g = linesToGeometry({ features: [
    { properties: { edge_index: 1 }, geometry: { coordinates: [[5, 5], [6, 6], [7, 7]] } },
    { properties: { edge_index: 0 }, geometry: { coordinates: [[0, 0], [1, 1]] } },
  ] });
  return { offsets: Array.from(g.offsets), xy: Array.from(g.xy) };
})();
const pts = JSON.parse(readFileSync(join(dir, "lonlat.json"), "utf-8")) as Array<[number, number, number]>;
out.utm = pts.map(([lon, lat, epsg]) => lonlatToUtm(lon, lat, zoneOfEpsg(epsg)));
process.stdout.write(JSON.stringify(out));
