// The region view (region.html): the Kreis on one map with charts per Gemeinde, search, department
// layers, reports, the drill-down into a town's 3D twin, saved views (the address holds the view), and
// the kiosk start screen (?mode=kiosk): a few questions by touch, then the town twin; it resets itself.

import { readToken } from "./params";
import { renderChart, type ChartSpec } from "./region_charts";
import { bi, num, rlang, rt, setRLang, type RLang } from "./region_i18n";
import {
  classOf, type Feature, type Grid, insideRings, project, quantileBreaks, RegionMap, ringsOf, STOP_COLOURS, VIRIDIS5,
} from "./region_map";

const t0 = performance.now();
const q = new URLSearchParams(location.search);
const REGION = (q.get("region") ?? "burgenlandkreis").replace(/[^a-z0-9_-]/g, "");
const MODE = q.get("mode") === "kiosk" ? "kiosk" : q.get("mode") === "citizen" ? "citizen" : "planner";
const IDLE_S = Math.max(5, Number(q.get("idle") ?? 90));
const token = readToken();
setRLang(q.get("lang") === "en" ? "en" : "de");

const INDICATORS = ["share_65plus", "share_80plus", "share_under18", "old_age_ratio", "share_deficit_65plus",
  "share_deficit_under18", "mean_hospital_km", "population_2019", "density_per_km2"];
const IND_LABEL: Record<string, { de: string; en: string }> = {
  share_65plus: { de: "Anteil 65+", en: "share 65+" },
  share_80plus: { de: "Anteil 80+", en: "share 80+" },
  share_under18: { de: "Anteil unter 18", en: "share under 18" },
  old_age_ratio: { de: "Altenquotient", en: "old-age ratio" },
  population_2019: { de: "Einwohner 2019", en: "inhabitants 2019" },
  density_per_km2: { de: "Einwohner je km²", en: "inhabitants per km²" },
  share_deficit_65plus: { de: "65+ ohne gute Haltestelle", en: "65+ without a good stop" },
  share_deficit_under18: { de: "unter 18 ohne gute Haltestelle", en: "under 18 without a good stop" },
  mean_hospital_km: { de: "Weg zum Krankenhaus (km)", en: "distance to hospital (km)" },
};
const PERCENT = new Set(["share_65plus", "share_80plus", "share_under18", "share_deficit_65plus", "share_deficit_under18"]);

interface MapDoc {
  region: string;
  kreis: Record<string, unknown>;
  data_date: string;
  gemeinden: { features: Feature[] };
  grid: Grid;
  stops: { stops: [number, number, string, string, boolean][] };
  hospitals: { hospitals: [number, number, string][] };
  places?: { places: [string, number, number, string][] };
}
interface Content { ags: string; name: string; kind: string; data_date: string; key_figures: { key: string; label: { de: string; en: string }; text: string; kreis_text: string }[]; charts: ChartSpec[] }
interface District { name: string; summary: { centre_lonlat: [number, number] } }
interface DeptLayer { layer_id: string; title: string; department: string; kind: string; current: { fields: { name: string; type: string }[]; style: { mode: string; field: string; entries: { label: string; colour: string; value?: string; lower?: number; upper?: number }[] }; bbox_lonlat: [number, number, number, number]; source: string } }

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const state = {
  ready: false, firstRenderMs: -1, indicator: q.get("ind") ?? "share_65plus", grid: (q.get("grid") ?? "1km") as "off" | "1km" | "100m",
  gridMode: (q.get("gm") ?? "persons") as "persons" | "80plus", stops: q.get("stops") !== "0", hospitals: q.get("hosp") !== "0",
  selected: q.get("ags") as string | null, layers: new Set((q.get("layers") ?? "").split(",").filter(Boolean)),
  panelOpen: false, charts: [] as string[], proposals: 0, accepted: false,
  found: null as string | null, question: "", errors: [] as string[], resets: 0, nearest: null as null | { name: string; m: number },
  /** The region scenario that accepted proposals go into (from the address's `rs`, else made on the first acceptance). */
  scenario: (q.get("rs") ? { id: q.get("rs")!.replace(/[^A-Za-z0-9]/g, ""), name: "", version: 0, edits: 0 } : null) as
    null | { id: string; name: string; version: number; edits: number },
};
if (!INDICATORS.includes(state.indicator)) state.indicator = "share_65plus";
let doc: MapDoc | null = null;
const grids = new Map<string, Grid>();
let districts: District[] = [];
let deptLayers: DeptLayer[] = [];
let lastActivity = performance.now();

document.body.classList.add(`mode-${MODE}`);
const map = new RegionMap($("rmap"));

async function getJSON<T>(path: string): Promise<T> {
  const r = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return (await r.json()) as T;
}

function byAgs(ags: string): Feature | undefined {
  return doc?.gemeinden.features.find((f) => f.properties.ags === ags);
}

