"""A small, strict GLB (binary glTF 2.0) writer for landtwin's scene tiles.

Each layer becomes one node with one mesh of one triangle primitive: POSITION, NORMAL, COLOR_0
(unsigned byte, normalised RGBA) and optional custom float32 scalar attributes whose names start with
an underscore (``_BUILDING_ID``), optionally indexed (uint32). Every buffer view is 4-byte aligned and
POSITION carries exact float32 min/max, so the Khronos glTF-Validator reports no errors or warnings.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MeshLayer", "glb_bytes", "unit_vectors", "GENERATOR"]

GENERATOR = "landtwin geodata.scene"
_FLOAT, _UBYTE, _UINT = 5126, 5121, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass
class MeshLayer:
    """One layer of a tile, in glTF axes (+Y up, metres).

    positions, normals : (n, 3) float32; colors : (n, 4) uint8 sRGB; indices : (3m,) uint32 or None
    (then n is a multiple of 3); attributes : custom (n,) float32 arrays, names starting with "_".
    """

    name: str
    positions: np.ndarray
    normals: np.ndarray
    colors: np.ndarray
    indices: np.ndarray | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    roughness: float = 0.9


class _Bin:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, arr: np.ndarray, *, component: int, type_: str, target: int, normalized: bool = False,
            minmax: bool = False) -> int:
        data = np.ascontiguousarray(arr).tobytes()
        pad = (-self.size) % 4
        if pad:
            self.chunks.append(b"\x00" * pad)
            self.size += pad
        self.views.append({"buffer": 0, "byteOffset": self.size, "byteLength": len(data), "target": target})
        self.chunks.append(data)
        self.size += len(data)
        count = arr.shape[0]
        acc: dict[str, Any] = {"bufferView": len(self.views) - 1, "componentType": component, "count": int(count),
                               "type": type_}
        if normalized:
            acc["normalized"] = True
        if minmax:
            a = np.asarray(arr, dtype=np.float32).reshape(count, -1)
            acc["min"] = [float(v) for v in a.min(axis=0)]
            acc["max"] = [float(v) for v in a.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def unit_vectors(n: np.ndarray) -> np.ndarray:
    """(n, 3) float32 unit vectors; zero or non-finite rows become +Y."""
    n = np.asarray(n, dtype=np.float64)
    length = np.linalg.norm(n, axis=1)
    bad = ~np.isfinite(length) | (length < 1e-12)
    out = n / np.where(bad, 1.0, length)[:, None]
    out[bad] = (0.0, 1.0, 0.0)
    return out.astype(np.float32)


def glb_bytes(layers: list[MeshLayer], *, scene_extras: dict[str, Any] | None = None) -> bytes:
    """Serialise the non-empty layers into one GLB file's bytes."""
    b = _Bin()
    nodes, meshes, materials = [], [], []
    for layer in layers:
        pos = np.asarray(layer.positions, dtype=np.float32).reshape(-1, 3)
        n = pos.shape[0]
        if n < 3 or not np.isfinite(pos).all():
            continue
        attrs = {
            "POSITION": b.add(pos, component=_FLOAT, type_="VEC3", target=_ARRAY_BUFFER, minmax=True),
            "NORMAL": b.add(unit_vectors(layer.normals), component=_FLOAT, type_="VEC3", target=_ARRAY_BUFFER),
            "COLOR_0": b.add(np.asarray(layer.colors, dtype=np.uint8).reshape(n, 4), component=_UBYTE, type_="VEC4",
                             target=_ARRAY_BUFFER, normalized=True),
        }
        for name, values in sorted(layer.attributes.items()):
            if not name.startswith("_"):
                raise ValueError(f"custom attribute {name!r} must start with '_'")
            attrs[name] = b.add(np.asarray(values, dtype=np.float32).reshape(n), component=_FLOAT, type_="SCALAR",
                                target=_ARRAY_BUFFER)
        prim: dict[str, Any] = {"attributes": attrs, "mode": 4, "material": len(materials)}
        if layer.indices is not None:
            idx = np.asarray(layer.indices, dtype=np.uint32).reshape(-1)
            if idx.size == 0:
                continue
            prim["indices"] = b.add(idx, component=_UINT, type_="SCALAR", target=_ELEMENT_ARRAY_BUFFER)
        materials.append({
            "name": layer.name,
            "pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0,
                                     "roughnessFactor": float(layer.roughness)},
        })
        mesh: dict[str, Any] = {"name": layer.name, "primitives": [prim]}
        node: dict[str, Any] = {"name": layer.name, "mesh": len(meshes)}
        if layer.extras:
            mesh["extras"] = layer.extras
            node["extras"] = layer.extras
        meshes.append(mesh)
        nodes.append(node)
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"nodes": list(range(len(nodes)))}],
    }
    if scene_extras:
        gltf["scenes"][0]["extras"] = scene_extras
    if nodes:
        gltf.update(nodes=nodes, meshes=meshes, materials=materials, accessors=b.accessors, bufferViews=b.views,
                    buffers=[{"byteLength": b.size}])
    body = json.dumps(gltf, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    body += b" " * ((-len(body)) % 4)
    binary = b"".join(b.chunks)
    binary += b"\x00" * ((-len(binary)) % 4)
    out = [struct.pack("<III", 0x46546C67, 2, 0), struct.pack("<II", len(body), 0x4E4F534A), body]
    if nodes:
        out += [struct.pack("<II", len(binary), 0x004E4942), binary]
    total = sum(len(x) for x in out)
    out[0] = struct.pack("<III", 0x46546C67, 2, total)
    return b"".join(out)


_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def read_glb(data: bytes) -> tuple[dict[str, Any], list[MeshLayer]]:
    """Parse a GLB written by ``glb_bytes`` (tightly packed accessors) back into its JSON and layers.

    Raises ValueError on anything that is not such a GLB.
    """
    if len(data) < 20:
        raise ValueError("GLB zu kurz / GLB too short")
    magic, version, total = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67 or version != 2 or total != len(data):
        raise ValueError("kein GLB 2.0 oder abgeschnitten / not a GLB 2.0 file or truncated")
    jlen, jtype = struct.unpack_from("<II", data, 12)
    if jtype != 0x4E4F534A:
        raise ValueError("GLB ohne JSON-Block / GLB without a JSON chunk")
    gltf = json.loads(data[20:20 + jlen].decode("utf-8"))
    off = 20 + jlen
    binary = b""
    if off + 8 <= len(data):
        blen, btype = struct.unpack_from("<II", data, off)
        if btype == 0x004E4942:
            binary = data[off + 8: off + 8 + blen]

    def accessor(i: int) -> np.ndarray:
        acc = gltf["accessors"][i]
        view = gltf["bufferViews"][acc["bufferView"]]
        dt = np.dtype(_DTYPES[acc["componentType"]])
        width = _WIDTH[acc["type"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        arr = np.frombuffer(binary, dtype=dt, count=acc["count"] * width, offset=start)
        return arr.reshape(acc["count"], width) if width > 1 else arr

    layers = []
    for node in gltf.get("nodes", []):
        mesh = gltf["meshes"][node["mesh"]]
        for prim in mesh["primitives"]:
            at = prim["attributes"]
            colors = accessor(at["COLOR_0"]) if "COLOR_0" in at else None
            pos = accessor(at["POSITION"])
            if colors is None:
                colors = np.full((pos.shape[0], 4), 200, np.uint8)
            elif colors.dtype != np.uint8:
                colors = np.clip(np.asarray(colors, float) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            if colors.shape[1] == 3:
                colors = np.concatenate([colors, np.full((colors.shape[0], 1), 255, np.uint8)], axis=1)
            layers.append(MeshLayer(
                name=str(mesh.get("name", node.get("name", "mesh"))),
                positions=pos,
                normals=accessor(at["NORMAL"]) if "NORMAL" in at else np.tile([0, 1, 0], (pos.shape[0], 1)),
                colors=colors,
                indices=accessor(prim["indices"]) if "indices" in prim else None,
                attributes={k: accessor(v) for k, v in at.items() if k.startswith("_")},
                extras=node.get("extras", {}),
            ))
    return gltf, layers


__all__ += ["read_glb"]
