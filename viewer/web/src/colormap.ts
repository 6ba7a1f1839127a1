// Colour maps and legends as plain functions: value -> RGB, field -> RGBA texture bytes.

import type { TextKey } from "./i18n";

export type RGB = [number, number, number];

/** A piecewise-linear colour ramp over [lo, hi] with evenly spaced stops. */
export interface Ramp {
  lo: number;
  hi: number;
  stops: RGB[];
}

/** A classed scale: value < breaks[0] -> colours[0], ..., >= last break -> last colour. */
export interface Classes {
  breaks: number[];
  colours: RGB[];
  labels: TextKey[] | string[];
}

const hex = (h: string): RGB => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];

// Sequential warm ramp (light yellow to dark red), perceptually ordered and colour-blind safe enough.
const WARM = ["#fff5c0", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026", "#6b0020"].map(hex);
const COOL_WARM = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"].map(hex);
const PURPLES = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"].map(hex);
const TRAFFIC = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"].map(hex);

export const RAMPS: Record<string, Ramp> = {
  surface_temp: { lo: 20, hi: 60, stops: WARM },
  air_temp: { lo: 20, hi: 38, stops: WARM },
  utci: { lo: 20, hi: 46, stops: WARM },
  tmrt: { lo: 20, hi: 70, stops: WARM },
  access: { lo: 0, hi: 30, stops: PURPLES },
  traffic: { lo: 0, hi: 800, stops: TRAFFIC },
  diff: { lo: -4, hi: 4, stops: COOL_WARM },
  uhi: { lo: -3, hi: 3, stops: COOL_WARM }, // air minus the countryside: diverging, centred on 0 K
  cooling: { lo: 0, hi: 600, stops: WARM }, // buildings' cooling demand, kWh/day
  cooling_change: { lo: -20, hi: 20, stops: COOL_WARM }, // its change, kWh/day
};

/** UTCI heat-stress categories (Bröde et al. 2012), °C. */
export const HEAT_STRESS: Classes = {
  breaks: [26, 32, 38, 46],
  colours: ["#fff7bc", "#fec44f", "#f03b20", "#bd0026", "#54001c"].map(hex),
  labels: ["stress_none", "stress_moderate", "stress_strong", "stress_very_strong", "stress_extreme"],
};

/** Volume / capacity classes. */
export const VC_CLASSES: Classes = {
  breaks: [0.5, 0.7, 0.9, 1.0],
  colours: ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"].map(hex),
  labels: ["< 0,5", "0,5–0,7", "0,7–0,9", "0,9–1,0", "> 1,0"],
};

/** Public transport quality classes A (best) to F. */
export const TRANSIT_CLASSES: Classes = {
  breaks: [1, 2, 3, 4, 5],
  colours: ["#006837", "#31a354", "#78c679", "#fecc5c", "#fd8d3c", "#bd0026"].map(hex),
  labels: ["A", "B", "C", "D", "E", "F"],
};

export function rampColour(ramp: Ramp, value: number): RGB {
  const n = ramp.stops.length - 1;
  let f = (value - ramp.lo) / (ramp.hi - ramp.lo);
  f = Math.min(1, Math.max(0, f)) * n;
  const i = Math.min(n - 1, Math.floor(f));
  const w = f - i;
  const a = ramp.stops[i];
  const b = ramp.stops[i + 1];
  return [a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w];
}

export function classIndex(classes: Classes, value: number): number {
  let i = 0;
  while (i < classes.breaks.length && value >= classes.breaks[i]) i++;
  return i;
}

export function classColour(classes: Classes, value: number): RGB {
  return classes.colours[classIndex(classes, value)];
}

/**
 * Colour a (rows, cols) field, row 0 north, into RGBA bytes for a texture whose first row is the
 * south edge (WebGL's v = 0). NaN cells become transparent.
 */
export function fieldToRgba(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  colour: (v: number) => RGB,
  alpha = 255,
): Uint8Array {
  const out = new Uint8Array(rows * cols * 4);
  for (let r = 0; r < rows; r++) {
    const dst = (rows - 1 - r) * cols * 4;
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c];
      const o = dst + c * 4;
      if (!Number.isFinite(v)) continue;
      const rgb = colour(v);
      out[o] = rgb[0];
      out[o + 1] = rgb[1];
      out[o + 2] = rgb[2];
      out[o + 3] = alpha;
    }
  }
  return out;
}

export function cssColour(rgb: RGB): string {
  return `rgb(${Math.round(rgb[0])}, ${Math.round(rgb[1])}, ${Math.round(rgb[2])})`;
}

/** WCAG relative luminance and contrast ratio, used to pick legible text on coloured swatches. */
export function luminance(rgb: RGB): number {
  const ch = rgb.map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
}

export function contrastRatio(a: RGB, b: RGB): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}
