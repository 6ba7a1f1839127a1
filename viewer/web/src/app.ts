// The viewer's core: load the district's tiles, connect to the scenario, keep the latest results and
// hand them to the layers. One dispatch table maps protocol messages to scene updates.

import * as THREE from "three";
import { Api } from "./api";
import { classColour, fieldToRgba, HEAT_STRESS, rampColour, RAMPS, type RGB } from "./colormap";
import { Connection, type ConnectionStatus } from "./connection";
import { CoolingOverlay, type CoolingMode } from "./cooling";
import { makeDrapeUniforms, rampTexture, rgbaTexture, valueTexture } from "./drape";
import { EditsLayer } from "./edits";
import { applyFieldFrame, differenceField, gridBounds, sampleField, type FieldState } from "./fields";
import { setLang, t } from "./i18n";
import { MovingDots, nearestEdge, roadLine, TrafficLayer, type RoadGeometry } from "./mobility";
import { CommentsLayer, DeficitLayer, StopsLayer } from "./places";
import type * as P from "./protocol.gen";
import { SceneView } from "./scene";
import { sunAtHour } from "./sun";
import { TileLayer, type Pick } from "./tiles";
import { toFloat32 } from "./arrays";
import { localFrame } from "./utm";
import { renderLegend, setProgress, setStatus, toast, type OverlayId, type RasterId } from "./ui";
import { FIELD_NAMES, type Params } from "./params";

export { readParams, type Mode, type Params } from "./params";

export class App {
  readonly api: Api;
  readonly view: SceneView;
  readonly drape = makeDrapeUniforms();
  readonly tiles: TileLayer;
  readonly edits: EditsLayer;
  readonly traffic: TrafficLayer;
  readonly vehicles: MovingDots;
  readonly people: MovingDots;
  readonly stops: StopsLayer;
  readonly deficits: DeficitLayer;
  readonly comments = new CommentsLayer();
  readonly cooling: CoolingOverlay;
  /** Scenario A of a running comparison ("" when none): the cooling change is then B − A. */
  compareScenario: () => string = () => "";
  conn: Connection | null = null;
  status: ConnectionStatus = "closed";
  fields = new Map<string, FieldState>();
  fieldsA = new Map<string, FieldState>();
  scenario: P.ScenarioState | null = null;
  version = 0;
  canEdit = false;
  sessionId = "";
  user: P.UserInfo | null = null;
  raster: RasterId = "utci";
  overlays = new Set<OverlayId>(["comments", "transit"]);
  hour = 15;
  lonlat: [number, number] = [11.81, 51.15];
  /** The heat model's design day (date, time zone, sun per hour), from the server's Welcome. */
  designDay: P.DesignDay | null = null;
  progress = new Map<string, P.Progress>();
  kpis = new Map<string, Record<string, number>>();
  roads: RoadGeometry | null = null;
  compare: "off" | "split" | "diff" = "off";
  splitFraction = 0.5;
  lastPick: Pick | null = null;
  /** The scenario the page was opened on (a kiosk works on a sandbox copy of it). */
  officialId = "";
  messagesSeen: Record<string, number> = {};
  errors: string[] = [];
  ready = false;
  firstRenderMs = 0;
  /** Milliseconds from start to: scenario chosen, tileset read, tiles loaded. */
  timings: Record<string, number> = {};
  onScenario: Array<() => void> = [];
  onKpis: Array<() => void> = [];
  private texA: THREE.Texture | null = null;
  private texB: THREE.Texture | null = null;
  /** Coarse rasters drape as value textures; false: cell by cell from their interpolation to the grid. */
  coarseDrape = true;
  private rampTex: THREE.Texture | null = null;
  private rampFor = "";
  /** What the drape shows now (for tests): the field's layer name, its version, its finite cells, and
   * whether it drapes as the coarse raster's value texture (linear filtering: the server's bilinear rule). */
  draped: { field: string; version: number; finite: number; coarse: boolean } | null = null;
  private pendingRequests = new Set<number>();
  private started = performance.now();

