// Editing tools as a small state machine, independent of the DOM: a tool takes taps (picks) and turns
// them into an intervention. Point tools finish on the first tap; line and area tools collect taps until
// "done". Everything works with taps alone, so touch, mouse and keyboard share one path.

import type { TextKey } from "./i18n";
import type { Intervention } from "./protocol.gen";
import type { Pick } from "./tiles";

export type ToolId =
  | "tree" | "tree_row" | "park" | "unseal" | "green_roof" | "road_closure" | "tempo30"
  | "bus_line" | "on_demand" | "new_stop" | "comment";

export type ToolInput = "point" | "line" | "polygon" | "building" | "road";

export interface ToolSpec {
  id: ToolId;
  label: TextKey;
  hint: TextKey;
  input: ToolInput;
  minPoints: number;
  icon: string; // SVG path data, 24x24 viewBox
}

const ICONS = {
  tree: "M12 2a6 6 0 0 0-4 10.5A5 5 0 0 0 11 21v1h2v-1a5 5 0 0 0 3-8.5A6 6 0 0 0 12 2z",
  row: "M5 4a3 3 0 0 0-2 5.2V13h4V9.2A3 3 0 0 0 5 4zm7 0a3 3 0 0 0-2 5.2V13h4V9.2A3 3 0 0 0 12 4zm7 0a3 3 0 0 0-2 5.2V13h4V9.2A3 3 0 0 0 19 4zM2 18h20v2H2z",
  park: "M3 20h18v-2h-6v-3a4 4 0 1 0-6 0v3H3zM17 8a3 3 0 1 1 0 6 3 3 0 0 1 0-6z",
  unseal: "M3 3h18v18H3zm3 3v12h12V6zm2 8 3-4 2 3 2-2 2 3z",
  roof: "M12 3 2 11h3v9h14v-9h3zm-4 9h8v6H8z",
  closure: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zM6 11h12v2H6z",
  tempo: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 3a7 7 0 1 1 0 14 7 7 0 0 1 0-14zm-3 4v6h2V9zm3 0v6h3V9z",
  bus: "M5 3h14a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2v2h-3v-2H8v2H5v-2a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm0 3v5h14V6zm1 8a1.5 1.5 0 1 0 3 0 1.5 1.5 0 0 0-3 0zm9 0a1.5 1.5 0 1 0 3 0 1.5 1.5 0 0 0-3 0z",
  zone: "M4 4h16v16H4zm2 2v12h12V6zm3 3h6v6H9z",
  stop: "M11 2h2v4h5v6h-5v10h-2V12H6V6h5z",
  comment: "M12 2a7 7 0 0 0-7 7c0 5 7 13 7 13s7-8 7-13a7 7 0 0 0-7-7zm0 4a3 3 0 1 1 0 6 3 3 0 0 1 0-6z",
};

export const TOOLS: Record<ToolId, ToolSpec> = {
  tree: { id: "tree", label: "tool_tree", hint: "hint_tree", input: "point", minPoints: 1, icon: ICONS.tree },
  tree_row: { id: "tree_row", label: "tool_tree_row", hint: "hint_line", input: "line", minPoints: 2, icon: ICONS.row },
  park: { id: "park", label: "tool_park", hint: "hint_polygon", input: "polygon", minPoints: 3, icon: ICONS.park },
  unseal: { id: "unseal", label: "tool_unseal", hint: "hint_polygon", input: "polygon", minPoints: 3, icon: ICONS.unseal },
  green_roof: { id: "green_roof", label: "tool_green_roof", hint: "hint_building", input: "building", minPoints: 1, icon: ICONS.roof },
  road_closure: { id: "road_closure", label: "tool_road_closure", hint: "hint_road", input: "road", minPoints: 1, icon: ICONS.closure },
  tempo30: { id: "tempo30", label: "tool_tempo30", hint: "hint_road", input: "road", minPoints: 1, icon: ICONS.tempo },
  bus_line: { id: "bus_line", label: "tool_bus_line", hint: "hint_bus_line", input: "line", minPoints: 2, icon: ICONS.bus },
  on_demand: { id: "on_demand", label: "tool_on_demand", hint: "hint_polygon", input: "polygon", minPoints: 3, icon: ICONS.zone },
  new_stop: { id: "new_stop", label: "tool_new_stop", hint: "hint_stop", input: "point", minPoints: 1, icon: ICONS.stop },
  comment: { id: "comment", label: "tool_comment", hint: "hint_comment", input: "point", minPoints: 1, icon: ICONS.comment },
};

