// The page around the 3D view: texts, layer choices with legends, tool buttons, status and progress,
// toasts, north arrow and scale bar, the comment dialog. DOM only; the app wires it to the scene.

import { cssColour, HEAT_STRESS, rampColour, RAMPS, TRANSIT_CLASSES, VC_CLASSES, type Classes, type Ramp } from "./colormap";
import { fmt, t, type TextKey } from "./i18n";
import { TOOLS, type ToolId } from "./tools";

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el as T;
};

/** Raster layers (one at a time) and overlays (any number). */
export type RasterId = "none" | "surface_temp" | "air_temp" | "uhi" | "tmrt" | "utci" | "heat_stress" | "access";
export type OverlayId = "traffic" | "vc" | "vehicles" | "agents" | "transit" | "comments" | "cooling" | "cooling_change";

export const RASTERS: Array<[RasterId, TextKey]> = [
  ["none", "layer_none"],
  ["surface_temp", "layer_surface_temp"],
  ["air_temp", "layer_air_temp"],
  ["uhi", "layer_uhi"],
  ["tmrt", "layer_tmrt"],
  ["utci", "layer_utci"],
  ["heat_stress", "layer_heat_stress"],
  ["access", "layer_access"],
];
export const OVERLAYS: Array<[OverlayId, TextKey]> = [
  ["traffic", "layer_traffic"],
  ["vc", "layer_vc"],
  ["vehicles", "layer_vehicles"],
  ["agents", "layer_agents"],
  ["transit", "layer_transit"],
  ["comments", "layer_comments"],
  ["cooling", "layer_cooling"],
  ["cooling_change", "layer_cooling_change"],
];

export function applyTexts(root: ParentNode = document): void {
  root.querySelectorAll<HTMLElement>("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n as TextKey);
  });
  root.querySelectorAll<HTMLElement>("[data-i18n-label]").forEach((el) => {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel as TextKey));
  });
  document.title = t("app_title");
}

/** Layers a kiosk offers: heat and stops only, so that a visitor is not lost in choices. */
export const KIOSK_RASTERS: RasterId[] = ["none", "utci", "heat_stress"];
export const KIOSK_OVERLAYS: OverlayId[] = ["transit"];

export function renderLayerChoices(
  kiosk: boolean,
  raster: RasterId,
  overlays: Set<OverlayId>,
  onRaster: (r: RasterId) => void,
  onOverlay: (o: OverlayId, on: boolean) => void,
): void {
  const rc = $("raster-choice");
  rc.innerHTML = "";
  for (const [id, key] of RASTERS) {
    if (kiosk && !KIOSK_RASTERS.includes(id)) continue;
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "raster";
    input.value = id;
    input.id = `raster-${id}`;
    input.checked = id === raster;
    input.addEventListener("change", () => onRaster(id));
    label.append(input, document.createTextNode(t(key)));
    rc.append(label);
  }
  const oc = $("overlay-choice");
  oc.innerHTML = "";
  for (const [id, key] of OVERLAYS) {
    if (kiosk && !KIOSK_OVERLAYS.includes(id)) continue;
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.id = `overlay-${id}`;
    input.checked = overlays.has(id);
    input.addEventListener("change", () => onOverlay(id, input.checked));
    label.append(input, document.createTextNode(t(key)));
    oc.append(label);
  }
}

function rampHtml(r: Ramp, unit: string): string {
  const stops = r.stops.map((_, i) => cssColour(rampColour(r, r.lo + ((r.hi - r.lo) * i) / (r.stops.length - 1))));
  const mid = (r.lo + r.hi) / 2;
  return (
    `<div class="ramp" style="background: linear-gradient(to right, ${stops.join(", ")})"></div>` +
    `<div class="ramp-labels"><span>${fmt(r.lo)} ${unit}</span><span>${fmt(mid)}</span><span>${fmt(r.hi)} ${unit}</span></div>`
  );
}

function classesHtml(c: Classes, translate: boolean): string {
  const items = c.colours.map((col, i) => {
    const label = translate ? t(c.labels[i] as TextKey) : String(c.labels[i]);
    return `<li><span class="sw" style="background:${cssColour(col)}"></span>${label}</li>`;
  });
  return `<ul class="classes">${items.join("")}</ul>`;
}

