"""Offscreen pictures of a district: pygfx on any wgpu adapter (lavapipe on a machine without a GPU).

``render_district_png`` frames the district from an oblique angle in the south-south-west, lights it
with the sun of a summer afternoon (hour of the day chosen by the caller) and a sky light, casts
shadows of buildings and trees, and writes a PNG.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from viewer.desktop.scene_objects import (
    LayerArrays,
    layers_from_district,
    layers_from_tiles,
    oblique_camera_pose,
    pygfx_mesh,
    sun_direction,
)

__all__ = ["render_district_png", "render_layers", "RenderError"]

SKY_TOP = "#7fa6d6"
SKY_HORIZON = "#dfe8ef"


class RenderError(RuntimeError):
    """No picture could be made (no wgpu adapter, bad size)."""


def render_layers(layers: list[LayerArrays], size: tuple[int, int] = (1280, 720), *, pixel_ratio: float = 1,
                  hour: float = 15.0, lat_deg: float = 51.15, lon_deg: float = 11.81,
                  azimuth_deg: float = 150.0, elevation_deg: float = 32.0, zoom: float = 1.0,
                  shadows: bool = True) -> np.ndarray:
    """Render layers (glTF axes) offscreen and return the (h, w, 4) uint8 RGBA picture."""
    w, h = int(size[0]), int(size[1])
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise RenderError(f"Bildgröße {size} außerhalb 16..8192 / picture size out of range")
    if not layers:
        raise RenderError("Keine Geometrie zum Zeichnen / nothing to draw")
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences a harmless loader warning on servers
    import pygfx as gfx
    from rendercanvas.offscreen import RenderCanvas

    canvas = RenderCanvas(size=(w, h), pixel_ratio=pixel_ratio)
    renderer = gfx.renderers.WgpuRenderer(canvas)
    scene = gfx.Scene()
    scene.add(gfx.Background(None, gfx.BackgroundMaterial(SKY_HORIZON, SKY_HORIZON, SKY_TOP, SKY_TOP)))
    lo = np.min([ly.positions.min(axis=0) for ly in layers], axis=0)
    hi = np.max([ly.positions.max(axis=0) for ly in layers], axis=0)
    for ly in layers:
        scene.add(pygfx_mesh(ly, linear_colors=False))
    sun, _, elev = sun_direction(hour, lat_deg=lat_deg, lon_deg=lon_deg)
    centre = (lo + hi) / 2
    extent = float(np.max(hi - lo))
    light = gfx.DirectionalLight("#fff4e0", intensity=3.2 if elev > 0 else 0.3, cast_shadow=shadows)
    light.local.position = tuple(centre + sun * extent)
    light.target.local.position = tuple(centre)
    if shadows:
        half = extent * 0.75
        cam = light.shadow.camera
        cam.width = cam.height = 2 * half
        cam.depth_range = (1.0, extent * 3.0)
        light.shadow.bias = 0.0008
    scene.add(light, light.target)
    scene.add(gfx.AmbientLight("#dde6f0", 0.6))
    camera = gfx.PerspectiveCamera(40, w / h, depth_range=(5.0, extent * 6.0))
    pos, target = oblique_camera_pose(lo, hi, fov_deg=40, aspect=w / h, azimuth_deg=azimuth_deg,
                                      elevation_deg=elevation_deg, zoom=zoom)
    camera.local.position = tuple(pos)
    camera.look_at(tuple(target))
    canvas.request_draw(lambda: renderer.render(scene, camera))
    img = np.asarray(canvas.draw())
    if img.ndim != 3 or img.shape[2] != 4:
        raise RenderError(f"unerwartetes Bildformat {img.shape} / unexpected picture format")
    return np.ascontiguousarray(img)


def render_district_png(district_or_tiles, path: Path | str, size: tuple[int, int] = (1280, 720),
                        pixel_ratio: float = 1, hour: float = 15.0, **kwargs) -> Path:
    """Render a District (or a folder of GLB tiles with its ``tileset.json``) to a PNG at ``path``.

    The picture is written to a temporary file beside ``path`` and renamed into place.
    """
    from PIL import Image

    if isinstance(district_or_tiles, str | Path):
        layers = layers_from_tiles(Path(district_or_tiles))
        lat, lon = 51.15, 11.81
    else:
        layers = layers_from_district(district_or_tiles)
        lon, lat = district_or_tiles.frame.local_to_lonlat(
            np.array([district_or_tiles.grid.cols * district_or_tiles.grid.cell_m / 2]),
            np.array([district_or_tiles.grid.rows * district_or_tiles.grid.cell_m / 2]))
        lat, lon = float(lat[0]), float(lon[0])
    img = render_layers(layers, size, pixel_ratio=pixel_ratio, hour=hour, lat_deg=lat, lon_deg=lon, **kwargs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    Image.fromarray(img[:, :, :3]).save(tmp)
    tmp.replace(path)
    return path
