"""The desktop viewer on a district cut into many tiles: which tiles it loads and draws (frustum
against tile boxes, checked against a brute-force reference), the culled picture against the full one,
comments made before the viewer started, the department layers a token may see, and the on-screen
widgets (layer list, hour slider) clicked in a real window under Xvfb.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from webserver import ROOT, WebServer, running_twin_serve

from viewer.desktop.tiles import (
    LOD_STEPS,
    boxes_in_frustum,
    cell_window,
    frustum_planes,
    tile_boxes,
    tile_lod,
)

TWIN = str(Path(sys.executable).with_name("twin"))
ENV = {**os.environ, "LANDTWIN_ARCH": "cpu", "PYTHONUNBUFFERED": "1", "XDG_RUNTIME_DIR": "/tmp"}
SIZE = (320, 200)
TILE_M = 250.0


# --- plain functions ---------------------------------------------------------------------------------
def _camera(pos: tuple[float, float, float], target: tuple[float, float, float], aspect: float = 1.6) -> Any:
    import pygfx as gfx

    cam = gfx.PerspectiveCamera(40, aspect, depth_range=(2.0, 3000.0))
    cam.local.position = pos
    cam.look_at(target)
    return cam


def _view_projection(cam: Any) -> np.ndarray:
    return np.asarray(cam.projection_matrix) @ np.asarray(cam.world.inverse_matrix)


def _brute_visible(vp: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int = 9) -> np.ndarray:
    """A box is visible when any point of a lattice through it lands inside the clip volume."""
    t = np.linspace(0.0, 1.0, n)
    out = np.zeros(len(lo), bool)
    for k in range(len(lo)):
        gx, gy, gz = np.meshgrid(*(lo[k, a] + t * (hi[k, a] - lo[k, a]) for a in range(3)), indexing="ij")
        p = np.stack([gx.ravel(), gy.ravel(), gz.ravel(), np.ones(gx.size)])
        c = vp @ p
        w = c[3]
        inside = (w > 0) & (np.abs(c[0]) <= w) & (np.abs(c[1]) <= w) & (c[2] >= 0) & (c[2] <= w)
        out[k] = bool(inside.any())
    return out


def _tileset(nx: int, ny: int, size: float, rng: np.random.Generator) -> dict[str, Any]:
    tiles = []
    for j in range(ny):
        for i in range(nx):
            z0 = float(rng.uniform(0, 20))
            tiles.append({"name": f"t_{i}_{j}.glb", "i": i, "j": j,
                          "bbox_local_m": [i * size, j * size, (i + 1) * size, (j + 1) * size],
                          "min_z_m": z0, "max_z_m": z0 + float(rng.uniform(2, 60))})
    return {"tiles": tiles, "tile_m": size, "bbox_local_m": [0.0, 0.0, nx * size, ny * size]}


@pytest.mark.parametrize("pose", [
    ((1000.0, 300.0, -200.0), (1000.0, 0.0, -1200.0)),  # oblique, looking north over the middle
    ((-300.0, 150.0, 300.0), (800.0, 0.0, -800.0)),  # from outside the south-west corner
    ((500.0, 1500.0, -500.0), (520.0, 0.0, -520.0)),  # from high above a corner area
    ((1900.0, 40.0, -1900.0), (0.0, 0.0, 0.0)),  # low, across the whole district
])
def test_tiles_in_view_match_a_brute_force_reference(pose: Any) -> None:
    rng = np.random.default_rng(3)
    ts = _tileset(20, 20, 100.0, rng)
    lo, hi = tile_boxes(ts)
    assert lo.shape == (400, 3) and np.all(lo <= hi)
    cam = _camera(*pose)
    vp = _view_projection(cam)
    got = boxes_in_frustum(frustum_planes(vp), lo, hi)
    ref = _brute_visible(vp, lo, hi)
    assert ref.any() and not ref.all()
    assert not (ref & ~got).any(), "a visible tile was culled"
    extra = got & ~ref
    assert extra.sum() <= max(3, 0.25 * ref.sum()), (extra.sum(), ref.sum())  # few kept needlessly
    # and those few lie close to the view: with a finer lattice or a small widening they are in it
    wide = boxes_in_frustum(frustum_planes(vp), lo, hi, margin_m=150.0)
    assert (wide >= got).all() and wide.sum() > got.sum()


def test_tile_windows_partition_the_raster_and_lod_grows_with_distance() -> None:
    from types import SimpleNamespace

    grid = SimpleNamespace(rows=97, cols=131, cell_m=4.0, west_m=-3.0, south_m=2.0)
    ts = _tileset(5, 4, 110.0, np.random.default_rng(1))
    ts["bbox_local_m"] = [0.0, 0.0, 550.0, 440.0]
    count = np.zeros((grid.rows, grid.cols), int)
    for t in ts["tiles"]:
        win = cell_window(grid, t["bbox_local_m"], ts["bbox_local_m"])
        if win is not None:
            r0, r1, c0, c1 = win
            count[r0:r1, c0:c1] += 1
    assert (count == 1).all()  # every cell in exactly one tile's drape piece
    lo, hi = tile_boxes(ts)
    lod = tile_lod(np.array([0.0, 50.0, 0.0]), lo, hi, 110.0)
    d = np.hypot(np.clip(0.0, lo[:, 0], hi[:, 0]), np.clip(0.0, lo[:, 2], hi[:, 2]))
    order = np.argsort(d)
    assert lod[order[0]] == 0 and lod.max() >= 1 and np.all(np.diff(lod[order]) >= 0)
    assert LOD_STEPS[0] == 1


def test_drape_pieces_meet_the_whole_drape_at_their_corners() -> None:
    from types import SimpleNamespace

    from viewer.desktop.app import _drape_geometry

    grid = SimpleNamespace(rows=40, cols=48, cell_m=2.0, west_m=0.0, south_m=0.0)
    heights = np.random.default_rng(0).uniform(0, 10, (41, 49)).astype(np.float32)
    for step in (1, 3):
        whole = _drape_geometry(grid, heights, step)
        pos_whole = {(round(float(p[0]), 3), round(float(p[2]), 3)): float(p[1]) for p in whole["positions"]}
        for win in ((0, 20, 0, 24), (20, 40, 24, 48), (0, 40, 24, 48)):
            piece = _drape_geometry(grid, heights, step, win)
            r0, r1, c0, c1 = win
            xs, zs = piece["positions"][:, 0], piece["positions"][:, 2]
            assert xs.min() == c0 * 2.0 and xs.max() == c1 * 2.0 and -zs.max() == (40 - r1) * 2.0
            uv = piece["texcoords"]
            assert uv[:, 0].min() == pytest.approx(c0 / 48) and uv[:, 1].max() == pytest.approx(r1 / 40)
            for p in piece["positions"]:  # every corner the whole drape also has lies at the same height
                key = (round(float(p[0]), 3), round(float(p[2]), 3))
                if key in pos_whole and step == 1:
                    assert float(p[1]) == pytest.approx(pos_whole[key])


# --- a real server on a district of many tiles ------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """``twin serve`` on a 0.5 km sample district with 4 m cells, its scene cut into tiles of 250 m."""
    data = tmp_path_factory.mktemp("desktop-tiles")
    subprocess.run([TWIN, "--data-dir", str(data), "sample", "--size-km", "0.5", "--cell", "4"], check=True,
                   env=ENV, cwd=ROOT, capture_output=True, timeout=120)
    from geodata.bundle import load_district
    from geodata.scene import export_tiles

    export_tiles(load_district(data, "sample"), data / "districts" / "sample" / "tiles", tile_m=TILE_M)
    with running_twin_serve(data) as server:
        yield server


def _need_adapter() -> None:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    try:
        import wgpu

        adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    except Exception as exc:
        pytest.skip(f"no wgpu adapter ({exc}); install Debian's mesa-vulkan-drivers for lavapipe")
    if adapter is None:
        pytest.skip("no wgpu adapter; install Debian's mesa-vulkan-drivers for lavapipe")


def _client(server: WebServer, token: str | None = None, role: str = "planner") -> Any:
    from viewer.desktop.client import TwinClient

    c = TwinClient(server.url, server.scenario_id, token=server.planner_token if token is None else token, role=role)
    c.start()
    return c


def _app(client: Any, tmp_path: Path, **kw: Any) -> Any:
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp

    return DesktopApp(client, "sample", RenderCanvas(size=SIZE, pixel_ratio=1), screenshot_dir=tmp_path, **kw)


def _close_up(app: Any, h: float) -> None:
    """A camera low over the district's south-west quarter, looking north-east: some tiles out of view."""
    g = app.grid
    x0, y0 = g.west_m + 0.2 * g.cols * g.cell_m, g.south_m + 0.2 * g.rows * g.cell_m
    app.camera.local.position = (x0 - 40.0, h + 60.0, -(y0 - 40.0))
    app.camera.look_at((x0 + 90.0, h, -(y0 + 60.0)))


