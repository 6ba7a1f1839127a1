// The district's GLB tiles: loaded by view (nearest first, far ones dropped), pickable by building id,
// and sampled into a height field so that roads, vehicles and pins sit on the ground.

import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { patchGroundMaterial, type DrapeUniforms } from "./drape";

export interface TileInfo {
  name: string;
  bbox_local_m: [number, number, number, number];
  min_z_m: number;
  max_z_m: number;
  bytes: number;
  layers: string[];
}

export interface Tileset {
  format: number;
  district: string;
  epsg: number;
  origin_utm_m: [number, number];
  origin_z_m: number;
  tile_m: number;
  bbox_local_m: [number, number, number, number];
  tiles: TileInfo[];
}

/** Is this node part of the ground (draped with result rasters), as opposed to buildings and trees? */
export function isGroundNode(name: string): boolean {
  const n = name.toLowerCase();
  return /terrain|ground|road|water|street|land|rail|surface/.test(n) && !/building|tree|canopy/.test(n);
}

export class TileLayer {
  readonly group = new THREE.Group();
  tileset: Tileset | null = null;
  loaded = new Map<string, THREE.Object3D>();
  private pending = new Set<string>();
  private loader = new GLTFLoader();
  private heightCell = 10;
  private heights: Float32Array | null = null;
  private heightCols = 0;
  private heightRows = 0;
  onChange: () => void = () => {};
  /** Most tiles kept in memory; beyond this the farthest are dropped (large districts). */
  maxTiles = 64;

  constructor(private base: string, private drape: DrapeUniforms) {
    this.group.name = "tiles";
  }

  async loadIndex(district: string): Promise<Tileset> {
    const res = await fetch(`${this.base}/api/districts/${encodeURIComponent(district)}/tileset.json`);
    if (!res.ok) throw new Error(`tileset ${district}: HTTP ${res.status}`);
    const ts = (await res.json()) as Tileset;
    if (ts.format !== 1 || !Array.isArray(ts.tiles)) throw new Error(`tileset ${district}: unknown format`);
    this.tileset = ts;
    const [w, s, e, n] = ts.bbox_local_m;
    this.heightCols = Math.max(1, Math.ceil((e - w) / this.heightCell));
    this.heightRows = Math.max(1, Math.ceil((n - s) / this.heightCell));
    this.heights = new Float32Array(this.heightCols * this.heightRows).fill(NaN);
    return ts;
  }

  /** Tiles ordered by distance from the point (x east, y north), within `radius_m`. */
  tilesNear(x: number, y: number, radius_m: number): TileInfo[] {
    if (!this.tileset) return [];
    const d = (t: TileInfo): number => {
      const [w, s, e, n] = t.bbox_local_m;
      const dx = Math.max(w - x, 0, x - e);
      const dy = Math.max(s - y, 0, y - n);
      return Math.hypot(dx, dy);
    };
    return this.tileset.tiles
      .map((t) => [d(t), t] as [number, TileInfo])
      .filter(([dist]) => dist <= radius_m)
      .sort((a, b) => a[0] - b[0])
      .map(([, t]) => t);
  }