function fmtInd(key: string, v: unknown): string {
  if (typeof v !== "number") return rt("under5");
  return PERCENT.has(key) ? `${num(100 * v, 1)} %` : num(v, key === "old_age_ratio" || key.endsWith("_km") ? 1 : 0);
}

let breaks: number[] = [0, 1];
function colourOf(ags: string): string {
  const v = byAgs(ags)?.properties[state.indicator];
  return typeof v === "number" ? VIRIDIS5[classOf(breaks, v)] : "#dddddd";
}
function labelOf(ags: string): string {
  const f = byAgs(ags);
  return f ? `${f.properties.name}: ${bi(IND_LABEL[state.indicator])} ${fmtInd(state.indicator, f.properties[state.indicator])}` : ags;
}

function renderLegend(): void {
  const parts = [`<h3>${bi(IND_LABEL[state.indicator])}</h3><ul class="classes">`];
  for (let i = 0; i < breaks.length - 1; i++) {
    parts.push(`<li><span class="sw" style="background:${VIRIDIS5[i]}"></span>${fmtInd(state.indicator, breaks[i])} – ${fmtInd(state.indicator, breaks[i + 1])}</li>`);
  }
  parts.push("</ul>");
  if (state.grid !== "off") {
    parts.push(`<h3>${state.gridMode === "80plus" ? rt("grid_80plus") : rt("grid_persons")} (${state.grid})</h3><ul class="classes">`);
    const b = map.gridBreaks;
    for (let i = 0; i < b.length - 1; i++) parts.push(`<li><span class="sw" style="background:${VIRIDIS5[i]}"></span>${num(b[i])} – ${num(b[i + 1])}</li>`);
    parts.push(`</ul><p>${rt("under5")}: ${rlang() === "de" ? "nicht gezeigt" : "not shown"}</p>`);
  }
  if (state.stops) {
    parts.push(`<h3>${rt("stops")}</h3><ul class="classes">`);
    for (const c of "ABCDEF") parts.push(`<li><span class="sw round" style="background:${STOP_COLOURS[c]}"></span>${rt("class_label")} ${c}</li>`);
    parts.push(`</ul><p>${rt("stops_estimated")}</p>`);
  }
  for (const l of deptLayers.filter((x) => state.layers.has(x.layer_id))) {
    parts.push(`<h3>${esc(l.title)}</h3><ul class="classes">`);
    for (const e of l.current.style.entries) parts.push(`<li><span class="sw" style="background:${e.colour}"></span>${esc(e.label)}</li>`);
    parts.push(`</ul><p>${rt("source")}: ${esc(l.current.source || l.department)}</p>`);
  }
  $("rlegend").innerHTML = parts.join("");
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

function renderLayerList(): void {
  const opts = INDICATORS.map((k) => `<option value="${k}" ${k === state.indicator ? "selected" : ""}>${bi(IND_LABEL[k])}</option>`).join("");
  const gridOpts = (["off", "1km", "100m"] as const).map((g) => `<label><input type="radio" name="grid" value="${g}" ${state.grid === g ? "checked" : ""}>${rt(g === "off" ? "grid_off" : g === "1km" ? "grid_1km" : "grid_100m")}</label>`).join("");
  const numeric = (l: DeptLayer): string[] => l.current.fields.filter((f) => f.type === "integer" || f.type === "number").map((f) => f.name);
  const dept = deptLayers.length
    ? deptLayers.map((l) => `<label><input type="checkbox" data-layer="${l.layer_id}" ${state.layers.has(l.layer_id) ? "checked" : ""}>${esc(l.title)} <span class="dep">${esc(l.department)}</span></label>`
      + (l.kind === "vector" && numeric(l).length ? `<button class="btn small cap-open" data-cap="${l.layer_id}">${rt("capacity")}</button>` : "")).join("")
    : `<p class="muted-p">${rt("no_dept_layers")}</p>`;
  $("rlayers-body").innerHTML = `
    <label class="field">${rt("indicator")}<select id="ind">${opts}</select></label>
    <fieldset class="choices"><legend>${rt("grid")}</legend><div class="seg">${gridOpts}</div>
      <label><input type="checkbox" id="gm80" ${state.gridMode === "80plus" ? "checked" : ""}>${rt("grid_80plus")}</label></fieldset>
    <fieldset class="choices"><label><input type="checkbox" id="lstops" ${state.stops ? "checked" : ""}>${rt("stops")}</label>
      <label><input type="checkbox" id="lhosp" ${state.hospitals ? "checked" : ""}>${rt("hospitals")}</label></fieldset>
    <fieldset class="choices"><legend>${rt("dept_layers")}</legend>${dept}</fieldset>
    <fieldset class="choices" id="prop-box"><legend>${rt("proposals")}</legend>
      <div class="seg"><label><input type="radio" name="pkind" value="stops" checked>${rt("prop_stops")}</label>
      <label><input type="radio" name="pkind" value="zone">${rt("prop_zones")}</label></div>
      <label>${rt("prop_budget")} <input id="pbudget" type="number" min="1" max="20" value="5" class="num"></label>
      <button id="prop-go" class="btn small" type="button">${rt("prop_compute")}</button></fieldset>`;
  ($("ind") as HTMLSelectElement).addEventListener("change", (e) => { state.indicator = (e.target as HTMLSelectElement).value; applyIndicator(); saveView(); });
  for (const r of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="grid"]'))) {
    r.addEventListener("change", () => { state.grid = r.value as typeof state.grid; void applyGrid(); saveView(); });
  }
  ($("gm80") as HTMLInputElement).addEventListener("change", (e) => { state.gridMode = (e.target as HTMLInputElement).checked ? "80plus" : "persons"; void applyGrid(); saveView(); });
  ($("lstops") as HTMLInputElement).addEventListener("change", (e) => { state.stops = (e.target as HTMLInputElement).checked; drawPoints(); saveView(); });
  ($("lhosp") as HTMLInputElement).addEventListener("change", (e) => { state.hospitals = (e.target as HTMLInputElement).checked; drawPoints(); saveView(); });
  $("prop-go").addEventListener("click", () => {
    const kind = document.querySelector<HTMLInputElement>('input[name="pkind"]:checked')?.value ?? "stops";
    void showProposals(kind, Math.min(20, Math.max(1, Number(($("pbudget") as HTMLInputElement).value) || 5)));
  });
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>("button[data-cap]"))) {
    b.addEventListener("click", () => openCapacity(deptLayers.find((l) => l.layer_id === b.dataset.cap)!));
  }
  for (const c of Array.from(document.querySelectorAll<HTMLInputElement>("input[data-layer]"))) {
    c.addEventListener("change", () => { void toggleLayer(c.dataset.layer!, c.checked); saveView(); });
  }
}

