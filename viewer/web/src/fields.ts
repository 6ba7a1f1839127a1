// Result rasters as the client keeps them: one full grid per layer name, updated by full frames and
// by partial frames (a window, or the changed cells of a window) that apply on top of the version they
// were computed against.

import { decodeArray, toFloat32 } from "./arrays";
import type { AccessFrame, FieldFrame, GridInfo, NDArray } from "./protocol.gen";

export interface FieldState {
  layer: string;
  unit: string;
  hour: number;
  version: number;
  grid: GridInfo;
  values: Float32Array; // (rows * cols), row 0 north
  /** A field that travels on a coarse raster (the air): that raster, on which partial frames apply;
   * `values` is its bilinear interpolation to the grid (`upsampleCoarse`). */
  coarse?: CoarseRaster;
}

/** A coarse raster of `factor` x `factor` grid cells, its north-west corner at the grid's. */
export interface CoarseRaster {
  factor: number;
  rows: number;
  cols: number;
  values: Float32Array; // (rows * cols), row 0 north
}

/** One axis of the bilinear rule: for each grid index, the two coarse indices and the weight of the second. */
function axisWeights(n: number, m: number, f: number, lo: number, hi: number): { i0: Int32Array; i1: Int32Array; w: Float32Array } {
  const i0 = new Int32Array(hi - lo);
  const i1 = new Int32Array(hi - lo);
  const w = new Float32Array(hi - lo);
  for (let k = lo; k < hi; k++) {
    const pos = (k + 0.5) / f - 0.5;
    const a = Math.min(Math.max(Math.floor(pos), 0), m - 1);
    i0[k - lo] = a;
    i1[k - lo] = Math.min(a + 1, m - 1);
    w[k - lo] = Math.min(Math.max(pos - a, 0), 1);
  }
  return { i0, i1, w };
}

/**
 * Write the bilinear interpolation of coarse raster `c` into `out` (grid `g`, row-major), for the grid
 * rows r0..r1 and columns c0..c1 (end exclusive; default all): the server's rule (protocol.upsample_field),
 * coarse cell centres at grid position (i + 0.5) * factor, clamped at the edges.
 */
export function upsampleCoarse(c: CoarseRaster, g: GridInfo, out: Float32Array,
  r0 = 0, r1 = g.rows, c0 = 0, c1 = g.cols): Float32Array {
  const f = c.factor;
  const ry = axisWeights(g.rows, c.rows, f, r0, r1);
  const cx = axisWeights(g.cols, c.cols, f, c0, c1);
  const v = c.values;
  const tmp = new Float32Array(c.cols);
  for (let r = r0; r < r1; r++) {
    const k = r - r0;
    const a = ry.i0[k] * c.cols;
    const b = ry.i1[k] * c.cols;
    const wy = ry.w[k];
    for (let j = 0; j < c.cols; j++) tmp[j] = v[a + j] * (1 - wy) + v[b + j] * wy;
    const base = r * g.cols;
    for (let q = c0; q < c1; q++) {
      const m = q - c0;
      const wx = cx.w[m];
      out[base + q] = tmp[cx.i0[m]] * (1 - wx) + tmp[cx.i1[m]] * wx;
    }
  }
  return out;
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
  if ((fr.coarse ?? 1) > 1) return applyCoarseFrame(store, cur, fr);
  const { win, cells } = frameValues(fr);
  if (fr.full) {
    store.set(key, { layer: fr.layer, unit: fr.unit, hour: fr.hour, version: fr.scenario_version, grid: fr.grid, values: win });
    return "applied";
  }
  if (!cur || cur.version !== fr.base_version || cur.hour !== fr.hour || cur.grid.cols !== fr.grid.cols || cur.coarse) return "needs_full";
  const values = writeWindow(new Float32Array(cur.values), cur.grid.cols, fr, win, cells);
  store.set(key, { ...cur, version: fr.scenario_version, values });
  return "applied";
}

/** A frame's values and (for a sparse frame) its cell indices, checked against each other and its window. */
function frameValues(fr: FieldFrame): { win: Float32Array; cells: ArrayLike<number> | null } {
  const win = toFloat32(fr.values);
  const w = fr.window;
  const cells = fr.cells ? decodeArray(fr.cells) : null;
  if (cells) {
    if (fr.full || cells.length !== win.length) throw new Error(`field ${fr.layer}: cells do not match values`);
  } else if (win.length !== w.rows * w.cols) throw new Error(`field ${fr.layer}: window does not match values`);
  return { win, cells };
}

/** Write a partial frame's window (or, with `cells`, only the listed cells of it) into `values`, a raster `cols` wide. */
function writeWindow(values: Float32Array, cols: number, fr: FieldFrame, win: Float32Array, cells: ArrayLike<number> | null): Float32Array {
  const w = fr.window;
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
  return values;
}

