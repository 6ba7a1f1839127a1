"""The desktop viewer: a pygfx window on a landtwin server.

It shows the district's 3D tiles (``/api/districts/{name}/tileset.json`` and its GLB files) with the
live heat field the server streams draped over the terrain as a textured surface. A click on the
ground prints the cell's value and the hourly series received for it; key ``t`` sends a tree at the
picked point as an edit, ``s`` saves a screenshot (with the legend), the left and right arrow keys
step through the hours of the design day. The viewer renders what the
server sends and sends edits; it simulates nothing.

Scene positions are glTF axes (x east, y up above the tileset's ``origin_z_m``, z = -north), metres.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viewer.desktop.client import FieldState, TwinClient, http_bytes, http_json
from viewer.desktop.layers import (
    cell_centre_local_m,
    cell_of_point,
    cell_value,
    field_rgba,
    hour_series,
    legend_for,
    legend_image,
    ray_hits_plane,
    screen_ray,
)
from viewer.desktop.scene_objects import LayerArrays, oblique_camera_pose, pygfx_mesh, sun_direction

__all__ = ["DesktopApp", "Pick", "drape_heights", "load_tiles"]

DRAPE_LIFT_M = 0.8  # the field floats this high above the terrain (no z-fighting with roads)


@dataclass
class Pick:
    """A picked cell: its raster index, local centre (m east, north), value and hourly series."""

    row: int
    col: int
    xy_local_m: tuple[float, float]
    value_c: float
    series: list[tuple[int, float]] = field(default_factory=list)


def load_tiles(base_url: str, district: str) -> tuple[dict[str, Any], list[LayerArrays]]:
    """The tileset description and the layers of every GLB tile, fetched from the server."""
    from geodata.scene_glb import read_glb

    root = f"{base_url.rstrip('/')}/api/districts/{district}"
    tileset = http_json(f"{root}/tileset.json")
    layers: list[LayerArrays] = []
    for tile in tileset["tiles"]:
        name = str(tile["name"])
        if not name.endswith(".glb") or "/" in name:
            continue
        _, tile_layers = read_glb(http_bytes(f"{root}/tiles/{name}"))
        layers += [LayerArrays(ly.name, ly.positions, ly.normals, ly.colors, ly.indices) for ly in tile_layers]
    return tileset, layers


def drape_heights(grid, terrain: list[LayerArrays]) -> np.ndarray:
    """Ground height (glTF y, m) of every cell corner: (rows + 1, cols + 1) float32.

    Terrain vertices are binned into the field's cells (highest vertex per cell); cells without a
    vertex take the mean; each corner takes the highest of its neighbouring cells.
    """
    cells = np.full((grid.rows, grid.cols), -np.inf)
    for ly in terrain:
        pos = np.asarray(ly.positions, dtype=np.float64)
        col = np.floor((pos[:, 0] - grid.west_m) / grid.cell_m).astype(np.int64)
        row = grid.rows - 1 - np.floor((-pos[:, 2] - grid.south_m) / grid.cell_m).astype(np.int64)
        ok = (row >= 0) & (row < grid.rows) & (col >= 0) & (col < grid.cols)
        np.maximum.at(cells, (row[ok], col[ok]), pos[ok, 1])
    known = np.isfinite(cells)
    cells = np.where(known, cells, cells[known].mean() if known.any() else 0.0)
    pad = np.pad(cells, 1, mode="edge")
    corners = np.maximum.reduce([pad[:-1, :-1], pad[:-1, 1:], pad[1:, :-1], pad[1:, 1:]])
    return corners.astype(np.float32)


def _drape_geometry(grid, heights: np.ndarray) -> dict[str, np.ndarray]:
    """Positions, texture coordinates and triangles of a (rows+1) x (cols+1) corner mesh."""
    r, c = np.meshgrid(np.arange(grid.rows + 1), np.arange(grid.cols + 1), indexing="ij")
    x = grid.west_m + c * grid.cell_m
    north = grid.south_m + (grid.rows - r) * grid.cell_m
    pos = np.stack([x, heights + DRAPE_LIFT_M, -north], axis=-1).reshape(-1, 3).astype(np.float32)
    uv = np.stack([c / grid.cols, r / grid.rows], axis=-1).reshape(-1, 2).astype(np.float32)
    i = (r[:-1, :-1] * (grid.cols + 1) + c[:-1, :-1]).ravel()
    w = grid.cols + 1
    tris = np.concatenate([np.stack([i, i + w, i + 1], 1), np.stack([i + 1, i + w, i + w + 1], 1)])
    return {"positions": pos, "texcoords": uv, "indices": tris.astype(np.uint32)}


class DesktopApp:
    """Tiles, live heat field, picking and edits on one canvas (offscreen or a window).

    ``client`` must be started (Welcome received) and subscribed; ``canvas`` is a rendercanvas
    canvas (``rendercanvas.offscreen`` for tests and pictures, ``rendercanvas.glfw`` for a window).
    """

    def __init__(self, client: TwinClient, district: str, canvas: Any, *, layer: str = "utci_c", hour: int = 15,
                 screenshot_dir: Path | str = ".") -> None:
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences a harmless loader warning on servers
        import pygfx as gfx

        assert client.welcome is not None
        self.client, self.layer, self.hour = client, layer, int(hour)
        self.grid = client.welcome.grid
        self.canvas = canvas
        self.screenshot_dir = Path(screenshot_dir)
        self.pick: Pick | None = None
        self.shown_version = -1
        self.tree_requests: list[int] = []
        self._down: tuple[float, float] | None = None
        self._last_frame: np.ndarray | None = None

        self.tileset, layers = load_tiles(client.base_url, district)
        self.renderer = gfx.renderers.WgpuRenderer(canvas)
        self.scene = gfx.Scene()
        self.scene.add(gfx.Background(None, gfx.BackgroundMaterial("#dfe8ef", "#dfe8ef", "#7fa6d6", "#7fa6d6")))
        for ly in layers:
            self.scene.add(pygfx_mesh(ly))
        self.heights = drape_heights(self.grid, [ly for ly in layers if ly.name == "terrain"])
        self.texture = gfx.Texture(np.zeros((self.grid.rows, self.grid.cols, 4), np.uint8), dim=2, colorspace="srgb")
        self.drape = gfx.Mesh(gfx.Geometry(**_drape_geometry(self.grid, self.heights)),
                              gfx.MeshBasicMaterial(map=gfx.TextureMap(self.texture, filter="nearest")))
        self.drape.visible = False
        self.marker = gfx.Mesh(gfx.sphere_geometry(3.0), gfx.MeshBasicMaterial(color="#1030ff"))
        self.marker.visible = False
        self.scene.add(self.drape, self.marker)
        self._add_lights_and_camera(gfx, layers)

    def _add_lights_and_camera(self, gfx: Any, layers: list[LayerArrays]) -> None:
        g = self.grid  # frame the field's extent (water and roads may reach beyond it)
        top = max(float(np.max([ly.positions[:, 1].max() for ly in layers])), float(self.heights.max()) + 1.0)
        lo = np.array([g.west_m, float(self.heights.min()), -(g.south_m + g.rows * g.cell_m)])
        hi = np.array([g.west_m + g.cols * g.cell_m, top, -g.south_m])
        centre, extent = (lo + hi) / 2, float(np.max(hi - lo))
        sun, _, elev = sun_direction(self.hour)
        light = gfx.DirectionalLight("#fff4e0", intensity=3.0 if elev > 0 else 0.3)
        light.local.position = tuple(centre + sun * extent)
        light.target.local.position = tuple(centre)
        self.scene.add(light, light.target, gfx.AmbientLight("#dde6f0", 0.7))
        w, h = self.canvas.get_logical_size()
        self.camera = gfx.PerspectiveCamera(40, w / h, depth_range=(2.0, extent * 8.0))
        pos, target = oblique_camera_pose(lo, hi, fov_deg=40, aspect=w / h, azimuth_deg=180.0, elevation_deg=50.0,
                                          zoom=0.85)
        self.camera.local.position = tuple(pos)
        self.camera.look_at(tuple(target))

    # --- frames ------------------------------------------------------------------------------------
    def current_field(self) -> FieldState | None:
        return self.client.field(self.layer, self.hour)

    def refresh_field(self) -> bool:
        """Upload the newest field of the client to the drape texture; True when it changed."""
        f = self.current_field()
        if f is None or f.version == self.shown_version and self.drape.visible:
            return False
        self.texture.data[...] = field_rgba(f.values_c, self.layer)
        self.texture.update_full()
        self.drape.visible = True
        self.shown_version = f.version
        return True

    def draw(self) -> None:
        self.refresh_field()
        self.renderer.render(self.scene, self.camera)

    def render_offscreen(self) -> np.ndarray:
        """Draw one frame on an offscreen canvas: (h, w, 4) uint8 RGBA."""
        self.canvas.request_draw(self.draw)
        self._last_frame = np.ascontiguousarray(np.asarray(self.canvas.draw()))
        return self._last_frame

    def frame(self) -> np.ndarray:
        """The last picture drawn (offscreen: the canvas's; window: the renderer's snapshot)."""
        if self._last_frame is not None:
            return self._last_frame
        return np.ascontiguousarray(np.asarray(self.renderer.snapshot()))

    # --- interaction -------------------------------------------------------------------------------
    def pick_at(self, x_px: float, y_px: float) -> Pick | None:
        """The cell under a point of the canvas (logical pixels from the top left), with its value and
        the hourly series received; None when the ray misses the district."""
        w, h = self.canvas.get_logical_size()
        ndc = (2.0 * x_px / w - 1.0, 1.0 - 2.0 * y_px / h)
        origin, direction = screen_ray(self.camera.projection_matrix_inverse, self.camera.world.matrix, ndc)
        y = float(self.heights.mean()) + DRAPE_LIFT_M
        hit = None
        for _ in range(4):  # settle on the drape: re-intersect at the height of the cell hit
            hit = ray_hits_plane(origin, direction, y)
            cell = None if hit is None else cell_of_point(self.grid, float(hit[0]), float(-hit[2]))
            if cell is None:
                return None
            y = float(self.heights[cell[0]:cell[0] + 2, cell[1]:cell[1] + 2].mean()) + DRAPE_LIFT_M
        assert hit is not None and cell is not None
        f = self.current_field()
        value = cell_value(f.values_c, *cell) if f is not None else float("nan")
        series = hour_series(self.client.fields_by_hour(self.layer), *cell)
        self.pick = Pick(cell[0], cell[1], cell_centre_local_m(self.grid, *cell), value, series)
        self.marker.local.position = (float(hit[0]), y + 2.0, float(hit[2]))
        self.marker.visible = True
        hours = ", ".join(f"{hh} h: {v:.1f}" for hh, v in series)
        print(f"Zelle / cell ({cell[0]}, {cell[1]}) bei / at {self.pick.xy_local_m[0]:.0f} m O/E, "
              f"{self.pick.xy_local_m[1]:.0f} m N: {self.layer} = {value:.1f} °C  [{hours}]", flush=True)
        return self.pick

    def place_tree(self) -> int | None:
        """Send a tree at the picked point as an edit; returns the request id (None without a pick)."""
        from geodata.interventions import Tree

        if self.pick is None:
            print("Erst eine Zelle anklicken / click a cell first", flush=True)
            return None
        tree = Tree(id=f"desk-{int(time.time() * 1000) % 10**10}-{len(self.tree_requests)}",
                    xy_local_m=self.pick.xy_local_m)
        rid = self.client.add(tree)
        self.tree_requests.append(rid)
        return rid

    def set_hour(self, hour: int) -> None:
        """Show another hour of the design day (0..23): the server is asked for its field; hours seen
        before stay in the client and form the series of a picked cell."""
        self.hour = int(hour) % 24
        self.shown_version = -1
        self.drape.visible = False
        self.client.subscribe(("heat",), self.hour, (self.layer,))
        print(f"Stunde / hour: {self.hour} h", flush=True)

    def save_screenshot(self, path: Path | str | None = None) -> Path:
        """Write the last picture with the legend to a PNG (temporary file, then renamed)."""
        from PIL import Image, ImageDraw

        if path is None:
            path = self.screenshot_dir / time.strftime("landtwin-%Y%m%d-%H%M%S.png")
        img = Image.fromarray(self.frame()[:, :, :3].copy())
        f = self.current_field()
        legend = legend_for(self.layer, f.values_c if f is not None else None)
        bar = legend_image(legend)
        x0, y0 = img.width - bar.shape[1] - 190, 12
        draw = ImageDraw.Draw(img)
        draw.rectangle((x0 - 8, y0 - 6, img.width - 6, y0 + bar.shape[0] + 24), fill=(255, 255, 255))
        img.paste(Image.fromarray(bar[:, :, :3]), (x0, y0))
        for i, e in enumerate(reversed(legend)):
            draw.text((x0 + bar.shape[1] + 6, y0 + i * 18 + 4), e.label_en, fill=(20, 20, 20))  # ASCII font
        draw.text((x0, y0 + bar.shape[0] + 6), f"{self.layer}, {self.hour} h, v{self.shown_version}", fill=(20, 20, 20))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
        img.save(tmp)
        tmp.replace(path)
        print(f"Bild gespeichert / screenshot saved: {path}", flush=True)
        return path

    def handle_event(self, event: dict) -> None:
        """Canvas events: a click (press and release within 4 px) picks, ``t`` plants, ``s`` saves."""
        kind = event.get("event_type")
        if kind == "pointer_down" and event.get("button") == 1:
            self._down = (float(event["x"]), float(event["y"]))
        elif kind == "pointer_up" and self._down is not None:
            x, y = float(event["x"]), float(event["y"])
            if abs(x - self._down[0]) + abs(y - self._down[1]) < 4:
                self.pick_at(x, y)
            self._down = None
        elif kind == "key_down":
            key = str(event.get("key", "")).lower()
            if key == "t":
                self.place_tree()
            elif key == "s":
                self.save_screenshot()
            elif key in ("arrowleft", "arrowright"):
                self.set_hour(self.hour + (1 if key == "arrowright" else -1))

    def connect_events(self) -> None:
        self.canvas.add_event_handler(self.handle_event, "pointer_down", "pointer_up", "key_down")