function applyIndicator(): void {
  if (!doc) return;
  breaks = quantileBreaks(doc.gemeinden.features.map((f) => f.properties[state.indicator] as number));
  map.recolour(colourOf, labelOf);
  renderLegend();
}

async function applyGrid(): Promise<void> {
  document.body.classList.toggle("grid-on", state.grid !== "off");
  if (state.grid === "off") map.setGrid(null, state.gridMode);
  else {
    let g = grids.get(state.grid);
    if (!g) {
      g = (await getJSON<MapDoc>(`/api/reports/${REGION}/map?res=${state.grid}`)).grid;
      grids.set(state.grid, g);
    }
    map.setGrid(g, state.gridMode);
  }
  renderLegend();
}

function drawPoints(): void {
  if (!doc) return;
  map.drawStops(doc.stops.stops, state.stops);
  map.drawHospitals(doc.hospitals.hospitals, state.hospitals);
  renderLegend();
}

async function toggleLayer(id: string, on: boolean): Promise<void> {
  const l = deptLayers.find((x) => x.layer_id === id);
  if (!l) return;
  if (!on) { state.layers.delete(id); map.removeLayer(id); renderLegend(); return; }
  state.layers.add(id);
  const st = l.current.style;
  if (l.kind === "raster") {
    const r = await fetch(`/api/layers/${id}/data?preview=true`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    map.drawRaster(id, URL.createObjectURL(await r.blob()), l.current.bbox_lonlat);
  } else {
    const fc = await getJSON<{ features: Feature[] }>(`/api/layers/${id}/data`);
    map.drawLayer(id, fc.features, (p) => {
      if (st.mode === "categories") return st.entries.find((e) => e.value === String(p[st.field]))?.colour ?? "#8c8c8c";
      if (st.mode === "classes") {
        const v = Number(p[st.field]);
        return st.entries.find((e) => v <= (e.upper ?? Infinity))?.colour ?? st.entries[st.entries.length - 1]?.colour ?? "#0072B2";
      }
      return st.entries[0]?.colour ?? "#0072B2";
    });
  }
  renderLegend();
}

/** The part of the map no panel covers (CSS pixels from each edge). */
function freeArea(): { l: number; r: number; t: number; b: number } {
  if (MODE === "kiosk") return { l: 10, r: 10, t: 10, b: $("kiosk-questions").getBoundingClientRect().height + 24 };
  return { l: 295, r: state.selected ? 400 : 70, t: 10, b: 10 };
}

const SERVICES = ["kita_krippe", "kita", "school_primary", "school_secondary", "care_residential", "home_care"];

/** The capacity panel of a department layer: service, field and year chosen, then demand against capacity. */
function openCapacity(l: DeptLayer): void {
  state.selected = null;
  map.setSelected(null);
  const fields = l.current.fields.filter((f) => f.type === "integer" || f.type === "number").map((f) => f.name);
  $("rpanel-title").textContent = `${rt("capacity")}: ${l.title}`;
  $("rpanel-body").innerHTML = `<form id="cap-form" class="cap-form">
      <label>${rt("service")}<select id="cap-service">${SERVICES.map((x) => `<option value="${x}">${esc(serviceLabel(x))}</option>`).join("")}</select></label>
      <label>${rt("field")}<select id="cap-field">${fields.map((f) => `<option>${esc(f)}</option>`).join("")}</select></label>
      <label>${rt("year")}<input id="cap-year" type="number" min="2019" max="2040" value="2030"></label>
      <button class="btn primary" type="submit">${rt("compare_demand")}</button></form><div id="cap-out" aria-live="polite"></div>`;
  $("rpanel").hidden = false;
  state.panelOpen = true;
  state.charts = [];
  $("cap-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void showCapacity(l.layer_id, ($("cap-service") as HTMLSelectElement).value, ($("cap-field") as HTMLSelectElement).value,
      Number(($("cap-year") as HTMLInputElement).value));
  });
}

