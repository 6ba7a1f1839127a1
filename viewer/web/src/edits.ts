// The scenario's interventions drawn in 3D: trees, tree rows, parks and unsealed areas, green roofs,
// closed and calmed roads, bus lines with their stops, on-demand zones. Rebuilt from the scenario state
// the server sends, so every client shows the same thing.

import * as THREE from "three";
import type { InterventionEntry, Intervention } from "./protocol.gen";

export type HeightAt = (x: number, y: number) => number;
export type RoadLine = (edgeIndex: number) => Array<[number, number]> | null;

const GREEN = new THREE.Color(0x2e7d32);
const TRUNK = new THREE.Color(0x6d4c41);

/** Points along a polyline every `spacing_m` (first and last included), local metres. */
export function pointsAlong(line: Array<[number, number]>, spacing_m: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (line.length === 0) return out;
  out.push(line[0]);
  let carry = 0;
  for (let i = 1; i < line.length; i++) {
    const [x0, y0] = line[i - 1];
    const [x1, y1] = line[i];
    const seg = Math.hypot(x1 - x0, y1 - y0);
    let d = spacing_m - carry;
    while (d <= seg + 1e-9) {
      const f = seg > 0 ? d / seg : 0;
      out.push([x0 + (x1 - x0) * f, y0 + (y1 - y0) * f]);
      d += spacing_m;
    }
    carry = seg - (d - spacing_m);
  }
  return out;
}

export class EditsLayer {
  readonly group = new THREE.Group();
  /** Trees of the scenario as (x, y, height, crown) for the test handle. */
  trees: Array<[number, number, number, number]> = [];
  greenRoofs = new Set<number>();

  constructor(private heightAt: HeightAt, private roadLine: RoadLine) {
    this.group.name = "interventions";
  }

  rebuild(entries: InterventionEntry[]): void {
    for (const c of [...this.group.children]) {
      this.group.remove(c);
      c.traverse((o) => {
        const m = o as THREE.Mesh;
        if (m.geometry) m.geometry.dispose();
      });
    }
    this.trees = [];
    this.greenRoofs.clear();
    for (const e of entries) this.addOne(e.intervention);
    this.buildTrees();
  }

  private addOne(iv: Intervention): void {
    switch (iv.kind) {
      case "tree": {
        const [x, y] = iv.xy_local_m ?? [0, 0];
        this.trees.push([x, y, iv.height_m ?? 12, iv.crown_diameter_m ?? 8]);
        break;
      }
      case "tree_row":
        for (const [x, y] of pointsAlong(iv.line_local_m ?? [], iv.spacing_m ?? 10)) {
          this.trees.push([x, y, iv.height_m ?? 12, iv.crown_diameter_m ?? 8]);
        }
        break;
      case "park":
        this.area(iv.polygon_local_m ?? [], 0x66bb6a, 0.75);
        break;
      case "unseal":
        this.area(iv.polygon_local_m ?? [], 0x9ccc65, 0.7);
        break;
      case "water":
        this.area(iv.polygon_local_m ?? [], 0x4fc3f7, 0.8);
        break;
      case "cool_surface":
        this.area(iv.polygon_local_m ?? [], 0xeceff1, 0.7);
        break;
      case "on_demand_zone":
        this.area(iv.polygon_local_m ?? [], 0xffb300, 0.28, true);
        break;
      case "housing":
        this.area(iv.polygon_local_m ?? [], 0xa1887f, 0.6, true);
        break;
      case "green_roof":
        this.greenRoofs.add(iv.building_id ?? -1);
        break;
      case "road_closure":
        this.road(iv.edge_index ?? 0, 0xc62828, 6);
        break;
      case "speed_limit":
        this.road(iv.edge_index ?? 0, 0x1565c0, 4);
        break;
      case "bus_line":
        this.busLine(iv.stops_local_m ?? []);
        break;
      case "new_stop":
        this.stop(iv.xy_local_m ?? [0, 0]);
        break;
      default:
        break;
    }
  }

