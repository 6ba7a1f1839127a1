// Small SVG charts for the KPI panel: grouped bars (A vs B) and a histogram. Plain strings, no library.

export interface BarSeries {
  label: string;
  colour: string;
  values: number[];
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

/**
 * Grouped vertical bars: one group per category, one bar per series. Sizes in CSS pixels.
 * `format` turns a value into its label.
 */
export function barChart(
  categories: string[],
  series: BarSeries[],
  format: (v: number) => string,
  width = 300,
  height = 150,
): string {
  const pad = { l: 8, r: 8, t: 16, b: 30 };
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.map((v) => Math.abs(v))));
  const gw = (width - pad.l - pad.r) / Math.max(1, categories.length);
  const bw = Math.max(4, (gw - 8) / Math.max(1, series.length));
  const ih = height - pad.t - pad.b;
  const parts: string[] = [];
  categories.forEach((cat, ci) => {
    const gx = pad.l + ci * gw + 4;
    series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const h = (Math.abs(v) / max) * ih;
      const x = gx + si * bw;
      const y = pad.t + ih - h;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.colour}"><title>${esc(s.label)}: ${esc(format(v))}</title></rect>`);
      if (series.length <= 2) {
        parts.push(`<text x="${(x + (bw - 2) / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" class="chart-val">${esc(format(v))}</text>`);
      }
    });
    parts.push(`<text x="${(gx + gw / 2 - 4).toFixed(1)}" y="${height - pad.b + 14}" text-anchor="middle" class="chart-cat">${esc(cat)}</text>`);
  });
  parts.push(`<line x1="${pad.l}" x2="${width - pad.r}" y1="${pad.t + ih}" y2="${pad.t + ih}" class="chart-axis"/>`);
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${parts.join("")}</svg>`;
}

/** A histogram whose bars take the colours of their classes. */
export function classHistogram(labels: string[], counts: number[], colours: string[], width = 300, height = 130): string {
  const total = counts.reduce((a, b) => a + b, 0) || 1;
  const pad = { l: 6, r: 6, t: 16, b: 30 };
  const bw = (width - pad.l - pad.r) / Math.max(1, counts.length);
  const ih = height - pad.t - pad.b;
  const max = Math.max(...counts, 1);
  const parts = counts.map((c, i) => {
    const h = (c / max) * ih;
    const x = pad.l + i * bw;
    const y = pad.t + ih - h;
    const pct = Math.round((100 * c) / total);
    return (
      `<rect x="${(x + 2).toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${colours[i]}" stroke="#445" stroke-width="0.5"/>` +
      `<text x="${(x + bw / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" class="chart-val">${pct} %</text>` +
      `<text x="${(x + bw / 2).toFixed(1)}" y="${height - pad.b + 14}" text-anchor="middle" class="chart-cat">${esc(labels[i])}</text>`
    );
  });
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${parts.join("")}</svg>`;
}