function serviceLabel(s: string): string {
  const de: Record<string, [string, string]> = {
    kita_krippe: ["Krippe (unter 3)", "crèche (under 3)"], kita: ["Kita (3 bis Schule)", "kindergarten"],
    school_primary: ["Grundschule", "primary school"], school_secondary: ["Sekundarstufe I", "lower secondary"],
    care_residential: ["Pflegeheim", "care home"], home_care: ["ambulante Pflege", "home care"],
  };
  return (de[s] ?? [s, s])[rlang() === "en" ? 1 : 0];
}

interface CapacityOut { year: number; rows: { ags: string; name: string; demand: number | null; capacity: number | null; gap: number | null }[]; chart: ChartSpec; kreis: { demand: number; capacity: number; gap: number } }

async function showCapacity(layer: string, service: string, field: string, year: number): Promise<void> {
  const out = $("cap-out");
  try {
    const c = await getJSON<CapacityOut>(`/api/reports/${REGION}/capacity?layer=${layer}&service=${service}&field=${encodeURIComponent(field)}&year=${year}`);
    const rows = c.rows.filter((r) => r.capacity !== null);
    out.innerHTML = `<p class="cap-sum">${rt("kreis")}: ${rt("demand")} ${num(c.kreis.demand)}, ${rt("capacity_short")} ${num(c.kreis.capacity)}, `
      + `<b class="${c.kreis.gap < 0 ? "neg" : "pos"}">${rt("gap")} ${num(c.kreis.gap)}</b></p>${renderChart(c.chart, 330)}`
      + `<table class="cap-table"><thead><tr><th>${rt("gemeinden")}</th><th>${rt("demand")}</th><th>${rt("capacity_short")}</th><th>${rt("gap")}</th></tr></thead><tbody>`
      + rows.map((r) => `<tr><td>${esc(r.name)}</td><td>${r.demand === null ? rt("under5") : num(r.demand)}</td><td>${num(r.capacity ?? 0)}</td>`
        + `<td class="${(r.gap ?? 0) < 0 ? "neg" : "pos"}">${r.gap === null ? "–" : num(r.gap)}</td></tr>`).join("") + "</tbody></table>";
    state.charts = [c.chart.id];
  } catch (e) {
    out.textContent = String((e as Error).message);
  }
}

interface Proposal { features: Feature[]; summary: Record<string, unknown>; interventions: unknown[] }

/** The region's optimised proposals (new stops or Rufbus zones) as a layer, then accepted as a draft and evaluated. */
async function showProposals(kind: string, budget: number): Promise<void> {
  state.selected = null;
  map.setSelected(null);
  $("rpanel-title").textContent = rt("proposals");
  $("rpanel-body").innerHTML = `<p>${rt("prop_wait")}</p>`;
  $("rpanel").hidden = false;
  state.panelOpen = true;
  state.charts = [];
  let p: Proposal;
  try {
    p = await getJSON<Proposal>(`/api/regions/${REGION}/proposals?budget=${budget}&kind=${kind}`);
  } catch (e) {
    $("rpanel-body").innerHTML = `<p>${rt("prop_missing")} (${esc((e as Error).message)})</p>`;
    return;
  }
  state.proposals = p.features.length;
  map.drawLayer("proposals", p.features, () => "#e69f00");
  const s = p.summary;
  const n = (v: unknown): string => (typeof v === "number" ? num(v) : rt("under5"));
  $("rpanel-body").innerHTML = `<p>${rt("prop_covered")}: <b>${n(s.persons_covered)}</b> (${rt("prop_greedy")}: ${n(s.greedy_persons_covered)})</p>
    <p>${rt("prop_deficit")}: ${n(s.deficit_persons_before)} → <b>${n(s.deficit_persons_after)}</b></p>
    <ol class="prop-list">${p.features.map((f) => `<li>${esc(String(f.properties.name))} – ${n(f.properties.persons_covered)} ${rt("persons")}</li>`).join("")}</ol>
    <button id="prop-accept" class="btn primary">${rt("prop_accept")}</button><div id="prop-eval" aria-live="polite"></div>`;
  $("prop-accept").addEventListener("click", () => void (token ? acceptIntoScenario(kind, budget) : evaluateDraft(p)));
}