@pytest.mark.window
def test_the_culled_view_equals_the_full_view(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    c = _client(served)
    try:
        c.subscribe(("heat",), 15, ("utci_c",))
        c.wait_version(c.version, 300)
        full = _app(c, tmp_path, cull=False, lod=False, subscribe=False)
        culled = _app(c, tmp_path, cull=True, lod=False, subscribe=False, margin_m=0.0)
        culled.range_m = float("inf")  # the frustum alone (a load range drops far tiles on purpose)
        n = len(full.tile_specs)
        assert n >= 16 and full.memory_figures()["loaded"] == n
        ground = float(full.heights.mean())
        for app in (full, culled):
            _close_up(app, ground)
        a = full.render_offscreen()
        b = culled.render_offscreen()
        figs = culled.memory_figures()
        assert 0 < figs["drawn"] < n and figs["loaded"] < n, figs  # only the tiles in view are fetched and drawn
        assert full.tiles_drawn == n
        assert culled.views[0].drape.visible and float(a[:, :, :3].std()) > 15
        diff = np.abs(a[:, :, :3].astype(int) - b[:, :, :3].astype(int)).sum(axis=2)
        assert (diff > 0).mean() < 0.002, f"{(diff > 0).mean():.3%} pixels differ"
        # turning round loads the tiles that come into view, and the picture still equals the full one
        for app in (full, culled):
            app.camera.look_at((float(app.camera.local.position[0]) + 200.0, ground,
                                float(app.camera.local.position[2])))
        a, b = full.render_offscreen(), culled.render_offscreen()
        assert culled.memory_figures()["loaded"] > figs["loaded"]
        diff = np.abs(a[:, :, :3].astype(int) - b[:, :, :3].astype(int)).sum(axis=2)
        assert (diff > 0).mean() < 0.002
        # a level of detail by distance changes far drape pieces only slightly
        lod = _app(c, tmp_path, cull=True, lod=True, subscribe=False)
        _close_up(lod, ground)
        _close_up(full, ground)
        img, ref = lod.render_offscreen(), full.render_offscreen()
        diff = np.abs(img[:, :, :3].astype(int) - ref[:, :, :3].astype(int)).sum(axis=2)
        assert diff.mean() < 4.0 and lod.tiles_drawn < n
    finally:
        c.close()


@pytest.mark.window
def test_comments_made_before_the_viewer_started_are_shown(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    cm = served.api(f"/api/scenarios/{served.scenario_id}/comments", method="POST",
                    body={"scenario_version": 0, "xyz_local_m": [60.0, 80.0, 120.0], "kind": "idea",
                          "text": "Mehr Bäume am Markt", "author_name": "Test"})
    c = _client(served, token="", role="citizen")
    try:
        assert not c.comments  # the socket sends only comments made while it is open
        app = _app(c, tmp_path, overlays=("comments",), subscribe=False)
        assert cm["comment_id"] in c.comments and c.comments[cm["comment_id"]].text == "Mehr Bäume am Markt"
        app.render_offscreen()
        v = app.views[0]
        assert v.comments.visible and len(v.comments.geometry.positions.data) == len(c.comments)
    finally:
        c.close()


# --- widgets as plain functions ------------------------------------------------------------------------
def _ui_view(**kw: Any) -> Any:
    from viewer.desktop.layers import OVERLAYS, RASTERS
    from viewer.desktop.tools import TOOLS
    from viewer.desktop.widgets import UiView

    return UiView(rasters=(*RASTERS, "access"), overlays=tuple(o for o in OVERLAYS if o != "access"),
                  tools=tuple(TOOLS), **kw)


def test_widgets_layout_hit_testing_and_slider() -> None:
    from viewer.desktop.widgets import hit, layout, panel_boxes, slider_hour

    view = _ui_view(layer="tmrt", hour=9)
    for size in ((480, 300), (1280, 800)):
        items = layout(size, view)
        boxes = [it.rect for it in items]
        for a in range(len(boxes)):  # no two widgets overlap, all lie on the canvas
            x0, y0, x1, y1 = boxes[a]
            assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]
            for b in range(a + 1, len(boxes)):
                u0, v0, u1, v1 = boxes[b]
                assert x1 <= u0 or u1 <= x0 or y1 <= v0 or v1 <= y0, (items[a], items[b])
        for it in items:  # a click in the middle of each widget finds it
            x0, y0, x1, y1 = it.rect
            assert hit(items, (x0 + x1) / 2, (y0 + y1) / 2) == it
        assert hit(items, size[0] / 2, size[1] / 2) is None  # the middle of the scene stays free
        acts = {it.action for it in items}
        assert ("layer", "utci") in acts and ("overlay", "traffic") in acts and ("tool", "tree") in acts
        assert ("tool", "") in acts and ("play",) in acts and ("hour",) in acts
        slider = next(it for it in items if it.action == ("hour",))
        assert slider_hour(slider, slider.rect[0]) == 0 and slider_hour(slider, slider.rect[2]) == 23
        assert slider_hour(slider, (slider.rect[0] + slider.rect[2]) / 2) in (11, 12)
        covered = panel_boxes(size, view, items)
        assert all(any(b[0] <= it.rect[0] and it.rect[2] <= b[2] and b[1] <= it.rect[1] and it.rect[3] <= b[3]
                       for b in covered) for it in items)
    citizen = layout((480, 300), _ui_view(can_edit=False))
    assert not [it for it in citizen if it.action[0] == "tool"]  # no tools without the right to edit


def test_widgets_draw_the_german_legend_with_umlauts_and_degrees() -> None:
    from viewer.desktop.layers import legend_for
    from viewer.desktop.widgets import draw_ui, layout, ui_font

    font = ui_font(11)
    for ch in "üäößÄ°−":  # the font has these glyphs: each draws differently from a missing glyph
        assert np.asarray(font.getmask(ch)).sum() > 0
        assert np.asarray(font.getmask(ch)).tobytes() != np.asarray(font.getmask("\ufffe")).tobytes(), ch
    rows = tuple((e.label_de, e.rgb) for e in reversed(legend_for("utci")))
    view = _ui_view(layer="utci", legend_title="Gefühlte Temperatur (UTCI) (°C)", legend_rows=rows,
                    pick_lines=("Zelle (3, 4) · 12 m O, 40 m N", "Gefühlte Temperatur (UTCI): 31.2 °C"))
    img = draw_ui((640, 400), view, layout((640, 400), view))
    assert img.shape == (400, 640, 4) and img.dtype == np.uint8
    assert img[200, 320, 3] == 0  # the scene shows through in the middle
    assert img[30, 30, 3] > 200 and img[395, 300, 3] > 200  # the layer list and the hour bar are opaque
    for _, rgb in rows:  # every legend colour is drawn
        assert (np.abs(img[:, :, :3].astype(int) - np.array(rgb)).sum(axis=2) < 4).sum() > 30, rgb
    plain = draw_ui((640, 400), _ui_view(layer="utci", legend_title="Gefuehlte Temperatur (UTCI) (C)",
                                         legend_rows=rows), layout((640, 400), view))
    assert not np.array_equal(img, plain)


# --- the widgets in a real window under Xvfb ----------------------------------------------------------
class _Window:
    """``twin view`` in a window on its own Xvfb screen (xdotool clicks; its state file says what it did)."""

    def __init__(self, served: WebServer, tmp: Path, *args: str) -> None:
        import time

        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.xvfb.stdout is not None
        self.env = {**ENV, "DISPLAY": f":{self.xvfb.stdout.readline().decode().strip()}"}
        self.tmp = tmp
        self.state_path = tmp / "state.json"
        self.log = open(tmp / "window.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([TWIN, "view", "--url", served.url, "--size", "640x400", "--state-file",
                                      str(self.state_path), *args], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=tmp)
        self.wid = ""
        self.wait(lambda s: s["shown_version"] >= 0 and s["widgets"], "first picture", 180)
        deadline = time.monotonic() + 30
        while not self.wid and time.monotonic() < deadline:
            r = subprocess.run(["xdotool", "search", "--name", "landtwin"], capture_output=True, text=True,
                               env=self.env, timeout=30)
            self.wid = r.stdout.split()[0] if r.stdout.split() else ""

    def xdo(self, *args: str) -> None:
        r = subprocess.run(["xdotool", *args], capture_output=True, text=True, env=self.env, timeout=30)
        assert r.returncode == 0, r.stderr

    def state(self) -> dict[str, Any]:
        import json

        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return {}

    def wait(self, pred: Any, what: str, timeout_s: float = 60.0) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s = self.state()
            if s and pred(s):
                return s
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.flush()
        raise AssertionError(f"window: no {what}; state {self.state()}; log {(self.tmp / 'window.log').read_text()[-1500:]}")

    def widget(self, *action: str) -> tuple[float, float]:
        for x0, y0, x1, y1, *act in self.state()["widgets"]:
            if tuple(act) == action:
                return (x0 + x1) / 2, (y0 + y1) / 2
        raise AssertionError(f"no widget {action}")

    def click(self, x: float, y: float) -> None:
        self.xdo("mousemove", "--window", self.wid, str(int(x)), str(int(y)))
        self.xdo("click", "1")

    def shot(self) -> np.ndarray:
        """A screenshot through the viewer's own key (``s``): the window's picture."""
        from PIL import Image

        before = set(self.tmp.glob("landtwin-*.png"))
        self.xdo("key", "--window", self.wid, "s")
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            new = set(self.tmp.glob("landtwin-*.png")) - before
            if new:
                time.sleep(0.3)
                path = new.pop()
                img = np.asarray(Image.open(path).convert("RGB"))
                path.unlink()
                return img
            time.sleep(0.05)
        raise AssertionError("no screenshot")

    def close(self) -> None:
        for p in (self.proc, self.xvfb):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.log.close()


