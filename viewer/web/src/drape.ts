// A raster draped over the terrain: every ground material samples one texture by its world position.
// For the A/B comparison a second texture shows on the right of a vertical split line.

import * as THREE from "three";

export interface DrapeUniforms {
  [name: string]: THREE.IUniform;
  uDrapeA: THREE.IUniform<THREE.Texture | null>;
  uDrapeB: THREE.IUniform<THREE.Texture | null>;
  uDrapeBounds: THREE.IUniform<THREE.Vector4>; // west, south, east, north in local metres
  uDrapeOpacity: THREE.IUniform<number>;
  uDrapeSplitPx: THREE.IUniform<number>; // fragments with gl_FragCoord.x >= this use texture B
}

export function makeDrapeUniforms(): DrapeUniforms {
  return {
    uDrapeA: { value: null },
    uDrapeB: { value: null },
    uDrapeBounds: { value: new THREE.Vector4(0, 0, 1, 1) },
    uDrapeOpacity: { value: 0 },
    uDrapeSplitPx: { value: 1e9 },
  };
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
varying vec3 vDrapeWorld;
vec4 drapeSample() {
  vec2 uv = vec2((vDrapeWorld.x - uDrapeBounds.x) / (uDrapeBounds.z - uDrapeBounds.x),
                 (-vDrapeWorld.z - uDrapeBounds.y) / (uDrapeBounds.w - uDrapeBounds.y));
  if (uv.x < 0.0 || uv.x > 1.0 || uv.y < 0.0 || uv.y > 1.0) return vec4(0.0);
  vec4 c = gl_FragCoord.x < uDrapeSplitPx ? texture2D(uDrapeA, uv) : texture2D(uDrapeB, uv);
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