  constructor(readonly params: Params, canvas: HTMLCanvasElement) {
    this.api = new Api("");
    this.api.token = params.token;
    this.api.role = params.mode === "kiosk" ? "kiosk" : "citizen";
    this.hour = params.hour;
    if (params.mode === "kiosk") this.overlays = new Set<OverlayId>(["transit"]);
    setLang(params.lang);
    this.view = new SceneView(canvas);
    this.tiles = new TileLayer("", this.drape);
    const h = (x: number, y: number): number => this.tiles.heightAt(x, y);
    this.edits = new EditsLayer(h, (e) => (this.roads ? roadLine(this.roads, e) : null));
    this.traffic = new TrafficLayer(h);
    this.vehicles = new MovingDots("vehicles", h);
    this.people = new MovingDots("people", h, 20000);
    this.stops = new StopsLayer(h);
    this.deficits = new DeficitLayer(h);
    this.view.content.add(
      this.tiles.group, this.edits.group, this.traffic.group, this.vehicles.mesh, this.people.mesh,
      this.stops.group, this.deficits.group, this.comments.group,
    );
    this.cooling = new CoolingOverlay(this.tiles.group, (): Record<string, string> => (this.params.token
      ? { Authorization: `Bearer ${this.params.token}` } : { "X-Landtwin-Role": this.api.role }));
    this.cooling.onChange = () => this.view.invalidate();
    this.tiles.onChange = () => {
      if (this.cooling.mode !== "off") this.cooling.apply();
      this.view.invalidate();
    };
    this.view.addHook((dt) => {
      const a = this.vehicles.tick(dt);
      const b = this.people.tick(dt);
      return a || b;
    });
  }

