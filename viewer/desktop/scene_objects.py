"""Scene objects of the desktop viewer: district layers as pygfx meshes, the sun, and an oblique camera.

Plain functions on arrays, testable without a GPU except where they build pygfx objects. Mesh
positions are in glTF axes (+Y up, metres; x east, z south), the axes of ``geodata.scene``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from geodata.design_day import DESIGN_DATE

__all__ = ["LayerArrays", "sun_direction", "oblique_camera_pose", "layers_from_district", "layers_from_tiles",
           "pygfx_mesh"]


@dataclass
class LayerArrays:
    """One layer's triangles in glTF axes: positions (n, 3) float32, normals (n, 3) float32,
    colors (n, 4) uint8 sRGB, indices (3m,) uint32 or None."""

    name: str
    positions: np.ndarray
    normals: np.ndarray
    colors: np.ndarray
    indices: np.ndarray | None = None


def sun_direction(hour: float, *, lat_deg: float = 51.15, lon_deg: float = 11.81, day: date = DESIGN_DATE,
                  utc_offset_h: float = 2.0) -> tuple[np.ndarray, float, float]:
    """Unit vector from the ground towards the sun in glTF axes, with azimuth and elevation (degrees).

    ``hour`` is local clock time (Europe/Berlin summer time by default). Declination and equation of
    time from the usual low-precision formulas (Spencer 1971; better than 0.5°, enough for lighting).
    """
    doy = day.timetuple().tm_yday
    g = 2.0 * np.pi * (doy - 1) / 365.0
    decl = (0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g) - 0.006758 * np.cos(2 * g)
            + 0.000907 * np.sin(2 * g) - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g))
    eot_min = 229.18 * (0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g) - 0.014615 * np.cos(2 * g)
                        - 0.040849 * np.sin(2 * g))
    solar_h = hour - utc_offset_h + lon_deg / 15.0 + eot_min / 60.0
    ha = np.radians(15.0 * (solar_h - 12.0))
    lat = np.radians(lat_deg)
    sin_el = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(ha)
    el = np.arcsin(np.clip(sin_el, -1, 1))
    cos_az = (np.sin(decl) - np.sin(el) * np.sin(lat)) / max(np.cos(el) * np.cos(lat), 1e-9)
    az = np.arccos(np.clip(cos_az, -1, 1))
    if ha > 0:
        az = 2 * np.pi - az  # afternoon: west of south
    east, north, up = np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)
    v = np.array([east, up, -north])
    return v / np.linalg.norm(v), float(np.degrees(az)), float(np.degrees(el))


def oblique_camera_pose(bounds_min: np.ndarray, bounds_max: np.ndarray, *, fov_deg: float = 40.0,
                        aspect: float = 16 / 9, azimuth_deg: float = 200.0, elevation_deg: float = 38.0,
                        zoom: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Camera position and target (glTF axes) that frame a box from the given compass direction.

    ``azimuth_deg`` is where the camera stands, seen from the target (180 = south); the distance fits
    the box's horizontal extent into the view.
    """
    lo, hi = np.asarray(bounds_min, float), np.asarray(bounds_max, float)
    centre = (lo + hi) / 2
    target = np.array([centre[0], lo[1] + 0.15 * (hi[1] - lo[1]), centre[2]])
    extent = float(np.hypot(hi[0] - lo[0], hi[2] - lo[2]))
    half = np.radians(fov_deg) / 2
    dist = 0.5 * extent / np.tan(half) / min(1.0, aspect) * 0.75 / zoom
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    east, north = np.sin(az) * np.cos(el), np.cos(az) * np.cos(el)
    pos = target + dist * np.array([east, np.sin(el), -north])
    return pos, target


def layers_from_district(district, *, terrain_step_m: float | None = None) -> list[LayerArrays]:
    """Layers of a District (through ``geodata.scene.district_layers``)."""
    from geodata.scene import district_layers

    return [LayerArrays(ly.name, ly.positions, ly.normals, ly.colors, ly.indices)
            for ly in district_layers(district, terrain_step_m=terrain_step_m)]


def layers_from_tiles(folder: Path) -> list[LayerArrays]:
    """Layers of every tile listed in ``folder/tileset.json`` (GLB files as written by geodata.scene)."""
    import json

    from geodata.scene_glb import read_glb

    folder = Path(folder)
    tileset = json.loads((folder / "tileset.json").read_text(encoding="utf-8"))
    out: list[LayerArrays] = []
    for tile in tileset["tiles"]:
        _, layers = read_glb((folder / tile["name"]).read_bytes())
        out += [LayerArrays(ly.name, ly.positions, ly.normals, ly.colors, ly.indices) for ly in layers]
    return out


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float32) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def pygfx_mesh(layer: LayerArrays, *, linear_colors: bool = False):
    """A pygfx Mesh of one layer with vertex colours and a standard (PBR) material."""
    import pygfx as gfx

    rgb = layer.colors[:, :3]
    cols = _srgb_to_linear(rgb) if linear_colors else (rgb.astype(np.float32) / 255.0)
    cols = np.concatenate([cols, np.ones((cols.shape[0], 1), np.float32)], axis=1)
    n = layer.positions.shape[0]
    idx = layer.indices if layer.indices is not None else np.arange(n, dtype=np.uint32)
    geom = gfx.Geometry(positions=np.ascontiguousarray(layer.positions, dtype=np.float32),
                        normals=np.ascontiguousarray(layer.normals, dtype=np.float32),
                        colors=np.ascontiguousarray(cols), indices=np.ascontiguousarray(idx.reshape(-1, 3),
                                                                                         dtype=np.uint32))
    rough = 0.25 if layer.name == "water" else 0.9
    mat = gfx.MeshStandardMaterial(color_mode="vertex", roughness=rough, metalness=0.0)
    mesh = gfx.Mesh(geom, mat)
    mesh.cast_shadow = layer.name in ("buildings", "trees")
    mesh.receive_shadow = True
    return mesh