/** The figures before and after as a table (person counts under 5 are not shown). */
function kpiTable(before: Record<string, number | null>, after: Record<string, number | null>): string {
  const rows = ["deficit_65plus", "deficit_under18", "share_served", "mean_walk_good_stop_m"].filter((k) => k in before);
  const f = (k: string, v: number | null | undefined): string =>
    (v === null || v === undefined ? rt("under5") : k.startsWith("share") ? `${num(100 * v, 1)} %` : num(v));
  return `<table class="cap-table"><thead><tr><th></th><th>${rt("before")}</th><th>${rt("after")}</th></tr></thead><tbody>`
    + rows.map((k) => `<tr><td>${esc(KPI_LABEL[k]?.[rlang() === "en" ? 1 : 0] ?? k)}</td><td>${f(k, before[k])}</td><td>${f(k, after[k])}</td></tr>`).join("")
    + "</tbody></table>";
}

/** Without a token (citizens, visitors): the proposal evaluated as a draft, nothing stored. */
async function evaluateDraft(p: Proposal): Promise<void> {
  const r = await fetch(`/api/regions/${REGION}/evaluate`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ interventions: p.interventions }) });
  if (!r.ok) { $("prop-eval").textContent = `${rt("load_failed")}: ${r.status}`; return; }
  const ev = (await r.json()) as { kpis_before: Record<string, number | null>; kpis_after: Record<string, number | null> };
  $("prop-eval").innerHTML = `<p>${rt("prop_draft_only")}</p>${kpiTable(ev.kpis_before, ev.kpis_after)}`;
  state.accepted = true;
}

interface RegionScenario { scenario_id: string; name: string; version: number; interventions: { intervention: { kind: string; id: string } }[] }
interface KpiTable { scenario_id: string; scenario_version: number; kpis: Record<string, Record<string, number | null>> }

async function sendJSON<T>(path: string, body: unknown): Promise<T> {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body) });
  if (!r.ok) {
    let msg = `${r.status}`;
    try { const j = await r.json(); msg = (rlang() === "en" ? j.message_en : j.message_de) ?? msg; } catch { /* keep the status */ }
    throw new Error(msg);
  }
  return (await r.json()) as T;
}

/** A planner accepts the proposal into the region's scenario (made on the first acceptance, kept in the
 * address as `rs`): each stop or zone becomes one edit on the server, undone one by one; the page shows the
 * scenario, its edits and its figures before and after. */
async function acceptIntoScenario(kind: string, budget: number): Promise<void> {
  const out = $("prop-eval");
  out.textContent = rt("prop_wait");
  try {
    let before: Record<string, number | null> | null = null;
    if (!state.scenario) {
      const made = await sendJSON<RegionScenario>(`/api/regions/${REGION}/scenarios`,
        { name: `${rt("prop_scenario_name")} ${new Date().toLocaleDateString(rlang() === "en" ? "en-GB" : "de-DE")}`, kind: "draft" });
      state.scenario = { id: made.scenario_id, name: made.name, version: made.version, edits: made.interventions.length };
    }
    const sid = state.scenario.id;
    before = (await getJSON<KpiTable>(`/api/scenarios/${sid}/results/kpis`)).kpis.region ?? {};
    const m = await sendJSON<RegionScenario>(`/api/regions/${REGION}/proposals/accept`, { scenario_id: sid, budget, kind });
    state.scenario = { id: m.scenario_id, name: m.name, version: m.version, edits: m.interventions.length };
    const after = (await getJSON<KpiTable>(`/api/scenarios/${sid}/results/kpis`)).kpis.region ?? {};
    const edits = m.interventions.map((e) => `<li>${esc(e.intervention.kind === "new_stop" ? rt("prop_stop") : rt("prop_zone"))} ${esc(e.intervention.id)}</li>`);
    out.innerHTML = `<p role="status">${rt("prop_accepted")} <b id="prop-scenario">${esc(m.name)}</b> (${rt("prop_version")} ${m.version}, `
      + `${num(m.interventions.length)} ${rt("prop_edits")})</p><ol class="prop-edits">${edits.join("")}</ol>${kpiTable(before, after)}`;
    saveView();
    state.accepted = true;
  } catch (e) {
    out.textContent = `${rt("prop_accept_failed")}: ${(e as Error).message}`;
  }
}