  /** Pick the district and scenario, load the tiles around the view, then connect. */
  async start(): Promise<void> {
    const district = this.params.district || (await this.defaultDistrict());
    this.officialId = this.params.scenario || (await this.defaultScenario(district));
    const sid = this.params.mode === "kiosk" ? (await this.api.sandbox(this.officialId, true)).scenario_id : this.officialId;
    this.timings.scenario = performance.now() - this.started;
    const ts = await this.tiles.loadIndex(district);
    this.timings.tileset = performance.now() - this.started;
    this.comments.originZ_m = ts.origin_z_m;
    this.api.district(district).then((d) => {
      if (d.summary?.centre_lonlat) this.lonlat = d.summary.centre_lonlat;
      this.updateSun();
    }).catch(() => undefined);
    // large districts open on their centre (4 km across); tiles farther out load as the view moves
    const [bw, bs, be, bn] = ts.bbox_local_m;
    const half = Math.min(2000, (be - bw) / 2, (bn - bs) / 2);
    const [cx0, cy0] = [(bw + be) / 2, (bs + bn) / 2];
    const home: [number, number, number, number] = [cx0 - half, cy0 - half, cx0 + half, cy0 + half];
    this.view.frame(home);
    this.updateSun();
    const [w, s, e, n] = home;
    const radius = Math.max(e - w, n - s) * 0.75;
    this.view.paused = true;
    try {
      await this.tiles.update((w + e) / 2, (s + n) / 2, Math.min(radius, 3000));
    } finally {
      this.view.paused = false;
    }
    this.timings.tiles = performance.now() - this.started;
    const ground = this.tiles.heightAt((w + e) / 2, (s + n) / 2);
    this.view.frame(home, ground);
    this.updateSun();
    this.view.controls.addEventListener("end", () => this.loadTilesInView());
    this.loadSideData(district);
    this.connect(sid);
    await new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())));
    this.firstRenderMs = performance.now() - this.started;
    this.ready = true;
    document.getElementById("loading")?.classList.add("done");
  }

  private async defaultDistrict(): Promise<string> {
    const list = await this.api.districts();
    const first = list[0];
    if (!first) throw new Error(t("loading"));
    return typeof first === "string" ? first : first.name;
  }

  private async defaultScenario(district: string): Promise<string> {
    const list = await this.api.scenarios(district);
    const pick = list.find((s) => s.kind === "official" && s.status === "active") ?? list[0];
    if (!pick) throw new Error(`no scenario for ${district}`);
    return pick.scenario_id;
  }

  private loadSideData(district: string): void {
    const ts = this.tiles.tileset!;
    const toLocal = localFrame(ts.epsg, ts.origin_utm_m);
    this.api.roads(district, toLocal).then((g) => {
      this.roads = g;
      this.traffic.setGeometry(g);
      if (this.scenario) this.edits.rebuild(this.scenario.interventions);
      this.applyVisibility();
    }).catch((e) => console.info("roads unavailable:", String(e)));
    this.api.stops(district, toLocal).then((xy) => {
      this.stops.setStops(xy);
      this.applyVisibility();
    }).catch((e) => console.info("stops unavailable:", String(e)));
  }

  /** Load the tiles around the orbit target (large districts load by view). */
  loadTilesInView(): void {
    const tg = this.view.controls.target;
    const dist = this.view.camera.position.distanceTo(tg);
    void this.tiles.update(tg.x, -tg.z, Math.max(600, dist * 2));
  }

  /** Kiosk reset: a fresh sandbox of the official scenario, when the current one holds edits. */
  async freshSandbox(): Promise<void> {
    if (this.ownEdits === 0) return;
    this.ownEdits = 0;
    const sb = await this.api.sandbox(this.officialId, true);
    this.conn?.close();
    this.fields.clear();
    this.connect(sb.scenario_id);
  }
  /** Edits this client made on the current scenario (since the last kiosk reset). */
  ownEdits = 0;

  connect(sid: string): void {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const url = `${proto}://${location.host}/ws/scenarios/${encodeURIComponent(sid)}`;
    const role = this.params.mode === "planner" ? (this.params.token ? "planner" : "citizen") : this.params.mode;
    this.conn = new Connection(url, { role, token: this.params.token, name: "", lang: this.params.lang }, {
      welcome: (m) => this.onWelcome(m),
      applied: (m) => this.onApplied(m),
      rejected: (m) => {
        this.pendingRequests.delete(m.request_id);
        toast(`${t("edit_rejected")}: ${this.params.lang === "en" ? m.message_en : m.message_de}`, true);
      },
      error: (m) => toast(this.params.lang === "en" ? m.message_en : m.message_de, true),
      progress: (m) => this.onProgress(m),
      field: (m) => this.onField(m),
      edges: (m) => {
        // base_version >= 0: the volumes already shown hold for this version too (sent only to a page that has them)
        if ((m.base_version ?? -1) < 0) this.traffic.setResults(toFloat32(m.flow_veh_h), toFloat32(m.vc_ratio));
      },
      agents: (m) => {
        if ((m.base_version ?? -1) >= 0) return; // the positions already shown hold for this version too
        const xy = toFloat32(m.xy_local_m);
        (m.kind === "vehicles" ? this.vehicles : this.people).push(xy, m.t_s);
        this.view.invalidate(false);
      },
      access: (m) => {
        this.stops.setQuality(toFloat32(m.stop_quality));
        this.deficits.setAreas(m.deficits);
        this.view.invalidate();
      },
      kpis: (m) => {
        // suppressed person counts (null: 1-4 persons) are left out
        this.kpis.set(m.engine, Object.fromEntries(Object.entries(m.values).filter((e): e is [string, number] => e[1] !== null)));
        if (m.scenario_version >= this.version) this.engineDone(m.engine);
        if (m.engine === "heat") {
          this.heatKpiVersion = Math.max(this.heatKpiVersion, m.scenario_version);
          this.refreshCooling();
        }
        this.onKpis.forEach((f) => f());
      },
      comment: (m) => {
        this.comments.upsert(m.comment);
        this.view.invalidate();
      },
      reset: (m) => this.setScenario(m.scenario),
      scenario: (m) => {
        if (this.scenario) this.scenario = { ...this.scenario, name: m.name, status: m.status };
        this.onScenario.forEach((f) => f());
      },
    });
    this.conn.onStatus = (s, code) => {
      this.status = s;
      setStatus(s);
      if (code === 4401 || code === 4403) toast(t("not_allowed"), true);
    };
    this.conn.onMessage = (m) => {
      this.messagesSeen[m.t] = (this.messagesSeen[m.t] ?? 0) + 1;
    };
    this.conn.connect();
  }

  private onWelcome(m: P.Welcome): void {
    this.sessionId = m.session_id;
    this.user = m.user;
    this.canEdit = m.can_edit;
    this.designDay = m.design_day ?? null;
    this.updateSun();
    this.setScenario(m.scenario);
    this.resubscribe();
    this.api.comments(m.scenario.scenario_id).then((list) => {
      list.forEach((c) => this.comments.upsert(c));
      this.view.invalidate();
    }).catch(() => undefined);
  }

  setScenario(s: P.ScenarioState): void {
    this.scenario = s;
    this.version = s.version;
    this.edits.rebuild(s.interventions);
    this.view.invalidate();
    this.onScenario.forEach((f) => f());
  }

  private onApplied(m: P.EditApplied): void {
    if (!this.scenario) return;
    const list = this.scenario.interventions.filter((e) => e.intervention.id !== m.object_id);
    if (m.intervention) {
      const idx = this.scenario.interventions.findIndex((e) => e.intervention.id === m.object_id);
      const entry = { intervention: m.intervention, revision: m.revision, author: m.by };
      if (idx >= 0 && m.op === "update") list.splice(idx, 0, entry);
      else list.push(entry);
    }
    this.setScenario({ ...this.scenario, version: m.scenario_version, interventions: list });
    if (m.session_id === this.sessionId) this.ownEdits++;
    if (m.session_id === this.sessionId && this.pendingRequests.delete(m.request_id)) toast(t("edit_accepted"));
  }

  /** An engine delivered results for the current version: its progress is complete. */
  private engineDone(engine: string): void {
    this.doneVersion.set(engine, this.version);
    const p = this.progress.get(engine);
    if (p && p.fraction < 1) this.onProgress({ ...p, fraction: 1 });
  }

  private doneVersion = new Map<string, number>();

  private onProgress(m: P.Progress): void {
    const done = this.doneVersion.get(m.engine) ?? -1;
    this.progress.set(m.engine, done >= m.scenario_version ? { ...m, fraction: 1 } : m);
    let min: P.Progress | null = null;
    for (const p of this.progress.values()) if (p.fraction < 1 && (!min || p.fraction < min.fraction)) min = p;
    setProgress(min ? min.fraction : null, min ? min.stage : "");
  }

  private onField(m: P.FieldFrame): void {
    const before = this.fields.get(m.layer);
    const r = applyFieldFrame(this.fields, m);
    if (m.scenario_version >= this.version && m.layer === "utci_c") this.engineDone("heat");
    if (r === "needs_full") this.resubscribe();
    if (r === "applied") this.refreshRaster();
    if (r === "applied") this.onFieldApplied(before, this.fields.get(m.layer));
  }
  /** A field frame was applied (the field before and after it); the edit effect listens here. */
  onFieldApplied: (before: FieldState | undefined, after: FieldState | undefined) => void = () => {};

  /** Which layers to stream, from the current choices. */
  wantedLayers(): Array<"heat" | "traffic" | "agents" | "access"> {
    const out = new Set<"heat" | "traffic" | "agents" | "access">(["heat"]);
    if (this.overlays.has("traffic") || this.overlays.has("vc") || this.overlays.has("vehicles")) out.add("traffic");
    if (this.overlays.has("agents") || this.overlays.has("vehicles")) out.add("agents");
    if (this.overlays.has("transit") || this.raster === "access") out.add("access");
    return [...out];
  }

  /** Heat fields to stream: UTCI always (key figures, comparison), plus the one behind the chosen raster. */
  wantedFields(): string[] {
    const out = new Set<string>(["utci_c"]);
    if (this.raster !== "none") for (const f of FIELD_NAMES[this.raster]) out.add(f);
    return [...out];
  }

  resubscribe(): void {
    this.conn?.subscribe(this.wantedLayers(), this.hour, this.wantedFields());
  }

  setHour(h: number): void {
    this.hour = h;
    this.updateSun();
    this.resubscribe();
    this.compareHook(h);
  }
  compareHook: (h: number) => void = () => {};

  updateSun(): void {
    this.view.setSun(sunAtHour(this.designDay, this.hour, this.lonlat));
  }

  /** The field shown for the current raster choice (B side), if the server has sent it. */
  currentField(store = this.fields): FieldState | null {
    if (this.raster === "none") return null;
    for (const name of FIELD_NAMES[this.raster]) {
      const f = store.get(name);
      if (f) return f;
    }
    return null;
  }

  colourFor(raster: RasterId): (v: number) => RGB {
    switch (raster) {
      case "surface_temp": return (v) => rampColour(RAMPS.surface_temp, v);
      case "air_temp": return (v) => rampColour(RAMPS.air_temp, v);
      case "uhi": return (v) => rampColour(RAMPS.uhi, v);
      case "tmrt": return (v) => rampColour(RAMPS.tmrt, v);
      case "heat_stress": return (v) => classColour(HEAT_STRESS, v);
      case "access": return (v) => rampColour(RAMPS.access, v);
      default: return (v) => rampColour(RAMPS.utci, v);
    }
  }

  /** Rebuild the draped textures (and the A/B split) from the current fields. */
  refreshRaster(): void {
    const fb = this.currentField();
    this.texA?.dispose();
    this.texB?.dispose();
    this.texA = this.texB = null;
    this.drape.uDrapeModeA.value = this.drape.uDrapeModeB.value = 0;
    this.draped = null;
    if (!fb) {
      this.drape.uDrapeOpacity.value = 0;
      this.view.invalidate(false);
      return;
    }
    const g = fb.grid;
    const fa = this.compare !== "off" ? this.currentField(this.fieldsA) : null;
    let texB: THREE.Texture;
    const coarseB = this.compare !== "diff" ? this.coarseTexture(fb) : null;
    if (this.compare === "diff" && fa) {
      const d = differenceField(fa, fb);
      texB = rgbaTexture(fieldToRgba(d.values, g.rows, g.cols, (v) => rampColour(RAMPS.diff, v)), g.rows, g.cols);
    } else {
      texB = coarseB ?? rgbaTexture(fieldToRgba(fb.values, g.rows, g.cols, this.colourFor(this.raster)), g.rows, g.cols);
    }
    this.texB = texB;
    let texA = texB;
    let coarseA = coarseB;
    if (this.compare === "split" && fa) {
      coarseA = this.coarseTexture(fa);
      texA = coarseA ?? rgbaTexture(fieldToRgba(fa.values, g.rows, g.cols, this.colourFor(this.raster)), g.rows, g.cols);
      this.texA = texA;
    }
    this.draped = { field: fb.layer, version: fb.version, finite: countFinite(fb.values), coarse: coarseB !== null };
    const [w, s, e, n] = gridBounds(g);
    this.drape.uDrapeBounds.value.set(w, s, e, n);
    this.drape.uDrapeModeA.value = coarseA ? 1 : 0;
    this.drape.uDrapeModeB.value = coarseB ? 1 : 0;
    this.drape.uDrapeValueA.value = coarseA;
    this.drape.uDrapeValueB.value = coarseB;
    this.drape.uDrapeA.value = coarseA ? null : texA;
    this.drape.uDrapeB.value = coarseB ? null : texB;
    this.drape.uDrapeOpacity.value = 0.75;
    this.updateSplit();
  }

  /**
   * The value texture of a field that came on a coarse raster (air temperature, heat island) with the
   * ramp texture of the current raster set; null for other fields and rasters, or with missing cells
   * (those drape cell by cell).
   */
  private coarseTexture(f: FieldState): THREE.Texture | null {
    const c = f.coarse;
    const which = this.raster === "air_temp" ? "air_temp" : this.raster === "uhi" ? "uhi" : "";
    if (!c || !which || !this.coarseDrape || countFinite(c.values) !== c.values.length) return null;
    const ramp = RAMPS[which];
    if (this.rampFor !== which) {
      this.rampTex?.dispose();
      this.rampTex = rampTexture((t) => rampColour(ramp, ramp.lo + t * (ramp.hi - ramp.lo)));
      this.rampFor = which;
    }
    this.drape.uDrapeRamp.value = this.rampTex;
    const g = f.grid;
    const north = g.south_m + g.rows * g.cell_m;
    const size = c.factor * g.cell_m;
    this.drape.uDrapeValueBounds.value.set(g.west_m, north - c.rows * size, g.west_m + c.cols * size, north);
    return valueTexture(c.values, c.rows, c.cols, ramp.lo, ramp.hi);
  }

  updateSplit(): void {
    const px = this.view.renderer.domElement.width * this.splitFraction;
    this.drape.uDrapeSplitPx.value = this.compare === "split" ? px : 1e9;
    this.view.invalidate(false);
  }

  applyVisibility(): void {
    this.traffic.group.visible = this.overlays.has("traffic") || this.overlays.has("vc");
    this.traffic.mode = this.overlays.has("vc") && !this.overlays.has("traffic") ? "vc" : "volume";
    this.traffic.recolour();
    this.vehicles.mesh.visible = this.overlays.has("vehicles");
    this.people.mesh.visible = this.overlays.has("agents");
    this.stops.group.visible = this.overlays.has("transit");
    this.deficits.group.visible = this.raster === "access";
    this.comments.group.visible = this.overlays.has("comments");
    if (this.coolingTooLarge) this.cooling.unavailable = t("cooling_unavailable"); // in the current language
    renderLegend(this.raster, this.overlays, this.compare === "diff", this.cooling.mode !== "off" ? this.cooling.unavailable : "");
    this.refreshCooling();
    this.view.invalidate();
  }

  /** The cooling overlay follows the choices, the scenario's version and the comparison's scenario A. */
  refreshCooling(): void {
    const mode: CoolingMode = this.overlays.has("cooling_change") ? "change" : this.overlays.has("cooling") ? "kwh" : "off";
    const sid = this.scenario?.scenario_id ?? "";
    const a = this.compare !== "off" && mode === "change" ? this.compareScenario() : "";
    if (mode !== this.cooling.mode) this.cooling.setMode(mode);
    const key = `${sid}|${a}|${this.heatKpiVersion}`;
    if (mode === "off" || !sid || key === this.coolingKey) return;
    const heat = this.kpis.get("heat");
    if (!heat) return; // the heat results tell whether the buildings' cooling demand is computed here
    if (!("cooling_demand_kwh_day" in heat)) {
      // the first heat figures of a version come before the day's cooling demand: only a large grid means none
      const g = this.fields.get("utci_c")?.grid;
      if (!g || g.rows * g.cols <= COOLING_MAX_CELLS) return;
      this.coolingTooLarge = true;
      this.cooling.unavailable = t("cooling_unavailable");
      renderLegend(this.raster, this.overlays, this.compare === "diff", this.cooling.unavailable);
      return;
    }
    this.coolingKey = key;
    void this.cooling.load(sid, this.heatKpiVersion, a).then(() => {
      renderLegend(this.raster, this.overlays, this.compare === "diff", this.cooling.unavailable);
    });
  }
  private coolingKey = "";
  private coolingTooLarge = false;
  /** The newest scenario version whose heat results arrived (the cooling overlay is read for it). */
  private heatKpiVersion = -1;

  setRaster(r: RasterId): void {
    this.raster = r;
    this.applyVisibility();
    this.refreshRaster();
    this.resubscribe();
    this.compareHook(this.hour);
  }

  setOverlay(o: OverlayId, on: boolean): void {
    if (on) this.overlays.add(o);
    else this.overlays.delete(o);
    this.applyVisibility();
    this.resubscribe();
  }

  /** Send an intervention; false when this client may not edit. */
  sendEdit(iv: P.Intervention): boolean {
    if (!this.conn || !this.canEdit) {
      toast(t("not_allowed"), true);
      return false;
    }
    this.pendingRequests.add(this.conn.add(iv));
    return true;
  }

  sendRemove(objectId: string): boolean {
    if (!this.conn || !this.canEdit || !this.scenario) return false;
    const e = this.scenario.interventions.find((x) => x.intervention.id === objectId);
    if (!e) return false;
    this.pendingRequests.add(this.conn.remove(objectId, e.revision));
    return true;
  }

  findRoad(x: number, y: number): number {
    return this.roads ? nearestEdge(this.roads, x, y, 25) : -1;
  }

  /** Value of the shown raster (or a named field) at local metres, NaN when unknown. */
  sample(layer: string, x: number, y: number): number {
    const f = this.fields.get(layer);
    return f ? sampleField(f, x, y) : NaN;
  }
}

/** Districts up to this many cells get the buildings' cooling demand with every edit (the server's limit). */
const COOLING_MAX_CELLS = 1_000_000; // as the server (HEAT_ENERGY_LIVE_MAX_CELLS)

function countFinite(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) n++;
  return n;
}