@pytest.mark.window
@pytest.mark.timeout(300)
def test_clicking_the_widgets_switches_the_layer_and_the_hour(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.skip("Xvfb or xdotool missing: apt-get install xvfb xdotool (scripts/system-deps.sh)")
    win = _Window(served, tmp_path, "--layer", "utci")
    try:
        s = win.state()
        assert s["layer"] == "utci" and s["hour"] == 15
        before = win.shot()
        win.click(*win.widget("layer", "heat_stress"))
        s = win.wait(lambda s: s["layer"] == "heat_stress" and s["shown_version"] >= 0, "layer by click")
        import time

        time.sleep(1.0)  # a few frames with the new drape
        after = win.shot()
        h, w = before.shape[:2]
        mid = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
        changed = (np.abs(before[mid].astype(int) - after[mid].astype(int)).sum(axis=2) > 30).mean()
        assert changed > 0.2, changed  # the drape now shows the heat-stress classes
        win.click(*win.widget("overlay", "traffic"))
        win.wait(lambda s: "traffic" in s["overlays"], "overlay by click")
        x0, y0, x1, y1 = next(r[:4] for r in win.state()["widgets"] if r[4] == "hour")
        win.click(x0 + (x1 - x0) * 10 / 23, (y0 + y1) / 2)
        win.wait(lambda s: s["hour"] == 10, "hour by slider")
        win.click(*win.widget("play"))
        win.wait(lambda s: s["playing"], "play")
        win.click(*win.widget("play"))
        win.wait(lambda s: not s["playing"], "pause")
        assert win.state()["camera"] == s["camera"]  # clicks on widgets never turn the camera
    finally:
        win.close()


# --- department layers -------------------------------------------------------------------------------
def _upload(served: WebServer, name: str, data: bytes, **form: Any) -> dict[str, Any]:
    import httpx

    r = httpx.post(served.url + "/api/layers", files={"file": (name, data)}, data={k: str(v) for k, v in form.items()},
                   headers={"Authorization": f"Bearer {served.planner_token}"}, timeout=60)
    if r.status_code == 503:
        pytest.skip(f"department layers need the shared Gemeinden outlines: {r.text[:200]}")
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _lonlat(tileset: dict[str, Any], xy: list[tuple[float, float]]) -> list[list[float]]:
    from geodata.crs import utm_to_lonlat

    e0, n0 = tileset["origin_utm_m"]
    arr = np.asarray(xy, float)
    lon, lat = utm_to_lonlat(arr[:, 0] + e0, arr[:, 1] + n0, int(tileset["epsg"]))
    return [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]


def _geotiff(tileset: dict[str, Any], west: float, north: float, cell: float, n: int) -> bytes:
    import rasterio
    from rasterio.transform import Affine

    e0, n0 = tileset["origin_utm_m"]
    arr = np.add.outer(np.arange(n), np.arange(n)).astype(np.float32)
    with rasterio.MemoryFile() as mem:
        with mem.open(driver="GTiff", width=n, height=n, count=1, dtype="float32", crs=f"EPSG:{tileset['epsg']}",
                      transform=Affine(cell, 0.0, e0 + west, 0.0, -cell, n0 + north)) as ds:
            ds.write(arr, 1)
        return bytes(mem.read())


def _share(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 30) -> float:
    return float((np.abs(img[:, :, :3].astype(int) - np.array(rgb)).sum(axis=2) < tol).mean())


@pytest.mark.window
def test_department_layers_listed_by_visibility_and_drawn_with_their_legends(served: WebServer, tmp_path: Path
                                                                             ) -> None:
    import json

    from viewer.desktop.client import http_json
    from viewer.desktop.dept import style_legend

    _need_adapter()
    ts = http_json(served.url + "/api/districts/sample/tileset.json")
    c = _client(served)
    g = c.welcome.grid  # type: ignore[union-attr]
    cx, cy = g.west_m + g.cols * g.cell_m / 2, g.south_m + g.rows * g.cell_m / 2
    pts = _lonlat(ts, [(cx - 60, cy), (cx + 60, cy), (cx, cy + 60)])
    ring = _lonlat(ts, [(cx - 120, cy - 120), (cx - 30, cy - 120), (cx - 30, cy - 30), (cx - 120, cy - 30),
                        (cx - 120, cy - 120)])
    line = _lonlat(ts, [(cx + 30, cy - 100), (cx + 120, cy - 40)])
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"art": "Kita", "n": 1}, "geometry": {"type": "Point", "coordinates": pts[0]}},
        {"type": "Feature", "properties": {"art": "Kita", "n": 2}, "geometry": {"type": "Point", "coordinates": pts[1]}},
        {"type": "Feature", "properties": {"art": "Schule", "n": 3}, "geometry": {"type": "Point", "coordinates": pts[2]}},
        {"type": "Feature", "properties": {"art": "Schule", "n": 4}, "geometry": {"type": "Polygon", "coordinates": [ring]}},
        {"type": "Feature", "properties": {"art": "Weg", "n": 5}, "geometry": {"type": "LineString", "coordinates": line}},
    ]}
    public = _upload(served, "einrichtungen.geojson", json.dumps(doc).encode(), title="Einrichtungen",
                     visibility="public", style_mode="categories", style_field="art")
    private = _upload(served, "intern.geojson", json.dumps(doc).encode(), title="Intern", visibility="private")
    raster = _upload(served, "laerm.tif", _geotiff(ts, cx - 150, cy + 150, 10.0, 30), title="Lärm",
                     visibility="public", style_mode="classes", style_field="band1", style_classes=4)
    citizen = _client(served, token="", role="citizen")
    try:
        seen = _app(citizen, tmp_path, subscribe=False)
        keys = set(seen.dept_info)
        assert f"dept:{public['layer_id']}" in keys and f"dept:{raster['layer_id']}" in keys
        assert f"dept:{private['layer_id']}" not in keys  # a citizen sees the public layers only
        with pytest.raises(ValueError, match="not visible"):
            seen.toggle_overlay(f"dept:{private['layer_id']}", True)
        app = _app(c, tmp_path, layer="utci", subscribe=False)
        assert f"dept:{private['layer_id']}" in app.dept_info  # the planner of the department sees its own
        view = app.ui_view()
        assert "Einrichtungen" in [view.extra_names.get(k) for k in view.overlays]
        # the camera close over the layers
        h = float(app.heights.mean())
        app.camera.local.position = (cx, h + 420.0, -(cy - 250.0))
        app.camera.look_at((cx, h, -cy))
        plain = app.render_offscreen().copy()
        key = f"dept:{public['layer_id']}"
        app.toggle_overlay(key, True)
        img = app.render_offscreen().copy()
        shapes = app.dept_data(key)["shapes"]
        assert len(shapes.points) == 3 and len(shapes.triangles) >= 2 and len(shapes.segments) >= 5
        legend = style_legend(public["current"]["style"])
        assert [lbl for lbl, _ in legend] == ["Kita", "Schule", "Weg"]
        assert app.dept_legends() == [("Einrichtungen", legend)]
        kita, schule = legend[0][1], legend[1][1]
        assert _share(img, kita) > _share(plain, kita) and _share(img, schule) > _share(plain, schule)
        assert np.array_equal(np.asarray(shapes.point_rgb[0]), np.array(kita))
        shot = np.asarray(app.annotate(img))  # the picture's legend names the layer and its colours
        assert _share(shot, kita, 8) > _share(img, kita, 8)
        app.toggle_overlay(key, False)
        rkey = f"dept:{raster['layer_id']}"
        app.toggle_overlay(rkey, True)
        img2 = app.render_offscreen().copy()
        assert app.views[0].dept[key].visible is False and app.views[0].dept[rkey].visible
        rgba = app.dept_data(rkey)["rgba"]
        assert rgba.shape == (30, 30, 4)
        corners = app.dept_data(rkey)["corners"]
        assert np.allclose(corners[0], (cx - 150, cy + 150)) and np.allclose(corners[2], (cx + 150, cy - 150))
        changed = (np.abs(img2[:, :, :3].astype(int) - plain[:, :, :3].astype(int)).sum(axis=2) > 40).mean()
        assert changed > 0.05  # the raster lies over the middle of the view
    finally:
        c.close()
        citizen.close()