export const MODE_TOOLS: Record<"planner" | "citizen" | "kiosk", ToolId[]> = {
  planner: ["tree", "tree_row", "park", "unseal", "green_roof", "road_closure", "tempo30", "bus_line", "on_demand", "new_stop", "comment"],
  citizen: ["comment"],
  kiosk: ["tree", "green_roof", "new_stop"],
};

let counter = 0;
/** A new intervention id, unique within a scenario (client-chosen, as the protocol asks). */
export function newId(kind: string): string {
  counter = (counter + 1) % 1e6;
  return `${kind}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}${counter}`;
}

/** What a tap resolved to, for road tools: the nearest road edge (or -1). */
export type RoadFinder = (x: number, y: number) => number;

export interface ToolOptions {
  headway_min: number;
  greenRoofs: Set<number>;
  /** Existing green roof intervention id by building id, so a second tap removes it. */
  greenRoofIds: Map<number, string>;
}

export type ToolResult =
  | { type: "pending" }
  | { type: "ignored"; reason: string }
  | { type: "add"; intervention: Intervention }
  | { type: "remove"; object_id: string }
  | { type: "comment"; xyz: [number, number, number] };

export class ToolSession {
  points: Array<[number, number]> = [];
  constructor(readonly spec: ToolSpec, private findRoad: RoadFinder, private opts: ToolOptions) {}

  /** Feed one tap. Point, building and road tools finish at once; line and area tools collect. */
  tap(p: Pick, originZ_m = 0): ToolResult {
    const xy: [number, number] = [round(p.xy_local_m[0]), round(p.xy_local_m[1])];
    switch (this.spec.input) {
      case "point":
        if (p.kind === "building" && this.spec.id !== "comment") return { type: "ignored", reason: "building" };
        if (this.spec.id === "comment") return { type: "comment", xyz: [xy[0], xy[1], round(p.height_m + originZ_m)] };
        if (this.spec.id === "new_stop") return { type: "add", intervention: { kind: "new_stop", id: newId("stop"), xy_local_m: xy, name: "" } };
        return { type: "add", intervention: { kind: "tree", id: newId("tree"), xy_local_m: xy } };
      case "building": {
        if (p.kind !== "building" || p.building_id === null) return { type: "ignored", reason: "no building" };
        const existing = this.opts.greenRoofIds.get(p.building_id);
        if (existing) return { type: "remove", object_id: existing };
        return { type: "add", intervention: { kind: "green_roof", id: newId("roof"), building_id: p.building_id } };
      }
      case "road": {
        const edge = this.findRoad(xy[0], xy[1]);
        if (edge < 0) return { type: "ignored", reason: "no road" };
        if (this.spec.id === "road_closure") return { type: "add", intervention: { kind: "road_closure", id: newId("closure"), edge_index: edge } };
        return { type: "add", intervention: { kind: "speed_limit", id: newId("tempo30"), edge_index: edge, maxspeed_kmh: 30 } };
      }
      default:
        this.points.push(xy);
        return { type: "pending" };
    }
  }

  /** Remove the last collected point (the "undo" of an unfinished drawing). */
  back(): void {
    this.points.pop();
  }

  canFinish(): boolean {
    return this.points.length >= this.spec.minPoints;
  }

  /** Finish a line or area tool; null when there are too few points. */
  finish(): Intervention | null {
    if (!this.canFinish()) return null;
    const pts = this.points.slice();
    switch (this.spec.id) {
      case "tree_row":
        return { kind: "tree_row", id: newId("row"), line_local_m: pts, spacing_m: 10 };
      case "park":
        return { kind: "park", id: newId("park"), polygon_local_m: pts, tree_cover: 0.3 };
      case "unseal":
        return { kind: "unseal", id: newId("unseal"), polygon_local_m: pts };
      case "on_demand":
        return { kind: "on_demand_zone", id: newId("zone"), polygon_local_m: pts, lead_time_min: 60, first_hour: 6, last_hour: 20 };
      case "bus_line":
        return {
          kind: "bus_line", id: newId("line"), stops_local_m: pts, headway_min: this.opts.headway_min,
          first_hour: 6, last_hour: 20, name: "",
        };
      default:
        return null;
    }
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
