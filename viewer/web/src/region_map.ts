// The map of the region view: Gemeinden as a choropleth (SVG paths, focusable), the inhabited grid on a
// canvas below them, stops by service class and hospitals (SVG), department layers, a highlight. World
// units are kilometres east/south of a reference point (an equirectangular projection around 51.1° N,
// exact enough at the scale of a Kreis). Drag or one finger pans, the wheel or two fingers zoom.

export type Ring = [number, number][];
export interface Feature { properties: Record<string, unknown>; geometry: { type: string; coordinates: unknown } }
export interface Grid { res: string; columns: string[]; cells: [number, number, number, number, number | null, number | null][] }

const LON0 = 11.9;
const LAT0 = 51.1;
const KX = 111.32 * Math.cos((LAT0 * Math.PI) / 180);
const KY = 110.57;
export const VIRIDIS5 = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
export const STOP_COLOURS: Record<string, string> = { A: "#7a0177", B: "#c51b8a", C: "#f768a1", D: "#0b5f8a", E: "#6b9ac4", F: "#9aa5b1" };
const SVGNS = "http://www.w3.org/2000/svg";

export function project(lon: number, lat: number): [number, number] {
  return [(lon - LON0) * KX, (LAT0 - lat) * KY];
}
export function unproject(x: number, y: number): [number, number] {
  return [LON0 + x / KX, LAT0 - y / KY];
}

export function ringsOf(geom: Feature["geometry"]): Ring[] {
  const c = geom.coordinates as number[][][] | number[][][][];
  if (geom.type === "Polygon") return (c as number[][][]).map((r) => r as Ring);
  if (geom.type === "MultiPolygon") return (c as number[][][][]).flatMap((p) => p.map((r) => r as Ring));
  return [];
}

function pathOf(rings: Ring[]): string {
  return rings.map((r) => "M" + r.map(([lon, lat]) => project(lon, lat).map((v) => v.toFixed(3)).join(",")).join("L") + "Z").join("");
}

