"""The desktop viewer against a real ``twin serve`` (a small sample district in a temporary data
folder): its protocol client, offscreen pictures of every layer against references, pictures after
partial updates against a fresh client's, every tool by mouse with undo and redo, inspection, A/B
compare, the film of a day, the embedded server and a real window under Xvfb.

Regenerate the reference pictures deliberately with ``LANDTWIN_REGEN_REFERENCE=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from server_support import free_port
from webserver import ROOT, WebServer, running_twin_serve

from geodata.interventions import Tree
from viewer.desktop.client import ClientError, TwinClient
from viewer.desktop.layers import HEAT_STRESS, RAMPS, cell_centre_local_m, cell_value, ramp_rgb

TWIN = str(Path(sys.executable).with_name("twin"))
ENV = {**os.environ, "LANDTWIN_ARCH": "cpu", "PYTHONUNBUFFERED": "1", "XDG_RUNTIME_DIR": "/tmp"}
REFERENCES = Path(__file__).parent / "reference_images"
SIZE = (320, 200)


# --- a real server ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """``twin serve`` on a 0.5 km sample district with 4 m cells (built by ``twin sample``), with a
    draft scenario forked before any edit (for reference pictures)."""
    data = tmp_path_factory.mktemp("desktop")
    subprocess.run([TWIN, "--data-dir", str(data), "sample", "--size-km", "0.5", "--cell", "4"], check=True,
                   env=ENV, cwd=ROOT, capture_output=True, timeout=120)
    with running_twin_serve(data) as server:
        server.extra["baseline"] = _fork(server, "Referenz")
        yield server


def _fork(server: WebServer, name: str) -> str:
    out = server.api(f"/api/scenarios/{server.scenario_id}/fork", method="POST", body={"name": name},
                     token=server.planner_token)
    return str(out["scenario_id"])


def _client(server: WebServer, sid: str | None = None, **kw: Any) -> TwinClient:
    c = TwinClient(server.url, sid or server.scenario_id, token=server.planner_token, role="planner", **kw)
    c.start()
    return c


@pytest.fixture(scope="module")
def client(served: WebServer) -> Iterator[TwinClient]:
    c = _client(served)
    c.subscribe(("heat",), 15, ("utci_c",))
    yield c
    c.close()


def test_client_receives_a_versioned_utci_field(client: TwinClient) -> None:
    assert client.welcome is not None and client.welcome.can_edit
    f = client.wait_field("utci_c", 15, min_version=client.welcome.scenario.version, timeout_s=120)
    g = client.welcome.grid
    assert f.values_c.shape == (g.rows, g.cols) and f.values_c.dtype == np.float32
    assert f.version == client.welcome.scenario.version and f.unit and f.hour == 15
    finite = np.isfinite(f.values_c)
    assert finite.mean() > 0.9
    assert 15.0 < float(np.median(f.values_c[finite])) < 55.0  # a summer afternoon
    assert float(np.ptp(f.values_c[finite])) > 2.0  # shade and sun differ


def test_a_tree_sent_through_the_client_cools_the_cells_near_it(client: TwinClient) -> None:
    before = client.wait_field("utci_c", 15, timeout_s=120)
    g = before.grid
    row, col = g.rows // 2, g.cols // 2
    xy = cell_centre_local_m(g, row, col)
    rid = client.add(Tree(id="desk-test-tree", xy_local_m=xy, height_m=14.0, crown_diameter_m=10.0))
    applied = client.wait_applied(rid)
    assert applied.scenario_version > before.version and applied.op == "add"
    after = client.wait_field("utci_c", 15, min_version=applied.scenario_version, timeout_s=120)
    diff = after.values_c - before.values_c
    near = diff[row - 1:row + 2, col - 1:col + 2]
    assert float(np.nanmean(near)) < -1.0  # shade under the crown
    far = np.concatenate([diff[:10].ravel(), diff[-10:].ravel()])
    assert float(np.nanmax(np.abs(far))) < 0.05  # nothing changes hundreds of metres away
    with pytest.raises(ClientError):  # a second tree with the same id is refused by the server
        client.wait_applied(client.add(Tree(id="desk-test-tree", xy_local_m=xy)))


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(ClientError, match="Serveradresse"):
        TwinClient("ftp://x", "abc")
    r = subprocess.run([TWIN, "view", "--url", f"http://127.0.0.1:{free_port()}", "--png", "/tmp/never.png"],
                       capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 2 and "nicht erreichbar" in r.stderr and "not reachable" in r.stderr
    cases = ((["--size", "12xq", "--png", "/tmp/never.png"], "WxH"),
             (["--layer", "wind", "--png", "/tmp/never.png"], "unknown layer"),
             (["--layer", "diff", "--png", "/tmp/never.png"], "--compare"),
             (["--film", "/tmp/never.avi"], ".mp4"),
             (["--film", "/tmp/never.mp4", "--hours", "15-12"], "hours out of range"))
    for args, words in cases:
        r = subprocess.run([TWIN, "view", "--url", "http://127.0.0.1:1", *args], capture_output=True, text=True,
                           env=ENV, timeout=60)
        assert r.returncode == 2 and words in r.stderr, (args, r.stderr)
    assert not Path("/tmp/never.png").exists() and not Path("/tmp/never.mp4").exists()


# --- pictures (lavapipe) -----------------------------------------------------------------------------
def _need_adapter() -> None:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences a harmless loader warning on servers
    try:
        import wgpu

        adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    except Exception as exc:
        pytest.skip(f"no wgpu adapter ({exc}); install Debian's mesa-vulkan-drivers for lavapipe")
    if adapter is None:
        pytest.skip("no wgpu adapter; install Debian's mesa-vulkan-drivers for lavapipe")


def _app(client: TwinClient, tmp_path: Path, **kw: Any) -> Any:
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp

    return DesktopApp(client, "sample", RenderCanvas(size=SIZE, pixel_ratio=1), screenshot_dir=tmp_path, **kw)


def _near_colours(img: np.ndarray, colours: Any, tol: int = 60) -> float:
    """Share of pixels close to any of ``colours``."""
    rgb = img[:, :, :3].astype(int).reshape(-1, 1, 3)
    ref = np.array(list(colours)).reshape(1, -1, 3)
    return float((np.abs(rgb - ref).sum(axis=2).min(axis=1) < tol).mean())


def _matches_reference(img: np.ndarray, name: str) -> None:
    from PIL import Image

    ref_path = REFERENCES / f"desktop_{name}.png"
    if os.environ.get("LANDTWIN_REGEN_REFERENCE") == "1":
        Image.fromarray(img[:, :, :3]).save(ref_path)
    if not ref_path.exists():
        pytest.fail(f"reference {ref_path.name} missing; make it with LANDTWIN_REGEN_REFERENCE=1")
    ref = np.asarray(Image.open(ref_path).convert("RGB")).astype(int)
    assert ref.shape == img[:, :, :3].shape
    diff = np.abs(ref - img[:, :, :3].astype(int)).sum(axis=2)
    assert diff.mean() < 4.0 and (diff > 60).mean() < 0.01, \
        f"{name}: mean difference {diff.mean():.2f}, {(diff > 60).mean():.3%} pixels differ; " \
        "regenerate with LANDTWIN_REGEN_REFERENCE=1"


def _wait_app(app: Any, what: tuple[str, ...] = ("field",)) -> None:
    for c in app._clients():
        c.wait_version(c.version, 120, what=what)


def _ramp(name: str) -> np.ndarray:
    """Colours all along a ramp (a drape pixel lies anywhere between two stops)."""
    r = RAMPS[name]
    return ramp_rgb(r, np.linspace(r.lo, r.hi, 96))


LAYER_CASES = [  # (raster, overlays, what to wait for, colours that must show)
    ("utci", (), ("field",), _ramp("utci")),
    ("tmrt", (), ("field",), _ramp("tmrt")),
    ("air_temp", (), ("field",), _ramp("air_temp")),
    ("surface_temp", (), ("field",), _ramp("surface_temp")),
    ("heat_stress", (), ("field",), HEAT_STRESS.colours),
    ("access", ("transit",), ("access",), None),
    ("utci", ("traffic",), ("field", "edges"), None),
    ("utci", ("vc",), ("field", "edges"), None),
    ("heat_stress", ("vehicles", "agents"), ("field", "edges"), None),
]


@pytest.mark.window
def test_every_layer_matches_its_reference_picture(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    c = _client(served, served.extra["baseline"])
    try:
        app = _app(c, tmp_path, layer="utci")
        for raster, overlays, what, colours in LAYER_CASES:
            app.set_layer(raster)
            for o in list(app.overlays):
                app.toggle_overlay(o, False)
            for o in overlays:
                app.toggle_overlay(o, True)
            _wait_app(app, what)
            img = app.render_offscreen()
            assert img.shape == (SIZE[1], SIZE[0], 4) and float(img[:, :, :3].std()) > 15
            if colours is not None:  # the drape covers the district in the layer's colours
                assert app.views[0].drape.visible and _near_colours(img, colours, 60) > 0.15, raster
            name = "_".join((raster, *overlays))
            if "traffic" in overlays or "vc" in overlays:
                assert app.views[0].roads.visible
            if "transit" in overlays:
                assert app.views[0].stops.visible and not app.views[0].drape.visible
            _matches_reference(img, name)
    finally:
        c.close()


@pytest.mark.window
def test_film_of_the_day_plays_and_changes_with_the_heat(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is missing: apt-get install ffmpeg (scripts/system-deps.sh)")
    import imageio.v2 as iio

    film = tmp_path / "day.mp4"
    sid = _fork(served, "Film")
    r = subprocess.run([TWIN, "view", "--url", served.url, "--scenario", sid, "--film", str(film),
                        "--layer", "surface_temp", "--hours", "8-12", "--steps-per-hour", "3", "--fps", "6",
                        "--size", "320x192", "--timeout", "300"], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(film)],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (320, 192) and int(stream["nb_read_frames"]) == 4 * 3 + 1
    frames = [np.asarray(f, dtype=float) for f in iio.mimread(film, format="FFMPEG")]
    assert len(frames) == 13
    first_last = np.abs(frames[0] - frames[-1]).mean()
    steps = [np.abs(a - b).mean() for a, b in zip(frames, frames[1:], strict=False)]
    assert first_last > 8.0  # the ground heats up from 8 to 12 h
    assert max(steps) < 0.6 * first_last  # in smooth steps, not jumps


@pytest.mark.window
def test_picture_after_partial_updates_equals_a_fresh_clients(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    sid = _fork(served, "Teilbilder")
    watcher = _client(served, sid)
    planner = _client(served, sid)
    fresh = None
    try:
        app = _app(watcher, tmp_path, layer="utci")
        _wait_app(app)
        first = app.render_offscreen().copy()
        planner.subscribe(("heat",), 15, ("utci_c",))
        g = watcher.welcome.grid  # type: ignore[union-attr]
        spots = [(g.rows // 3, g.cols // 3), (g.rows // 2, 2 * g.cols // 3), (2 * g.rows // 3, g.cols // 4)]
        for k, (r, cc) in enumerate(spots):
            rid = planner.add(Tree(id=f"part-{k}", xy_local_m=cell_centre_local_m(g, r, cc), height_m=14.0,
                                   crown_diameter_m=12.0))
            v = planner.wait_applied(rid).scenario_version
            watcher.wait_field("utci_c", 15, min_version=v, timeout_s=120)
            app.render_offscreen()  # drawn after every edit: the texture is updated in place
        assert watcher.counts.get("field_partial", 0) >= 1  # edits arrived as partial frames
        after = app.render_offscreen()
        assert np.abs(after[:, :, :3].astype(int) - first[:, :, :3]).sum(axis=2).max() > 30  # the trees show
        fresh = _client(served, sid)
        app2 = _app(fresh, tmp_path, layer="utci")
        _wait_app(app2)
        again = app2.render_offscreen()
        assert fresh.version == watcher.version == app.shown_version == app2.shown_version
        assert np.array_equal(after[:, :, :3], again[:, :, :3])  # the same picture, pixel for pixel
        assert np.array_equal(watcher.field("utci_c", 15).values_c, fresh.field("utci_c", 15).values_c)  # type: ignore[union-attr]
        _matches_reference(after, "after_edits")
    finally:
        for c in (watcher, planner, fresh):
            if c is not None:
                c.close()


def _ground_points(app: Any, n: int) -> list[tuple[float, float]]:
    """Canvas points near the picture's centre whose ray meets open ground (no building)."""
    out = []
    w, h = SIZE
    for y in np.linspace(0.3 * h, 0.75 * h, 12):
        for x in np.linspace(0.3 * w, 0.7 * w, 12):
            got = app.hit_at(float(x), float(y))
            if got is not None and got[0].building_id < 0 and got[0].edge_index < 0:
                if all(abs(x - a) + abs(y - b) > 25 for a, b in out):
                    out.append((float(x), float(y)))
                    if len(out) == n:
                        return out
    raise AssertionError("no open ground found in the picture")


