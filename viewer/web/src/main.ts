// Entry point: read the page parameters, build the app, wire the page, expose the test handle.

import { App, readParams } from "./app";
import { Compare } from "./compare";
import { onLang, setLang, t, type Lang } from "./i18n";
import { Interaction } from "./interaction";
import { citizenWelcome, Kiosk } from "./modes";
import { installRegionLink } from "./region_link";
import { EditEffect } from "./edit_effect";
import { applySavedView, keepSavedView } from "./saved_view";
import { $, applyTexts, hourLabel, renderLayerChoices, setStatus, toast, updateCompass, updateScale } from "./ui";
import { isBareStart, plannerStart, regionAddress } from "./params";

const bare = isBareStart();
const params = readParams();
const toRegion = plannerStart(bare, params); // a planner's first screen: the region view
installRegionLink(params.idleS);
document.getElementById("app")!.className = `mode-${params.mode}`;
const app = new App(params, $("canvas") as HTMLCanvasElement);
const interaction = new Interaction(app);
const compare = new Compare(app);
const effect = new EditEffect(app);
app.onFieldApplied = (before, after) => effect.onField(before, after);
const kiosk = params.mode === "kiosk" ? new Kiosk(app, interaction) : null;
if (kiosk) {
  app.view.addHook(() => kiosk.tick());
  interaction.onActivity = () => (kiosk.idleSince = performance.now());
}

function renderAll(): void {
  applyTexts();
  renderLayerChoices(params.mode === "kiosk", app.raster, app.overlays, (r) => app.setRaster(r), (o, on) => app.setOverlay(o, on));
  app.applyVisibility();
  interaction.renderToolbar();
  $("mode-badge").textContent = t(`mode_${params.mode}` as "mode_planner");
  $("hour-label").textContent = hourLabel(app.hour);
  $("btn-play").textContent = playing ? "❚❚" : "▶";
  $("btn-play").setAttribute("aria-label", playing ? t("pause") : t("play"));
  $("btn-compare").textContent = app.compare === "off" ? t("compare") : t("compare_off");
  setStatus(app.status);
  compare.renderKpis();
  for (const l of ["de", "en"] as Lang[]) $(`lang-${l}`).setAttribute("aria-pressed", String(params.lang === l));
}

// time of day and play
let playing = false;
let playTimer = 0;
const hourInput = $("hour") as HTMLInputElement;
hourInput.value = String(app.hour);
hourInput.addEventListener("input", () => {
  app.setHour(Number(hourInput.value));
  $("hour-label").textContent = hourLabel(app.hour);
});
$("btn-play").addEventListener("click", () => {
  playing = !playing;
  clearInterval(playTimer);
  if (playing) {
    playTimer = window.setInterval(() => {
      const h = (app.hour + 1) % 24;
      hourInput.value = String(h);
      app.setHour(h);
      $("hour-label").textContent = hourLabel(h);
    }, 1500);
  }
  renderAll();
});

for (const l of ["de", "en"] as Lang[]) {
  $(`lang-${l}`).addEventListener("click", () => {
    params.lang = l;
    setLang(l);
  });
}
onLang(renderAll);

app.onScenario.push(() => {
  const s = app.scenario;
  if (!s) return;
  $("district-name").textContent = s.district;
  $("scenario-name").textContent = s.name;
  $("version-chip").textContent = `${t("version")} ${s.version}`;
  interaction.renderToolbar();
});

// north arrow and scale bar follow the camera
app.view.onRender = () => {
  updateCompass(app.view.headingRad());
  updateScale(app.view.metresPerPixel());
};

// report where this client looks (presence), at most twice a second
let lastView = 0;
app.view.controls.addEventListener("change", () => {
  const now = performance.now();
  if (now - lastView < 500 || !app.conn) return;
  lastView = now;
  const c = app.view.camera.position;
  const g = app.view.controls.target;
  app.conn.view([c.x, -c.z, c.y], [g.x, -g.z, g.y]);
});

window.addEventListener("error", (e) => app.errors.push(String(e.message)));

