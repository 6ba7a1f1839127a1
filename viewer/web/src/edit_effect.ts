// The effect of one's own edit where it happened: when the felt-temperature field (UTCI) of a version
// that follows this client's edit arrives, the cells that changed by at least half a degree light up for
// a few seconds and a label at their centre says it in words ("hier 6 °C kühler"); the largest change
// counts, as the visitor sees it under the new tree. While it shows, the colour ramp of the felt
// temperature spans the range of the visible part of the town (a few degrees), not the whole district's,
// so that the cooler cells stand out; the label names that range. Tested in tests/test_region_view.py.

import * as THREE from "three";
import type { App } from "./app";
import { fieldToRgba, RAMPS, rampColour } from "./colormap";
import { rgbaTexture } from "./drape";
import type { FieldState } from "./fields";

export const EFFECT_MIN_K = 0.5; // smaller changes are not shown (within the model's noise between hours)
const SHOW_S = 6;
const GLOW_S = 3;

export interface EffectInfo {
  cells: number; peakK: number; meanK: number; xy: [number, number]; text: string; version: number;
  rampLocal: [number, number] | null; // the colour ramp's range while the effect shows (°C), null: unchanged
}

export class EditEffect {
  last: EffectInfo | null = null;
  private seenOwn = 0;
  private points: THREE.Points | null = null;
  private readonly label: HTMLElement;
  private shownAt = 0;
  private localTex: THREE.Texture | null = null;
  private localRange: [number, number] | null = null;

  constructor(private readonly app: App) {
    this.label = document.createElement("div");
    this.label.id = "edit-effect";
    this.label.setAttribute("role", "status");
    this.label.setAttribute("aria-live", "polite");
    this.label.hidden = true;
    this.label.style.cssText = "position:absolute;z-index:5;pointer-events:none;transform:translate(-50%,-130%);"
      + "background:#17293b;color:#ffffff;font-weight:bold;font-size:18px;padding:8px 12px;border-radius:8px;"
      + "box-shadow:0 2px 10px rgba(15,30,50,0.3);white-space:nowrap";
    document.getElementById("stage")?.append(this.label);
    app.view.addHook((_dt, now) => this.tick(now));
  }

  /** Called with a field before and after a frame was applied to it. */
  onField(before: FieldState | undefined, after: FieldState | undefined): void {
    // the app redraws the drape on every frame: keep the local ramp while the effect shows
    const utci = this.app.fields.get("utci_c");
    if (this.localTex && this.localRange && utci && this.localRampShown()) this.applyLocal(utci, ...this.localRange);
    if (this.app.ownEdits < this.seenOwn) this.seenOwn = this.app.ownEdits; // a kiosk reset
    if (!before || !after || after.layer !== "utci_c" || after.version <= before.version) return;
    if (this.app.ownEdits <= this.seenOwn) return; // someone else's edit, or no edit at all
    this.seenOwn = this.app.ownEdits;
    if (before.hour !== after.hour || before.values.length !== after.values.length) return;
    const g = after.grid;
    const cells: number[] = [];
    let peak = 0;
    let sum = 0;
    let wx = 0;
    let wy = 0;
    let w = 0;
    for (let i = 0; i < after.values.length; i++) {
      const d = after.values[i] - before.values[i];
      if (!(Math.abs(d) >= EFFECT_MIN_K)) continue;
      cells.push(i);
      sum += d;
      if (Math.abs(d) > Math.abs(peak)) peak = d;
      const r = Math.floor(i / g.cols);
      const c = i - r * g.cols;
      wx += Math.abs(d) * (g.west_m + (c + 0.5) * g.cell_m);
      wy += Math.abs(d) * (g.south_m + (g.rows - r - 0.5) * g.cell_m);
      w += Math.abs(d);
    }
    if (!cells.length) return;
    const en = this.app.params.lang === "en";
    const k = Math.max(1, Math.round(Math.abs(peak)));
    const text = peak < 0 ? (en ? `here ${k} °C cooler` : `hier ${k} °C kühler`) : (en ? `here ${k} °C warmer` : `hier ${k} °C wärmer`);
    this.last = { cells: cells.length, peakK: peak, meanK: sum / cells.length, xy: [wx / w, wy / w], text, version: after.version,
      rampLocal: null };
    this.show(cells, after);
    this.localRamp(after, en);
  }

  private show(cells: number[], f: FieldState): void {
    const g = f.grid;
    const step = Math.max(1, Math.floor(cells.length / 20000));
    const pos: number[] = [];
    for (let k = 0; k < cells.length; k += step) {
      const i = cells[k];
      const r = Math.floor(i / g.cols);
      const c = i - r * g.cols;
      const x = g.west_m + (c + 0.5) * g.cell_m;
      const y = g.south_m + (g.rows - r - 0.5) * g.cell_m;
      pos.push(x, this.app.tiles.heightAt(x, y) + 1.5, -y);
    }
    this.clear();
    const geo = new THREE.BufferGeometry();
    geo.setAttribute("position", new THREE.Float32BufferAttribute(pos, 3));
    const mat = new THREE.PointsMaterial({ color: 0x38e8ff, size: g.cell_m * 1.1, sizeAttenuation: true, transparent: true,
      opacity: 0.9, depthTest: false });
    this.points = new THREE.Points(geo, mat);
    this.points.renderOrder = 10;
    this.app.view.scene.add(this.points);
    this.label.textContent = this.last?.text ?? "";
    this.label.hidden = false;
    this.shownAt = performance.now() / 1000;
    this.app.view.invalidate(false);
  }