def _open_patch(app: Any, step_px: float = 7.0) -> list[tuple[float, float]]:
    """Four canvas points (a small square) that all meet open ground: for line and area tools."""
    w, h = SIZE
    for y in np.linspace(0.3 * h, 0.75 * h, 16):
        for x in np.linspace(0.25 * w, 0.75 * w, 16):
            sq = [(float(x), float(y)), (x + step_px, float(y)), (x + step_px, y + step_px), (float(x), y + step_px)]
            hits = [app.hit_at(a, b) for a, b in sq]
            if all(g is not None and g[0].building_id < 0 and g[0].edge_index < 0 for g in hits):
                return sq
    raise AssertionError("no open patch found in the picture")


def _building_point(app: Any) -> tuple[tuple[float, float], int]:
    """A canvas point on a roof near the centre and the building id a click there hits."""
    w, h = SIZE
    for y in np.linspace(0.35 * h, 0.7 * h, 10):
        for x in np.linspace(0.35 * w, 0.65 * w, 10):
            got = app.hit_at(float(x), float(y))
            if got is not None and got[0].building_id >= 0:
                return (float(x), float(y)), got[0].building_id
    raise AssertionError("no building found in the picture")


def _road_points(app: Any, n: int) -> list[tuple[tuple[float, float], int]]:
    """Canvas points on ``n`` different roads near the centre, with the edge a click there finds."""
    out: list[tuple[tuple[float, float], int]] = []
    for seg in app.roads.seg_xy:
        x, y = app.screen_point(app.local_to_scene(*seg.mean(axis=0)))
        if 0.2 * SIZE[0] < x < 0.8 * SIZE[0] and 0.2 * SIZE[1] < y < 0.8 * SIZE[1]:
            got = app.hit_at(x, y)
            if got is not None and got[0].edge_index >= 0 and got[0].edge_index not in [e for _, e in out]:
                out.append(((x, y), got[0].edge_index))
                if len(out) == n:
                    return out
    raise AssertionError("too few roads found in the picture")