/** The test handle: state that end-to-end tests and benchmarks read (never used by the page itself). */
const handle = {
  get ready() { return app.ready; },
  get tilesLoaded() { return app.tiles.tileCount; },
  get tilesTotal() { return app.tiles.tileset?.tiles.length ?? 0; },
  get layers() {
    return { raster: app.raster, overlays: [...app.overlays], fields: [...app.fields.keys()], fieldsA: [...app.fieldsA.keys()] };
  },
  get mode() { return params.mode; },
  get lang() { return params.lang; },
  get lastPick() { return app.lastPick; },
  get scenarioVersion() { return app.version; },
  get scenarioId() { return app.scenario?.scenario_id ?? ""; },
  get canEdit() { return app.canEdit; },
  get connection() { return app.status; },
  get interventions() { return app.scenario?.interventions.map((e) => e.intervention) ?? []; },
  get trees() { return app.edits.trees; },
  get tools() { return interaction.tools(); },
  get activeTool() { return interaction.tool; },
  get messages() { return { ...app.messagesSeen }; },
  get frames() { return app.view.frames; },
  get firstRenderMs() { return app.firstRenderMs; },
  get timings() { return { ...app.timings, firstRender: app.firstRenderMs }; },
  get compare() { return app.compare; },
  get draped() { return app.draped ? { ...app.draped, opacity: app.drape.uDrapeOpacity.value } : null; },
  get kiosk() { return kiosk ? { attract: kiosk.attract, resets: kiosk.resets, start: !$("kiosk-start").hidden } : null; },
  get hour() { return app.hour; },
  get kpis() { return Object.fromEntries(app.kpis); },
  get vehicles() { return app.vehicles.count; },
  get errors() { return app.errors.slice(); },
  get effect() { return effect.last; },
  get cooling() {
    const c = app.cooling;
    return { mode: c.mode, version: c.version, buildings: c.values?.kwh.size ?? 0, coloured: c.coloured, unavailable: c.unavailable };
  },
  fieldVersion(layer: string) { return app.fields.get(layer)?.version ?? -1; },
  sample(layer: string, x: number, y: number) { return app.sample(layer, x, y); },
  setTool(id: string | null) { interaction.setTool(id as never); },
  setRaster(id: string) { app.setRaster(id as never); renderAll(); },
  /** Drape coarse rasters as value textures (default) or, for comparison, cell by cell from their interpolation. */
  setCoarseDrape(on: boolean) { app.coarseDrape = on; app.refreshRaster(); },
  setOverlay(id: string, on: boolean) { app.setOverlay(id as never, on); renderAll(); },
  setHour(h: number) { hourInput.value = String(h); app.setHour(h); },
  /** Screen position (CSS pixels, page coordinates) of a local point on the ground. */
  screenOf(x: number, y: number) {
    const v = app.view;
    const p = new (v.camera.position.constructor as { new (x: number, y: number, z: number): import("three").Vector3 })(x, app.tiles.heightAt(x, y), -y);
    p.project(v.camera);
    const r = v.canvas.getBoundingClientRect();
    return [r.left + ((p.x + 1) / 2) * r.width, r.top + ((1 - p.y) / 2) * r.height];
  },
  /** Screen position of a comment pin's head, or null when it is not shown. */
  screenOfComment(id: number) {
    let head: import("three").Object3D | null = null;
    app.comments.group.traverse((o) => { if (o.userData.comment_id === id && o.position.y > 10) head = o; });
    if (!head) return null;
    const p = (head as import("three").Object3D).getWorldPosition(new (app.view.camera.position.constructor as { new (): import("three").Vector3 })());
    p.project(app.view.camera);
    const r = app.view.canvas.getBoundingClientRect();
    return [r.left + ((p.x + 1) / 2) * r.width, r.top + ((1 - p.y) / 2) * r.height];
  },
  get comments() { return [...app.comments.comments.values()]; },
  view: app.view,
  app,
  compareApi: compare,
};
(window as unknown as { __viewer: typeof handle }).__viewer = handle;

/** A planner's start goes to the region view when the server has a region (the token stays with the tab). */
async function startHere(): Promise<boolean> {
  if (!toRegion) return true;
  const list = (await fetch("/api/regions").then((r) => (r.ok ? r.json() : [])).catch(() => [])) as Array<{ name: string }>;
  if (!Array.isArray(list) || list.length === 0) return true;
  location.replace(regionAddress(list[0].name, params.lang));
  return false;
}

void startHere().then((here) => {
  if (!here) return;
  app.start().then(() => {
    kiosk?.rememberHome();
    applySavedView(app, renderAll);
    keepSavedView(app);
    if (params.mode === "citizen") citizenWelcome();
  }).catch((e: Error) => {
    console.warn("start failed:", e.message);
    toast(e.message, true, 60000);
  });
});
