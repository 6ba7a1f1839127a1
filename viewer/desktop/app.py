"""The desktop viewer: a pygfx window (or offscreen canvas) on a landtwin server.

It shows the district's 3D tiles (``/api/districts/{name}/tileset.json`` and its GLB files) with the
layers of the web viewer: a raster draped over the terrain (UTCI, Tmrt, air and surface temperature,
heat-stress classes, or the difference B − A of two scenarios), and overlays (traffic volume or v/c on
the roads, vehicles, people under way, stops by quality class, access deficit areas, comments).
Planners place every intervention by mouse (:mod:`viewer.desktop.tools`) with undo and redo; a
click with the inspect tool shows the cell, building or road under the pointer with its values and
the series of the day; two scenarios show side by side with one camera. The viewer renders what the
server sends and sends edits; it simulates nothing.

Large districts stay fluid: only the tiles whose box meets the view (and lie within the web viewer's
range of the view's centre) are fetched and drawn, the drape is cut along the tiles and coarser far away,
far trees and buildings are left out (:mod:`viewer.desktop.tiles`). The heat island (``uhi_k``) is a
raster, the buildings' cooling demand an overlay; department layers the token may see are listed with
their legends (:mod:`viewer.desktop.dept`). A window shows on-screen widgets (:mod:`viewer.desktop.widgets`):
the layer list, the tools, the legend, the hour slider with play and the inspection panel.

Keys: ``1``..``0`` tools (tree, tree row, park, unseal, green roof, road closure, Tempo 30, bus line,
stop, on-demand zone), ``i`` inspect, Enter finishes a line or area, Backspace drops its last point,
Escape cancels, ``z``/``y`` undo/redo, left/right arrows the hour, space plays the day, ``l`` the next
raster, ``v`` the next overlay on/off, ``m`` side by side / difference / single (with a second
scenario), ``c`` the chart of the picked cell's day, ``s`` a screenshot.

Scene positions are glTF axes (x east, y up above the tileset's ``origin_z_m``, z = -north), metres.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from viewer.desktop.client import ClientError, FieldState, TwinClient, http_bytes, http_json
from viewer.desktop.dept import (
    DeptLayerInfo,
    dept_layers_from_json,
    raster_corners,
    shapes_from_geojson,
    style_legend,
)
from viewer.desktop.layers import (
    LAYERS,
    OVERLAYS,
    RASTERS,
    cell_centre_local_m,
    cell_of_point,
    cell_value,
    field_for,
    field_rgba,
    hour_series,
    layer_id,
    legend_for,
    legend_image,
    legend_text,
    ray_hits_plane,
    screen_ray,
    wanted_layers,
)
from viewer.desktop.places import (
    Roads,
    Stops,
    building_colours,
    cooling_from_geojson,
    deficit_quads,
    nearest_edge,
    road_colours,
    roads_from_geojson,
    stop_colours,
    stops_from_geojson,
)
from viewer.desktop.scene_objects import LayerArrays, oblique_camera_pose, pygfx_mesh, sun_direction
from viewer.desktop.terrain import corner_heights, fill_nearest, height_at
from viewer.desktop.tiles import (
    LOD_STEPS,
    boxes_in_frustum,
    cell_window,
    frustum_planes,
    tile_boxes,
    tile_lod,
)
from viewer.desktop.tools import TOOL_KEYS, TOOLS, Hit, ToolSession

__all__ = ["DesktopApp", "Pick", "drape_heights", "drape_step", "load_tiles", "load_tile", "design_day"]

DRAPE_LIFT_M = 0.8  # the field floats this high above the terrain (no z-fighting with roads)
OVERLAY_LIFT_M = 2.0


@dataclass
class Pick:
    """What a click inspected: the cell (raster index, local centre), its value in A (and B), the
    hourly series received, and the building or road edge hit with their values."""

    row: int
    col: int
    xy_local_m: tuple[float, float]
    value_c: float
    series: list[tuple[int, float]] = field(default_factory=list)
    building_id: int = -1
    edge_index: int = -1
    value_b: float = float("nan")
    series_b: list[tuple[int, float]] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)

    def lines(self, layer: str, lang: str = "de") -> list[str]:
        """The inspection panel's lines (German or English)."""
        name = legend_text(layer, lang)[0]
        unit = LAYERS[layer_id(layer)].unit
        de = lang != "en"
        out = [f"{'Zelle' if de else 'Cell'} ({self.row}, {self.col}) · {self.xy_local_m[0]:.0f} m "
               f"{'O' if de else 'E'}, {self.xy_local_m[1]:.0f} m N",
               f"{name}: {self.value_c:.1f} {unit}"]
        if np.isfinite(self.value_b):
            out.append(f"B: {self.value_b:.1f} {unit}  (B − A {self.value_b - self.value_c:+.1f})")
        if self.building_id >= 0:
            out.insert(0, f"{'Gebäude' if de else 'Building'} {self.building_id}")
        if self.edge_index >= 0:
            out.insert(0, f"{'Straße' if de else 'Road'} {self.edge_index}")
        for k, v in self.values.items():
            out.append(f"{k}: {v:.2f}")
        return out


def load_tiles(base_url: str, district: str) -> tuple[dict[str, Any], list[LayerArrays]]:
    """The tileset description and the layers of every GLB tile, fetched from the server; building
    layers carry their building ids per vertex in ``colors``' companion attribute ``ids`` (see
    :func:`building_triangles`)."""

    root = f"{base_url.rstrip('/')}/api/districts/{district}"
    tileset = http_json(f"{root}/tileset.json")
    layers: list[LayerArrays] = []
    for tile in tileset["tiles"]:
        name = str(tile["name"])
        if _glb_name(name):
            layers += load_tile(base_url, district, name)
    return tileset, layers


def _glb_name(name: str) -> bool:
    return name.endswith(".glb") and "/" not in name


def load_tile(base_url: str, district: str, name: str) -> list[LayerArrays]:
    """The layers of one GLB tile fetched from the server (building layers with their ids)."""
    from geodata.scene_glb import read_glb

    _, tile_layers = read_glb(http_bytes(f"{base_url.rstrip('/')}/api/districts/{district}/tiles/{name}"))
    out = []
    for ly in tile_layers:
        la = LayerArrays(ly.name, ly.positions, ly.normals, ly.colors, ly.indices)
        ids = ly.attributes.get("_BUILDING_ID")
        if ids is not None:
            la.ids = np.asarray(ids).reshape(-1).astype(np.int64)  # type: ignore[attr-defined]
        out.append(la)
    return out


def building_triangles(layers: list[LayerArrays]) -> tuple[np.ndarray, np.ndarray]:
    """All building triangles (T, 3, 3) glTF positions and their building id (T,)."""
    tris, ids = [], []
    for ly in layers:
        if ly.name != "buildings":
            continue
        idx = (np.arange(len(ly.positions)) if ly.indices is None else np.asarray(ly.indices)).reshape(-1, 3)
        tris.append(np.asarray(ly.positions, np.float64)[idx])
        vid = getattr(ly, "ids", None)
        ids.append(np.asarray(vid)[idx[:, 0]] if vid is not None else np.full(len(idx), -1, np.int64))
    if not tris:
        return np.zeros((0, 3, 3)), np.zeros(0, np.int64)
    return np.concatenate(tris), np.concatenate(ids)


def ray_triangles(origin: np.ndarray, direction: np.ndarray, tris: np.ndarray) -> tuple[int, float]:
    """The first triangle a ray meets (Möller–Trumbore) and its distance; (-1, inf) when none."""
    if len(tris) == 0:
        return -1, float("inf")
    v0, e1, e2 = tris[:, 0], tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    pv = np.cross(direction, e2)
    det = (e1 * pv).sum(1)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    tv = origin - v0
    u = (tv * pv).sum(1) * inv
    qv = np.cross(tv, e1)
    v = (qv @ direction) * inv
    t = (e2 * qv).sum(1) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-6)
    if not hit.any():
        return -1, float("inf")
    t = np.where(hit, t, np.inf)
    i = int(np.argmin(t))
    return i, float(t[i])


def drape_heights(grid: Any, terrain: list[LayerArrays]) -> np.ndarray:
    """Ground height (glTF y, m) of every cell corner: (rows + 1, cols + 1) float32, on the terrain's
    triangles (:func:`viewer.desktop.terrain.corner_heights`)."""
    return corner_heights(grid, terrain)


def drape_step(grid: Any, terrain_step_m: float) -> int:
    """Cells per drape quad: the drape's mesh need not be finer than the terrain it lies on (its texture
    keeps one texel per cell), at most 8."""
    return int(np.clip(np.floor(terrain_step_m / grid.cell_m + 1e-9), 1, 8))