# --- heat island and cooling demand --------------------------------------------------------------------
@pytest.mark.window
def test_heat_island_layer_and_the_buildings_cooling_demand(served: WebServer, tmp_path: Path) -> None:
    from viewer.desktop.layers import RAMPS, ramp_rgb

    _need_adapter()
    c = _client(served)
    try:
        app = _app(c, tmp_path, layer="uhi")
        c.wait_version(c.version, 300)
        f = c.field("uhi_k", 15)
        assert f is not None and np.isfinite(f.values_c).mean() > 0.9
        assert -6.0 < float(np.nanmedian(f.values_c)) < 10.0  # air minus the countryside, kelvin
        img = app.render_offscreen()
        ramp = ramp_rgb(RAMPS["uhi"], np.linspace(-3, 3, 96))
        rgb = img[:, :, :3].astype(int).reshape(-1, 1, 3)
        near = (np.abs(rgb - ramp.reshape(1, -1, 3)).sum(axis=2).min(axis=1) < 40).mean()
        assert app.views[0].drape.visible and near > 0.15
        assert app.ui_view().legend_title.startswith("Wärmeinsel") and "(K)" in app.ui_view().legend_title
        app.toggle_overlay("cooling", True)
        c.wait_for(lambda: "cooling_demand_kwh_day" in c.kpis.get("heat", {}), 300, "cooling demand")
        app.render_offscreen()
        values = app._cooling["values"]
        assert values is not None and np.isfinite(values["kwh"]).sum() >= 10
        recoloured = 0
        for k, layers in app._tile_layers.items():
            for ly, mesh in zip(layers, app._tile_meshes[k], strict=False):
                if ly.name == "buildings":
                    now = np.rint(mesh.geometry.colors.data[:, :3] * 255).astype(int)
                    recoloured += int((np.abs(now - ly.colors[:, :3].astype(int)).sum(axis=1) > 6).sum())
        assert recoloured > 100  # the buildings show their demand
        title, rows = app.dept_legends()[0]
        assert title.startswith("Kühlbedarf") and len(rows) == len(RAMPS["cooling"].stops)
        app.toggle_overlay("cooling", False)
        app.render_offscreen()
        for k, layers in app._tile_layers.items():  # and their own colours again when it is off
            for ly, mesh in zip(layers, app._tile_meshes[k], strict=False):
                if ly.name == "buildings":
                    now = np.rint(mesh.geometry.colors.data[:, :3] * 255).astype(int)
                    assert np.abs(now - ly.colors[:, :3].astype(int)).max() <= 1
    finally:
        c.close()