const KPI_LABEL: Record<string, [string, string]> = {
  deficit_65plus: ["65+ ohne gute Haltestelle", "65+ without a good stop"],
  deficit_under18: ["unter 18 ohne gute Haltestelle", "under 18 without a good stop"],
  share_served: ["Anteil gut angebunden", "share well served"],
  mean_walk_good_stop_m: ["Fußweg zur guten Haltestelle (m)", "walk to a good stop (m)"],
};

function twinFor(ags: string): District | undefined {
  const f = byAgs(ags);
  if (!f) return undefined;
  const rings = ringsOf(f.geometry);
  return districts.find((d) => d.summary?.centre_lonlat && insideRings(rings, ...d.summary.centre_lonlat));
}

function twinUrl(d: District): string {
  const p = new URLSearchParams({ district: d.name, from: "region", lang: rlang() });
  if (MODE !== "planner") p.set("mode", MODE);
  if (MODE === "kiosk") p.set("idle", String(IDLE_S));
  return `/?${p.toString()}`;
}

async function select(ags: string | null, zoom = false): Promise<void> {
  state.selected = ags;
  map.setSelected(ags);
  saveView();
  if (!ags) { closePanel(); return; }
  const f = byAgs(ags);
  if (f && zoom) {
    const xs = ringsOf(f.geometry).flat();
    map.fit(Math.min(...xs.map((p) => p[0])), Math.min(...xs.map((p) => p[1])), Math.max(...xs.map((p) => p[0])),
      Math.max(...xs.map((p) => p[1])), 0.3, { ...freeArea(), r: MODE === "kiosk" ? 20 : 400 });
  }
  const c = await getJSON<Content>(`/api/reports/${REGION}/content?ags=${ags}`);
  if (state.selected !== ags) return;
  const d = twinFor(ags);
  const figs = c.key_figures.filter((k) => !k.key.startsWith("age_"))
    .map((k) => `<div class="kpi"><b>${esc(k.text)}</b><span>${esc(bi(k.label))}</span><span class="kreis">${rt("kreis")}: ${esc(k.kreis_text)}</span></div>`).join("");
  $("rpanel-title").textContent = `${c.kind} ${c.name}`.trim();
  $("rpanel-body").innerHTML = `
    <div class="actions">
      ${d ? `<a class="btn primary" id="open-twin" href="${twinUrl(d)}">${rt("open_twin")}</a>` : ""}
      <a class="btn" href="/api/reports/${REGION}/report.pdf?ags=${ags}" target="_blank" rel="noopener">${rt("report_pdf")}</a>
      <a class="btn" href="/api/reports/${REGION}/report.csv?ags=${ags}">${rt("report_csv")}</a>
    </div>
    <h3>${rt("key_figures")}</h3><div class="kpi-grid">${figs}</div>
    ${c.charts.map((s) => renderChart(s, 330)).join("")}
    <p class="chart-src">${rt("data_date")} ${esc(c.data_date)}. ${rt("method_note")}</p>`;
  state.charts = c.charts.map((s) => s.id);
  $("rpanel").hidden = false;
  state.panelOpen = true;
}

function closePanel(): void {
  $("rpanel").hidden = true;
  state.panelOpen = false;
  state.charts = [];
}

/** A Gemeinde or a named place (village, part of a town): its AGS and, for a place, its position. */
function search(text: string): { ags: string; at: [number, number] | null; name: string } | null {
  const s = text.trim().toLowerCase();
  if (!s || !doc) return null;
  const fs = doc.gemeinden.features;
  const name = (f: Feature): string => String(f.properties.name).toLowerCase();
  const places = doc.places?.places ?? [];
  const gem = fs.find((f) => name(f) === s) ?? fs.find((f) => name(f).startsWith(s));
  if (gem) return { ags: String(gem.properties.ags), at: null, name: String(gem.properties.name) };
  const place = places.find((p) => p[0].toLowerCase() === s) ?? places.find((p) => p[0].toLowerCase().startsWith(s));
  if (place) return { ags: place[3], at: [place[1], place[2]], name: place[0] };
  const gem2 = fs.find((f) => name(f).includes(s));
  if (gem2) return { ags: String(gem2.properties.ags), at: null, name: String(gem2.properties.name) };
  const place2 = places.find((p) => p[0].toLowerCase().includes(s));
  return place2 ? { ags: place2[3], at: [place2[1], place2[2]], name: place2[0] } : null;
}

