// A raster draped over the terrain: every ground material samples one texture by its world position.
// For the A/B comparison a second texture shows on the right of a vertical split line. A field on a
// coarse raster (the air) drapes as a value texture with linear filtering whose texel centres sit at the
// coarse cell centres (clamped at its edges: the server's bilinear rule), coloured by a ramp texture.

import * as THREE from "three";

export interface DrapeUniforms {
  [name: string]: THREE.IUniform;
  uDrapeA: THREE.IUniform<THREE.Texture | null>;
  uDrapeB: THREE.IUniform<THREE.Texture | null>;
  uDrapeBounds: THREE.IUniform<THREE.Vector4>; // west, south, east, north in local metres
  uDrapeOpacity: THREE.IUniform<number>;
  uDrapeSplitPx: THREE.IUniform<number>; // fragments with gl_FragCoord.x >= this use texture B
  uDrapeValueA: THREE.IUniform<THREE.Texture | null>; // coarse values (0..1 over the ramp) where uDrapeModeA is 1
  uDrapeValueB: THREE.IUniform<THREE.Texture | null>;
  uDrapeModeA: THREE.IUniform<number>; // 0: colour texture, 1: coarse value texture and ramp
  uDrapeModeB: THREE.IUniform<number>;
  uDrapeValueBounds: THREE.IUniform<THREE.Vector4>; // the coarse raster's west, south, east, north
  uDrapeRamp: THREE.IUniform<THREE.Texture | null>; // RAMP_TEXELS colours from the ramp's lo to hi
}

export const RAMP_TEXELS = 256;

export function makeDrapeUniforms(): DrapeUniforms {
  return {
    uDrapeA: { value: null },
    uDrapeB: { value: null },
    uDrapeBounds: { value: new THREE.Vector4(0, 0, 1, 1) },
    uDrapeOpacity: { value: 0 },
    uDrapeSplitPx: { value: 1e9 },
    uDrapeValueA: { value: null },
    uDrapeValueB: { value: null },
    uDrapeModeA: { value: 0 },
    uDrapeModeB: { value: 0 },
    uDrapeValueBounds: { value: new THREE.Vector4(0, 0, 1, 1) },
    uDrapeRamp: { value: null },
  };
}

/**
 * A coarse raster (row 0 north, `rows` x `cols`, finite values) as a one-channel half-float texture of
 * (value - lo) / (hi - lo), south row first, linearly filtered and clamped at its edges: sampled at a
 * point of the raster's bounds it gives the bilinear interpolation between the coarse cell centres.
 */
export function valueTexture(values: ArrayLike<number>, rows: number, cols: number, lo: number, hi: number): THREE.DataTexture {
  const data = new Uint16Array(rows * cols);
  const span = hi - lo || 1;
  for (let r = 0; r < rows; r++) {
    const dst = (rows - 1 - r) * cols;
    for (let c = 0; c < cols; c++) data[dst + c] = THREE.DataUtils.toHalfFloat((values[r * cols + c] - lo) / span);
  }
  const tex = new THREE.DataTexture(data, cols, rows, THREE.RedFormat, THREE.HalfFloatType);
  tex.magFilter = THREE.LinearFilter;
  tex.minFilter = THREE.LinearFilter;
  tex.wrapS = tex.wrapT = THREE.ClampToEdgeWrapping;
  tex.needsUpdate = true;
  return tex;
}

/** A ramp's colours (RAMP_TEXELS of them, lo to hi) as a 1-row texture for value textures. */
export function rampTexture(colour: (t: number) => [number, number, number]): THREE.DataTexture {
  const rgba = new Uint8Array(RAMP_TEXELS * 4);
  for (let i = 0; i < RAMP_TEXELS; i++) {
    const c = colour(i / (RAMP_TEXELS - 1));
    rgba.set([c[0], c[1], c[2], 255], i * 4);
  }
  const tex = new THREE.DataTexture(rgba, RAMP_TEXELS, 1, THREE.RGBAFormat, THREE.UnsignedByteType);
  tex.magFilter = THREE.LinearFilter;
  tex.minFilter = THREE.LinearFilter;
  tex.colorSpace = THREE.SRGBColorSpace;
  tex.needsUpdate = true;
  return tex;
}

