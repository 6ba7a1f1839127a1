"""The district's 3D scene: terrain, buildings, roads, water and trees as meshes, and tiled GLB export.

Axes of every mesh this module returns or writes follow glTF (+Y up, right-handed, metres):
``gltf_x = east_m``, ``gltf_y = up_m - origin_z_m``, ``gltf_z = -north_m``, with east/north in the
district's local frame and ``origin_z_m`` a reference elevation (the whole metre below the lowest
terrain point) written to ``tileset.json``.

``export_tiles`` writes one GLB per square tile (default 500 m) plus ``tileset.json``::

    {"format": 1, "district": name, "epsg": 25832, "origin_utm_m": [e, n], "origin_z_m": z0,
     "tile_m": 500.0, "bbox_local_m": [w, s, e, n], "z_frame": "m above origin_z_m",
     "layers": [...], "tiles": [{"name": "t_<i>_<j>.glb", "i": i, "j": j, "bbox_local_m": [w, s, e, n],
     "min_z_m": .., "max_z_m": .., "bytes": .., "layers": [...], "building_count": .., "terrain_step_m": ..}]}

``i`` counts tiles eastwards, ``j`` northwards from the south-west corner. Each layer of a tile is one
node with one mesh; the buildings mesh carries the vertex attribute ``_BUILDING_ID`` (float32, exact
for ids below 2**24) and lists its building ids in the node's and mesh's ``extras``, so a viewer picks a
building by reading the attribute at the hit vertex. A building always lies whole in the tile of its
centroid; roads, water and trees are cut into pieces by the tile of each piece's midpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from geodata.district import SURFACE, District
from geodata.scene_geometry import (
    SURFACE_RGB,
    Soup,
    building_soup,
    road_soup,
    sample_terrain,
    tree_soup,
    water_soup,
)
from geodata.scene_glb import MeshLayer, glb_bytes, unit_vectors

__all__ = ["LAYERS", "origin_z_m", "to_gltf", "terrain_layer", "soup_layer", "district_layers", "district_meshes",
           "export_tiles", "SceneExportError"]

LAYERS = ("terrain", "water", "roads", "buildings", "trees")
_ROUGHNESS = {"terrain": 0.95, "water": 0.15, "roads": 0.9, "buildings": 0.8, "trees": 0.9}
_SURFACE_COLOURS = np.zeros((256, 3), np.uint8)
for _name, _code in SURFACE.items():
    _SURFACE_COLOURS[_code] = SURFACE_RGB[_name]
_SURFACE_COLOURS[SURFACE["roof"]] = SURFACE_RGB["paving"]


class SceneExportError(ValueError):
    """The scene cannot be written (message names the problem)."""


def origin_z_m(district: District) -> float:
    """Reference elevation subtracted from heights: the whole metre at or below the lowest terrain point."""
    return float(np.floor(float(np.min(district.terrain_m))))


def to_gltf(xyz_local: np.ndarray, z0: float) -> np.ndarray:
    """(..., 3) local (east, north, up m a.s.l.) -> glTF axes (east, up - z0, -north), float32."""
    p = np.asarray(xyz_local, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2] - z0, -p[..., 1]], axis=-1).astype(np.float32)


def _field_tint(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A per-parcel tint (-1..1) so neighbouring fields differ (ripe, green, ploughed)."""
    k = (np.floor(x / 170.0).astype(np.int64) * 73856093) ^ (np.floor(y / 120.0).astype(np.int64) * 19349663)
    return (k % 1000) / 500.0 - 1.0