/** The legend of the chosen raster and overlays, in plain language. `diff` shows the A/B difference ramp. */
export function renderLegend(raster: RasterId, overlays: Set<OverlayId>, diff: boolean, coolingNote = ""): void {
  const parts: string[] = [`<h2>${t("legend")}</h2>`];
  const block = (title: TextKey, text: TextKey, body: string): void => {
    parts.push(`<h3>${t(title)}</h3><p>${t(text)}</p>${body}`);
  };
  if (diff && raster !== "none") {
    parts.push(`<h3>${t("compare_diff")}: B − A</h3>${rampHtml(RAMPS.diff, "K")}`);
  } else if (raster === "surface_temp") block("layer_surface_temp", "legend_surface_temp", rampHtml(RAMPS.surface_temp, "°C"));
  else if (raster === "air_temp") block("layer_air_temp", "legend_air_temp", rampHtml(RAMPS.air_temp, "°C"));
  else if (raster === "uhi") block("layer_uhi", "legend_uhi", rampHtml(RAMPS.uhi, "K"));
  else if (raster === "tmrt") block("layer_tmrt", "legend_tmrt", rampHtml(RAMPS.tmrt, "°C"));
  else if (raster === "utci") block("layer_utci", "legend_utci", rampHtml(RAMPS.utci, "°C"));
  else if (raster === "heat_stress") block("layer_heat_stress", "legend_heat_stress", classesHtml(HEAT_STRESS, true));
  else if (raster === "access") block("layer_access", "legend_access", rampHtml(RAMPS.access, "min"));
  if (overlays.has("traffic")) block("layer_traffic", "legend_traffic", rampHtml(RAMPS.traffic, "Kfz/h"));
  if (overlays.has("vc")) block("layer_vc", "legend_vc", classesHtml(VC_CLASSES, false));
  if (overlays.has("transit")) block("layer_transit", "legend_transit", classesHtml(TRANSIT_CLASSES, false));
  if (overlays.has("agents")) block("layer_agents", "legend_agents", "");
  if (overlays.has("comments")) block("layer_comments", "legend_comments", "");
  const note = coolingNote ? `<p class="note" role="status">${coolingNote}</p>` : "";
  if (overlays.has("cooling_change")) {
    block("layer_cooling_change", diff ? "legend_cooling_change_ab" : "legend_cooling_change", note || rampHtml(RAMPS.cooling_change, "kWh/d"));
  } else if (overlays.has("cooling")) block("layer_cooling", "legend_cooling", note || rampHtml(RAMPS.cooling, "kWh/d"));
  $("legend").innerHTML = parts.join("");
}

export function renderTools(tools: ToolId[], active: ToolId | null, onPick: (id: ToolId) => void): void {
  const box = $("tool-buttons");
  box.innerHTML = "";
  for (const id of tools) {
    const spec = TOOLS[id];
    const b = document.createElement("button");
    b.className = "btn tool";
    b.id = `tool-${id}`;
    b.dataset.tool = id;
    b.setAttribute("aria-pressed", String(active === id));
    b.innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true"><path d="${spec.icon}"/></svg><span>${t(spec.label)}</span>`;
    b.addEventListener("click", () => onPick(id));
    box.append(b);
  }
}

export function setStatus(state: "connecting" | "open" | "closed"): void {
  $("status-dot").className = `dot ${state}`;
  $("status-text").textContent = state === "open" ? t("connected") : state === "closed" ? t("offline") : "…";
}

/** Show the computation progress (0..1); hidden at 1 and when null. */
export function setProgress(fraction: number | null, label = ""): void {
  const p = $("progress");
  if (fraction === null || fraction >= 1) {
    p.hidden = true;
    $("status-text").textContent = t("up_to_date");
    return;
  }
  p.hidden = false;
  $("progress-bar").style.width = `${Math.round(Math.max(0.03, fraction) * 100)}%`;
  $("status-text").textContent = `${t("computing")} ${label}`;
}

let toastTimer = 0;
export function toast(text: string, error = false, ms = 3500): void {
  const el = $("toast");
  el.textContent = text;
  el.className = error ? "toast error" : "toast";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (el.hidden = true), ms);
}

/** North arrow: rotate the needle so that it points to north on screen. */
export function updateCompass(headingRad: number): void {
  $("compass-needle").setAttribute("transform", `rotate(${(-headingRad * 180) / Math.PI} 24 24)`);
}

/** Scale bar of a round length (1, 2, 5 × 10^k m) about 100 px long. */
export function niceLength(mPerPx: number, targetPx = 100): number {
  const raw = mPerPx * targetPx;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [5, 2, 1]) if (m * p <= raw) return m * p;
  return p;
}

export function updateScale(mPerPx: number): void {
  if (!Number.isFinite(mPerPx) || mPerPx <= 0) return;
  const len = niceLength(mPerPx);
  $("scalebar-bar").style.width = `${Math.round(len / mPerPx)}px`;
  $("scalebar-label").textContent = len >= 1000 ? `${fmt(len / 1000)} km` : `${fmt(len)} m`;
}

export function hourLabel(h: number): string {
  return `${String(h).padStart(2, "0")}:00`;
}
