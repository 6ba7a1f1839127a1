// Traffic on the roads (volume or V/C colours on every edge), moving vehicles and people. Positions
// come from the server's agent frames; between two frames the viewer interpolates for smooth motion.

import * as THREE from "three";
import { classColour, rampColour, RAMPS, VC_CLASSES } from "./colormap";
import type { HeightAt } from "./edits";

/** Road polylines in the order of District.roads: vertex offsets (L+1,) into xy (K, 2) local metres. */
export interface RoadGeometry {
  offsets: Int32Array;
  xy: Float32Array;
}

export function roadLine(g: RoadGeometry, edge: number): Array<[number, number]> | null {
  if (edge < 0 || edge + 1 >= g.offsets.length) return null;
  const out: Array<[number, number]> = [];
  for (let k = g.offsets[edge]; k < g.offsets[edge + 1]; k++) out.push([g.xy[2 * k], g.xy[2 * k + 1]]);
  return out;
}

/** Distance from a point to a polyline, metres. */
export function distanceToLine(x: number, y: number, line: Array<[number, number]>): number {
  let best = Infinity;
  for (let i = 1; i < line.length; i++) {
    const [ax, ay] = line[i - 1];
    const [bx, by] = line[i];
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy || 1;
    const f = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2));
    best = Math.min(best, Math.hypot(ax + f * dx - x, ay + f * dy - y));
  }
  return best;
}

/** The road edge nearest to a point within `max_m`, or -1. */
export function nearestEdge(g: RoadGeometry, x: number, y: number, max_m = 25): number {
  let best = -1;
  let bestD = max_m;
  const n = g.offsets.length - 1;
  for (let e = 0; e < n; e++) {
    const line = roadLine(g, e);
    if (!line || line.length < 2) continue;
    const d = distanceToLine(x, y, line);
    if (d < bestD) {
      bestD = d;
      best = e;
    }
  }
  return best;
}

export class TrafficLayer {
  readonly group = new THREE.Group();
  private lines: THREE.Mesh | null = null;
  private colours: Float32Array | null = null;
  private segEdge: Int32Array | null = null;
  mode: "volume" | "vc" = "volume";
  flow: Float32Array | null = null;
  vc: Float32Array | null = null;

  constructor(private heightAt: HeightAt) {
    this.group.name = "traffic";
  }

  /** One flat band (two triangles) per road segment, 7 m wide, with a colour per vertex. */
  setGeometry(g: RoadGeometry): void {
    const pos: number[] = [];
    const edgeOf: number[] = [];
    const n = g.offsets.length - 1;
    const half = 3.5;
    for (let e = 0; e < n; e++) {
      for (let k = g.offsets[e] + 1; k < g.offsets[e + 1]; k++) {
        const x0 = g.xy[2 * k - 2];
        const y0 = g.xy[2 * k - 1];
        const x1 = g.xy[2 * k];
        const y1 = g.xy[2 * k + 1];
        const len = Math.hypot(x1 - x0, y1 - y0) || 1;
        const nx = (-(y1 - y0) / len) * half;
        const ny = ((x1 - x0) / len) * half;
        const h0 = this.heightAt(x0, y0) + 1.5;
        const h1 = this.heightAt(x1, y1) + 1.5;
        const a = [x0 + nx, h0, -(y0 + ny)];
        const b = [x0 - nx, h0, -(y0 - ny)];
        const c = [x1 + nx, h1, -(y1 + ny)];
        const d = [x1 - nx, h1, -(y1 - ny)];
        pos.push(...a, ...b, ...c, ...b, ...d, ...c);
        edgeOf.push(e);
      }
    }
    const geom = new THREE.BufferGeometry();
    geom.setAttribute("position", new THREE.Float32BufferAttribute(pos, 3));
    this.colours = new Float32Array(pos.length).fill(0.6);
    geom.setAttribute("color", new THREE.BufferAttribute(this.colours, 3));
    this.segEdge = Int32Array.from(edgeOf);
    if (this.lines) this.group.remove(this.lines);
    const mat = new THREE.MeshBasicMaterial({
      vertexColors: true, side: THREE.DoubleSide, polygonOffset: true, polygonOffsetFactor: -4, polygonOffsetUnits: -4,
    });
    this.lines = new THREE.Mesh(geom, mat);
    this.lines.name = "traffic-bands";
    this.group.add(this.lines);
    this.recolour();
  }

