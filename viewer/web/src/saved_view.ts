// Saved views of the town twin: the address always holds the scenario, the layers, the camera and the
// hour (never the token), so that a planner can send the link to a colleague; opening it restores them.
// Parameters: scenario, hour, raster, overlays (comma-separated, "-" for none), cam = camera x,y,z and
// target x,y,z in local metres (x east, y north, z up).

import type { App } from "./app";
import { RASTERS, type OverlayId, type RasterId } from "./ui";

const OVERLAYS: OverlayId[] = ["traffic", "vc", "vehicles", "agents", "transit", "comments"];

/** Apply the view saved in the address (after the district is framed); ``render`` redraws the page's controls. */
export function applySavedView(app: App, render: () => void, loc: Location = window.location): void {
  const q = new URLSearchParams(loc.search);
  const raster = q.get("raster");
  if (raster && RASTERS.some(([id]) => id === raster)) app.setRaster(raster as RasterId);
  const ov = q.get("overlays");
  if (ov !== null) {
    const want = new Set(ov.split(",").filter((o): o is OverlayId => OVERLAYS.includes(o as OverlayId)));
    for (const o of OVERLAYS) app.setOverlay(o, want.has(o));
  }
  const cam = (q.get("cam") ?? "").split(",").map(Number);
  if (cam.length === 6 && cam.every(Number.isFinite)) {
    const [x, y, z, tx, ty, tz] = cam;
    app.view.camera.position.set(x, z, -y);
    app.view.controls.target.set(tx, tz, -ty);
    app.view.controls.update();
    app.view.invalidate(false);
  }
  render();
}

/** The address of the current view (same page, mode, language and district; no token). */
export function savedViewUrl(app: App, loc: Location = window.location): string {
  const q = new URLSearchParams(loc.search);
  q.delete("token");
  if (app.scenario && app.params.mode !== "kiosk") q.set("scenario", app.scenario.scenario_id);
  q.set("hour", String(app.hour));
  q.set("raster", app.raster);
  q.set("overlays", [...app.overlays].join(",") || "-");
  const c = app.view.camera.position;
  const t = app.view.controls.target;
  q.set("cam", [c.x, -c.z, c.y, t.x, -t.z, t.y].map((v) => v.toFixed(1)).join(","));
  return `${loc.pathname}?${q.toString()}`;
}

/** Keep the address up to date (twice a second at most) and offer a "copy link" button to planners. */
export function keepSavedView(app: App): void {
  let last = 0;
  app.view.addHook((_dt, now) => {
    if (now - last < 0.5 || !app.ready) return false;
    last = now;
    const url = savedViewUrl(app);
    if (url !== `${location.pathname}${location.search}`) history.replaceState(history.state, "", url + location.hash);
    return false;
  });
  if (app.params.mode !== "planner") return;
  const b = document.createElement("button");
  b.id = "btn-link";
  b.className = "btn";
  b.textContent = app.params.lang === "en" ? "Copy link" : "Link kopieren";
  b.title = app.params.lang === "en" ? "A link to this view: scenario, layers, camera, hour" : "Link zu dieser Ansicht: Szenario, Ebenen, Kamera, Uhrzeit";
  b.addEventListener("click", () => {
    void navigator.clipboard?.writeText(location.origin + savedViewUrl(app)).catch(() => undefined);
    b.textContent = app.params.lang === "en" ? "Link copied" : "Link kopiert";
  });
  document.querySelector("#topbar .top-actions")?.prepend(b);
}
