// A/B comparison and the KPI panel. Scenario A (the parent or a chosen scenario) streams over a second,
// read-only connection; the drape shows A left and B right of a movable split line, or B − A.

import type { App } from "./app";
import { barChart, classHistogram } from "./charts";
import { cssColour, HEAT_STRESS } from "./colormap";
import { Connection } from "./connection";
import { applyFieldFrame, histogram } from "./fields";
import { fmt, t, type TextKey } from "./i18n";
import { $ } from "./ui";

export class Compare {
  private connA: Connection | null = null;
  kpisA = new Map<string, Record<string, number>>();
  scenarioA = "";

  constructor(private app: App) {
    $("btn-compare").addEventListener("click", () => (this.app.compare === "off" ? void this.start() : this.stop()));
    $("cmp-split").addEventListener("click", () => this.setKind("split"));
    $("cmp-diff").addEventListener("click", () => this.setKind("diff"));
    $("btn-kpi").addEventListener("click", () => this.toggleKpis());
    $("kpi-close").addEventListener("click", () => this.toggleKpis(false));
    app.onKpis.push(() => this.renderKpis());
    app.compareHook = (h) => this.connA?.subscribe(["heat", "traffic", "access"], h, app.wantedFields());
    app.compareScenario = () => this.scenarioA;
    this.bindSplitHandle();
  }

  /** Choose A: the `compare` parameter, else the parent scenario, else the official one of the district. */
  private async chooseA(): Promise<string> {
    if (this.app.params.compare) return this.app.params.compare;
    const s = this.app.scenario;
    if (s?.parent_id) return s.parent_id;
    const list = await this.app.api.scenarios(s?.district).catch(() => []);
    const other = list.find((x) => x.scenario_id !== s?.scenario_id && x.kind === "official") ?? list.find((x) => x.scenario_id !== s?.scenario_id);
    return other?.scenario_id ?? s?.scenario_id ?? "";
  }

  async start(): Promise<void> {
    this.scenarioA = await this.chooseA();
    if (!this.scenarioA) return;
    this.app.compare = "split";
    this.app.fieldsA.clear();
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const url = `${proto}://${location.host}/ws/scenarios/${encodeURIComponent(this.scenarioA)}`;
    const role = this.app.params.token ? "planner" : "citizen";
    this.connA = new Connection(url, { role, token: this.app.params.token, name: "", lang: this.app.params.lang }, {
      welcome: () => this.connA?.subscribe(["heat", "traffic", "access"], this.app.hour, this.app.wantedFields()),
      field: (m) => {
        if (applyFieldFrame(this.app.fieldsA, m) === "needs_full") this.connA?.subscribe(["heat"], this.app.hour, this.app.wantedFields());
        this.app.refreshRaster();
        this.renderKpis();
      },
      kpis: (m) => {
        this.kpisA.set(m.engine, Object.fromEntries(Object.entries(m.values).filter((e): e is [string, number] => e[1] !== null)));
        this.renderKpis();
      },
    });
    this.connA.connect();
    $("compare-bar").hidden = false;
    $("btn-compare").setAttribute("aria-pressed", "true");
    $("btn-compare").textContent = t("compare_off");
    this.setKind("split");
  }

  stop(): void {
    this.connA?.close();
    this.connA = null;
    this.kpisA.clear();
    this.app.compare = "off";
    $("compare-bar").hidden = true;
    $("split-handle").hidden = true;
    $("btn-compare").setAttribute("aria-pressed", "false");
    $("btn-compare").textContent = t("compare");
    this.app.refreshRaster();
    this.app.applyVisibility();
    this.renderKpis();
  }

  setKind(kind: "split" | "diff"): void {
    if (this.app.compare === "off") return;
    this.app.compare = kind;
    $("cmp-split").setAttribute("aria-pressed", String(kind === "split"));
    $("cmp-diff").setAttribute("aria-pressed", String(kind === "diff"));
    $("split-handle").hidden = kind !== "split";
    this.placeHandle();
    this.app.refreshRaster();
    this.app.applyVisibility();
  }

  private placeHandle(): void {
    $("split-handle").style.left = `${this.app.splitFraction * 100}%`;
    $("split-handle").setAttribute("aria-valuenow", String(Math.round(this.app.splitFraction * 100)));
    this.app.updateSplit();
  }

