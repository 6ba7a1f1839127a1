// The buildings' cooling demand as an overlay: each building of the tiles coloured by its kWh per day
// over the design day, or by the change against the district without interventions (in the A/B
// comparison: B − A). Values come from the REST export; the tiles carry a building id per vertex.

import * as THREE from "three";
import { rampColour, RAMPS, type RGB } from "./colormap";
import { lang } from "./i18n";

export type CoolingMode = "off" | "kwh" | "change";

/** Per building id: the scenario's and the baseline's cooling demand (kWh/day), and whether it is cooled. */
export interface CoolingValues {
  kwh: Map<number, number>;
  base: Map<number, number>;
  cooled: Map<number, boolean>;
}

interface CoolingFeature {
  properties: { building_id: number; cooled: boolean; cooling_kwh_day: number; cooling_kwh_day_baseline: number };
}

const NOT_COOLED: RGB = [150, 150, 150];

/** Parse the export's GeoJSON into per-id values (only the properties are read). */
export function coolingValues(fc: { features: CoolingFeature[] }): CoolingValues {
  const out: CoolingValues = { kwh: new Map(), base: new Map(), cooled: new Map() };
  for (const f of fc.features) {
    const p = f.properties;
    out.kwh.set(p.building_id, p.cooling_kwh_day);
    out.base.set(p.building_id, p.cooling_kwh_day_baseline);
    out.cooled.set(p.building_id, p.cooled);
  }
  return out;
}

/** The colour of building `id`: by kWh/day, by the change to its baseline, or B − A when `other` is given. */
export function coolingColour(v: CoolingValues, id: number, mode: CoolingMode, other: CoolingValues | null = null): RGB | null {
  const kwh = v.kwh.get(id);
  if (kwh === undefined || mode === "off") return null;
  if (!v.cooled.get(id)) return NOT_COOLED;
  if (mode === "kwh") return rampColour(RAMPS.cooling, kwh);
  const ref = other ? other.kwh.get(id) : v.base.get(id);
  return ref === undefined ? null : rampColour(RAMPS.cooling_change, kwh - ref);
}

export class CoolingOverlay {
  mode: CoolingMode = "off";
  values: CoolingValues | null = null;
  /** Scenario A's values while the comparison runs (the change is then B − A). */
  valuesA: CoolingValues | null = null;
  /** Why there are no values (the server's message in the page's language), or "" . */
  unavailable = "";
  /** The version the values were read for; buildings coloured in the last pass. */
  version = -1;
  coloured = 0;
  onChange: () => void = () => {};
  private loading = 0;

  constructor(private root: THREE.Object3D, private headers: () => HeadersInit) {}

  /** Read the export of scenario `sid` (and of `sidA` in the comparison), then colour the buildings. */
  async load(sid: string, version: number, sidA = ""): Promise<void> {
    const ticket = ++this.loading;
    try {
      const [b, a] = await Promise.all([this.fetchValues(sid), sidA ? this.fetchValues(sidA) : Promise.resolve(null)]);
      if (ticket !== this.loading) return;
      this.values = b;
      this.valuesA = a;
      this.unavailable = "";
      this.version = version;
    } catch (e) {
      if (ticket !== this.loading) return;
      this.values = this.valuesA = null;
      this.unavailable = (e as Error).message;
    }
    this.apply();
  }

  private async fetchValues(sid: string): Promise<CoolingValues> {
    const res = await fetch(`/api/scenarios/${encodeURIComponent(sid)}/exports/buildings_cooling.geojson`, { headers: this.headers() });
    if (!res.ok) {
      let msg = `HTTP ${res.status}`;
      try {
        const j = await res.json();
        msg = (lang() === "en" ? j.message_en : j.message_de) ?? msg;
      } catch { /* not JSON: keep the status */ }
      throw new Error(msg);
    }
    return coolingValues(await res.json());
  }

  setMode(mode: CoolingMode): void {
    this.mode = mode;
    this.apply();
  }

  /** Colour every building mesh of the loaded tiles (again): the overlay's colours, or the tiles' own. */
  apply(): void {
    let n = 0;
    const ids = new Set<number>();
    this.root.traverse((o) => {
      const mesh = o as THREE.Mesh;
      if (!mesh.isMesh || mesh.userData.kind !== "building") return;
      const geom = mesh.geometry as THREE.BufferGeometry;
      const idAttr = geom.getAttribute("_building_id") ?? geom.getAttribute("_BUILDING_ID");
      if (!idAttr) return;
      let col = geom.getAttribute("color") as THREE.BufferAttribute | undefined;
      const on = this.mode !== "off" && this.values !== null;
      if (!col) {
        if (!on) return;
        col = new THREE.BufferAttribute(new Float32Array(idAttr.count * 3).fill(0.8), 3);
        geom.setAttribute("color", col);
        for (const m of Array.isArray(mesh.material) ? mesh.material : [mesh.material]) {
          (m as THREE.MeshStandardMaterial).vertexColors = true;
          m.needsUpdate = true;
        }
      }
      if (!mesh.userData.ownColours) mesh.userData.ownColours = Array.from(col.array as ArrayLike<number>);
      const own = mesh.userData.ownColours as number[];
      const size = col.itemSize;
      let last = NaN;
      let rgb: RGB | null = null;
      for (let i = 0; i < idAttr.count; i++) {
        const id = Math.round(idAttr.getX(i));
        if (id !== last) {
          last = id;
          rgb = on ? coolingColour(this.values!, id, this.mode, this.valuesA) : null;
          if (rgb) ids.add(id);
        }
        if (rgb) col.setXYZ(i, rgb[0] / 255, rgb[1] / 255, rgb[2] / 255);
        else for (let k = 0; k < Math.min(size, 3); k++) (col.array as Float32Array)[i * size + k] = own[i * size + k];
      }
      col.needsUpdate = true;
      n++;
    });
    this.coloured = ids.size;
    if (n) this.onChange();
  }
}