function saveView(): void {
  const p = new URLSearchParams();
  if (q.get("region")) p.set("region", REGION);
  if (MODE !== "planner") p.set("mode", MODE);
  if (rlang() === "en") p.set("lang", "en");
  p.set("ind", state.indicator);
  p.set("grid", state.grid);
  if (state.gridMode !== "persons") p.set("gm", state.gridMode);
  if (!state.stops) p.set("stops", "0");
  if (!state.hospitals) p.set("hosp", "0");
  if (state.layers.size) p.set("layers", [...state.layers].join(","));
  if (state.selected) p.set("ags", state.selected);
  if (state.scenario) p.set("rs", state.scenario.id);
  const vb = map.vb;
  p.set("view", [vb.x, vb.y, vb.w].map((v) => v.toFixed(2)).join(","));
  history.replaceState(null, "", `${location.pathname}?${p.toString()}`);
}

function nearestStop(lon: number, lat: number): { name: string; m: number; lonlat: [number, number] } | null {
  if (!doc) return null;
  const [x, y] = project(lon, lat);
  let best: { name: string; m: number; lonlat: [number, number] } | null = null;
  for (const [slon, slat, name] of doc.stops.stops) {
    const [sx, sy] = project(slon, slat);
    const m = Math.hypot(sx - x, sy - y) * 1000;
    if (!best || m < best.m) best = { name, m, lonlat: [slon, slat] };
  }
  return best;
}

function ask(question: string): void {
  state.question = question;
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>("#kiosk-questions button[data-q]"))) b.setAttribute("aria-pressed", String(b.dataset.q === question));
  const answer = $("kiosk-answer");
  if (question === "old") {
    state.grid = "100m"; state.gridMode = "80plus"; state.stops = false;
    void applyGrid(); drawPoints();
    answer.textContent = rt("a_old");
  } else if (question === "bus") {
    state.grid = "off"; state.stops = true;
    void applyGrid(); drawPoints();
    answer.textContent = rt("a_bus");
  } else if (question === "town") {
    const d = districts[0];
    answer.innerHTML = `${rt("a_town")} ${d ? `<a class="btn primary huge" id="kiosk-town" href="${twinUrl(d)}">${rt("open_twin")}</a>` : ""}`;
  }
  answer.hidden = false;
}

function resetKiosk(): void {
  state.question = "";
  state.nearest = null;
  map.clearLink();
  state.grid = "1km"; state.gridMode = "persons"; state.stops = true;
  void select(null);
  void applyGrid();
  drawPoints();
  map.setView({ ...map.home });
  $("kiosk-answer").hidden = true;
  for (const b of Array.from(document.querySelectorAll("#kiosk-questions button[data-q]"))) b.setAttribute("aria-pressed", "false");
  state.resets++;
}

function applyTexts(): void {
  for (const el of Array.from(document.querySelectorAll<HTMLElement>("[data-rt]"))) el.textContent = rt(el.dataset.rt as never);
  for (const el of Array.from(document.querySelectorAll<HTMLElement>("[data-rt-label]"))) el.setAttribute("aria-label", rt(el.dataset.rtLabel as never));
  ($("rsearch") as HTMLInputElement).placeholder = rt("search_placeholder");
  for (const l of ["de", "en"] as RLang[]) $(`rlang-${l}`).setAttribute("aria-pressed", String(rlang() === l));
}

function bindPage(): void {
  $("rsearch-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const hit = search(($("rsearch") as HTMLInputElement).value);
    $("rsearch-msg").textContent = hit ? "" : rt("no_match");
    state.found = hit?.name ?? null;
    if (!hit) return;
    void select(hit.ags, hit.at === null);
    if (hit.at) {
      const [lon, lat] = hit.at;
      map.fit(lon - 0.03, lat - 0.02, lon + 0.03, lat + 0.02, 0, freeArea());
      map.drawLink(hit.at, hit.at, hit.name);
    }
  });
  $("rpanel-close").addEventListener("click", () => void select(null));
  $("rzoom-in").addEventListener("click", () => map.zoom(1.5));
  $("rzoom-out").addEventListener("click", () => map.zoom(1 / 1.5));
  $("rcopy").addEventListener("click", () => {
    saveView();
    void navigator.clipboard?.writeText(location.href).catch(() => undefined);
    $("rsearch-msg").textContent = rt("link_copied");
  });
  for (const l of ["de", "en"] as RLang[]) {
    $(`rlang-${l}`).addEventListener("click", () => {
      setRLang(l);
      applyTexts();
      renderLayerList();
      applyIndicator();
      if (state.selected) void select(state.selected);
      saveView();
    });
  }
  map.onTap = (lon, lat, target) => {
    if (MODE === "kiosk" && state.question === "bus") {
      const s = nearestStop(lon, lat);
      if (s) {
        state.nearest = { name: s.name, m: Math.round(s.m) };
        map.drawLink([lon, lat], s.lonlat, s.name);
        $("kiosk-answer").textContent = `${rt("nearest_stop")}: ${s.name} – ${num(Math.round(s.m / 10) * 10)} m ${rt("distance_air")}`;
      }
      return;
    }
    const ags = (target as SVGElement | null)?.dataset?.ags ?? null;
    void select(ags);
  };
  $("rmap").addEventListener("keydown", (e) => {
    const ags = (e.target as SVGElement).dataset?.ags;
    if (ags && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); void select(ags); }
  });
  map.onView = () => { if (state.ready) saveView(); };
  for (const ev of ["pointerdown", "keydown", "wheel"]) window.addEventListener(ev, () => (lastActivity = performance.now()), { passive: true });
  if (MODE === "kiosk") {
    for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>("#kiosk-questions button[data-q]"))) b.addEventListener("click", () => ask(b.dataset.q!));
    $("kiosk-reset").addEventListener("click", resetKiosk);
    window.setInterval(() => {
      if (performance.now() - lastActivity > IDLE_S * 1000 && (state.question || state.selected || state.panelOpen)) resetKiosk();
    }, 1000);
  }
}