/**
 * A frame on the coarse raster of `fr.coarse` grid cells: applied to the coarse raster the store keeps,
 * then interpolated to the grid (only around the changed coarse cells for a partial frame).
 */
function applyCoarseFrame(store: Map<string, FieldState>, cur: FieldState | undefined, fr: FieldFrame): ApplyResult {
  const f = fr.coarse ?? 1;
  const g = fr.grid;
  const rows = Math.ceil(g.rows / f);
  const cols = Math.ceil(g.cols / f);
  const { win, cells } = frameValues(fr);
  const w = fr.window;
  if (w.row0 < 0 || w.col0 < 0 || w.row0 + w.rows > rows || w.col0 + w.cols > cols) {
    throw new Error(`field ${fr.layer}: window outside its coarse raster`);
  }
  if (fr.full) {
    if (win.length !== rows * cols) throw new Error(`field ${fr.layer}: values do not fill the coarse raster`);
    const coarse: CoarseRaster = { factor: f, rows, cols, values: win };
    const values = upsampleCoarse(coarse, g, new Float32Array(g.rows * g.cols));
    store.set(fr.layer, { layer: fr.layer, unit: fr.unit, hour: fr.hour, version: fr.scenario_version, grid: g, values, coarse });
    return "applied";
  }
  const cc = cur?.coarse;
  if (!cur || !cc || cur.version !== fr.base_version || cur.hour !== fr.hour || cc.factor !== f || cc.rows !== rows
    || cc.cols !== cols || cur.grid.rows !== g.rows || cur.grid.cols !== g.cols) return "needs_full";
  const coarseValues = writeWindow(new Float32Array(cc.values), cols, fr, win, cells);
  const coarse: CoarseRaster = { factor: f, rows, cols, values: coarseValues };
  const values = new Float32Array(cur.values);
  if (w.rows > 0 && w.cols > 0) {
    // grid cells that read a changed coarse cell: within one coarse cell of the window
    const r0 = Math.max(0, (w.row0 - 1) * f);
    const r1 = Math.min(g.rows, (w.row0 + w.rows + 1) * f);
    const c0 = Math.max(0, (w.col0 - 1) * f);
    const c1 = Math.min(g.cols, (w.col0 + w.cols + 1) * f);
    upsampleCoarse(coarse, g, values, r0, r1, c0, c1);
  }
  store.set(fr.layer, { ...cur, version: fr.scenario_version, values, coarse });
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

/** The complete access results a client keeps (per building, of one scenario version). */
export type AccessState = AccessFrame & { buildings?: null };

/**
 * The complete access frame after `fr`: `fr` itself when complete; for a partial frame (`buildings`:
 * indices of the buildings that changed) the state at `base_version` with those buildings' values
 * replaced; "needs_full" when the client lacks that base (it re-subscribes).
 */
export function applyAccessFrame(cur: AccessState | null, fr: AccessFrame): AccessState | "needs_full" {
  if (!fr.buildings) return fr as AccessState;
  const idx = decodeArray(fr.buildings);
  const cats = fr.categories ?? [];
  if (fr.building_time_min.shape.length !== 1 || fr.building_time_min.shape[0] !== idx.length) {
    throw new Error("access: changed buildings do not match the values");
  }
  if (!cur || cur.scenario_version !== fr.base_version || (cur.categories ?? []).join("\u0000") !== cats.join("\u0000")) return "needs_full";
  const n = cur.building_time_min.shape[0] ?? 0;
  for (let i = 0; i < idx.length; i++) if (idx[i] >= n) return "needs_full";
  const merge = (base: NDArray | null | undefined, part: NDArray | null | undefined): NDArray | null | "bad" => {
    if (!base && !part) return null;
    if (!base || !part || base.dtype !== part.dtype) return "bad";
    const a = decodeArray(base);
    const v = decodeArray(part);
    const rows = base.shape.length === 2 ? base.shape[0] : 1;
    if (v.length !== rows * idx.length || a.length !== rows * n) return "bad";
    const out = a.slice();
    for (let r = 0; r < rows; r++) for (let i = 0; i < idx.length; i++) out[r * n + idx[i]] = v[r * idx.length + i];
    return { ...base, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
  };
  const time = merge(cur.building_time_min, fr.building_time_min);
  const byCat = merge(cur.building_time_by_category_min, fr.building_time_by_category_min);
  const cls = merge(cur.building_class, fr.building_class);
  if (time === "bad" || time === null || byCat === "bad" || cls === "bad") return "needs_full";
  return {
    ...fr, base_version: -1, buildings: null, building_time_min: time,
    building_time_by_category_min: byCat, building_class: cls,
  };
}