export function insideRings(rings: Ring[], lon: number, lat: number): boolean {
  let inside = false;
  for (const r of rings) {
    for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
      const [xi, yi] = r[i];
      const [xj, yj] = r[j];
      if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** Quantile class breaks (k classes) of the finite values. */
export function quantileBreaks(values: number[], k = 5): number[] {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return [0, 1];
  const b = Array.from({ length: k + 1 }, (_, i) => v[Math.min(v.length - 1, Math.round((i * (v.length - 1)) / k))]);
  return b.filter((x, i) => i === 0 || x > b[i - 1]);
}
export function classOf(breaks: number[], v: number): number {
  for (let i = 1; i < breaks.length; i++) if (v <= breaks[i]) return i - 1;
  return breaks.length - 2;
}

interface VB { x: number; y: number; w: number; h: number }

export class RegionMap {
  readonly svg: SVGSVGElement;
  readonly canvas: HTMLCanvasElement;
  readonly gGem: SVGGElement;
  readonly gLayers: SVGGElement;
  readonly gStops: SVGGElement;
  readonly gMarks: SVGGElement;
  vb: VB = { x: 0, y: 0, w: 100, h: 100 };
  home: VB = { x: 0, y: 0, w: 100, h: 100 };
  grid: Grid | null = null;
  gridMode: "persons" | "80plus" = "persons";
  gridBreaks: number[] = [0, 1];
  gridCellsDrawn = 0;
  onTap: (lon: number, lat: number, target: Element | null) => void = () => {};
  onView: () => void = () => {};
  private pointers = new Map<number, [number, number]>();
  private moved = 0;

  constructor(readonly host: HTMLElement) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "rmap-grid";
    this.canvas.setAttribute("aria-hidden", "true");
    this.svg = document.createElementNS(SVGNS, "svg");
    this.svg.classList.add("rmap-svg");
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.gGem = this.group("gemeinden");
    this.gLayers = this.group("dept");
    this.gStops = this.group("stops");
    this.gMarks = this.group("marks");
    host.append(this.canvas, this.svg);
    new ResizeObserver(() => this.resize()).observe(host);
    this.bindInput();
  }

  private group(id: string): SVGGElement {
    const g = document.createElementNS(SVGNS, "g");
    g.setAttribute("id", `rmap-${id}`);
    this.svg.append(g);
    return g;
  }

  /** Gemeinde paths, coloured by ``colourOf``; each is a focusable button named by ``labelOf``. */
  drawGemeinden(features: Feature[], colourOf: (f: Feature) => string, labelOf: (f: Feature) => string): void {
    this.gGem.replaceChildren();
    for (const f of features) {
      const p = document.createElementNS(SVGNS, "path");
      p.setAttribute("d", pathOf(ringsOf(f.geometry)));
      p.setAttribute("fill", colourOf(f));
      p.setAttribute("class", "gem");
      p.setAttribute("tabindex", "0");
      p.setAttribute("role", "button");
      p.setAttribute("aria-label", labelOf(f));
      p.dataset.ags = String(f.properties.ags);
      const title = document.createElementNS(SVGNS, "title");
      title.textContent = labelOf(f);
      p.append(title);
      this.gGem.append(p);
    }
  }

  recolour(colourOf: (ags: string) => string, labelOf: (ags: string) => string): void {
    for (const p of Array.from(this.gGem.children) as SVGPathElement[]) {
      p.setAttribute("fill", colourOf(p.dataset.ags ?? ""));
      p.setAttribute("aria-label", labelOf(p.dataset.ags ?? ""));
      p.querySelector("title")!.textContent = labelOf(p.dataset.ags ?? "");
    }
  }

  setSelected(ags: string | null): void {
    for (const p of Array.from(this.gGem.children) as SVGPathElement[]) {
      p.classList.toggle("selected", p.dataset.ags === ags);
      if (p.dataset.ags === ags) this.gGem.append(p); // on top, so that its outline shows whole
    }
  }

  drawStops(stops: [number, number, string, string, boolean][], visible: boolean): void {
    this.gStops.replaceChildren();
    if (!visible) return;
    const r = Math.max(0.08, this.vb.w / 900);
    for (const [lon, lat, name, cls] of stops) {
      const [x, y] = project(lon, lat);
      const c = document.createElementNS(SVGNS, "circle");
      c.setAttribute("cx", x.toFixed(3));
      c.setAttribute("cy", y.toFixed(3));
      c.setAttribute("r", (cls <= "D" ? r * 1.6 : r).toFixed(3));
      c.setAttribute("fill", STOP_COLOURS[cls] ?? "#9aa5b1");
      c.setAttribute("class", "stop");
      const t = document.createElementNS(SVGNS, "title");
      t.textContent = `${name} (${cls})`;
      c.append(t);
      this.gStops.append(c);
    }
  }

  drawHospitals(hospitals: [number, number, string][], visible: boolean): void {
    for (const old of Array.from(this.gMarks.querySelectorAll(".hospital"))) old.remove();
    if (!visible) return;
    const s = Math.max(0.5, this.vb.w / 90);
    for (const [lon, lat, name] of hospitals) {
      const [x, y] = project(lon, lat);
      const g = document.createElementNS(SVGNS, "g");
      g.setAttribute("class", "hospital");
      g.setAttribute("transform", `translate(${x.toFixed(3)},${y.toFixed(3)}) scale(${s.toFixed(3)})`);
      g.innerHTML = `<rect x="-0.5" y="-0.5" width="1" height="1" rx="0.15" fill="#ffffff" stroke="#a4161a" stroke-width="0.12"/>`
        + `<path d="M-0.1,-0.32h0.2v0.22h0.22v0.2h-0.22v0.22h-0.2v-0.22h-0.22v-0.2h0.22z" fill="#a4161a"/><title>${name.replace(/</g, "&lt;")}</title>`;
      this.gMarks.append(g);
    }
  }

  /** A department layer: points as circles, lines and polygons as paths, coloured by ``colourOf``. */
  drawLayer(id: string, features: Feature[], colourOf: (p: Record<string, unknown>) => string): void {
    this.removeLayer(id);
    const g = document.createElementNS(SVGNS, "g");
    g.setAttribute("data-layer", id);
    const r = Math.max(0.2, this.vb.w / 250);
    for (const f of features) {
      const colour = colourOf(f.properties);
      const t = f.geometry.type;
      if (t === "Point" || t === "MultiPoint") {
        const pts = (t === "Point" ? [f.geometry.coordinates] : f.geometry.coordinates) as [number, number][];
        for (const [lon, lat] of pts) {
          const [x, y] = project(lon, lat);
          const c = document.createElementNS(SVGNS, "circle");
          c.setAttribute("cx", x.toFixed(3));
          c.setAttribute("cy", y.toFixed(3));
          c.setAttribute("r", r.toFixed(3));
          c.setAttribute("fill", colour);
          c.setAttribute("stroke", "#ffffff");
          c.setAttribute("stroke-width", (r / 4).toFixed(3));
          const tt = document.createElementNS(SVGNS, "title");
          tt.textContent = String(f.properties.name ?? f.properties.title ?? "");
          c.append(tt);
          g.append(c);
        }
      } else if (t.includes("Polygon")) {
        const p = document.createElementNS(SVGNS, "path");
        p.setAttribute("d", pathOf(ringsOf(f.geometry)));
        p.setAttribute("fill", colour);
        p.setAttribute("fill-opacity", "0.55");
        p.setAttribute("stroke", colour);
        p.setAttribute("stroke-width", "0.15");
        g.append(p);
      } else if (t.includes("LineString")) {
        const lines = (t === "LineString" ? [f.geometry.coordinates] : f.geometry.coordinates) as Ring[];
        const p = document.createElementNS(SVGNS, "path");
        p.setAttribute("d", lines.map((l) => "M" + l.map(([lon, lat]) => project(lon, lat).map((v) => v.toFixed(3)).join(",")).join("L")).join(""));
        p.setAttribute("fill", "none");
        p.setAttribute("stroke", colour);
        p.setAttribute("stroke-width", "0.3");
        g.append(p);
      }
    }
    this.gLayers.append(g);
  }

  drawRaster(id: string, href: string, bbox: [number, number, number, number]): void {
    this.removeLayer(id);
    const [x0, y0] = project(bbox[0], bbox[3]);
    const [x1, y1] = project(bbox[2], bbox[1]);
    const img = document.createElementNS(SVGNS, "image");
    img.setAttribute("data-layer", id);
    img.setAttribute("href", href);
    img.setAttribute("x", x0.toFixed(3));
    img.setAttribute("y", y0.toFixed(3));
    img.setAttribute("width", (x1 - x0).toFixed(3));
    img.setAttribute("height", (y1 - y0).toFixed(3));
    img.setAttribute("preserveAspectRatio", "none");
    this.gLayers.append(img);
  }

  removeLayer(id: string): void {
    this.gLayers.querySelector(`[data-layer="${CSS.escape(id)}"]`)?.remove();
  }

  /** A marker with a line from a tapped point to a place (the kiosk's nearest stop). */
  drawLink(from: [number, number], to: [number, number], text: string): void {
    this.clearLink();
    const [x0, y0] = project(...from);
    const [x1, y1] = project(...to);
    const g = document.createElementNS(SVGNS, "g");
    g.setAttribute("class", "link");
    const s = this.vb.w / 120;
    g.innerHTML = `<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y1}" stroke="#17293b" stroke-width="${s / 3}" stroke-dasharray="${s} ${s / 2}"/>`
      + `<circle cx="${x0}" cy="${y0}" r="${s}" fill="#e69f00" stroke="#17293b" stroke-width="${s / 4}"/>`
      + `<circle cx="${x1}" cy="${y1}" r="${s * 1.2}" fill="#0b5f8a" stroke="#ffffff" stroke-width="${s / 3}"/>`;
    const t = document.createElementNS(SVGNS, "title");
    t.textContent = text;
    g.append(t);
    this.gMarks.append(g);
  }
  clearLink(): void {
    for (const l of Array.from(this.gMarks.querySelectorAll(".link"))) l.remove();
  }

  setGrid(grid: Grid | null, mode: "persons" | "80plus"): void {
    this.grid = grid;
    this.gridMode = mode;
    const col = mode === "persons" ? 4 : 5;
    this.gridBreaks = grid ? quantileBreaks(grid.cells.map((c) => (c[col] ?? NaN) as number).filter((v) => v > 0)) : [0, 1];
    this.drawGrid();
  }

  drawGrid(): void {
    const ctx = this.canvas.getContext("2d")!;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.gridCellsDrawn = 0;
    if (!this.grid) return;
    const k = (this.canvas.width / dpr) / this.vb.w;
    ctx.setTransform(dpr * k, 0, 0, dpr * k, -this.vb.x * k * dpr, -this.vb.y * k * dpr);
    const col = this.gridMode === "persons" ? 4 : 5;
    for (const c of this.grid.cells) {
      const v = c[col];
      if (v === null || v === 0) continue;
      const [x0, y0] = project(c[0], c[3]);
      const [x1, y1] = project(c[2], c[1]);
      ctx.fillStyle = VIRIDIS5[classOf(this.gridBreaks, v)];
      ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
      this.gridCellsDrawn++;
    }
  }

  /** Show the lon/lat box inside the part of the map that panels leave free (``inset`` in CSS pixels). */
  fit(west: number, south: number, east: number, north: number, margin = 0.04,
      inset: { l: number; r: number; t: number; b: number } = { l: 0, r: 0, t: 0, b: 0 }): void {
    const [x0, y0] = project(west, north);
    const [x1, y1] = project(east, south);
    const bw = (x1 - x0) * (1 + 2 * margin);
    const bh = (y1 - y0) * (1 + 2 * margin);
    const r = this.host.getBoundingClientRect();
    const W = Math.max(1, r.width);
    const H = Math.max(1, r.height);
    const aw = Math.max(50, W - inset.l - inset.r);
    const ah = Math.max(50, H - inset.t - inset.b);
    const k = Math.min(aw / bw, ah / bh);
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    this.setView({ x: cx - (inset.l + aw / 2) / k, y: cy - (inset.t + ah / 2) / k, w: W / k, h: H / k });
  }

  private aspect(): number {
    const r = this.host.getBoundingClientRect();
    return Math.max(0.1, r.width / Math.max(1, r.height));
  }

  setView(vb: VB): void {
    this.vb = vb;
    this.svg.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
    this.drawGrid();
    this.onView();
  }

  zoom(factor: number, cx = this.vb.x + this.vb.w / 2, cy = this.vb.y + this.vb.h / 2): void {
    const w = Math.min(400, Math.max(0.5, this.vb.w / factor));
    const f = w / this.vb.w;
    this.setView({ x: cx - (cx - this.vb.x) * f, y: cy - (cy - this.vb.y) * f, w, h: this.vb.h * f });
  }

  private resize(): void {
    const r = this.host.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    const cx = this.vb.x + this.vb.w / 2;
    const cy = this.vb.y + this.vb.h / 2;
    const h = this.vb.w / this.aspect();
    this.setView({ x: this.vb.x, y: cy - h / 2, w: this.vb.w, h });
    void cx;
  }

  /** Screen (client) position → world units. */
  toWorld(clientX: number, clientY: number): [number, number] {
    const r = this.host.getBoundingClientRect();
    return [this.vb.x + ((clientX - r.left) / r.width) * this.vb.w, this.vb.y + ((clientY - r.top) / r.height) * this.vb.h];
  }
  /** World lon/lat → client position (for tests and the kiosk). */
  toClient(lon: number, lat: number): [number, number] {
    const r = this.host.getBoundingClientRect();
    const [x, y] = project(lon, lat);
    return [r.left + ((x - this.vb.x) / this.vb.w) * r.width, r.top + ((y - this.vb.y) / this.vb.h) * r.height];
  }

  private bindInput(): void {
    const el = this.svg;
    el.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [x, y] = this.toWorld(e.clientX, e.clientY);
      this.zoom(e.deltaY < 0 ? 1.25 : 0.8, x, y);
    }, { passive: false });
    el.addEventListener("pointerdown", (e) => {
      el.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, [e.clientX, e.clientY]);
      this.moved = 0;
    });
    el.addEventListener("pointermove", (e) => {
      const last = this.pointers.get(e.pointerId);
      if (!last) return;
      if (this.pointers.size === 1) {
        const r = this.host.getBoundingClientRect();
        const dx = ((e.clientX - last[0]) / r.width) * this.vb.w;
        const dy = ((e.clientY - last[1]) / r.height) * this.vb.h;
        this.moved += Math.abs(e.clientX - last[0]) + Math.abs(e.clientY - last[1]);
        if (this.moved > 6) this.setView({ ...this.vb, x: this.vb.x - dx, y: this.vb.y - dy });
      } else if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.entries()];
        const other = a[0] === e.pointerId ? b[1] : a[1];
        const d0 = Math.hypot(last[0] - other[0], last[1] - other[1]);
        const d1 = Math.hypot(e.clientX - other[0], e.clientY - other[1]);
        this.moved += 100;
        if (d0 > 0) {
          const [x, y] = this.toWorld((e.clientX + other[0]) / 2, (e.clientY + other[1]) / 2);
          this.zoom(d1 / d0, x, y);
        }
      }
      this.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    });
    const up = (e: PointerEvent): void => {
      const had = this.pointers.delete(e.pointerId);
      if (had && this.pointers.size === 0 && this.moved <= 6 && e.type === "pointerup") {
        const [x, y] = this.toWorld(e.clientX, e.clientY);
        const target = document.elementFromPoint(e.clientX, e.clientY);
        this.onTap(...unproject(x, y), target);
      }
    };
    el.addEventListener("pointerup", up);
    el.addEventListener("pointercancel", up);
  }
}