  /** Colour the felt temperature over the visible part's range (2nd to 98th percentile) while the effect shows. */
  private localRamp(f: FieldState, en: boolean): void {
    if (this.app.raster !== "utci" || this.app.compare !== "off" || !this.last) return;
    const g = f.grid;
    const cam = this.app.view.camera;
    const t = this.app.view.controls.target;
    const half = cam.position.distanceTo(t) * Math.tan((cam.fov * Math.PI) / 360);
    const [tx, ty] = [t.x, -t.z];
    const c0 = Math.max(0, Math.floor((tx - half * cam.aspect - g.west_m) / g.cell_m));
    const c1 = Math.min(g.cols - 1, Math.floor((tx + half * cam.aspect - g.west_m) / g.cell_m));
    const north = g.south_m + g.rows * g.cell_m;
    const r0 = Math.max(0, Math.floor((north - (ty + half)) / g.cell_m));
    const r1 = Math.min(g.rows - 1, Math.floor((north - (ty - half)) / g.cell_m));
    const vals: number[] = [];
    const step = Math.max(1, Math.floor(Math.sqrt(((r1 - r0 + 1) * (c1 - c0 + 1)) / 40000)));
    for (let r = r0; r <= r1; r += step) for (let c = c0; c <= c1; c += step) {
      const v = f.values[r * g.cols + c];
      if (Number.isFinite(v)) vals.push(v);
    }
    if (vals.length < 10) return;
    vals.sort((a, b) => a - b);
    let lo = vals[Math.floor(vals.length * 0.02)];
    let hi = vals[Math.floor(vals.length * 0.98)];
    if (hi - lo < 2) { const m = (lo + hi) / 2; lo = m - 1; hi = m + 1; }
    this.applyLocal(f, lo, hi);
    this.last.rampLocal = [lo, hi];
    const range = `${Math.round(lo)}–${Math.round(hi)} °C`;
    this.label.textContent = `${this.last.text} · ${en ? `colours for ${range} in view` : `Farben für ${range} im Bild`}`;
    this.app.view.invalidate(false);
  }

  private applyLocal(f: FieldState, lo: number, hi: number): void {
    const g = f.grid;
    const ramp = { ...RAMPS.utci, lo, hi };
    const tex = rgbaTexture(fieldToRgba(f.values, g.rows, g.cols, (v) => rampColour(ramp, v)), g.rows, g.cols);
    tex.userData.localRamp = true;
    this.app.drape.uDrapeA.value = tex;
    this.app.drape.uDrapeB.value = tex;
    this.app.drape.uDrapeModeA.value = this.app.drape.uDrapeModeB.value = 0; // colour textures on both sides
    this.localTex?.dispose();
    this.localTex = tex;
    this.localRange = [lo, hi];
    this.app.view.invalidate(false);
  }

  /** The local ramp belongs to the felt temperature alone: another layer or a comparison ends it. */
  private localRampShown(): boolean {
    if (this.app.raster === "utci" && this.app.compare === "off") return true;
    if (this.localTex) {
      this.endLocalRamp();
      this.label.textContent = this.last?.text ?? "";
    }
    return false;
  }

  private endLocalRamp(): void {
    this.localRange = null;
    if (!this.localTex) return;
    const shown = this.app.drape.uDrapeB.value === this.localTex;
    this.localTex.dispose();
    this.localTex = null;
    if (shown) this.app.refreshRaster();
  }

  private clear(): void {
    if (!this.points) return;
    this.app.view.scene.remove(this.points);
    this.points.geometry.dispose();
    (this.points.material as THREE.Material).dispose();
    this.points = null;
  }

  private tick(now: number): boolean {
    if (this.label.hidden || !this.last) return false;
    if (this.localTex) this.localRampShown();
    const age = now - this.shownAt;
    if (age > SHOW_S) {
      this.label.hidden = true;
      this.clear();
      this.endLocalRamp();
      this.app.view.invalidate(false);
      return false;
    }
    // the changed cells pulse while they glow; a software rasteriser (no GPU) shows them steady instead,
    // so that the page draws only when something changed and answers the next messages at once
    let animating = false;
    if (this.points) {
      const m = this.points.material as THREE.PointsMaterial;
      if (age >= GLOW_S) {
        this.clear();
        this.app.view.invalidate(false);
      } else if (!this.app.view.software) {
        m.opacity = 0.9 * (0.6 + 0.4 * Math.cos(age * 6));
        animating = true;
      }
    }
    const [x, y] = this.last.xy;
    const p = new THREE.Vector3(x, this.app.tiles.heightAt(x, y) + 2, -y).project(this.app.view.camera);
    const rect = this.app.view.canvas.getBoundingClientRect();
    const stage = this.label.parentElement?.getBoundingClientRect() ?? rect;
    this.label.style.left = `${rect.left - stage.left + ((p.x + 1) / 2) * rect.width}px`;
    this.label.style.top = `${rect.top - stage.top + ((1 - p.y) / 2) * rect.height}px`;
    return animating; // the label follows the camera, whose moves draw a frame anyway
  }
}