  /** Load the tiles around the view centre, at most `parallel` at a time; resolves when all are in. */
  async update(centreX: number, centreY: number, radius_m: number, parallel = 4): Promise<void> {
    const wanted = this.tilesNear(centreX, centreY, radius_m).slice(0, this.maxTiles);
    const wantedNames = new Set(wanted.map((t) => t.name));
    if (this.loaded.size + wanted.length > this.maxTiles) {
      for (const [name, obj] of this.loaded) {
        if (!wantedNames.has(name)) this.drop(name, obj);
      }
    }
    const queue = wanted.filter((t) => !this.loaded.has(t.name) && !this.pending.has(t.name));
    const worker = async (): Promise<void> => {
      for (let t = queue.shift(); t; t = queue.shift()) await this.loadTile(t);
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }

  private async loadTile(t: TileInfo): Promise<void> {
    if (!this.tileset) return;
    this.pending.add(t.name);
    try {
      const file = t.name.endsWith(".glb") ? t.name : `${t.name}.glb`;
      const url = `${this.base}/api/districts/${encodeURIComponent(this.tileset.district)}/tiles/${encodeURIComponent(file)}`;
      const gltf = await this.loader.loadAsync(url);
      const root = gltf.scene;
      root.name = `tile:${t.name}`;
      root.traverse((o) => this.prepare(o));
      this.group.add(root);
      this.loaded.set(t.name, root);
      this.sampleHeights(root);
      this.onChange();
    } finally {
      this.pending.delete(t.name);
    }
  }

  private prepare(o: THREE.Object3D): void {
    const mesh = o as THREE.Mesh;
    if (!mesh.isMesh) return;
    const geom = mesh.geometry as THREE.BufferGeometry;
    const building = !!(geom.getAttribute("_building_id") || geom.getAttribute("_BUILDING_ID"));
    const names = `${mesh.name} ${mesh.parent?.name ?? ""}`;
    const ground = !building && isGroundNode(names);
    mesh.userData.kind = building ? "building" : ground ? "ground" : /tree|canopy/i.test(names) ? "tree" : "other";
    mesh.castShadow = mesh.userData.kind !== "ground";
    mesh.receiveShadow = true;
    if (ground || mesh.userData.kind === "other") {
      const mats = Array.isArray(mesh.material) ? mesh.material : [mesh.material];
      for (const m of mats) patchGroundMaterial(m, this.drape);
    }
  }

  private drop(name: string, obj: THREE.Object3D): void {
    this.group.remove(obj);
    obj.traverse((o) => {
      const m = o as THREE.Mesh;
      if (m.isMesh) {
        m.geometry.dispose();
        const mats = Array.isArray(m.material) ? m.material : [m.material];
        mats.forEach((x) => x.dispose());
      }
    });
    this.loaded.delete(name);
  }

  /** Bin the ground vertices into a coarse height grid (metres in three's y, i.e. above origin_z_m). */
  private sampleHeights(root: THREE.Object3D): void {
    if (!this.tileset || !this.heights) return;
    const [w, , , n] = this.tileset.bbox_local_m;
    const v = new THREE.Vector3();
    root.updateMatrixWorld(true);
    root.traverse((o) => {
      const m = o as THREE.Mesh;
      if (!m.isMesh || m.userData.kind !== "ground") return;
      const pos = m.geometry.getAttribute("position");
      for (let i = 0; i < pos.count; i++) {
        v.fromBufferAttribute(pos, i).applyMatrix4(m.matrixWorld);
        const c = Math.floor((v.x - w) / this.heightCell);
        const r = Math.floor((n + v.z) / this.heightCell);
        if (c < 0 || r < 0 || c >= this.heightCols || r >= this.heightRows) continue;
        const k = r * this.heightCols + c;
        const h = this.heights![k];
        this.heights![k] = Number.isNaN(h) ? v.y : Math.min(h, v.y) * 0.5 + Math.max(h, v.y) * 0.5;
      }
    });
  }

  /** Ground height (three y) at local east/north metres; nearest sampled cell, 0 when unknown. */
  heightAt(x: number, y: number): number {
    if (!this.tileset || !this.heights) return 0;
    const [w, , , n] = this.tileset.bbox_local_m;
    const c0 = Math.floor((x - w) / this.heightCell);
    const r0 = Math.floor((n - y) / this.heightCell);
    for (let rad = 0; rad < 4; rad++) {
      for (let dr = -rad; dr <= rad; dr++) {
        for (let dc = -rad; dc <= rad; dc++) {
          const r = r0 + dr;
          const c = c0 + dc;
          if (r < 0 || c < 0 || r >= this.heightRows || c >= this.heightCols) continue;
          const h = this.heights[r * this.heightCols + c];
          if (!Number.isNaN(h)) return h;
        }
      }
    }
    return 0;
  }

  get tileCount(): number {
    return this.loaded.size;
  }
}

export interface Pick {
  kind: "building" | "ground" | "tree" | "other";
  xy_local_m: [number, number];
  height_m: number;
  building_id: number | null;
}

/** Resolve a raycast hit into what the user touched: a building (with its id) or a place on the ground. */
export function pickFromHit(hit: THREE.Intersection): Pick {
  const mesh = hit.object as THREE.Mesh;
  const kind = (mesh.userData.kind ?? "other") as Pick["kind"];
  let buildingId: number | null = null;
  if (kind === "building" && hit.face) {
    const geom = mesh.geometry as THREE.BufferGeometry;
    const attr = geom.getAttribute("_building_id") ?? geom.getAttribute("_BUILDING_ID");
    if (attr) buildingId = Math.round(attr.getX(hit.face.a));
  }
  return {
    kind,
    xy_local_m: [hit.point.x, -hit.point.z],
    height_m: hit.point.y,
    building_id: buildingId,
  };
}