def _drape_geometry(grid: Any, heights: np.ndarray, step: int = 1,
                    window: tuple[int, int, int, int] | None = None) -> dict[str, np.ndarray]:
    """Positions, texture coordinates and triangles of a corner mesh every ``step`` cells (the last row
    and column of corners always included), over the whole raster or the cells of ``window`` (r0, r1,
    c0, c1: one tile's drape; texture coordinates stay those of the whole raster). A coarse corner takes
    the highest fine corner within half a step around it, so the drape never sinks below the terrain
    between its corners."""
    r0, r1, c0, c1 = window if window is not None else (0, grid.rows, 0, grid.cols)
    rr = np.unique(np.r_[np.arange(r0, r1 + 1, step), r1])
    cc = np.unique(np.r_[np.arange(c0, c1 + 1, step), c1])
    pad = step if step > 1 else 0  # filtered with its surroundings: neighbouring tiles agree on shared corners
    a0, b0 = max(r0 - pad, 0), max(c0 - pad, 0)
    h = heights[a0:r1 + pad + 1, b0:c1 + pad + 1]
    if step > 1:
        from scipy.ndimage import maximum_filter

        h = maximum_filter(h, size=step + 1, mode="nearest")
    r, c = np.meshgrid(rr, cc, indexing="ij")
    x = grid.west_m + c * grid.cell_m
    north = grid.south_m + (grid.rows - r) * grid.cell_m
    pos = np.stack([x, h[r - a0, c - b0] + DRAPE_LIFT_M, -north], axis=-1).reshape(-1, 3).astype(np.float32)
    uv = np.stack([c / grid.cols, r / grid.rows], axis=-1).reshape(-1, 2).astype(np.float32)
    nr, nc = len(rr), len(cc)
    ii, jj = np.meshgrid(np.arange(nr - 1), np.arange(nc - 1), indexing="ij")
    i = (ii * nc + jj).ravel()
    tris = np.concatenate([np.stack([i, i + nc, i + 1], 1), np.stack([i + 1, i + nc, i + nc + 1], 1)])
    return {"positions": pos, "texcoords": uv, "indices": tris.astype(np.uint32)}


def design_day(welcome: Any) -> tuple[date, float]:
    """The design day and its UTC offset (hours) from the Welcome message when it names them
    (``design_day`` as an ISO date, ``utc_offset_h`` or a ``time_zone``); 1 July, UTC+2 otherwise."""
    day, offset = date(2026, 7, 1), 2.0
    raw = getattr(welcome, "design_day", None) or getattr(welcome, "date", None)
    if isinstance(raw, str):
        try:
            day = date.fromisoformat(raw[:10])
        except ValueError:
            pass
    elif isinstance(raw, date):
        day = raw
    off = getattr(welcome, "utc_offset_h", None)
    tz = getattr(welcome, "time_zone", None)
    if isinstance(off, int | float):
        offset = float(off)
    elif isinstance(tz, str) and tz:
        try:
            from datetime import datetime
            from zoneinfo import ZoneInfo

            delta = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(tz)).utcoffset()
            offset = delta.total_seconds() / 3600.0 if delta is not None else offset
        except (KeyError, ValueError, OSError):
            pass
    return day, offset


@dataclass(frozen=True)
class _SubGrid:
    """The part of the raster one tile covers (the attributes of a ``GridInfo`` that the terrain needs)."""

    rows: int
    cols: int
    cell_m: float
    west_m: float
    south_m: float


class _View:
    """One scenario's scene: shared tile meshes, its drape and its overlays."""

    def __init__(self, gfx: Any, app: DesktopApp) -> None:
        g = app.grid
        self.scene = gfx.Scene()
        self.scene.add(gfx.Background(None, gfx.BackgroundMaterial("#dfe8ef", "#dfe8ef", "#7fa6d6", "#7fa6d6")))
        self.tiles = gfx.Group()  # the district's tile meshes, added as they load
        self.texture = gfx.Texture(np.zeros((g.rows, g.cols, 4), np.uint8), dim=2, colorspace="srgb")
        # opaque in the legend's exact colours; cells without a value (alpha 0) are cut out
        self.drape_material = gfx.MeshBasicMaterial(map=gfx.TextureMap(self.texture, filter="nearest"),
                                                    alpha_mode="solid", alpha_test=0.5)
        self.drape = gfx.Group()  # one mesh per tile, coarser far away
        self.drape_chunks: dict[int, Any] = {}
        self.drape.visible = False
        self.shown: tuple[Any, ...] = ()
        self.rgba: np.ndarray | None = None
        self.roads = gfx.Line(gfx.Geometry(positions=app.road_positions, colors=np.ones((len(app.road_positions), 4),
                                                                                        np.float32)),
                              gfx.LineSegmentMaterial(thickness=3.0, color_mode="vertex"))
        self.roads.visible = False
        self.vehicles = self._points(gfx, "#1b1b1b", 3.0)
        self.people = self._points(gfx, "#6a1b9a", 3.0)
        n_stops = max(len(app.stops.xy), 1)
        self.stops = gfx.Points(gfx.Geometry(positions=app.stop_positions if len(app.stops.xy) else
                                             np.zeros((1, 3), np.float32),
                                             colors=np.ones((n_stops, 4), np.float32)),
                                gfx.PointsMaterial(size=11.0, color_mode="vertex"))
        self.stops.visible = False
        self.deficits = gfx.Group()
        self.comments = self._points(gfx, "#1565c0", 12.0)
        self.dept_group = gfx.Group()  # department layers, one group each, built when first shown
        self.dept: dict[str, Any] = {}
        self.versions: dict[str, int] = {}
        self.scene.add(self.tiles, self.drape, self.dept_group, self.roads, self.vehicles, self.people, self.stops,
                       self.deficits, self.comments)

    @staticmethod
    def _points(gfx: Any, colour: str, size: float) -> Any:
        pts = gfx.Points(gfx.Geometry(positions=np.zeros((1, 3), np.float32)), gfx.PointsMaterial(size=size, color=colour))
        pts.visible = False
        return pts