/** A texture from RGBA bytes, south row first, nearest-neighbour so that cells stay crisp. */
export function rgbaTexture(rgba: Uint8Array, rows: number, cols: number): THREE.DataTexture {
  const tex = new THREE.DataTexture(rgba, cols, rows, THREE.RGBAFormat, THREE.UnsignedByteType);
  tex.magFilter = THREE.NearestFilter;
  tex.minFilter = THREE.LinearFilter;
  tex.colorSpace = THREE.SRGBColorSpace;
  tex.needsUpdate = true;
  return tex;
}

const VERT_DECL = "varying vec3 vDrapeWorld;\n";
const FRAG_DECL = `
uniform sampler2D uDrapeA;
uniform sampler2D uDrapeB;
uniform vec4 uDrapeBounds;
uniform float uDrapeOpacity;
uniform float uDrapeSplitPx;
uniform sampler2D uDrapeValueA;
uniform sampler2D uDrapeValueB;
uniform float uDrapeModeA;
uniform float uDrapeModeB;
uniform vec4 uDrapeValueBounds;
uniform sampler2D uDrapeRamp;
varying vec3 vDrapeWorld;
vec4 drapeSample() {
  vec2 uv = vec2((vDrapeWorld.x - uDrapeBounds.x) / (uDrapeBounds.z - uDrapeBounds.x),
                 (-vDrapeWorld.z - uDrapeBounds.y) / (uDrapeBounds.w - uDrapeBounds.y));
  if (uv.x < 0.0 || uv.x > 1.0 || uv.y < 0.0 || uv.y > 1.0) return vec4(0.0);
  bool sideB = gl_FragCoord.x >= uDrapeSplitPx;
  if ((sideB ? uDrapeModeB : uDrapeModeA) > 0.5) {
    vec2 uvc = vec2((vDrapeWorld.x - uDrapeValueBounds.x) / (uDrapeValueBounds.z - uDrapeValueBounds.x),
                    (-vDrapeWorld.z - uDrapeValueBounds.y) / (uDrapeValueBounds.w - uDrapeValueBounds.y));
    float t = clamp(sideB ? texture2D(uDrapeValueB, uvc).r : texture2D(uDrapeValueA, uvc).r, 0.0, 1.0);
    return texture2D(uDrapeRamp, vec2((t * ${RAMP_TEXELS - 1}.0 + 0.5) / ${RAMP_TEXELS}.0, 0.5));
  }
  vec4 c = sideB ? texture2D(uDrapeB, uv) : texture2D(uDrapeA, uv);
  return c;
}
`;

/**
 * Patch a ground material (terrain, roads, water) so that it shows the drape. The patch keeps the
 * material's lighting and shadows and adds part of the colour as emission so the legend colours read true.
 */
export function patchGroundMaterial(mat: THREE.Material, uniforms: DrapeUniforms): void {
  const m = mat as THREE.MeshStandardMaterial;
  if (m.userData.drapePatched) return;
  m.userData.drapePatched = true;
  m.onBeforeCompile = (shader) => {
    Object.assign(shader.uniforms, uniforms);
    shader.vertexShader = VERT_DECL + shader.vertexShader.replace(
      "#include <begin_vertex>",
      "#include <begin_vertex>\n  vDrapeWorld = (modelMatrix * vec4(transformed, 1.0)).xyz;",
    );
    const hasEmissive = shader.fragmentShader.includes("totalEmissiveRadiance");
    shader.fragmentShader = FRAG_DECL + shader.fragmentShader.replace(
      "#include <color_fragment>",
      `#include <color_fragment>
  vec4 drape = uDrapeOpacity > 0.0 ? drapeSample() : vec4(0.0);
  float drapeA = drape.a * uDrapeOpacity;
  diffuseColor.rgb = mix(diffuseColor.rgb, drape.rgb, drapeA);`,
    );
    if (hasEmissive) {
      shader.fragmentShader = shader.fragmentShader.replace(
        "#include <emissivemap_fragment>",
        "#include <emissivemap_fragment>\n  totalEmissiveRadiance += drape.rgb * drapeA * 0.35;",
      );
    }
  };
  m.customProgramCacheKey = () => "drape";
  m.needsUpdate = true;
}