def terrain_layer(d: District, bbox: tuple[float, float, float, float], z0: float, step_m: float) -> MeshLayer:
    """An indexed grid mesh of the terrain over ``bbox`` (local m) with vertices every ~``step_m``,
    smooth normals and vertex colours of the land cover."""
    w, s, e, n = bbox
    nx = max(int(np.ceil((e - w) / step_m)), 1) + 1
    ny = max(int(np.ceil((n - s) / step_m)), 1) + 1
    xs = np.linspace(w, e, nx)
    ys = np.linspace(n, s, ny)  # row 0 north
    gx, gy = np.meshgrid(xs, ys)
    z = sample_terrain(d, gx, gy)
    dzdx = np.gradient(z, xs, axis=1) if nx > 1 else np.zeros_like(z)
    dzdy = np.gradient(z, ys, axis=0) if ny > 1 else np.zeros_like(z)
    normal_local = np.stack([-dzdx, -dzdy, np.ones_like(z)], axis=-1).reshape(-1, 3)
    r, c = d.grid.xy_to_rowcol(gx.ravel(), gy.ravel())
    cls = d.surface_class[np.clip(r, 0, d.grid.rows - 1), np.clip(c, 0, d.grid.cols - 1)]
    rgb = _SURFACE_COLOURS[cls].astype(np.float64)
    field = cls == SURFACE["field"]
    if field.any():
        t = _field_tint(gx.ravel()[field], gy.ravel()[field])
        rgb[field] = rgb[field] + np.outer(t, [18.0, 14.0, -10.0]) + np.outer(np.abs(t) < 0.3, [-40.0, -10.0, -20.0])
    colors = np.concatenate([np.clip(rgb, 0, 255).astype(np.uint8), np.full((rgb.shape[0], 1), 255, np.uint8)], 1)
    ii, jj = np.meshgrid(np.arange(ny - 1), np.arange(nx - 1), indexing="ij")
    v00 = (ii * nx + jj).ravel()
    v01, v10, v11 = v00 + 1, v00 + nx, v00 + nx + 1
    # rows run southwards, so (v00, v10, v01) winds counter-clockwise seen from above
    idx = np.stack([np.stack([v00, v10, v01], 1), np.stack([v01, v10, v11], 1)], 1).reshape(-1)
    pos = to_gltf(np.column_stack([gx.ravel(), gy.ravel(), z.ravel()]), z0)
    nrm = unit_vectors(to_gltf(normal_local, 0.0))
    return MeshLayer("terrain", pos, nrm, colors, idx.astype(np.uint32), roughness=_ROUGHNESS["terrain"],
                     extras={"layer": "terrain"})


def soup_layer(name: str, soup: Soup, z0: float, *, ids: bool = False) -> MeshLayer:
    """A non-indexed flat-shaded layer from a triangle soup (one normal and colour per triangle)."""
    t = soup.tri.astype(np.float64)
    nrm = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    pos = to_gltf(t.reshape(-1, 3), z0)
    nrm_g = unit_vectors(to_gltf(np.repeat(nrm, 3, axis=0), 0.0))
    colors = np.repeat(soup.rgba, 3, axis=0)
    attrs: dict[str, np.ndarray] = {}
    extras: dict[str, Any] = {"layer": name}
    if ids:
        attrs["_BUILDING_ID"] = np.repeat(soup.owner, 3).astype(np.float32)
        extras["building_ids"] = [int(v) for v in np.unique(soup.owner) if v >= 0]
    return MeshLayer(name, pos, nrm_g, colors, None, attrs, extras, roughness=_ROUGHNESS[name])


def _soups(d: District) -> dict[str, Soup]:
    return {"water": water_soup(d), "roads": road_soup(d), "buildings": building_soup(d), "trees": tree_soup(d)}


def _terrain_step(d: District, tile_m: float) -> float:
    return float(max(d.grid.cell_m, tile_m / 64.0))


def district_layers(d: District, *, terrain_step_m: float | None = None) -> list[MeshLayer]:
    """All layers of the whole district as single meshes (glTF axes), e.g. for rendering."""
    z0 = origin_z_m(d)
    w, s, e, n = d.grid.bbox_local_m
    step = terrain_step_m or max(d.grid.cell_m, max(e - w, n - s) / 400.0)
    layers = [terrain_layer(d, (w, s, e, n), z0, step)]
    for name, soup in _soups(d).items():
        if len(soup):
            layers.append(soup_layer(name, soup, z0, ids=name == "buildings"))
    return layers


def district_meshes(d: District, *, terrain_step_m: float | None = None) -> dict[str, trimesh.Trimesh]:
    """The district's layers as trimesh meshes (glTF axes, vertex colours, building ids in
    ``metadata['building_id']`` per vertex for the buildings)."""
    out = {}
    for layer in district_layers(d, terrain_step_m=terrain_step_m):
        n = layer.positions.shape[0]
        faces = layer.indices.reshape(-1, 3) if layer.indices is not None else np.arange(n).reshape(-1, 3)
        mesh = trimesh.Trimesh(vertices=layer.positions, faces=faces, vertex_normals=layer.normals,
                               vertex_colors=layer.colors, process=False)
        if "_BUILDING_ID" in layer.attributes:
            mesh.metadata["building_id"] = layer.attributes["_BUILDING_ID"]
        out[layer.name] = mesh
    return out