  private bindSplitHandle(): void {
    const h = $("split-handle");
    let dragging = false;
    h.addEventListener("pointerdown", (e) => {
      dragging = true;
      h.setPointerCapture(e.pointerId);
    });
    h.addEventListener("pointermove", (e) => {
      if (!dragging) return;
      const r = $("stage").getBoundingClientRect();
      this.app.splitFraction = Math.min(0.98, Math.max(0.02, (e.clientX - r.left) / r.width));
      this.placeHandle();
    });
    h.addEventListener("pointerup", () => (dragging = false));
    h.addEventListener("keydown", (e) => {
      const step = e.key === "ArrowLeft" ? -0.05 : e.key === "ArrowRight" ? 0.05 : 0;
      if (!step) return;
      this.app.splitFraction = Math.min(0.98, Math.max(0.02, this.app.splitFraction + step));
      this.placeHandle();
    });
  }

  toggleKpis(on?: boolean): void {
    const p = $("kpi-panel");
    p.hidden = on === undefined ? !p.hidden : !on;
    $("btn-kpi").setAttribute("aria-pressed", String(!p.hidden));
    this.renderKpis();
  }

  /** KPI numbers and charts: UTCI distribution (A vs B), travel times, deficits, costs. */
  renderKpis(): void {
    const body = $("kpi-body");
    if ($("kpi-panel").hidden) return;
    const parts: string[] = [];
    const utci = this.app.fields.get("utci_c");
    if (utci) {
      const edges = [-100, ...HEAT_STRESS.breaks, 1000];
      const labels = HEAT_STRESS.labels.map((k) => t(k as TextKey));
      const cols = HEAT_STRESS.colours.map(cssColour);
      parts.push(`<h3>${t("kpi_utci_dist")}</h3>`);
      const countsB = histogram(utci.values, edges);
      const utciA = this.app.fieldsA.get("utci_c");
      if (utciA && this.app.compare !== "off") {
        const countsA = histogram(utciA.values, edges);
        const pct = (c: number[]): number[] => {
          const s = c.reduce((a, b) => a + b, 0) || 1;
          return c.map((v) => (100 * v) / s);
        };
        parts.push(barChart(labels, [
          { label: t("scenario_a"), colour: "#8a97a6", values: pct(countsA) },
          { label: t("scenario_b"), colour: "#0b5f8a", values: pct(countsB) },
        ], (v) => `${fmt(v)} %`));
      } else {
        parts.push(classHistogram(labels, countsB, cols));
      }
    }
    const groups: Array<[TextKey, RegExp]> = [
      ["kpi_heat_island", /^uhi_core_open_k$|^tropical_night|^cooling_demand_kwh/],
      ["kpi_travel", /travel|_min$/],
      ["kpi_deficits", /deficit/],
      ["kpi_costs", /cost|_eur$/],
    ];
    const all = new Map<string, number>();
    const allA = new Map<string, number>();
    for (const v of this.app.kpis.values()) for (const [k, x] of Object.entries(v)) all.set(k, x);
    for (const v of this.kpisA.values()) for (const [k, x] of Object.entries(v)) allA.set(k, x);
    const used = new Set<string>();
    for (const [title, re] of groups) {
      const keys = [...all.keys()].filter((k) => re.test(k) && !used.has(k)).slice(0, 5);
      if (keys.length === 0) continue;
      keys.forEach((k) => used.add(k));
      const series = [{ label: t("scenario_b"), colour: "#0b5f8a", values: keys.map((k) => all.get(k) ?? 0) }];
      if (this.app.compare !== "off") series.unshift({ label: t("scenario_a"), colour: "#8a97a6", values: keys.map((k) => allA.get(k) ?? 0) });
      parts.push(`<h3>${t(title)}</h3>`, barChart(keys.map(shortName), series, (v) => fmt(v, Math.abs(v) < 10 ? 1 : 0)));
    }
    const rest = [...all.entries()].filter(([k]) => !used.has(k)).slice(0, 12);
    if (rest.length) {
      parts.push(`<div class="kpi-grid">${rest.map(([k, v]) => `<div class="kpi"><b>${fmt(v, Math.abs(v) < 10 ? 1 : 0)}</b><span>${k}</span></div>`).join("")}</div>`);
    }
    body.innerHTML = parts.length ? parts.join("") : `<p>${t("kpi_none")}</p>`;
  }
}

function shortName(k: string): string {
  const s = k.replace(/_(min|eur|c|veh_h|persons)$/, "").replace(/_/g, " ");
  return s.length > 18 ? `${s.slice(0, 17)}…` : s;
}