async function start(): Promise<void> {
  applyTexts();
  bindPage();
  const [d, dl, dists] = await Promise.all([
    getJSON<MapDoc>(`/api/reports/${REGION}/map?res=${state.grid === "100m" ? "100m" : "1km"}`),
    getJSON<DeptLayer[]>("/api/layers").catch(() => [] as DeptLayer[]),
    getJSON<District[]>("/api/districts").catch(() => [] as District[]),
  ]);
  doc = d;
  grids.set(d.grid.res, d.grid);
  deptLayers = dl;
  districts = dists;
  $("rtitle").textContent = String(d.kreis.name ?? rt("title"));
  breaks = quantileBreaks(d.gemeinden.features.map((f) => f.properties[state.indicator] as number));
  const all = d.gemeinden.features.flatMap((f) => ringsOf(f.geometry).flat());
  map.fit(Math.min(...all.map((p) => p[0])), Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[0])),
    Math.max(...all.map((p) => p[1])), 0.02, freeArea());
  map.home = { ...map.vb };
  const v = (q.get("view") ?? "").split(",").map(Number);
  if (v.length === 3 && v.every(Number.isFinite) && v[2] > 0) map.setView({ x: v[0], y: v[1], w: v[2], h: v[2] * (map.vb.h / map.vb.w) });
  map.drawGemeinden(d.gemeinden.features, (f) => colourOf(String(f.properties.ags)), (f) => labelOf(String(f.properties.ags)));
  renderLayerList();
  document.body.classList.toggle("grid-on", state.grid !== "off");
  if (state.grid === "off") map.setGrid(null, state.gridMode);
  else map.setGrid(d.grid.res === state.grid ? d.grid : null, state.gridMode);
  if (state.grid !== "off" && d.grid.res !== state.grid) await applyGrid();
  drawPoints();
  for (const id of [...state.layers]) await toggleLayer(id, true).catch(() => state.layers.delete(id));
  $("rloading").hidden = true;
  requestAnimationFrame(() => {
    state.firstRenderMs = performance.now(); // since the navigation started
    state.ready = true;
  });
  if (state.selected) await select(state.selected);
}

window.addEventListener("error", (e) => state.errors.push(String(e.message)));

/** Test handle (read by end-to-end tests and the benchmark; the page never uses it). */
(window as unknown as { __region: unknown }).__region = {
  get ready() { return state.ready; },
  get firstRenderMs() { return state.firstRenderMs; },
  get scriptStartMs() { return t0; },
  get drawn() {
    return { gemeinden: map.gGem.children.length, gridCells: map.gridCellsDrawn, grid: state.grid, gridMode: state.gridMode,
      stops: map.gStops.children.length, hospitals: map.gMarks.querySelectorAll(".hospital").length,
      layers: [...state.layers], layerShapes: map.gLayers.querySelectorAll("circle,path,image").length };
  },
  get selected() { return state.selected; },
  get panelOpen() { return state.panelOpen; },
  get charts() { return state.charts.slice(); },
  get indicator() { return state.indicator; },
  get question() { return state.question; },
  get found() { return state.found; },
  get proposals() { return { drawn: state.proposals, accepted: state.accepted, scenario: state.scenario }; },
  get nearest() { return state.nearest; },
  get resets() { return state.resets; },
  get errors() { return state.errors.slice(); },
  get lang() { return rlang(); },
  clientOf(lon: number, lat: number) { return map.toClient(lon, lat); },
  centreOf(ags: string) {
    const f = byAgs(ags);
    if (!f) return null;
    const pts = ringsOf(f.geometry)[0];
    return [pts.reduce((a, p) => a + p[0], 0) / pts.length, pts.reduce((a, p) => a + p[1], 0) / pts.length];
  },
  twinOf(ags: string) { return twinFor(ags)?.name ?? null; },
};

start().catch((e: Error) => {
  state.errors.push(e.message);
  $("rloading").textContent = `${rt("load_failed")}: ${e.message}`;
});