  private buildTrees(): void {
    if (this.trees.length === 0) return;
    const n = this.trees.length;
    const crown = new THREE.InstancedMesh(
      new THREE.SphereGeometry(0.5, 12, 8),
      new THREE.MeshStandardMaterial({ color: GREEN, roughness: 0.9 }),
      n,
    );
    const trunk = new THREE.InstancedMesh(
      new THREE.CylinderGeometry(0.5, 0.5, 1, 6),
      new THREE.MeshStandardMaterial({ color: TRUNK, roughness: 1 }),
      n,
    );
    const m = new THREE.Matrix4();
    this.trees.forEach(([x, y, h, d], i) => {
      const g = this.heightAt(x, y);
      const crownH = Math.min(h * 0.7, d * 1.1);
      m.compose(new THREE.Vector3(x, g + h - crownH / 2, -y), new THREE.Quaternion(), new THREE.Vector3(d, crownH, d));
      crown.setMatrixAt(i, m);
      m.compose(new THREE.Vector3(x, g + (h - crownH) / 2, -y), new THREE.Quaternion(), new THREE.Vector3(0.5, h - crownH, 0.5));
      trunk.setMatrixAt(i, m);
    });
    crown.castShadow = trunk.castShadow = true;
    crown.name = "scenario-trees";
    this.group.add(crown, trunk);
  }

  private area(poly: Array<[number, number]>, colour: number, opacity: number, outline = false): void {
    if (poly.length < 3) return;
    const shape = new THREE.Shape(poly.map(([x, y]) => new THREE.Vector2(x, y)));
    const geom = new THREE.ShapeGeometry(shape);
    const pos = geom.getAttribute("position");
    for (let i = 0; i < pos.count; i++) {
      const x = pos.getX(i);
      const y = pos.getY(i);
      pos.setXYZ(i, x, this.heightAt(x, y) + 0.6, -y);
    }
    geom.computeVertexNormals();
    const mat = new THREE.MeshStandardMaterial({
      color: colour, transparent: opacity < 1, opacity, side: THREE.DoubleSide, depthWrite: false,
      polygonOffset: true, polygonOffsetFactor: -2,
    });
    const mesh = new THREE.Mesh(geom, mat);
    mesh.receiveShadow = true;
    this.group.add(mesh);
    if (outline) this.group.add(this.polyline([...poly, poly[0]], colour, 1.2));
  }

  private polyline(line: Array<[number, number]>, colour: number, lift = 1.5): THREE.Line {
    const pts = line.map(([x, y]) => new THREE.Vector3(x, this.heightAt(x, y) + lift, -y));
    const l = new THREE.Line(new THREE.BufferGeometry().setFromPoints(pts), new THREE.LineBasicMaterial({ color: colour }));
    return l;
  }

  private road(edge: number, colour: number, width: number): void {
    const line = this.roadLine(edge);
    if (!line || line.length < 2) return;
    this.group.add(this.ribbon(line, colour, width));
  }

  /** A flat band along a polyline, `width` metres wide, lifted slightly above the ground. */
  ribbon(line: Array<[number, number]>, colour: number, width: number): THREE.Mesh {
    const pos: number[] = [];
    const idx: number[] = [];
    for (let i = 0; i < line.length; i++) {
      const [x, y] = line[i];
      const [xa, ya] = line[Math.max(0, i - 1)];
      const [xb, yb] = line[Math.min(line.length - 1, i + 1)];
      const len = Math.hypot(xb - xa, yb - ya) || 1;
      const nx = (-(yb - ya) / len) * (width / 2);
      const ny = ((xb - xa) / len) * (width / 2);
      const h = this.heightAt(x, y) + 1.0;
      pos.push(x + nx, h, -(y + ny), x - nx, h, -(y - ny));
      if (i > 0) {
        const k = 2 * i;
        idx.push(k - 2, k - 1, k, k - 1, k + 1, k);
      }
    }
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.Float32BufferAttribute(pos, 3));
    g.setIndex(idx);
    const mat = new THREE.MeshBasicMaterial({ color: colour, side: THREE.DoubleSide, polygonOffset: true, polygonOffsetFactor: -4 });
    return new THREE.Mesh(g, mat);
  }

  private busLine(stops: Array<[number, number]>): void {
    if (stops.length < 2) return;
    this.group.add(this.ribbon(stops, 0x6a1b9a, 4));
    for (const s of stops) this.stop(s);
  }

  private stop([x, y]: [number, number]): void {
    const g = this.heightAt(x, y);
    const pole = new THREE.Mesh(new THREE.CylinderGeometry(0.6, 0.6, 8, 8), new THREE.MeshStandardMaterial({ color: 0x6a1b9a }));
    pole.position.set(x, g + 4, -y);
    const sign = new THREE.Mesh(new THREE.CylinderGeometry(3, 3, 1, 16), new THREE.MeshStandardMaterial({ color: 0xffd600 }));
    sign.position.set(x, g + 8.5, -y);
    sign.rotation.x = Math.PI / 2;
    this.group.add(pole, sign);
  }
}