  setResults(flow: Float32Array, vc: Float32Array): void {
    this.flow = flow;
    this.vc = vc;
    this.recolour();
  }

  recolour(): void {
    if (!this.lines || !this.colours || !this.segEdge) return;
    const c = new THREE.Color();
    for (let s = 0; s < this.segEdge.length; s++) {
      const e = this.segEdge[s];
      const rgb =
        this.mode === "vc"
          ? classColour(VC_CLASSES, this.vc ? this.vc[e] : 0)
          : rampColour(RAMPS.traffic, this.flow ? this.flow[e] : 0);
      c.setRGB(rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, THREE.SRGBColorSpace);
      for (let v = 0; v < 6; v++) {
        const o = 18 * s + 3 * v;
        this.colours[o] = c.r;
        this.colours[o + 1] = c.g;
        this.colours[o + 2] = c.b;
      }
    }
    (this.lines.geometry.getAttribute("color") as THREE.BufferAttribute).needsUpdate = true;
  }
}

/** Moving dots: vehicles (small boxes) or people (small spheres), interpolated between frames. */
export class MovingDots {
  readonly mesh: THREE.InstancedMesh;
  private prev: Float32Array | null = null;
  private next: Float32Array | null = null;
  private prevT = 0;
  private nextT = 0;
  private clock = 0;
  count = 0;
  /** Seconds of simulated time per second of wall time while animating. */
  speedup = 30;
  private dummy = new THREE.Object3D();

  constructor(kind: "vehicles" | "people", private heightAt: HeightAt, capacity = 20000) {
    const geom = kind === "vehicles" ? new THREE.BoxGeometry(5, 2, 2.2) : new THREE.SphereGeometry(0.9, 8, 6);
    const mat = new THREE.MeshStandardMaterial({ color: kind === "vehicles" ? 0x1a237e : 0xd81b60, roughness: 0.6 });
    this.mesh = new THREE.InstancedMesh(geom, mat, capacity);
    this.mesh.count = 0;
    this.mesh.name = kind;
    this.mesh.frustumCulled = false;
  }

  /** A new frame of positions (N, 2) at `t_s`; the previous one becomes the start of the interpolation. */
  push(xy: Float32Array, t_s: number): void {
    const n = Math.min(xy.length / 2, this.mesh.instanceMatrix.count);
    if (this.next && this.next.length === xy.length && t_s > this.nextT) {
      this.prev = this.next;
      this.prevT = this.nextT;
    } else {
      this.prev = xy;
      this.prevT = t_s;
    }
    this.next = xy;
    this.nextT = t_s;
    this.clock = this.prevT;
    this.count = n;
    this.mesh.count = n;
    this.place(0);
  }

  /** Advance the interpolation; returns true while the dots move. */
  tick(dt: number): boolean {
    if (!this.prev || !this.next || this.nextT <= this.prevT || !this.mesh.visible) return false;
    this.clock = Math.min(this.nextT, this.clock + dt * this.speedup);
    this.place((this.clock - this.prevT) / (this.nextT - this.prevT));
    return this.clock < this.nextT;
  }

  private place(f: number): void {
    if (!this.prev || !this.next) return;
    const a = this.prev;
    const b = this.next;
    for (let i = 0; i < this.count; i++) {
      const x = a[2 * i] + (b[2 * i] - a[2 * i]) * f;
      const y = a[2 * i + 1] + (b[2 * i + 1] - a[2 * i + 1]) * f;
      this.dummy.position.set(x, this.heightAt(x, y) + 1, -y);
      this.dummy.rotation.y = Math.atan2(b[2 * i + 1] - a[2 * i + 1], b[2 * i] - a[2 * i]);
      this.dummy.updateMatrix();
      this.mesh.setMatrixAt(i, this.dummy.matrix);
    }
    this.mesh.instanceMatrix.needsUpdate = true;
  }
}
