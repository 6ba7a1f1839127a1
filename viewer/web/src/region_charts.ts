// SVG renderer of the server's chart specs (server/charts.py): the same charts the PDF reports draw with
// matplotlib. Bars top-down in category order, reference ticks, the highlighted row in orange.

import { bi, num, rt } from "./region_i18n";

type Bi = { de: string; en: string };
export interface ChartSpec {
  id: string;
  kind: "bars" | "columns" | "lines";
  title: Bi;
  unit: Bi;
  categories: Bi[];
  series: { label: Bi; values: (number | null)[]; colour: string }[];
  reference: { label: Bi; values: (number | null)[]; colour: string } | null;
  highlight: number | null;
  percent: boolean;
  source: Bi;
  note: Bi | null;
}

const HIGHLIGHT = "#e69f00";
const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

function fmt(spec: ChartSpec, v: number): string {
  return spec.percent ? `${num(v, 1)} %` : num(v, Math.abs(v) < 10 ? 1 : 0);
}

function bars(spec: ChartSpec, width: number): string {
  const rowH = spec.categories.length > 12 ? 13 : 20;
  const labelW = 118;
  const pad = { t: 4, r: 44, b: 18 };
  const h = pad.t + rowH * spec.categories.length + pad.b;
  const vals = spec.series[0].values;
  const ref = spec.reference?.values ?? [];
  const max = Math.max(1e-9, ...vals.map((v) => v ?? 0), ...ref.map((v) => v ?? 0));
  const w = width - labelW - pad.r;
  const x = (v: number): number => labelW + (w * v) / max;
  const parts: string[] = [];
  spec.categories.forEach((c, i) => {
    const y = pad.t + i * rowH;
    const v = vals[i];
    const colour = spec.highlight === i ? HIGHLIGHT : spec.series[0].colour;
    parts.push(`<text class="chart-cat" x="${labelW - 4}" y="${y + rowH * 0.7}" text-anchor="end">${esc(bi(c))}</text>`);
    if (v === null || v === undefined) {
      parts.push(`<text class="chart-val" x="${labelW + 2}" y="${y + rowH * 0.7}">${rt("under5")}</text>`);
    } else {
      parts.push(`<rect x="${labelW}" y="${y + 2}" width="${Math.max(0.5, x(v) - labelW).toFixed(1)}" height="${rowH - 4}" fill="${colour}"><title>${esc(bi(c))}: ${fmt(spec, v)}</title></rect>`);
      parts.push(`<text class="chart-val" x="${(x(v) + 3).toFixed(1)}" y="${y + rowH * 0.7}">${fmt(spec, v)}</text>`);
    }
    const r = ref[i];
    if (spec.reference && r !== null && r !== undefined) {
      parts.push(`<line x1="${x(r).toFixed(1)}" x2="${x(r).toFixed(1)}" y1="${y}" y2="${y + rowH}" stroke="${spec.reference.colour}" stroke-width="2.5"/>`);
    }
  });
  parts.push(`<line class="chart-axis" x1="${labelW}" x2="${labelW}" y1="${pad.t}" y2="${h - pad.b}"/>`);
  return svg(spec, width, h, parts);
}

function columns(spec: ChartSpec, width: number): string {
  const h = 170;
  const pad = { l: 36, r: 6, t: 6, b: 46 };
  const all = spec.series.flatMap((s) => s.values.map((v) => v ?? 0));
  const max = Math.max(1e-9, ...all);
  const gw = (width - pad.l - pad.r) / Math.max(1, spec.categories.length);
  const bw = Math.max(2, (gw - 4) / spec.series.length);
  const ih = h - pad.t - pad.b;
  const parts: string[] = [];
  spec.categories.forEach((c, i) => {
    spec.series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      const bh = (ih * v) / max;
      parts.push(`<rect x="${(pad.l + i * gw + 2 + k * bw).toFixed(1)}" y="${(pad.t + ih - bh).toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" fill="${s.colour}"><title>${esc(bi(c))} – ${esc(bi(s.label))}: ${fmt(spec, v)}</title></rect>`);
    });
    const cx = pad.l + i * gw + gw / 2;
    parts.push(`<text class="chart-cat" transform="translate(${cx.toFixed(1)},${h - pad.b + 10}) rotate(40)">${esc(bi(c)).slice(0, 14)}</text>`);
  });
  parts.push(`<text class="chart-cat" x="2" y="${pad.t + 8}">${num(max)}</text>`);
  return svg(spec, width, h, parts);
}

function lines(spec: ChartSpec, width: number): string {
  const h = 150;
  const pad = { l: 34, r: 8, t: 6, b: 20 };
  const all = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const n = spec.categories.length;
  const x = (i: number): number => pad.l + ((width - pad.l - pad.r) * i) / Math.max(1, n - 1);
  const y = (v: number): number => pad.t + (h - pad.t - pad.b) * (1 - (v - lo) / Math.max(1e-9, hi - lo));
  const parts: string[] = [];
  for (const s of spec.series) {
    const pts = s.values.map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
    parts.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${s.colour}" stroke-width="2"/>`);
  }
  const step = Math.max(1, Math.floor(n / 6));
  spec.categories.forEach((c, i) => {
    if (i % step === 0) parts.push(`<text class="chart-cat" x="${x(i).toFixed(1)}" y="${h - 4}" text-anchor="middle">${esc(bi(c))}</text>`);
  });
  parts.push(`<text class="chart-cat" x="2" y="${pad.t + 8}">${num(hi)}</text><text class="chart-cat" x="2" y="${h - pad.b}">${num(lo)}</text>`);
  return svg(spec, width, h, parts);
}

function svg(spec: ChartSpec, width: number, height: number, parts: string[]): string {
  return `<svg class="chart" role="img" aria-label="${esc(bi(spec.title))}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

function legend(spec: ChartSpec): string {
  const items = spec.series.map((s) => [s.label, s.colour, "sq"] as const);
  const all = spec.reference ? [...items, [spec.reference.label, spec.reference.colour, "tick"] as const] : items;
  if (spec.kind === "bars" && !spec.reference) return "";
  return `<div class="chart-legend">${all.map(([l, c, k]) => `<span><i class="${k}" style="background:${c}"></i>${esc(bi(l))}</span>`).join("")}</div>`;
}

/** One chart as HTML: title, legend, the SVG, unit and source (with the note on suppressed values). */
export function renderChart(spec: ChartSpec, width = 320): string {
  const body = spec.kind === "bars" ? bars(spec, width) : spec.kind === "columns" ? columns(spec, width) : lines(spec, width);
  const note = spec.note ? ` · ${esc(bi(spec.note))}` : "";
  return `<figure class="rchart" data-chart="${esc(spec.id)}"><figcaption>${esc(bi(spec.title))}</figcaption>${legend(spec)}${body}`
    + `<p class="chart-src">${esc(bi(spec.unit))} · ${rt("source")}: ${esc(bi(spec.source))}${note}</p></figure>`;
}