def _click(app: Any, xy: tuple[float, float]) -> None:
    app.handle_event({"event_type": "pointer_down", "x": xy[0], "y": xy[1], "button": 1, "modifiers": ()})
    app.handle_event({"event_type": "pointer_up", "x": xy[0], "y": xy[1], "button": 1, "modifiers": ()})


def _key(app: Any, key: str) -> None:
    app.handle_event({"event_type": "key_down", "key": key, "modifiers": ()})


@pytest.mark.window
def test_every_tool_by_mouse_then_undo_and_redo(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    sid = _fork(served, "Werkzeuge")
    c = _client(served, sid)
    try:
        app = _app(c, tmp_path, layer="utci")
        _wait_app(app)
        app.render_offscreen()
        n0 = len(c.interventions)  # a fork starts with its parent's interventions
        ground = _ground_points(app, 2)
        patch = _open_patch(app)
        roof, _ = _building_point(app)
        (road_a, edge_a), (road_b, edge_b) = _road_points(app, 2)
        plan = [("1", [ground[0]], "tree"), ("9", [ground[1]], "new_stop"), ("5", [roof], "green_roof"),
                ("6", [road_a], "road_closure"), ("7", [road_b], "tempo30"),
                ("2", patch[:2], "tree_row"), ("8", ground[:2], "bus_line"),
                ("3", patch[:3], "park"), ("4", patch[1:4], "unseal"), ("0", ground[:2] + patch[2:3], "on_demand")]
        kinds = {"tempo30": "speed_limit", "on_demand": "on_demand_zone"}
        for key, clicks, tool in plan:
            _key(app, key)
            assert app.tool is not None and app.tool.tool == tool
            for xy in clicks:
                _click(app, xy)
            if len(clicks) > 1 or tool in ("tree_row", "bus_line"):
                _key(app, "Enter")
            applied = c.wait_applied(app.requests[-1], timeout_s=60)
            assert applied.op == "add" and applied.intervention is not None, tool
            assert applied.intervention.__struct_config__.tag == kinds.get(tool, tool)
            if tool in ("road_closure", "tempo30"):
                assert applied.intervention.edge_index == (edge_a if tool == "road_closure" else edge_b)  # type: ignore[union-attr]
        server_side = served.api(f"/api/scenarios/{sid}/interventions", token=served.planner_token)
        assert len(server_side) == n0 + len(plan)
        _key(app, "5")
        _click(app, roof)  # a second click on the green roof takes it away
        assert c.wait_applied(app.requests[-1]).op == "remove"
        _key(app, "z")
        undone = c.wait_applied(app.requests[-1])
        assert undone.cause == "undo" and undone.object_id.startswith("roof")
        _key(app, "y")
        assert c.wait_applied(app.requests[-1]).cause == "redo"
        _key(app, "z")
        _key(app, "z")
        assert c.wait_applied(app.requests[-1]).cause == "undo"
        left = served.api(f"/api/scenarios/{sid}/interventions", token=served.planner_token)
        assert len(left) == n0 + len(plan) - 1  # the roof is back, the zone is undone
        c.wait_version(c.version, 120)
        app.render_offscreen()
        assert app.shown_version == c.version
    finally:
        c.close()


@pytest.mark.window
def test_inspection_shows_the_building_the_cell_and_the_day(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    c = _client(served, served.extra["baseline"])
    try:
        app = _app(c, tmp_path, layer="utci", overlays=("transit",))
        _wait_app(app, ("field", "access"))
        app.render_offscreen()
        xy, bid = _building_point(app)
        _click(app, xy)  # inspecting is the default tool
        pick = app.pick
        assert pick is not None and pick.building_id == bid and "doctor_min" in pick.values
        assert f"Gebäude {bid}" in pick.lines("utci", "de")[0] and f"Building {bid}" in pick.lines("utci", "en")[0]
        ground = _ground_points(app, 1)[0]
        _click(app, ground)
        pick = app.pick
        f = c.field("utci_c", 15)
        assert pick is not None and pick.building_id < 0 and f is not None
        assert pick.value_c == pytest.approx(cell_value(f.values_c, pick.row, pick.col))
        _key(app, "ArrowLeft")  # to 14 h: the series grows
        c.wait_field("utci_c", 14, min_version=c.version, timeout_s=120)
        pick = app.pick_at(*ground)
        assert pick is not None and [h for h, _ in pick.series] == [14, 15]
        chart = app.day_chart(tmp_path / "day.png")
        assert chart.stat().st_size > 5000
        shot = app.save_screenshot(tmp_path / "inspect.png")
        assert shot.stat().st_size > 10_000
    finally:
        c.close()


@pytest.mark.window
def test_two_scenarios_side_by_side_and_their_difference(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    b_id = _fork(served, "Variante B")
    a = _client(served, served.extra["baseline"])
    b = _client(served, b_id)
    try:
        g = b.welcome.grid  # type: ignore[union-attr]
        row, col = g.rows // 2, g.cols // 2
        rid = b.add(Tree(id="b-tree", xy_local_m=cell_centre_local_m(g, row, col), height_m=16.0, crown_diameter_m=14.0))
        b.wait_applied(rid)
        app = _app(a, tmp_path, layer="utci", compare=b)
        assert app.mode == "split"
        _wait_app(app)
        split = app.render_offscreen()
        left, right = split[:, : SIZE[0] // 2, :3].astype(int), split[:, SIZE[0] // 2:, :3].astype(int)
        assert np.abs(left - right).sum(axis=2).max() > 30  # the tree's shade shows on the right only
        _key(app, "m")
        assert app.mode == "diff" and app.layer == "diff"
        values, _ = app.raster_values()
        assert values is not None and float(np.nanmin(values[row - 2:row + 3, col - 2:col + 3])) < -1.0
        assert float(np.nanmax(np.abs(values[:5]))) < 0.05
        diff = app.render_offscreen()
        assert _near_colours(diff, [RAMPS["diff"].stops[3]], 30) > 0.1  # no difference almost everywhere
        assert _near_colours(diff, RAMPS["diff"].stops[:2], 40) > 0.0  # and cooler under the tree
        png = tmp_path / "ab.png"
        r = subprocess.run([TWIN, "view", "--url", served.url, "--scenario", served.extra["baseline"], "--compare", b_id,
                            "--layer", "diff", "--size", "320x200", "--png", str(png)], capture_output=True, text=True,
                           env=ENV, timeout=180)
        assert r.returncode == 0, r.stderr[-2000:]
        assert png.stat().st_size > 10_000
    finally:
        a.close()
        b.close()


def test_the_district_is_served_by_an_embedded_server_when_asked(tmp_path: Path) -> None:
    _need_adapter()
    data = tmp_path / "own"
    subprocess.run([TWIN, "--data-dir", str(data), "sample", "--size-km", "0.5", "--cell", "8"], check=True,
                   env=ENV, cwd=ROOT, capture_output=True, timeout=120)
    png = tmp_path / "embedded.png"
    r = subprocess.run([TWIN, "--data-dir", str(data), "--arch", "cpu", "view", "--serve", "--size", "320x200",
                        "--png", str(png)], capture_output=True, text=True, env=ENV, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:] + (data / "view-server.log").read_text()[-2000:]
    assert "eingebetteten Server" in r.stdout and png.stat().st_size > 10_000
    r = subprocess.run([TWIN, "--data-dir", str(tmp_path / "none"), "view", "--serve", "--png", str(png)],
                       capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 2 and "no local bundle" in r.stderr


@pytest.mark.window
def test_twin_view_writes_a_picture_and_a_real_window_under_xvfb(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    from PIL import Image

    png = tmp_path / "view.png"
    token = served.data / "admin-token.txt"
    r = subprocess.run([TWIN, "view", "--url", served.url, "--token-file", str(token), "--size", "480x300",
                        "--layer", "heat_stress", "--png", str(png)], capture_output=True, text=True, env=ENV,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert _near_colours(np.asarray(Image.open(png)), HEAT_STRESS.colours, 40) > 0.2
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is missing: apt-get install xvfb (the window half of this test needs it)")
    shot = tmp_path / "window.png"
    r = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", TWIN, "view", "--url", served.url,
                        "--size", "480x300", "--layer", "heat_stress", "--window-shot", str(shot)],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    # the on-screen widgets (layer list, tools, legend, hour bar) cover the window's edges
    assert _near_colours(np.asarray(Image.open(shot)), HEAT_STRESS.colours, 40) > 0.12



# --- a real window under Xvfb ---------------------------------------------------------------------------
class _Window:
    """``twin view`` in a window on its own Xvfb screen, driven by xdotool; its state file says what it did."""

    def __init__(self, served: WebServer, sid: str, tmp: Path) -> None:
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.xvfb.stdout is not None
        self.env = {**ENV, "DISPLAY": f":{self.xvfb.stdout.readline().decode().strip()}"}
        self.state_path = tmp / "state.json"
        token = tmp / "token.txt"
        token.write_text(served.planner_token)
        self.log = open(tmp / "window.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([TWIN, "view", "--url", served.url, "--scenario", sid, "--token-file", str(token),
                                      "--size", "480x300", "--state-file", str(self.state_path)],
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wid = ""
        self.wait(lambda s: s["shown_version"] >= 0, "first picture", 120)
        self.wid = self.xdo("search", "--sync", "--name", "landtwin").split()[0]
        self.xdo("windowfocus", "--sync", self.wid)

    def xdo(self, *args: str) -> str:
        r = subprocess.run(["xdotool", *args], capture_output=True, text=True, env=self.env, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def state(self) -> dict[str, Any]:
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
            if self.proc.poll() is not None or (s and s.get("closed")):
                break
            time.sleep(0.03)
        self.log.flush()
        raise AssertionError(f"window: no {what}; state {self.state()}; log {(self.log.name and Path(self.log.name).read_text()[-1500:])}")

    def move(self, x: float, y: float) -> None:
        self.xdo("mousemove", "--window", self.wid, str(int(x)), str(int(y)))

    def hover(self, x: float, y: float) -> dict[str, Any]:
        self.move(x, y)
        return self.wait(lambda s: s.get("hover") and s["hover"]["xy_px"] == [int(x), int(y)], "hover")["hover"]

    def click(self, x: float, y: float) -> None:
        self.move(x, y)
        self.xdo("click", "1")

    def key(self, name: str) -> None:
        self.xdo("key", "--window", self.wid, name)

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
def test_a_real_window_rotates_edits_with_every_tool_inspects_and_undoes(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.skip("Xvfb or xdotool missing: apt-get install xvfb xdotool (scripts/system-deps.sh)")
    sid = _fork(served, "Fenster")
    win = _Window(served, sid, tmp_path)
    try:
        cam0 = win.state()["camera"]
        win.move(240, 150)  # a drag orbits the camera
        win.xdo("mousedown", "1")
        for x in range(250, 330, 10):
            win.move(x, 150)
        win.xdo("mouseup", "1")
        win.wait(lambda s: s["camera"] != cam0, "rotation")
        # what lies where: hover over a grid of points
        ground, roofs, roads = [], [], {}
        for y in range(100, 230, 16):
            for x in range(110, 380, 18):
                h = win.hover(x, y)
                if h["building_id"] >= 0:
                    roofs.append((x, y, h["building_id"]))
                elif h["edge_index"] >= 0:
                    roads.setdefault(h["edge_index"], (x, y))
                elif h["ground"]:
                    ground.append((x, y))
            if len(ground) >= 4 and roofs and len(roads) >= 2:
                break
        assert len(ground) >= 4 and roofs and len(roads) >= 2, (len(ground), len(roofs), len(roads))
        (ea, ra), (eb, rb) = list(roads.items())[:2]
        corners = [xy for xy in ((150, 115), (330, 115), (240, 225), (170, 215), (320, 215), (240, 100))
                   if win.hover(*xy)["ground"]]  # a wide area on the district, around some streets
        assert len(corners) >= 3, corners
        # a roof point inside its roof (the points around it hit the same building), far on screen from
        # where the tree and the stop go: a new crown or a redrawn edge must not take the click
        by_distance = sorted(roofs, key=lambda r: -min((r[0] - gx) ** 2 + (r[1] - gy) ** 2 for gx, gy in ground[:2]))
        inside = [r for r in by_distance[:8] if all(win.hover(r[0] + dx, r[1] + dy)["building_id"] == r[2]
                                                    for dx, dy in ((5, 0), (-5, 0), (0, 5), (0, -5)))]
        far = (inside or by_distance)[0]
        plan = [("1", [ground[0]], "tree"), ("9", [ground[1]], "new_stop"), ("5", [far[:2]], "green_roof"),
                ("6", [ra], "road_closure"), ("7", [rb], "speed_limit"), ("8", [ground[0], ground[-1]], "bus_line"),
                ("0", corners[:3], "on_demand_zone")]
        for key, clicks, kind in plan:
            n = len(win.state()["requests"])
            win.key(key)
            for x, y in clicks:
                win.click(x, y)
            if len(clicks) > 1:
                win.key("Return")
            s = win.wait(lambda s, n=n: len(s["requests"]) > n and str(s["requests"][-1]) in {**s["applied"], **s["rejected"]},
                         f"edit {kind}", 120)
            got = s["applied"].get(str(s["requests"][-1]))
            assert got is not None and got["op"] == "add", (kind, s["rejected"])
            assert got["kind"] == kind
        on_server = served.api(f"/api/scenarios/{sid}/interventions", token=served.planner_token)
        kinds = [e["intervention"]["kind"] for e in on_server]
        assert kinds[-len(plan):] == [k for _, _, k in plan]
        # inspection: the clicked building's id and values
        win.key("i")
        win.click(*far[:2])
        s = win.wait(lambda s: s["pick"] is not None and s["pick"]["building_id"] >= 0, "inspection")
        assert s["pick"]["building_id"] == far[2] and f"Gebäude {far[2]}" in s["pick"]["lines"][0]
        assert s["pick"]["value"] is not None
        # undo takes the last edit away on the server
        n = len(s["requests"])
        win.key("z")
        s = win.wait(lambda s: len(s["requests"]) > n and str(s["requests"][-1]) in s["applied"], "undo")
        assert s["applied"][str(s["requests"][-1])]["cause"] == "undo"
        left = served.api(f"/api/scenarios/{sid}/interventions", token=served.planner_token)
        assert len(left) == len(on_server) - 1 and all(e["intervention"]["kind"] != "on_demand_zone"
                                                       for e in left[-len(plan) + 1:])
    finally:
        win.close()
