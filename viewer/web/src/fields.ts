// Result rasters as the client keeps them: one full grid per layer name, updated by full frames and
// by partial frames (a window, or the changed cells of a window) that apply on top of the version they
// were computed against.

import { decodeArray, toFloat32 } from "./arrays";
import type { FieldFrame, GridInfo } from "./protocol.gen";

export interface FieldState {
  layer: string;
  unit: string;
  hour: number;
  version: number;
  grid: GridInfo;
  values: Float32Array; // (rows * cols), row 0 north
}

export type ApplyResult = "applied" | "stale" | "needs_full";

/** Bounds (west, south, east, north) of a grid in local metres. */
export function gridBounds(g: GridInfo): [number, number, number, number] {
  return [g.west_m, g.south_m, g.west_m + g.cols * g.cell_m, g.south_m + g.rows * g.cell_m];
}

/** The value at local (x east, y north), NaN outside. */
export function sampleField(f: FieldState, x: number, y: number): number {
  const g = f.grid;
  const c = Math.floor((x - g.west_m) / g.cell_m);
  const r = Math.floor((g.south_m + g.rows * g.cell_m - y) / g.cell_m);
  if (r < 0 || c < 0 || r >= g.rows || c >= g.cols) return NaN;
  return f.values[r * g.cols + c];
}

/**
 * Apply a frame to the store. A full frame replaces the layer; a partial one needs the layer at
 * `base_version` and writes its window, or with `cells` only the listed cells of its window.
 * Frames older than what the store holds are dropped.
 */
export function applyFieldFrame(store: Map<string, FieldState>, fr: FieldFrame): ApplyResult {
  const key = fr.layer;
  const cur = store.get(key);
  if (cur && fr.scenario_version < cur.version && cur.hour === fr.hour) return "stale";
  const win = toFloat32(fr.values);
  const w = fr.window;
  const cells = fr.cells ? decodeArray(fr.cells) : null;
  if (cells) {
    if (fr.full || cells.length !== win.length) throw new Error(`field ${fr.layer}: cells do not match values`);
  } else if (win.length !== w.rows * w.cols) throw new Error(`field ${fr.layer}: window does not match values`);
  if (fr.full) {
    store.set(key, { layer: fr.layer, unit: fr.unit, hour: fr.hour, version: fr.scenario_version, grid: fr.grid, values: win });
    return "applied";
  }
  if (!cur || cur.version !== fr.base_version || cur.hour !== fr.hour || cur.grid.cols !== fr.grid.cols) return "needs_full";
  const values = new Float32Array(cur.values);
  const cols = cur.grid.cols;
  if (cells) {
    const n = w.rows * w.cols;
    for (let i = 0; i < cells.length; i++) {
      const k = cells[i];
      if (k >= n) throw new Error(`field ${fr.layer}: cell outside its window`);
      const r = Math.floor(k / w.cols);
      values[(w.row0 + r) * cols + w.col0 + (k - r * w.cols)] = win[i];
    }
  } else {
    for (let r = 0; r < w.rows; r++) {
      values.set(win.subarray(r * w.cols, (r + 1) * w.cols), (w.row0 + r) * cols + w.col0);
    }
  }
  store.set(key, { ...cur, version: fr.scenario_version, values });
  return "applied";
}

/** Difference b - a of two fields on the same grid (NaN where either is missing). */
export function differenceField(a: FieldState, b: FieldState): FieldState {
  const n = Math.min(a.values.length, b.values.length);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = b.values[i] - a.values[i];
  return { ...b, layer: `${b.layer}:diff`, values: out };
}

/** Histogram of finite values into bins [edges[i], edges[i+1]); values beyond clamp to the end bins. */
export function histogram(values: ArrayLike<number>, edges: number[]): number[] {
  const counts = new Array(edges.length - 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    let k = 0;
    while (k < counts.length - 1 && v >= edges[k + 1]) k++;
    counts[k]++;
  }
  return counts;
}
