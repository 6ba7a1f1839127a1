// Point layers: stops coloured by their public transport quality class, areas with access deficits,
// and the comments and ideas pinned in 3D.

import * as THREE from "three";
import { TRANSIT_CLASSES } from "./colormap";
import type { HeightAt } from "./edits";
import type { CommentInfo, DeficitArea } from "./protocol.gen";

const tmp = new THREE.Object3D();
const STOP_UNKNOWN = new THREE.Color(0x37474f);

function colourOf(rgb: [number, number, number]): THREE.Color {
  return new THREE.Color().setRGB(rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, THREE.SRGBColorSpace);
}

export class StopsLayer {
  readonly group = new THREE.Group();
  private mesh: THREE.InstancedMesh | null = null;
  xy: Float32Array = new Float32Array(0);

  constructor(private heightAt: HeightAt) {
    this.group.name = "stops";
  }

  setStops(xy: Float32Array): void {
    this.xy = xy;
    if (this.mesh) this.group.remove(this.mesh);
    const n = xy.length / 2;
    this.mesh = new THREE.InstancedMesh(new THREE.CylinderGeometry(7, 7, 4, 20), new THREE.MeshStandardMaterial({ color: 0xffffff }), Math.max(1, n));
    this.mesh.count = n;
    for (let i = 0; i < n; i++) {
      const x = xy[2 * i];
      const y = xy[2 * i + 1];
      tmp.position.set(x, this.heightAt(x, y) + 3, -y);
      tmp.updateMatrix();
      this.mesh.setMatrixAt(i, tmp.matrix);
      this.mesh.setColorAt(i, STOP_UNKNOWN);
    }
    this.group.add(this.mesh);
  }

  /** Quality class codes 0 = A .. 5 = F per stop. */
  setQuality(codes: ArrayLike<number>): void {
    if (!this.mesh) return;
    const n = Math.min(codes.length, this.mesh.count);
    for (let i = 0; i < n; i++) {
      const k = Math.max(0, Math.min(5, Math.round(codes[i])));
      this.mesh.setColorAt(i, colourOf(TRANSIT_CLASSES.colours[k]));
    }
    if (this.mesh.instanceColor) this.mesh.instanceColor.needsUpdate = true;
  }
}

export class DeficitLayer {
  readonly group = new THREE.Group();
  constructor(private heightAt: HeightAt) {
    this.group.name = "deficits";
  }

  setAreas(areas: DeficitArea[]): void {
    this.group.clear();
    const mat = new THREE.MeshBasicMaterial({ color: 0x54278f, transparent: true, opacity: 0.45, depthWrite: false });
    for (const a of areas) {
      const [x, y] = a.xy_local_m;
      const r = 12 + Math.sqrt(a.persons) * 4;
      const disc = new THREE.Mesh(new THREE.CircleGeometry(r, 32), mat);
      disc.rotation.x = -Math.PI / 2;
      disc.position.set(x, this.heightAt(x, y) + 3, -y);
      disc.userData = { group: a.group, persons: a.persons, time_min: a.time_min };
      this.group.add(disc);
    }
  }
}

/** Comment and idea pins: a stalk and a round head, blue for comments and yellow for ideas. */
export class CommentsLayer {
  readonly group = new THREE.Group();
  comments = new Map<number, CommentInfo>();
  private heads = new Map<number, THREE.Object3D>();

  /** `originZ_m`: metres above sea level of the scene's y = 0 (comment z is above sea level). */
  constructor(public originZ_m = 0) {
    this.group.name = "comments";
  }

  upsert(c: CommentInfo): void {
    this.comments.set(c.comment_id, c);
    const old = this.heads.get(c.comment_id);
    if (old) this.group.remove(old);
    if (c.hidden) {
      this.heads.delete(c.comment_id);
      return;
    }
    const pin = new THREE.Group();
    const colour = c.kind === "idea" ? 0xffb300 : 0x1565c0;
    const stalk = new THREE.Mesh(new THREE.CylinderGeometry(0.4, 0.4, 14, 6), new THREE.MeshStandardMaterial({ color: 0x37474f }));
    stalk.position.y = 7;
    const head = new THREE.Mesh(new THREE.SphereGeometry(3.2, 16, 12), new THREE.MeshStandardMaterial({ color: colour, emissive: colour, emissiveIntensity: 0.35 }));
    head.position.y = 15;
    pin.add(stalk, head);
    const [x, y, z] = c.xyz_local_m;
    pin.position.set(x, z - this.originZ_m, -y);
    pin.userData = { comment_id: c.comment_id };
    pin.traverse((o) => (o.userData.comment_id = c.comment_id));
    this.heads.set(c.comment_id, pin);
    this.group.add(pin);
  }
}