def test_department_styles_and_cooling_colours_as_plain_functions() -> None:
    from viewer.desktop.dept import NO_VALUE_RGB, feature_colours, shapes_from_geojson, style_legend
    from viewer.desktop.layers import RAMPS, ramp_rgb
    from viewer.desktop.places import building_colours, cooling_from_geojson

    classes = {"mode": "classes", "field": "v", "entries": [
        {"label": "0 – 10", "lower": 0.0, "upper": 10.0, "colour": "#440154"},
        {"label": "10 – 20", "lower": 10.0, "upper": 20.0, "colour": "#21918c"}]}
    got = feature_colours(classes, [{"v": -5}, {"v": 10}, {"v": 10.5}, {"v": 99}, {"v": None}, {}, {"v": "x"}])
    assert [tuple(int(x) for x in c) for c in got] == [(0x44, 0x01, 0x54), (0x44, 0x01, 0x54), (0x21, 0x91, 0x8C),
                                                       (0x21, 0x91, 0x8C), NO_VALUE_RGB, NO_VALUE_RGB, NO_VALUE_RGB]
    cats = {"mode": "categories", "field": "art", "entries": [{"label": "A", "value": "A", "colour": "#0072B2"}]}
    assert tuple(feature_colours(cats, [{"art": "A"}])[0]) == (0, 0x72, 0xB2)
    assert tuple(feature_colours(cats, [{"art": "B"}])[0]) == NO_VALUE_RGB
    assert style_legend(cats) == [("A", (0, 0x72, 0xB2))]
    # a square with a hole: its triangles cover exactly the square minus the hole
    lon0, lat0 = 11.80, 51.15
    d = 0.001
    sq = [[lon0, lat0], [lon0 + d, lat0], [lon0 + d, lat0 + d], [lon0, lat0 + d], [lon0, lat0]]
    hole = [[lon0 + d / 4, lat0 + d / 4], [lon0 + d / 4, lat0 + 3 * d / 4], [lon0 + 3 * d / 4, lat0 + 3 * d / 4],
            [lon0 + 3 * d / 4, lat0 + d / 4], [lon0 + d / 4, lat0 + d / 4]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"art": "A"}, "geometry": {"type": "Polygon", "coordinates": [sq, hole]}}]}
    sh = shapes_from_geojson(doc, cats, 25832, (0.0, 0.0))
    t = sh.triangles
    area = 0.5 * np.abs((t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1])
                        - (t[:, 2, 0] - t[:, 0, 0]) * (t[:, 1, 1] - t[:, 0, 1])).sum()
    import shapely

    from geodata.crs import lonlat_to_utm

    def local(ring: list[list[float]]) -> list[tuple[float, float]]:
        e, n = lonlat_to_utm(np.array([p[0] for p in ring]), np.array([p[1] for p in ring]), 25832)
        return list(zip(np.asarray(e).tolist(), np.asarray(n).tolist(), strict=True))

    ref = shapely.Polygon(local(sq), [local(hole)]).area  # the reference area (shapely), holes left out
    assert len(sh.triangle_rgb) == len(t) and area == pytest.approx(ref, rel=1e-6)
    with pytest.raises(ValueError, match="FeatureCollection"):
        shapes_from_geojson({"type": "Feature"}, cats, 25832, (0.0, 0.0))
    # cooling: by id, uncooled grey, missing ids keep their own colour
    doc = {"features": [{"properties": {"building_id": 0, "cooling_kwh_day": 300.0, "cooling_kwh_day_baseline": 310.0,
                                        "cooled": True}},
                        {"properties": {"building_id": 2, "cooling_kwh_day": 50.0, "cooling_kwh_day_baseline": 50.0,
                                        "cooled": False}}]}
    vals = cooling_from_geojson(doc)
    got = building_colours("cooling", vals, np.array([0, 1, 2, 7, -1]))
    assert list(got[:, 3]) == [1, 0, 1, 0, 0]
    assert tuple(got[0, :3]) == tuple(ramp_rgb(RAMPS["cooling"], np.array([300.0]))[0]) and tuple(got[2, :3]) == (150,) * 3
    change = building_colours("cooling_change", vals, np.array([0]))
    assert tuple(change[0, :3]) == tuple(ramp_rgb(RAMPS["cooling_change"], np.array([-10.0]))[0])
