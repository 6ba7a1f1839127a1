// The 3D view: renderer, camera, orbit/pan/zoom by mouse and touch, sun light with shadows, and the
// render loop (renders only when something changed, so an idle page costs nothing).

import * as THREE from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { sunDirection, type SunPosition } from "./sun";

/** Is WebGL running on a software rasteriser (SwiftShader, llvmpipe)? Then the view trades
 * anti-aliasing and shadow resolution for frame rate. */
export function softwareRenderer(): boolean {
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (!gl) return true;
    const ext = gl.getExtension("WEBGL_debug_renderer_info");
    const name = ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : "";
    gl.getExtension("WEBGL_lose_context")?.loseContext();
    return /swiftshader|llvmpipe|software/i.test(name);
  } catch {
    return true;
  }
}

export type FrameHook = (dtS: number, nowS: number) => boolean; // returns true while it animates

export class SceneView {
  readonly renderer: THREE.WebGLRenderer;
  readonly scene = new THREE.Scene();
  readonly camera: THREE.PerspectiveCamera;
  readonly controls: OrbitControls;
  readonly sun = new THREE.DirectionalLight(0xfff4e0, 2.6);
  readonly hemi = new THREE.HemisphereLight(0xdbe8f5, 0x6b7360, 1.1);
  readonly content = new THREE.Group();
  private hooks: FrameHook[] = [];
  private dirty = true;
  private last = performance.now();
  private radius = 1000;
  private centre = new THREE.Vector3();
  frames = 0;
  /** No rendering while true (the first tiles load faster without frames in between). */
  paused = false;
  /** Render every frame even when idle (benchmarks measure the frame rate this way). */
  continuous = false;
  onRender: () => void = () => {};

  readonly software = softwareRenderer();

  constructor(readonly canvas: HTMLCanvasElement) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: !this.software, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.renderer.shadowMap.enabled = true;
    this.renderer.shadowMap.type = THREE.PCFShadowMap;
    // the sun's shadow map depends on the scene and the hour, not on the camera: redraw it only then
    this.renderer.shadowMap.autoUpdate = false;
    this.renderer.outputColorSpace = THREE.SRGBColorSpace;
    this.scene.background = new THREE.Color(0xcfdde8);
    this.scene.fog = new THREE.Fog(0xcfdde8, 4000, 12000);
    this.camera = new THREE.PerspectiveCamera(45, 1, 2, 30000);
    this.camera.position.set(600, 700, 900);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = false;
    this.controls.screenSpacePanning = false;
    this.controls.maxPolarAngle = Math.PI * 0.47;
    this.controls.minDistance = 30;
    this.controls.touches = { ONE: THREE.TOUCH.ROTATE, TWO: THREE.TOUCH.DOLLY_PAN };
    this.controls.keys = { LEFT: "ArrowLeft", UP: "ArrowUp", RIGHT: "ArrowRight", BOTTOM: "ArrowDown" };
    this.controls.addEventListener("change", () => this.invalidate(false));
    this.sun.castShadow = true;
    const shadowPx = this.software ? 1024 : 4096;
    this.sun.shadow.mapSize.set(shadowPx, shadowPx);
    this.sun.shadow.bias = -0.0004;
    this.sun.shadow.normalBias = 0.6;
    this.scene.add(this.sun, this.sun.target, this.hemi, this.content);
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement ?? canvas);
    this.resize();
    this.renderer.setAnimationLoop(() => this.tick());
  }

  resize(): void {
    const el = this.canvas.parentElement ?? this.canvas;
    const w = Math.max(1, el.clientWidth);
    const h = Math.max(1, el.clientHeight);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.invalidate(false);
  }

  /** Ask for a new frame; `shadows` when the scene or the sun changed (not for camera moves). */
  invalidate(shadows = true): void {
    this.dirty = true;
    if (shadows) this.renderer.shadowMap.needsUpdate = true;
  }

  addHook(h: FrameHook): void {
    this.hooks.push(h);
  }

  /** Frame the district: look at its centre from the south-east, and fit the shadow camera to it. */
  frame(bbox: [number, number, number, number], groundY = 0): void {
    const [w, s, e, n] = bbox;
    const cx = (w + e) / 2;
    const cy = (s + n) / 2;
    this.radius = Math.max(e - w, n - s) / 2;
    this.centre.set(cx, groundY, -cy);
    this.controls.target.copy(this.centre);
    this.camera.position.set(cx + this.radius * 0.35, groundY + this.radius * 1.0, -cy + this.radius * 1.25);
    this.controls.maxDistance = this.radius * 6;
    this.camera.far = this.radius * 12;
    this.camera.updateProjectionMatrix();
    const sc = this.sun.shadow.camera;
    sc.left = -this.radius * 1.5;
    sc.right = this.radius * 1.5;
    sc.top = this.radius * 1.5;
    sc.bottom = -this.radius * 1.5;
    sc.near = 1;
    sc.far = this.radius * 6;
    sc.updateProjectionMatrix();
    (this.scene.fog as THREE.Fog).near = this.radius * 4;
    (this.scene.fog as THREE.Fog).far = this.radius * 10;
    this.controls.update();
    this.invalidate();
  }

  /** Place the sun; below the horizon the scene is lit by the sky only. */
  setSun(p: SunPosition): void {
    const [x, y, z] = sunDirection(p);
    const d = this.radius * 3;
    this.sun.position.set(this.centre.x + x * d, this.centre.y + y * d, this.centre.z + z * d);
    this.sun.target.position.copy(this.centre);
    const el = p.elevationDeg;
    this.sun.intensity = el <= 0 ? 0 : 2.8 * Math.min(1, Math.sin((el * Math.PI) / 180) * 2.2);
    this.sun.castShadow = el > 1;
    const day = Math.min(1, Math.max(0, (el + 6) / 20));
    this.hemi.intensity = 0.35 + 0.9 * day;
    const sky = new THREE.Color(0x1d2738).lerp(new THREE.Color(0xcfdde8), day);
    this.scene.background = sky;
    (this.scene.fog as THREE.Fog).color = sky;
    this.invalidate();
  }

  /** Where a screen point (client pixels) hits the given objects, nearest first. */
  raycast(clientX: number, clientY: number, objects: THREE.Object3D[]): THREE.Intersection[] {
    const r = this.canvas.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(ndc, this.camera);
    return ray.intersectObjects(objects, true);
  }

  /** Metres per CSS pixel at the orbit target (for the scale bar). */
  metresPerPixel(): number {
    const dist = this.camera.position.distanceTo(this.controls.target);
    const h = 2 * dist * Math.tan((this.camera.fov * Math.PI) / 360);
    return h / Math.max(1, this.canvas.clientHeight);
  }

  /** Camera heading: angle of north on screen, radians clockwise from up. */
  headingRad(): number {
    const dir = new THREE.Vector3();
    this.camera.getWorldDirection(dir);
    return Math.atan2(dir.x, -dir.z);
  }

  private tick(): void {
    const now = performance.now();
    const dt = Math.min(0.1, (now - this.last) / 1000);
    this.last = now;
    let animating = false;
    for (const h of this.hooks) animating = h(dt, now / 1000) || animating;
    if (this.paused) return;
    if (animating || this.dirty || this.continuous) {
      this.dirty = false;
      this.renderer.render(this.scene, this.camera);
      this.frames++;
      this.onRender();
    }
  }
}