def _split(soup: Soup, key: np.ndarray, ntiles: int) -> list[Soup]:
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(ntiles + 1))
    parts = []
    for k in range(ntiles):
        sel = order[bounds[k]: bounds[k + 1]]
        parts.append(Soup(soup.tri[sel], soup.rgba[sel], soup.owner[sel], soup.anchor_xy[sel]))
    return parts


def export_tiles(district: District, out_dir: Path, *, tile_m: float = 500.0) -> dict:
    """Write the scene as GLB tiles of ``tile_m`` metres plus ``tileset.json`` into ``out_dir``.

    The folder is written beside ``out_dir`` first and renamed into place, so a failure leaves nothing
    half-written. An existing ``out_dir`` is replaced only when it is empty or holds a previous tileset.
    Returns the tileset dict (also written as ``tileset.json``).
    """
    out_dir = Path(out_dir)
    if not (np.isfinite(tile_m) and 50.0 <= tile_m <= 5000.0):
        raise SceneExportError(f"Kachelgröße {tile_m} m außerhalb 50..5000 m / tile size out of range")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "tileset.json").exists():
        raise SceneExportError(f"Ordner {out_dir} ist nicht leer / folder is not empty and holds no tileset")
    d = district
    z0 = origin_z_m(d)
    w, s, e, n = d.grid.bbox_local_m
    nx = max(int(np.ceil((e - w) / tile_m - 1e-9)), 1)
    ny = max(int(np.ceil((n - s) / tile_m - 1e-9)), 1)
    soups = _soups(d)
    parts = {}
    for name, soup in soups.items():
        i = np.clip(np.floor((soup.anchor_xy[:, 0] - w) / tile_m).astype(np.int64), 0, nx - 1)
        j = np.clip(np.floor((soup.anchor_xy[:, 1] - s) / tile_m).astype(np.int64), 0, ny - 1)
        parts[name] = _split(soup, j * nx + i, nx * ny)
    step = _terrain_step(d, tile_m)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    tiles = []
    try:
        for j in range(ny):
            for i in range(nx):
                k = j * nx + i
                bbox = (w + i * tile_m, s + j * tile_m, min(w + (i + 1) * tile_m, e), min(s + (j + 1) * tile_m, n))
                layers = [terrain_layer(d, bbox, z0, step)]
                for name in ("water", "roads", "buildings", "trees"):
                    if len(parts[name][k]):
                        layers.append(soup_layer(name, parts[name][k], z0, ids=name == "buildings"))
                fname = f"t_{i}_{j}.glb"
                data = glb_bytes(layers, scene_extras={"district": d.name, "tile": [i, j]})
                (tmp / fname).write_bytes(data)
                ys = np.concatenate([layer.positions[:, 1] for layer in layers])
                b_ids = parts["buildings"][k].owner
                tiles.append({
                    "name": fname, "i": i, "j": j, "bbox_local_m": [round(v, 3) for v in bbox],
                    "min_z_m": round(float(ys.min()), 3), "max_z_m": round(float(ys.max()), 3), "bytes": len(data),
                    "layers": [layer.name for layer in layers],
                    "building_count": int(np.unique(b_ids).size), "terrain_step_m": round(step, 3),
                })
        tileset = {
            "format": 1, "district": d.name, "epsg": int(d.frame.epsg),
            "origin_utm_m": [float(d.frame.origin_e_m), float(d.frame.origin_n_m)], "origin_z_m": z0,
            "tile_m": float(tile_m), "bbox_local_m": [float(v) for v in (w, s, e, n)],
            "z_frame": "m above origin_z_m", "axes": "gltf_x=east_m, gltf_y=up_m-origin_z_m, gltf_z=-north_m",
            "layers": list(LAYERS), "tiles": tiles,
        }
        (tmp / "tileset.json").write_text(json.dumps(tileset, indent=1), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tileset