class DesktopApp:
    """Tiles, layers, tools, inspection and A/B compare on one canvas (offscreen or a window).

    ``client`` must be started (Welcome received); the app subscribes it to what its layers need.
    ``compare`` is an optional second started client (scenario B) for side by side and difference.
    ``canvas`` is a rendercanvas canvas (``rendercanvas.offscreen`` for tests and pictures,
    ``rendercanvas.glfw`` for a window).
    """

    def __init__(self, client: TwinClient, district: str, canvas: Any, *, layer: str = "utci", hour: int = 15,
                 overlays: tuple[str, ...] = (), screenshot_dir: Path | str = ".", compare: TwinClient | None = None,
                 lang: str = "de", subscribe: bool = True, pixel_scale: float | None = None, cull: bool = True,
                 lod: bool = True, margin_m: float | None = None, widgets: bool = False) -> None:
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences a harmless loader warning on servers
        import pygfx as gfx

        assert client.welcome is not None
        self.client, self.compare = client, compare
        self.layer, self.hour = layer_id(layer), int(hour)
        self.overlays: set[str] = {layer_id(o) for o in overlays}
        self.lang = lang
        self.grid = client.welcome.grid
        self.canvas = canvas
        self.screenshot_dir = Path(screenshot_dir)
        self.pick: Pick | None = None
        self.tool: ToolSession | None = None
        self.mode = "diff" if self.layer == "diff" else ("split" if compare is not None else "single")
        self.requests: list[int] = []
        self.messages: list[str] = []
        self.playing = False
        self._play_t = 0.0
        self._down: tuple[float, float] | None = None
        self._last_frame: np.ndarray | None = None
        self._override: tuple[np.ndarray, float] | None = None
        self.track_hover = False
        self._hover_at: tuple[float, float] | None = None
        self.hover: dict[str, Any] | None = None
        self.day, self.utc_offset_h = design_day(client.welcome)
        self.widgets = widgets
        self._ui: dict[str, Any] = {}
        self._ui_items: list[Any] = []
        self._ui_boxes: list[tuple[int, int, int, int]] = []
        self._ui_press: Any = None
        self._ctl_blocked = False

        self.district = district
        root = f"{client.base_url}/api/districts/{district}"
        self.tileset = http_json(f"{root}/tileset.json")
        self.tile_specs = [t for t in self.tileset.get("tiles", []) if _glb_name(str(t.get("name", "")))]
        self.tile_lo, self.tile_hi = tile_boxes({"tiles": self.tile_specs})
        extent = self.tileset.get("bbox_local_m")
        self.tile_windows = [cell_window(self.grid, t["bbox_local_m"], extent) for t in self.tile_specs]
        self.tile_m = float(self.tileset.get("tile_m", 500.0))
        self.cull, self.lod = cull, lod
        self.margin_m = 0.25 * self.tile_m if margin_m is None else float(margin_m)
        span = float(np.max(self.tile_hi[:, [0, 2]].max(0) - self.tile_lo[:, [0, 2]].min(0))) if len(self.tile_lo) else 0.0
        self.range_m = min(0.75 * span, 3000.0)  # as the web viewer: tiles around the view's centre only
        self.max_tiles = 160  # at most this many tiles held; the farthest go first
        self.sync_tiles = True  # offscreen: every tile in view is loaded before a picture; a window loads behind
        self._tile_layers: dict[int, list[LayerArrays]] = {}
        self._tile_meshes: dict[int, list[Any]] = {}
        self._pending: dict[int, Future] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._drape_geoms: dict[tuple[int, int], Any] = {}
        self._building_cache: tuple[np.ndarray, np.ndarray] | None = None
        self.tile_bytes = 0
        self.tiles_drawn = 0
        # pixel_scale 2 (pygfx's default on plain screens) supersamples: smoother pictures, 3-4x the work
        self.renderer = gfx.renderers.WgpuRenderer(canvas, pixel_scale=pixel_scale)
        self.heights = self._coarse_heights()
        self._ground_y = float(np.median(self.heights))
        self._heights_known = np.zeros(self.heights.shape, bool)
        steps = [float(t.get("terrain_step_m", self.grid.cell_m)) for t in self.tile_specs]
        self.drape_step = drape_step(self.grid, min(steps) if steps else self.grid.cell_m)
        epsg = int(self.tileset.get("epsg", 25832))
        origin = tuple(self.tileset.get("origin_utm_m", (0.0, 0.0)))
        self.roads: Roads = roads_from_geojson(http_json(f"{root}/links.geojson"), epsg, origin)  # type: ignore[arg-type]
        self.stops: Stops = stops_from_geojson(http_json(f"{root}/stops.geojson"), epsg, origin)  # type: ignore[arg-type]
        self.road_positions = self._lift(self.roads.seg_xy.reshape(-1, 2), OVERLAY_LIFT_M * 0.5)
        self.stop_positions = self._lift(self.stops.xy, 6.0)
        self.origin_z_m = float(self.tileset.get("origin_z_m", 0.0))
        self.epsg, self.origin_utm = epsg, (float(origin[0]), float(origin[1]))
        self.dept_info: dict[str, DeptLayerInfo] = {}
        self._dept_data: dict[str, Any] = {}
        self._cooling: dict[str, Any] = {"key": None, "values": None, "shown": None}
        try:  # the department layers this token may see (the server decides)
            rows = http_json(f"{client.base_url}/api/layers", token=client.token)
            self.dept_info = {i.key: i for i in dept_layers_from_json(rows)}
        except (ClientError, ValueError) as exc:
            self.messages.append(f"Fachebenen nicht geladen / department layers not loaded: {exc}")
        self.views = [_View(gfx, self)]
        if compare is not None:
            self.views.append(_View(gfx, self))
        self.marker = gfx.Mesh(gfx.sphere_geometry(3.0), gfx.MeshBasicMaterial(color="#1030ff"))
        self.marker.visible = False
        self.views[0].scene.add(self.marker)
        self._add_lights_and_camera(gfx)
        self.update_tiles(wait=True)  # the tiles of the first view, before the first picture
        self._frame_view()  # on the terrain now known
        self.update_tiles(wait=True)
        for c in self._clients():
            c.load_comments()  # comments made before the viewer started
        if subscribe:
            self.subscribe()

    # --- tiles by view -----------------------------------------------------------------------------
    def _coarse_heights(self) -> np.ndarray:
        """Corner heights before any tile is loaded: each tile's lowest point over its cells (refined by
        the tile's terrain when it loads)."""
        g = self.grid
        lo = [t.get("min_z_m", 0.0) for t in self.tile_specs]
        h = np.full((g.rows + 1, g.cols + 1), float(np.min(lo)) if lo else 0.0, np.float32)
        for t, win in zip(self.tile_specs, self.tile_windows, strict=True):
            if win is not None:
                r0, r1, c0, c1 = win
                h[r0:r1 + 1, c0:c1 + 1] = float(t.get("min_z_m", 0.0))
        return h

    def wanted_tiles(self) -> np.ndarray:
        """Tiles (indices into ``tile_specs``) whose box meets the camera's view, widened by ``margin_m``
        (all tiles when culling is off)."""
        if not self.cull or len(self.tile_lo) == 0:
            return np.arange(len(self.tile_specs))
        vp = np.asarray(self.camera.projection_matrix) @ np.asarray(self.camera.world.inverse_matrix)
        inside = boxes_in_frustum(frustum_planes(vp), self.tile_lo, self.tile_hi, self.margin_m)
        centre = self.view_centre()
        d = np.hypot(np.clip(centre[0], self.tile_lo[:, 0], self.tile_hi[:, 0]) - centre[0],
                     np.clip(centre[2], self.tile_lo[:, 2], self.tile_hi[:, 2]) - centre[2])
        k = np.flatnonzero(inside & (d <= self.range_m))
        return k[np.argsort(d[k], kind="stable")][: self.max_tiles]

    def view_centre(self) -> np.ndarray:
        """Where the camera's line of sight meets the ground (glTF axes); straight ahead at the load
        range when it looks above the horizon."""
        cw = np.asarray(self.camera.world.matrix, np.float64)
        pos, fwd = cw[:3, 3], -cw[:3, 2] / max(float(np.linalg.norm(cw[:3, 2])), 1e-12)
        ground = self._ground_y
        if fwd[1] < -1e-6:
            t = (ground - pos[1]) / fwd[1]
            if t > 0:
                return np.asarray(pos + t * fwd)
        return np.asarray(pos + self.range_m * np.array([fwd[0], 0.0, fwd[2]]))

    def update_tiles(self, wait: bool | None = None) -> bool:
        """Load the tiles in view (``wait``: now; otherwise in the background, taken up by a later
        frame), show only those, and choose each drape piece's level of detail. True when the scene changed."""
        import pygfx as gfx

        wait = self.sync_tiles if wait is None else wait
        want = self.wanted_tiles()
        changed = False
        missing = [int(k) for k in want if int(k) not in self._tile_meshes]
        if missing and wait:
            if len(missing) > 1:
                with ThreadPoolExecutor(max_workers=4) as pool:
                    got = list(pool.map(self._fetch_tile, missing))
            else:
                got = [self._fetch_tile(missing[0])]
            for k, layers in zip(missing, got, strict=True):
                self._pending.pop(k, None)
                self._add_tile(gfx, k, layers)
            changed = True
        elif missing:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tiles")
            for k in missing:
                if k not in self._pending:
                    self._pending[k] = self._pool.submit(self._fetch_tile, k)
        for k, fut in list(self._pending.items()):
            if fut.done():
                del self._pending[k]
                self._add_tile(gfx, k, fut.result())
                changed = True
        if len(self._tile_meshes) > self.max_tiles:  # the farthest tiles out of view go
            keep = set(int(k) for k in want)
            for k in [k for k in self._tile_meshes if k not in keep][: len(self._tile_meshes) - self.max_tiles]:
                self._drop_tile(k)
            changed = True
        if changed:
            self._after_tiles_loaded()
        shown = set(int(k) for k in want)
        lods = tile_lod(np.asarray(self.camera.local.position), self.tile_lo, self.tile_hi, self.tile_m) \
            if self.lod and len(self.tile_lo) else np.zeros(len(self.tile_specs), np.int64)
        drawn = 0
        for k, meshes in self._tile_meshes.items():
            vis = k in shown
            drawn += vis
            layers = self._tile_layers[k]
            for i, m in enumerate(meshes):
                name = layers[i % len(layers)].name
                far = int(lods[k])  # a level of detail: far trees and farther buildings are left out
                m.visible = vis and not (self.lod and ((name == "trees" and far >= 1) or (name == "buildings" and far >= 2)))
            for v in self.views:
                chunk = v.drape_chunks.get(k)
                if chunk is not None:
                    chunk.visible = vis
                    if vis:
                        geom = self._drape_geometry_for(k, int(lods[k]))
                        if chunk.geometry is not geom:
                            chunk.geometry = geom
        self.tiles_drawn = drawn
        return changed

    def _fetch_tile(self, k: int) -> list[LayerArrays]:
        return load_tile(self.client.base_url, self.district, str(self.tile_specs[k]["name"]))

    def _add_tile(self, gfx: Any, k: int, layers: list[LayerArrays]) -> None:
        self._tile_layers[k] = layers
        meshes = []
        for ly in layers:
            m = pygfx_mesh(ly)
            meshes.append(m)
            self.tile_bytes += sum(int(np.asarray(a).nbytes) for a in (ly.positions, ly.normals, ly.colors)) + (
                int(np.asarray(ly.indices).nbytes) if ly.indices is not None else 0)
        every = []
        for i, v in enumerate(self.views):
            for m in meshes:  # the second view draws the same buffers
                mm = m if i == 0 else gfx.Mesh(m.geometry, m.material)
                v.tiles.add(mm)
                every.append(mm)
        self._tile_meshes[k] = every
        win = self.tile_windows[k]
        terrain = [ly for ly in layers if ly.name == "terrain"]
        if win is not None and terrain:
            r0, r1, c0, c1 = win
            g = self.grid
            sub = _SubGrid(r1 - r0, c1 - c0, g.cell_m, g.west_m + c0 * g.cell_m, g.south_m + (g.rows - r1) * g.cell_m)
            # corners on the terrain take its height (the highest where tiles meet, as one mesh would give,
            # whatever the order tiles arrive in); the others the nearest such corner's, until covered
            raw = corner_heights(sub, terrain, fill=False)
            new = np.isfinite(raw)
            old = self._heights_known[r0:r1 + 1, c0:c1 + 1]
            blk = self.heights[r0:r1 + 1, c0:c1 + 1]
            merged = np.where(new & old, np.maximum(blk, raw), np.where(new, raw, np.where(old, blk, fill_nearest(raw))))
            self.heights[r0:r1 + 1, c0:c1 + 1] = merged
            self._heights_known[r0:r1 + 1, c0:c1 + 1] |= new
            ij = (int(self.tile_specs[k].get("i", 0)), int(self.tile_specs[k].get("j", 0)))
            for (kk, lod) in list(self._drape_geoms):  # this tile's and its neighbours' drape pieces change
                t = self.tile_specs[kk]
                if abs(int(t.get("i", 0)) - ij[0]) <= 1 and abs(int(t.get("j", 0)) - ij[1]) <= 1:
                    del self._drape_geoms[(kk, lod)]
        if win is not None:
            lod = int(tile_lod(np.asarray(self.camera.local.position), self.tile_lo[k:k + 1], self.tile_hi[k:k + 1],
                               self.tile_m)[0]) if self.lod else 0
            for v in self.views:
                chunk = gfx.Mesh(self._drape_geometry_for(k, lod), v.drape_material)
                v.drape_chunks[k] = chunk
                v.drape.add(chunk)
        self._building_cache = None

    def _drop_tile(self, k: int) -> None:
        for v in self.views:
            for m in list(v.tiles.children):
                if any(m is x for x in self._tile_meshes[k]):
                    v.tiles.remove(m)
            chunk = v.drape_chunks.pop(k, None)
            if chunk is not None:
                v.drape.remove(chunk)
        for ly in self._tile_layers.pop(k):
            self.tile_bytes -= sum(int(np.asarray(a).nbytes) for a in (ly.positions, ly.normals, ly.colors)) + (
                int(np.asarray(ly.indices).nbytes) if ly.indices is not None else 0)
        del self._tile_meshes[k]
        for key in [key for key in self._drape_geoms if key[0] == k]:
            del self._drape_geoms[key]
        self._building_cache = None

    def _drape_geometry_for(self, k: int, lod: int) -> Any:
        import pygfx as gfx

        geom = self._drape_geoms.get((k, lod))
        if geom is None:
            win = self.tile_windows[k]
            assert win is not None
            step = self.drape_step * LOD_STEPS[lod]
            geom = gfx.Geometry(**_drape_geometry(self.grid, self.heights, step, win))
            self._drape_geoms[(k, lod)] = geom
        return geom

    def _after_tiles_loaded(self) -> None:
        """Refit what lies on the ground to the terrain just loaded (roads, stops; drape pieces of
        neighbours are rebuilt on their next use)."""
        self.road_positions = self._lift(self.roads.seg_xy.reshape(-1, 2), OVERLAY_LIFT_M * 0.5)
        self.stop_positions = self._lift(self.stops.xy, 6.0)
        self._ground_y = float(np.median(self.heights[::8, ::8]))
        for v in self.views:
            if len(self.road_positions):
                v.roads.geometry.positions.data[...] = self.road_positions
                v.roads.geometry.positions.update_full()
            if len(self.stops.xy):
                v.stops.geometry.positions.data[...] = self.stop_positions
                v.stops.geometry.positions.update_full()
            v.versions.pop("deficits", None)
            v.versions.pop("comments", None)
            for group in v.dept.values():  # rebuilt on the terrain now known when next shown
                v.dept_group.remove(group)
            v.dept.clear()

    @property
    def building_tris(self) -> np.ndarray:
        return self._buildings()[0]

    @property
    def building_ids(self) -> np.ndarray:
        return self._buildings()[1]

    def _buildings(self) -> tuple[np.ndarray, np.ndarray]:
        if self._building_cache is None:
            layers = [ly for k in sorted(self._tile_layers) for ly in self._tile_layers[k]]
            self._building_cache = building_triangles(layers)
        return self._building_cache

    def memory_figures(self) -> dict[str, float]:
        """Tiles loaded and drawn, and the bytes of their vertex and index buffers (MB)."""
        return {"tiles": len(self.tile_specs), "loaded": len(self._tile_meshes), "drawn": self.tiles_drawn,
                "tile_mb": self.tile_bytes / 1e6,
                "drape_mb": sum(sum(int(a.nbytes) for a in (g.positions.data, g.texcoords.data, g.indices.data))
                                for g in self._drape_geoms.values()) / 1e6}

    def _lift(self, xy: np.ndarray, lift: float) -> np.ndarray:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        if len(xy) == 0:
            return np.zeros((0, 3), np.float32)
        h = height_at(self.heights, self.grid, xy[:, 0], xy[:, 1])
        return np.stack([xy[:, 0], h + lift, -xy[:, 1]], axis=1).astype(np.float32)

    def _add_lights_and_camera(self, gfx: Any) -> None:
        sun, _, elev = sun_direction(self.hour, day=self.day, utc_offset_h=self.utc_offset_h)
        self._lights = []
        for v in self.views:
            light = gfx.DirectionalLight("#fff4e0", intensity=3.0 if elev > 0 else 0.3)
            v.scene.add(light, light.target, gfx.AmbientLight("#dde6f0", 0.7))
            self._lights.append(light)
        w, h = self.canvas.get_logical_size()
        aspect = w / h / len(self.views) if self.mode == "split" else w / h
        self.camera = gfx.PerspectiveCamera(40, aspect, depth_range=(2.0, 1000.0))
        self._frame_view()

    def _frame_view(self) -> None:
        """Aim the camera and the sun at the field's extent (water and roads may reach beyond it), with
        the ground heights known so far."""
        g = self.grid
        top = max(float(self.tile_hi[:, 1].max()) if len(self.tile_hi) else 0.0, float(self.heights.max()) + 1.0)
        lo = np.array([g.west_m, float(self.heights.min()), -(g.south_m + g.rows * g.cell_m)])
        hi = np.array([g.west_m + g.cols * g.cell_m, top, -g.south_m])
        centre, extent = (lo + hi) / 2, float(np.max(hi - lo))
        sun, _, _ = sun_direction(self.hour, day=self.day, utc_offset_h=self.utc_offset_h)
        for light in self._lights:
            light.local.position = tuple(centre + sun * extent)
            light.target.local.position = tuple(centre)
        self.camera.depth_range = (2.0, extent * 8.0)
        pos, target = oblique_camera_pose(lo, hi, fov_deg=40, aspect=self.camera.aspect, azimuth_deg=180.0,
                                          elevation_deg=50.0, zoom=0.85)
        self.camera.local.position = tuple(pos)
        self.camera.look_at(tuple(target))

    # --- subscription and data ------------------------------------------------------------------
    def field_name(self) -> str:
        return field_for(self.layer) or "utci_c"

    def subscribe(self) -> None:
        """Ask the server(s) for what the raster, the overlays and the hour need."""
        layers = wanted_layers(self.layer, tuple(o for o in self.overlays if not o.startswith("dept:")))
        for c in self._clients():
            c.subscribe(layers, self.hour, (self.field_name(),))

    def _clients(self) -> list[TwinClient]:
        return [self.client] + ([self.compare] if self.compare is not None else [])

    def current_field(self, which: int = 0) -> FieldState | None:
        c = self._clients()[which] if which < len(self._clients()) else None
        return None if c is None else c.field(self.field_name(), self.hour)

    def raster_values(self, which: int = 0) -> tuple[np.ndarray | None, tuple[Any, ...]]:
        """The values the drape of view ``which`` shows now and a key of their versions (None for the
        access layer, which shows its deficit areas instead of a raster)."""
        if self.layer == "access":
            return None, ()
        if self.mode == "diff":
            a, b = self.current_field(0), self.current_field(1)
            if a is None or b is None:
                return None, ()
            return b.values_c - a.values_c, ("diff", self.hour, a.version, b.version)
        f = self.current_field(which)
        if f is None:
            return None, ()
        return f.values_c, (self.layer, self.hour, f.version)

    @property
    def shown_version(self) -> int:
        """The scenario version (of A) the drape shows; -1 before any field."""
        key = self.views[0].shown
        if not key or key[0] == "film":
            f = self.current_field(0)
            return f.version if key and f is not None else -1
        return int(key[-2]) if key[0] == "diff" else int(key[-1])

    def refresh(self) -> bool:
        """Bring every view up to the newest data its client holds; True when anything changed."""
        changed = False
        for i, v in enumerate(self.views if self.mode == "split" else self.views[:1]):
            changed |= self._refresh_drape(v, i)
            changed |= self._refresh_overlays(v, self._clients()[i])
            changed |= self._refresh_dept(v)
        changed |= self._refresh_cooling()
        return changed

    def show_values(self, values: np.ndarray, hour: float) -> None:
        """Drape given values (e.g. a field between two hours, for a film) instead of the client's."""
        self._override = (np.asarray(values, np.float32), float(hour))
        for v in self.views:
            v.shown = ()

    def _refresh_drape(self, v: _View, which: int) -> bool:
        values, key = self.raster_values(which)
        if self._override is not None:
            values, key = self._override[0], ("film", self._override[1])
        if values is None:
            v.drape.visible = False
            return False
        if key == v.shown and v.drape.visible:
            return False
        rgba = field_rgba(values, "diff" if self.mode == "diff" else self.layer, alpha=255)
        if v.rgba is not None and v.rgba.shape == rgba.shape and v.drape.visible:
            rows = np.flatnonzero((v.rgba != rgba).any(axis=(1, 2)))
            if rows.size:  # only the rows that changed go to the GPU (buffers updated in place)
                cols = np.flatnonzero((v.rgba[rows[0]:rows[-1] + 1] != rgba[rows[0]:rows[-1] + 1]).any(axis=(0, 2)))
                r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
                v.texture.data[r0:r1, c0:c1] = rgba[r0:r1, c0:c1]
                v.texture.update_range((c0, r0, 0), (c1 - c0, r1 - r0, 1))
        else:
            v.texture.data[...] = rgba
            v.texture.update_full()
        v.rgba = rgba
        v.drape.visible = True
        v.shown = key
        return True

    def _refresh_overlays(self, v: _View, c: TwinClient) -> bool:
        changed = False
        road_layer = "vc" if "vc" in self.overlays else "traffic" if "traffic" in self.overlays else ""
        v.roads.visible = bool(road_layer) and c.edges_version >= 0 and len(self.road_positions) > 0
        if v.roads.visible and v.versions.get("roads") != (road_layer, c.edges_version):
            rgb = road_colours(road_layer, c.edges, self.roads.seg_edge)
            cols = np.repeat(np.concatenate([rgb / 255.0, np.ones((len(rgb), 1))], 1), 2, axis=0).astype(np.float32)
            v.roads.geometry.colors.data[...] = cols
            v.roads.geometry.colors.update_full()
            v.versions["roads"] = (road_layer, c.edges_version)  # type: ignore[assignment]
            changed = True
        for kind, obj, layer in (("vehicles", v.vehicles, "vehicles"), ("people", v.people, "agents")):
            got = c.agents.get(kind)
            obj.visible = layer in self.overlays and got is not None and len(got[2]) > 0
            if obj.visible and got is not None and v.versions.get(kind) != got[0]:
                obj.geometry = _points_geometry(self._lift(got[2], OVERLAY_LIFT_M))
                v.versions[kind] = got[0]
                changed = True
        acc = c.access
        v.stops.visible = "transit" in self.overlays and len(self.stops.xy) > 0
        if v.stops.visible and v.versions.get("stops") != (acc.scenario_version if acc else -1):
            from protocol import decode_array

            q = None if acc is None else np.asarray(decode_array(acc.stop_quality))
            rgb = stop_colours(q, len(self.stops.xy)) / 255.0
            v.stops.geometry.colors.data[...] = np.concatenate([rgb, np.ones((len(rgb), 1))], 1).astype(np.float32)
            v.stops.geometry.colors.update_full()
            v.versions["stops"] = acc.scenario_version if acc else -1
            changed = True
        v.deficits.visible = self.layer == "access" or "access" in self.overlays
        if v.deficits.visible and acc is not None and v.versions.get("deficits") != acc.scenario_version:
            self._set_deficits(v, acc.deficits)
            v.versions["deficits"] = acc.scenario_version
            changed = True
        v.comments.visible = "comments" in self.overlays and bool(c.comments)
        if v.comments.visible and v.versions.get("comments") != len(c.comments):
            shown = [cm for cm in c.comments.values() if not cm.hidden]
            if shown:
                xyz = np.array([cm.xyz_local_m for cm in shown], np.float64)
                pos = np.stack([xyz[:, 0], xyz[:, 2] - self.origin_z_m + 12.0, -xyz[:, 1]], 1).astype(np.float32)
                rgb = np.array([(255, 179, 0) if cm.kind == "idea" else (21, 101, 192) for cm in shown]) / 255.0
                v.comments.geometry = _points_geometry(pos, rgb)
                v.comments.material.color_mode = "vertex"
            v.versions["comments"] = len(c.comments)
            changed = True
        return changed

    def _refresh_cooling(self) -> bool:
        """Colour the buildings by their cooling demand (or its change) when that overlay is on, from the
        server's export for the newest version whose heat figures include it; their own colours otherwise."""
        mode = "cooling_change" if "cooling_change" in self.overlays else "cooling" if "cooling" in self.overlays else ""
        cs = self._cooling
        c = self.client
        if mode:
            kpi = c.kpis.get("heat", {}).get("cooling_demand_kwh_day")
            key = (c.version, kpi)
            if kpi is not None and cs["key"] != key:
                cs["key"] = key
                try:
                    doc = http_json(f"{c.base_url}/api/scenarios/{c.scenario_id}/exports/buildings_cooling.geojson",
                                    token=c.token)
                    cs["values"] = cooling_from_geojson(doc)
                except ClientError as exc:
                    self._say(f"Kühlbedarf nicht verfügbar / cooling demand not available: {exc}")
        shown = (mode, id(cs["values"]), len(self._tile_meshes)) if mode and cs["values"] is not None else None
        if shown == cs["shown"]:
            return False
        cs["shown"] = shown
        for k, layers in self._tile_layers.items():
            for ly, mesh in zip(layers, self._tile_meshes[k], strict=False):
                vid = getattr(ly, "ids", None)
                if ly.name != "buildings" or vid is None:
                    continue
                rgb = np.asarray(ly.colors[:, :3], np.uint8).copy()
                if shown is not None:
                    got = building_colours(mode, cs["values"], vid)
                    rgb = np.where(got[:, 3:4] > 0, got[:, :3], rgb)
                mesh.geometry.colors.data[:, :3] = rgb.astype(np.float32) / 255.0
                mesh.geometry.colors.update_full()
        return True

    def _refresh_dept(self, v: _View) -> bool:
        changed = False
        for key in self.dept_info:
            on = key in self.overlays
            group = v.dept.get(key)
            if on and group is None:
                group = self._dept_group(key)
                v.dept[key] = group
                v.dept_group.add(group)
                changed = True
            if group is not None and group.visible != on:
                group.visible = on
                changed = True
        return changed

    def dept_data(self, key: str) -> dict[str, Any]:
        """A department layer's data in local metres (fetched once): ``shapes`` (vector) or ``rgba`` and
        ``corners`` (raster)."""
        got = self._dept_data.get(key)
        if got is not None:
            return got  # type: ignore[no-any-return]
        info = self.dept_info[key]
        url = f"{self.client.base_url}/api/layers/{info.layer_id}/data"
        if info.kind == "raster":
            import io

            from PIL import Image

            corners = raster_corners(http_bytes(url, token=self.client.token), self.epsg, self.origin_utm)
            png = http_bytes(url + "?preview=true", token=self.client.token)
            got = {"rgba": np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")), "corners": corners}
        else:
            doc = http_json(url, token=self.client.token)
            got = {"shapes": shapes_from_geojson(doc, info.style, self.epsg, self.origin_utm)}
        self._dept_data[key] = got
        return got

    def _dept_group(self, key: str) -> Any:
        import pygfx as gfx

        data = self.dept_data(key)
        group = gfx.Group()

        def rgba(rgb: np.ndarray, alpha: float = 1.0) -> np.ndarray:
            return np.concatenate([np.asarray(rgb, np.float32) / 255.0,
                                   np.full((len(rgb), 1), alpha, np.float32)], 1).astype(np.float32)

        if "shapes" in data:
            sh = data["shapes"]
            if len(sh.triangles):
                pos = self._lift(sh.triangles.reshape(-1, 2), DRAPE_LIFT_M + 0.6)
                group.add(gfx.Mesh(gfx.Geometry(positions=pos, colors=np.repeat(rgba(sh.triangle_rgb, 0.6), 3, axis=0),
                                                indices=np.arange(len(pos), dtype=np.uint32).reshape(-1, 3)),
                                   gfx.MeshBasicMaterial(color_mode="vertex", side="both", alpha_mode="blend")))
            if len(sh.segments):
                pos = self._lift(sh.segments.reshape(-1, 2), OVERLAY_LIFT_M + 0.5)
                group.add(gfx.Line(gfx.Geometry(positions=pos, colors=np.repeat(rgba(sh.segment_rgb), 2, axis=0)),
                                   gfx.LineSegmentMaterial(thickness=3.0, color_mode="vertex")))
            if len(sh.points):
                group.add(gfx.Points(gfx.Geometry(positions=self._lift(sh.points, 5.0), colors=rgba(sh.point_rgb)),
                                     gfx.PointsMaterial(size=10.0, color_mode="vertex")))
        else:
            n = 24  # a mesh over the raster's box that follows the ground
            nw, ne, se, sw = data["corners"]
            u, w = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
            xy = ((1 - w)[..., None] * ((1 - u)[..., None] * nw + u[..., None] * ne)
                  + w[..., None] * ((1 - u)[..., None] * sw + u[..., None] * se)).reshape(-1, 2)
            ii, jj = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
            i = (ii * n + jj).ravel()
            idx = np.concatenate([np.stack([i, i + n, i + 1], 1), np.stack([i + 1, i + n, i + n + 1], 1)])
            tex = gfx.Texture(np.ascontiguousarray(data["rgba"]), dim=2, colorspace="srgb")
            group.add(gfx.Mesh(gfx.Geometry(positions=self._lift(xy, DRAPE_LIFT_M + 0.4),
                                            texcoords=np.stack([u.ravel(), w.ravel()], 1).astype(np.float32),
                                            indices=idx.astype(np.uint32)),
                               gfx.MeshBasicMaterial(map=gfx.TextureMap(tex, filter="nearest"), side="both",
                                                     alpha_mode="blend")))
        return group

    def dept_legends(self) -> list[tuple[str, list[tuple[str, tuple[int, int, int]]]]]:
        """Title and legend of every department layer shown (and of the buildings' cooling demand)."""
        out = []
        for k in ("cooling", "cooling_change"):
            if k in self.overlays:
                de = self.lang != "en"
                title = f"{legend_text(k, self.lang)[0]} ({'kWh/Tag' if de else 'kWh/day'})"
                out.append((title, [((e.label_de if de else e.label_en).replace(" kWh/d", ""), e.rgb)
                                    for e in reversed(legend_for(k))]))
        return out + [(i.title, style_legend(i.style)) for k, i in self.dept_info.items() if k in self.overlays]

    def _set_deficits(self, v: _View, deficits: list[Any]) -> None:
        import pygfx as gfx

        for ch in list(v.deficits.children):
            v.deficits.remove(ch)
        quads, rgb = deficit_quads(deficits)
        if len(quads) == 0:
            return
        pos = self._lift(quads.reshape(-1, 2), DRAPE_LIFT_M + 1.0)
        base = np.arange(len(quads), dtype=np.uint32)[:, None] * 4
        idx = np.concatenate([base + np.array([0, 2, 1], np.uint32), base + np.array([0, 3, 2], np.uint32)])
        cols = np.repeat(np.concatenate([rgb / 255.0, np.full((len(rgb), 1), 0.6)], 1), 4, axis=0).astype(np.float32)
        mesh = gfx.Mesh(gfx.Geometry(positions=pos, indices=idx.astype(np.uint32), colors=cols),
                        gfx.MeshBasicMaterial(color_mode="vertex", side="both"))
        v.deficits.add(mesh)

    # --- drawing ---------------------------------------------------------------------------------
    def draw(self) -> None:
        self.update_tiles()
        self.refresh()
        if self.playing:
            now = time.monotonic()
            if now - self._play_t > 1.5:
                self._play_t = now
                self.set_hour(self.hour + 1)
        last = not self.widgets
        if self.mode == "split" and len(self.views) > 1:
            w, h = self.canvas.get_logical_size()
            self.renderer.render(self.views[0].scene, self.camera, rect=(0, 0, w / 2, h), flush=False)
            self.renderer.render(self.views[1].scene, self.camera, rect=(w / 2, 0, w / 2, h), flush=last)
        else:
            self.renderer.render(self.views[0].scene, self.camera, flush=last)
        if self.widgets:
            self._render_ui()

    # --- on-screen widgets -------------------------------------------------------------------------
    def ui_view(self) -> Any:
        """What the widgets show now (:class:`viewer.desktop.widgets.UiView`)."""
        from viewer.desktop.widgets import UiView

        lang = self.lang
        shown = "diff" if self.mode == "diff" else self.layer
        legend = legend_for(shown)
        name = legend_text(shown, lang)[0]
        unit = LAYERS[shown].unit
        rows = tuple(((e.label_en if lang == "en" else e.label_de), e.rgb) for e in reversed(legend))
        rasters = (*RASTERS, "access") + (("diff",) if self.compare is not None else ())
        can_edit = bool(self.client.welcome is not None and self.client.welcome.can_edit)
        return UiView(rasters=rasters, overlays=(*(o for o in OVERLAYS if o != "access"), *self.dept_info),
                      tools=tuple(TOOLS), extra_names={k: i.title for k, i in self.dept_info.items()},
                      extra_legends=tuple((t, tuple(r)) for t, r in self.dept_legends()),
                      layer=shown, shown_overlays=frozenset(self.overlays), tool=self.tool.tool if self.tool else "",
                      hour=self.hour, playing=self.playing, lang=lang,
                      legend_title=f"{name} ({unit})" if unit and unit not in name else name, legend_rows=rows,
                      pick_lines=tuple(self.pick.lines(self.layer, lang)) if self.pick is not None else (),
                      can_edit=can_edit)

    def _ui_layout(self) -> tuple[Any, tuple[int, int]]:
        from viewer.desktop.widgets import layout, panel_boxes

        w, h = (int(v) for v in self.canvas.get_logical_size())
        view = self.ui_view()
        self._ui_items = layout((w, h), view)
        self._ui_boxes = panel_boxes((w, h), view, self._ui_items)
        return view, (w, h)

    def over_ui(self, x_px: float, y_px: float) -> bool:
        """Whether a canvas point lies on a widget (clicks there do not reach the scene)."""
        if not self.widgets:
            return False
        if not self._ui_boxes:
            self._ui_layout()
        return any(x0 <= x_px < x1 and y0 <= y_px < y1 for x0, y0, x1, y1 in self._ui_boxes)

    def _render_ui(self) -> None:
        import pygfx as gfx

        from viewer.desktop.widgets import draw_ui

        view, (w, h) = self._ui_layout()
        key = (repr(view), w, h)
        ui = self._ui
        if ui.get("size") != (w, h):
            tex = gfx.Texture(np.zeros((h, w, 4), np.uint8), dim=2, colorspace="srgb")
            pos = np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]], np.float32)
            uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
            quad = gfx.Mesh(gfx.Geometry(positions=pos, texcoords=uv, indices=np.array([[0, 1, 2], [0, 2, 3]], np.uint32)),
                            gfx.MeshBasicMaterial(map=gfx.TextureMap(tex, filter="nearest"), alpha_mode="blend",
                                                  depth_test=False))
            scene = gfx.Scene()
            scene.add(quad)
            cam = gfx.OrthographicCamera(w, h, maintain_aspect=False, depth_range=(1.0, 1000.0))
            cam.local.position = (w / 2, h / 2, 100.0)
            ui.update(size=(w, h), texture=tex, scene=scene, camera=cam, key=None)
        if ui.get("key") != key:
            ui["texture"].data[...] = draw_ui((w, h), view, self._ui_items)
            ui["texture"].update_full()
            ui["key"] = key
        self.renderer.render(ui["scene"], ui["camera"], flush=True)

    def _ui_event(self, kind: str, x: float, y: float, buttons: Any = ()) -> bool:
        """A pointer event on the widgets; True when they took it."""
        from viewer.desktop.widgets import hit, slider_hour

        if kind == "pointer_down":
            if not self.over_ui(x, y):
                return False
            self._ui_press = hit(self._ui_items, x, y)
            if self._ui_press is not None and self._ui_press.action[0] == "hour":
                self.set_hour(slider_hour(self._ui_press, x))
            return True
        press = self._ui_press
        if press is None:
            return False
        if kind == "pointer_move":
            if press.action[0] == "hour" and buttons:
                hour = slider_hour(press, x)
                if hour != self.hour:
                    self.set_hour(hour)
            return True
        if kind == "pointer_up":
            self._ui_press = None
            got = hit(self._ui_items, x, y)
            if got is not None and got == press:
                self.ui_action(got.action)
            return True
        return False

    def ui_action(self, action: tuple[str, ...]) -> None:
        """Do what a widget says: choose a raster, switch an overlay, a tool, play or pause."""
        what = action[0]
        if what == "layer":
            if action[1] == "diff" and self.mode != "diff":
                while self.mode != "diff":
                    self.cycle_mode()
            else:
                self.set_layer(action[1])
        elif what == "overlay":
            self.toggle_overlay(action[1])
        elif what == "tool":
            self.set_tool(action[1] or None)
        elif what == "play":
            self.playing = not self.playing
            self._play_t = time.monotonic()

    def connect_controller(self, controller: Any) -> None:
        """Let a pygfx camera controller (orbit) have the pointer except over the widgets."""
        import pygfx as gfx

        viewport = gfx.Viewport.from_viewport_or_renderer(self.renderer)

        def forward(event: Any) -> None:
            kind = getattr(event, "type", "")
            if kind == "pointer_down":
                self._ctl_blocked = self.over_ui(float(event.x), float(event.y))
            if kind in ("pointer_down", "pointer_move", "pointer_up") and self._ctl_blocked:
                if kind == "pointer_up":
                    self._ctl_blocked = False
                return
            if kind == "wheel" and self.over_ui(float(event.x), float(event.y)):
                return
            controller.handle_event(event, viewport)

        self.renderer.add_event_handler(forward, "pointer_down", "pointer_move", "pointer_up", "key_down", "key_up",
                                        "wheel", "before_render")

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

    # --- inspection ------------------------------------------------------------------------------
    def screen_point(self, xyz: np.ndarray | tuple[float, float, float]) -> tuple[float, float]:
        """Canvas position (logical pixels from the top left) of a scene point (glTF axes), in view A."""
        p = np.array([*np.asarray(xyz, float).reshape(3), 1.0])
        clip = np.asarray(self.camera.projection_matrix) @ np.asarray(self.camera.world.inverse_matrix) @ p
        ndc = clip[:2] / clip[3]
        w, h = self.canvas.get_logical_size()
        if self.mode == "split":
            w = w / 2
        return float((ndc[0] + 1) / 2 * w), float((1 - ndc[1]) / 2 * h)

    def local_to_scene(self, x_local_m: float, y_local_m: float, lift_m: float = DRAPE_LIFT_M) -> np.ndarray:
        """Scene point on the ground (plus ``lift_m``) of a local point (metres east, north)."""
        return self._lift(np.array([[x_local_m, y_local_m]]), lift_m)[0].astype(np.float64)

    def ray_at(self, x_px: float, y_px: float) -> tuple[np.ndarray, np.ndarray]:
        w, h = self.canvas.get_logical_size()
        if self.mode == "split":
            w = w / 2
            x_px = x_px % w
        ndc = (2.0 * x_px / w - 1.0, 1.0 - 2.0 * y_px / h)
        return screen_ray(self.camera.projection_matrix_inverse, self.camera.world.matrix, ndc)

    def hit_at(self, x_px: float, y_px: float) -> tuple[Hit, np.ndarray] | None:
        """What lies under a canvas point (logical pixels from the top left): the ground point, a building
        in front of it, the nearest road; with the 3D point hit. None when the ray misses the district."""
        origin, direction = self.ray_at(x_px, y_px)
        y = float(self.heights.mean()) + DRAPE_LIFT_M
        hit = None
        for _ in range(6):  # settle on the drape: re-intersect at the height of the ground hit
            hit = ray_hits_plane(origin, direction, y)
            if hit is None or cell_of_point(self.grid, float(hit[0]), float(-hit[2])) is None:
                return None
            y = float(height_at(self.heights, self.grid, np.array([hit[0]]), np.array([-hit[2]]))[0]) + DRAPE_LIFT_M
        assert hit is not None
        ground_t = float(np.linalg.norm(hit - origin))
        k, t = ray_triangles(origin, direction, self.building_tris)
        building = -1
        if k >= 0 and t < ground_t:
            building = int(self.building_ids[k])
            hit = origin + t * direction
        xy = (float(hit[0]), float(-hit[2]))
        edge = nearest_edge(self.roads, *xy, reach_m=max(8.0, 3 * self.grid.cell_m)) if building < 0 else -1
        return Hit(xy, building, edge), hit

    def pick_at(self, x_px: float, y_px: float) -> Pick | None:
        """Inspect what lies under a canvas point: cell value(s), hourly series, building or road values."""
        got = self.hit_at(x_px, y_px)
        if got is None:
            return None
        hit, point = got
        cell = cell_of_point(self.grid, *hit.xy_local_m)
        if cell is None:
            return None
        name = self.field_name()
        f = self.current_field(0)
        value = cell_value(f.values_c, *cell) if f is not None else float("nan")
        pick = Pick(cell[0], cell[1], cell_centre_local_m(self.grid, *cell), value,
                    hour_series(self.client.fields_by_hour(name), *cell), hit.building_id, hit.edge_index)
        if self.compare is not None:
            fb = self.current_field(1)
            pick.value_b = cell_value(fb.values_c, *cell) if fb is not None else float("nan")
            pick.series_b = hour_series(self.compare.fields_by_hour(name), *cell)
        if hit.building_id >= 0:
            pick.values.update(self._building_values(hit.building_id))
        if hit.edge_index >= 0:
            for k, arr in self.client.edges.items():
                if hit.edge_index < len(arr):
                    pick.values[k] = float(arr[hit.edge_index])
        self.pick = pick
        self.marker.local.position = (float(point[0]), float(point[1]) + 2.0, float(point[2]))
        self.marker.visible = True
        print(" | ".join(pick.lines(self.layer, self.lang)), flush=True)
        return pick

    def _building_values(self, building_id: int) -> dict[str, float]:
        from protocol import decode_array

        acc = self.client.access
        out: dict[str, float] = {}
        if acc is None:
            return out
        t = np.asarray(decode_array(acc.building_time_min), np.float64)
        if 0 <= building_id < len(t):
            out["doctor_min"] = float(t[building_id])
        if acc.building_class is not None:
            bc = np.asarray(decode_array(acc.building_class))
            if 0 <= building_id < len(bc):
                out["oev_class"] = float(bc[building_id])  # 0 = A .. 5 = F, 6 none
        return out

    def day_chart(self, path: Path | str) -> Path:
        """A chart of the picked cell's day (scenario A, and B when comparing) as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if self.pick is None:
            raise ValueError("Erst eine Zelle anklicken / click a cell first")
        label, _ = legend_text(self.layer, self.lang)
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        for series, name in ((self.pick.series, "A"), (self.pick.series_b, "B")):
            if series:
                ax.plot([h for h, _ in series], [v for _, v in series], marker="o", label=name)
        ax.set_xlabel("Stunde / hour")
        ax.set_ylabel(f"{label} ({LAYERS[self.layer].unit})")
        ax.set_title(f"({self.pick.row}, {self.pick.col})")
        ax.grid(alpha=0.3)
        ax.legend()
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
        fig.tight_layout()
        fig.savefig(tmp)
        plt.close(fig)
        tmp.replace(path)
        return path

    # --- edits -----------------------------------------------------------------------------------
    def set_tool(self, tool: str | None) -> None:
        """Choose an intervention tool (None: inspect)."""
        if tool is not None and tool not in TOOLS:
            raise ValueError(f"Unbekanntes Werkzeug {tool!r} / unknown tool")
        roofs = {int(o.building_id): oid for oid, (o, _) in self.client.interventions.items()
                 if getattr(o, "building_id", -1) >= 0 and type(o).__name__ == "GreenRoof"}
        self.tool = None if tool is None else ToolSession(tool, green_roofs=roofs)
        spec = TOOLS.get(tool or "")
        self._say(f"Werkzeug / tool: {spec.label_de + ' / ' + spec.label_en if spec else 'Auswählen / inspect'}")

    def click(self, x_px: float, y_px: float) -> int | None:
        """A click: inspect, or feed the tool; returns the request id of an edit sent."""
        if self.tool is None:
            self.pick_at(x_px, y_px)
            return None
        got = self.hit_at(x_px, y_px)
        if got is None:
            return None
        what, obj = self.tool.tap(got[0])
        if what == "add":
            return self._send_add(obj)
        if what == "remove":
            rid = self.client.remove(obj)
            self.requests.append(rid)
            return rid
        if what == "ignored":
            self._say(str(obj))
        return None

    def finish_tool(self) -> int | None:
        """Finish a line or area tool and send its intervention."""
        if self.tool is None:
            return None
        obj = self.tool.finish()
        if obj is None:
            self._say("Zu wenige Punkte / too few points")
            return None
        return self._send_add(obj)

    def _send_add(self, obj: Any) -> int:
        rid = self.client.add(obj)
        self.requests.append(rid)
        return rid

    def place_tree(self) -> int | None:
        """Send a tree at the picked point (key ``t``); None without a pick."""
        from geodata.interventions import Tree
        from viewer.desktop.tools import new_id

        if self.pick is None:
            self._say("Erst eine Zelle anklicken / click a cell first")
            return None
        return self._send_add(Tree(id=new_id("tree"), xy_local_m=self.pick.xy_local_m))

    @property
    def tree_requests(self) -> list[int]:
        return self.requests

    def undo(self) -> int:
        rid = self.client.undo()
        self.requests.append(rid)
        return rid

    def redo(self) -> int:
        rid = self.client.redo()
        self.requests.append(rid)
        return rid

    def _say(self, text: str) -> None:
        self.messages.append(text)
        print(text, flush=True)

    # --- time and layers -------------------------------------------------------------------------
    def set_hour(self, hour: int) -> None:
        """Show another hour of the design day (0..23); hours seen before stay in the client and form
        the series of a picked cell."""
        self.hour = int(hour) % 24
        self.subscribe()
        print(f"Stunde / hour: {self.hour} h", flush=True)

    def set_layer(self, layer: str) -> None:
        """Show another raster (a heat field, heat stress, access, or ``diff`` with a second scenario)."""
        lid = layer_id(layer)
        if LAYERS[lid].kind != "raster" and lid != "access":
            self.toggle_overlay(lid)
            return
        if lid == "diff" and self.compare is None:
            raise ValueError("Unterschied braucht ein zweites Szenario / difference needs a second scenario")
        self.layer = lid
        if lid == "diff":
            self.mode = "diff"
        elif self.mode == "diff":
            self.mode = "split" if self.compare is not None else "single"
        for v in self.views:
            v.shown = ()
        self.subscribe()

    def toggle_overlay(self, overlay: str, on: bool | None = None) -> None:
        if overlay.startswith("dept:"):
            if overlay not in self.dept_info:
                raise ValueError(f"Fachebene {overlay!r} unbekannt oder nicht sichtbar / department layer unknown or "
                                 "not visible")
            want = (overlay not in self.overlays) if on is None else on
            (self.overlays.add if want else self.overlays.discard)(overlay)
            return
        oid = layer_id(overlay)
        if oid not in OVERLAYS:
            raise ValueError(f"{overlay!r} ist keine Überlagerung / is not an overlay")
        want = (oid not in self.overlays) if on is None else on
        (self.overlays.add if want else self.overlays.discard)(oid)
        self.subscribe()

    def cycle_mode(self) -> None:
        """With a second scenario: side by side -> difference -> A alone -> side by side."""
        if self.compare is None:
            return
        order = ["split", "diff", "single"]
        self.mode = order[(order.index(self.mode) + 1) % 3]
        if self.mode == "diff":
            self.layer = "diff"
        elif self.layer == "diff":
            self.layer = "utci"
        w, h = self.canvas.get_logical_size()
        self.camera.aspect = w / h / (2 if self.mode == "split" else 1)
        for v in self.views:
            v.shown = ()
        self.subscribe()

    # --- pictures --------------------------------------------------------------------------------
    def annotate(self, img: np.ndarray) -> Any:
        """The picture with the legend, its title and unit (and the inspection panel, the legends of
        department layers shown) as a PIL image, in the viewer's language with umlauts and degrees. A
        window with widgets already shows them: its picture is taken as it is."""
        from PIL import Image, ImageDraw

        from viewer.desktop.widgets import ui_font

        im = Image.fromarray(img[:, :, :3].copy())
        if self.widgets:
            return im
        font = ui_font(12)
        shown = "diff" if self.mode == "diff" else self.layer
        legend = legend_for(shown)
        de = self.lang != "en"
        draw = ImageDraw.Draw(im)
        unit = LAYERS[shown].unit
        name = legend_text(shown, self.lang)[0] + (f" ({unit})" if unit and unit not in legend_text(shown)[0] else "")
        ink = (20, 20, 20)
        if legend:
            bar = legend_image(legend)
            x0, y0 = im.width - bar.shape[1] - 150, 12
            draw.rectangle((x0 - 8, y0 - 6, im.width - 6, y0 + bar.shape[0] + 24), fill=(255, 255, 255))
            im.paste(Image.fromarray(bar[:, :, :3]), (x0, y0))
            for i, e in enumerate(reversed(legend)):
                draw.text((x0 + bar.shape[1] + 6, y0 + i * 18 + 2), e.label_de if de else e.label_en, fill=ink, font=font)
            when = f"{self.hour} h" if self._override is None else \
                f"{int(self._override[1]):02d}:{int(round(self._override[1] % 1 * 60)) % 60:02d}"
            draw.text((x0, y0 + bar.shape[0] + 4), f"{when}, v{self.shown_version}", fill=ink, font=font)
            y = y0 + bar.shape[0] + 30
        else:
            y = 12
        for title, entries in self.dept_legends():
            x0 = im.width - 176
            draw.rectangle((x0 - 8, y - 4, im.width - 6, y + 16 * (len(entries) + 1) + 2), fill=(255, 255, 255))
            draw.text((x0, y), title, fill=ink, font=font)
            for i, (label, rgb) in enumerate(entries):
                yy = y + 16 * (i + 1)
                draw.ellipse((x0, yy + 2, x0 + 10, yy + 12), fill=rgb, outline=(60, 60, 60))
                draw.text((x0 + 16, yy), label, fill=ink, font=font)
            y += 16 * (len(entries) + 1) + 10
        draw.text((10, 8), name, fill=ink, font=font)
        if self.pick is not None:
            lines = self.pick.lines(self.layer, self.lang)
            draw.rectangle((6, im.height - 16 * len(lines) - 14, 300, im.height - 6), fill=(255, 255, 255))
            for i, line in enumerate(lines):
                draw.text((12, im.height - 16 * (len(lines) - i) - 10), line, fill=ink, font=font)
        return im

    def save_screenshot(self, path: Path | str | None = None) -> Path:
        """Write the last picture with the legend to a PNG (temporary file, then renamed)."""
        if path is None:
            path = self.screenshot_dir / time.strftime("landtwin-%Y%m%d-%H%M%S.png")
        im = self.annotate(self.frame())
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
        im.save(tmp)
        tmp.replace(path)
        print(f"Bild gespeichert / screenshot saved: {path}", flush=True)
        return path

    # --- events ----------------------------------------------------------------------------------
    def handle_event(self, event: dict) -> None:
        """Canvas events: a click (press and release within 4 px) inspects or uses the tool; keys as in
        the module's description."""
        kind = event.get("event_type")
        if kind == "pointer_move" and self.track_hover:
            self._hover_at = (float(event["x"]), float(event["y"]))
        if self.widgets and kind in ("pointer_down", "pointer_move", "pointer_up") and \
                (kind != "pointer_down" or event.get("button") == 1) and \
                self._ui_event(str(kind), float(event["x"]), float(event["y"]), event.get("buttons", ())):
            self._down = None
            return
        if kind == "pointer_down" and event.get("button") == 1:
            self._down = (float(event["x"]), float(event["y"]))
        elif kind == "pointer_up" and self._down is not None:
            x, y = float(event["x"]), float(event["y"])
            if abs(x - self._down[0]) + abs(y - self._down[1]) < 4:
                self.click(x, y)
            self._down = None
        elif kind == "key_down":
            self._key(str(event.get("key", "")))

    def _key(self, key: str) -> None:
        k = key.lower()
        if k in TOOL_KEYS:
            self.set_tool(TOOL_KEYS[k])
        elif k == "i":
            self.set_tool(None)
        elif k == "enter":
            self.finish_tool()
        elif k == "backspace" and self.tool is not None:
            self.tool.back()
        elif k == "escape":
            self.set_tool(None)
        elif k == "t":
            self.place_tree()
        elif k == "z":
            self.undo()
        elif k == "y":
            self.redo()
        elif k == "s":
            self.save_screenshot()
        elif k == "c" and self.pick is not None:
            self._say(str(self.day_chart(self.screenshot_dir / time.strftime("landtwin-day-%H%M%S.png"))))
        elif k in ("arrowleft", "arrowright"):
            self.set_hour(self.hour + (1 if k == "arrowright" else -1))
        elif k == " ":
            self.playing = not self.playing
        elif k == "l":
            order = list(RASTERS) + ["access"]
            self.set_layer(order[(order.index(self.layer) + 1) % len(order)] if self.layer in order else "utci")
        elif k == "v":
            order = [o for o in OVERLAYS if o != "access"]
            on = [o for o in order if o in self.overlays]
            nxt = order[(order.index(on[-1]) + 1) % len(order)] if on else order[0]
            for o in on:
                self.overlays.discard(o)
            self.toggle_overlay(nxt, True)
        elif k == "m":
            self.cycle_mode()

    def connect_events(self) -> None:
        self.canvas.add_event_handler(self.handle_event, "pointer_down", "pointer_up", "pointer_move", "key_down")

    def state(self) -> dict[str, Any]:
        """What the viewer shows and did, as plain data (written by ``twin view --state-file`` for
        scripts): versions, camera, layer, tool, the inspected pick, what lies under the pointer, and the
        fate of every edit request sent."""
        if self._hover_at is not None and (self.hover is None or self.hover["xy_px"] != list(self._hover_at)):
            got = self.hit_at(*self._hover_at)
            ui = self.over_ui(*self._hover_at)
            if ui:
                got = None
            self.hover = {"xy_px": list(self._hover_at), "ground": got is not None,
                          "building_id": got[0].building_id if got else -1,
                          "edge_index": got[0].edge_index if got else -1, "ui": ui}
        c = self.client
        pick = None
        if self.pick is not None:
            pick = {"row": self.pick.row, "col": self.pick.col, "building_id": self.pick.building_id,
                    "edge_index": self.pick.edge_index, "value": _finite(self.pick.value_c),
                    "values": {k: _finite(v) for k, v in self.pick.values.items()},
                    "lines": self.pick.lines(self.layer, self.lang)}
        return {
            "version": c.version, "shown_version": self.shown_version, "layer": self.layer, "hour": self.hour,
            "mode": self.mode, "overlays": sorted(self.overlays), "tool": self.tool.tool if self.tool else None,
            "playing": self.playing, "widgets": [[*it.rect, *it.action] for it in self._ui_items],
            "tiles": self.memory_figures(),
            "camera": [round(float(v), 3) for v in self.camera.local.position],
            "pick": pick, "hover": self.hover, "requests": list(self.requests),
            "applied": {str(r): {"op": a.op, "cause": a.cause, "object_id": a.object_id,
                                 "kind": a.intervention.__struct_config__.tag if a.intervention is not None else None}
                        for r, a in list(c.applied.items())},
            "rejected": {str(r): f"{x.message_de} / {x.message_en}" for r, x in list(c.rejected.items())},
            "errors": [f"{e.code}: {e.message_en} ({e.request_id})" for e in list(c.errors)[-5:]],
            "closed": c.closed_reason, "counts": dict(c.counts),
            "messages": self.messages[-5:],
        }


def _points_geometry(pos: np.ndarray, rgb: np.ndarray | None = None) -> Any:
    import pygfx as gfx

    pos = np.asarray(pos, np.float32).reshape(-1, 3)
    if len(pos) == 0:
        pos = np.zeros((1, 3), np.float32)
    if rgb is None:
        return gfx.Geometry(positions=pos)
    cols = np.concatenate([np.asarray(rgb, np.float32), np.ones((len(rgb), 1), np.float32)], 1)
    return gfx.Geometry(positions=pos, colors=cols)


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None
