"""The desktop viewer against a real ``twin serve`` (a small sample district in a temporary data
folder): its protocol client, its heat layer arithmetic, offscreen pictures and a real window under Xvfb.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from server_support import free_port
from webserver import ROOT, WebServer, running_twin_serve

from geodata.interventions import Tree
from protocol import GridInfo
from viewer.desktop.client import ClientError, TwinClient
from viewer.desktop.layers import (
    UTCI_LEGEND,
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

TWIN = str(Path(sys.executable).with_name("twin"))
ENV = {**os.environ, "LANDTWIN_ARCH": "cpu", "PYTHONUNBUFFERED": "1", "XDG_RUNTIME_DIR": "/tmp"}


# --- layers: plain arrays ---------------------------------------------------------------------------
def test_utci_colours_follow_the_stress_classes_and_nan_is_transparent() -> None:
    vals = np.array([[0.0, 20.0, 30.0], [35.0, 40.0, np.nan]])
    rgba = field_rgba(vals, "utci_c")
    assert rgba.shape == (2, 3, 4) and rgba.dtype == np.uint8
    expect = [UTCI_LEGEND[0], UTCI_LEGEND[1], UTCI_LEGEND[2], UTCI_LEGEND[3], UTCI_LEGEND[4]]
    for k, e in enumerate(expect):
        assert tuple(rgba.reshape(-1, 4)[k, :3]) == e.rgb
    assert rgba[1, 2, 3] == 0 and (rgba.reshape(-1, 4)[:5, 3] > 0).all()
    # class edges: 26.0 is already moderate stress, 25.99 is not
    edge = field_rgba(np.array([[25.99, 26.0]]), "utci_c")
    assert tuple(edge[0, 0, :3]) == UTCI_LEGEND[1].rgb and tuple(edge[0, 1, :3]) == UTCI_LEGEND[2].rgb


def test_other_fields_use_a_ramp_over_their_range() -> None:
    vals = np.linspace(20.0, 50.0, 100).reshape(10, 10)
    rgba = field_rgba(vals, "air_temp_c").astype(int)
    assert (rgba[0, 0, 2] > rgba[0, 0, 0]) and (rgba[-1, -1, 0] > rgba[-1, -1, 2])  # cold blue, hot red
    leg = legend_for("air_temp_c", vals)
    assert len(leg) == 7 and all(a.hi_c == pytest.approx(b.lo_c) for a, b in zip(leg, leg[1:], strict=False))
    assert legend_for("utci_c") is UTCI_LEGEND
    bar = legend_image(UTCI_LEGEND, swatch_px=10, width_px=8)
    assert bar.shape == (60, 8, 4) and tuple(bar[5, 4, :3]) == UTCI_LEGEND[-1].rgb  # warmest on top
    with pytest.raises(ValueError):
        field_rgba(np.zeros(5))


def test_cells_round_trip_between_points_and_indices() -> None:
    grid = GridInfo(rows=4, cols=5, cell_m=2.0, west_m=10.0, south_m=20.0)
    assert cell_of_point(grid, 10.1, 27.9) == (0, 0)  # north-west corner: row 0
    assert cell_of_point(grid, 19.9, 20.1) == (3, 4)
    assert cell_of_point(grid, 9.9, 21.0) is None and cell_of_point(grid, 12.0, 28.1) is None
    assert cell_of_point(grid, float("nan"), 21.0) is None
    for row in range(4):
        for col in range(5):
            assert cell_of_point(grid, *cell_centre_local_m(grid, row, col)) == (row, col)
    f = np.arange(20, dtype=np.float32).reshape(4, 5)
    assert cell_value(f, 2, 3) == 13.0 and np.isnan(cell_value(f, 4, 0))
    assert hour_series({16: f + 1, 14: f}, 1, 1) == [(14, 6.0), (16, 7.0)]


def test_screen_rays_meet_the_ground_where_geometry_says() -> None:
    # orthographic projection (depth grows along the camera's -z), camera 10 m up looking straight down
    proj = np.diag([1.0, 1.0, -1.0, 1.0])
    cam = np.eye(4)
    cam[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]
    cam[:3, 3] = [3.0, 10.0, -4.0]
    origin, d = screen_ray(np.linalg.inv(proj), cam, (0.5, 0.25))
    assert np.allclose(d, [0, -1, 0])
    hit = ray_hits_plane(origin, d, 2.0)
    assert hit is not None and np.allclose(hit, [3.5, 2.0, -4.25])
    assert ray_hits_plane(origin, -d, 2.0) is None and ray_hits_plane(origin, np.array([1.0, 0, 0]), 2.0) is None


# --- a real server ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """``twin serve`` on a 0.5 km sample district with 4 m cells (built by ``twin sample``)."""
    data = tmp_path_factory.mktemp("desktop")
    subprocess.run([TWIN, "--data-dir", str(data), "sample", "--size-km", "0.5", "--cell", "4"], check=True,
                   env=ENV, cwd=ROOT, capture_output=True, timeout=120)
    with running_twin_serve(data) as server:
        yield server


@pytest.fixture(scope="module")
def client(served: WebServer) -> Iterator[TwinClient]:
    c = TwinClient(served.url, served.scenario_id, token=served.planner_token, role="planner")
    c.start()
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


def test_bad_server_address_is_one_clear_error() -> None:
    with pytest.raises(ClientError, match="Serveradresse"):
        TwinClient("ftp://x", "abc")
    r = subprocess.run([TWIN, "view", "--url", f"http://127.0.0.1:{free_port()}", "--png", "/tmp/never.png"],
                       capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 2 and "nicht erreichbar" in r.stderr and "not reachable" in r.stderr
    r = subprocess.run([TWIN, "view", "--size", "12xq", "--png", "/tmp/never.png"], capture_output=True, text=True,
                       env=ENV, timeout=60)
    assert r.returncode == 2 and "WxH" in r.stderr


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


def _heat_share(img: np.ndarray) -> float:
    """Share of pixels close to a UTCI heat stress colour."""
    rgb = img[:, :, :3].astype(int).reshape(-1, 1, 3)
    heat = np.array([e.rgb for e in UTCI_LEGEND[2:5]]).reshape(1, -1, 3)
    return float((np.abs(rgb - heat).sum(axis=2).min(axis=1) < 60).mean())


@pytest.mark.window
def test_offscreen_app_shows_the_heat_picks_cells_and_plants_trees(served: WebServer, client: TwinClient,
                                                                  tmp_path: Path) -> None:
    _need_adapter()
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp

    client.wait_field("utci_c", 15, timeout_s=120)
    app = DesktopApp(client, "sample", RenderCanvas(size=(640, 400)), screenshot_dir=tmp_path)
    img = app.render_offscreen()
    assert img.shape == (400, 640, 4) and float(img[:, :, :3].std()) > 20
    assert app.shown_version == client.version and _heat_share(img) > 0.15
    app.layer, app.drape.visible = "tmrt_c", False  # a field never received: tiles only, no heat colours
    assert _heat_share(app.render_offscreen()) < 0.03 and not app.drape.visible
    app.layer = "utci_c"
    # the canvas's event dicts, as a window hands them over: a click in the middle of the picture
    app.handle_event({"event_type": "pointer_down", "x": 320, "y": 200, "button": 1, "modifiers": ()})
    app.handle_event({"event_type": "pointer_up", "x": 321, "y": 200, "button": 1, "modifiers": ()})
    pick = app.pick
    assert pick is not None and pick.series and pick.series[-1][0] == 15
    f = client.field("utci_c", 15)
    assert f is not None and pick.value_c == pytest.approx(cell_value(f.values_c, pick.row, pick.col))
    app.handle_event({"event_type": "key_down", "key": "ArrowLeft", "modifiers": ()})  # to 14 h
    assert app.hour == 14
    client.wait_field("utci_c", 14, min_version=client.version, timeout_s=120)
    app.render_offscreen()
    assert app.shown_version == client.version and app.drape.visible
    pick = app.pick_at(320, 200)
    assert pick is not None and [h for h, _ in pick.series] == [14, 15]
    assert all(np.isfinite(v) for _, v in pick.series)
    before = client.version
    app.handle_event({"event_type": "key_down", "key": "t", "modifiers": ()})
    applied = client.wait_applied(app.tree_requests[-1])
    assert applied.scenario_version == before + 1 and applied.intervention is not None
    client.wait_field("utci_c", 14, min_version=applied.scenario_version, timeout_s=120)
    app.render_offscreen()
    assert app.shown_version == applied.scenario_version
    app.handle_event({"event_type": "key_down", "key": "s", "modifiers": ()})
    shots = list(tmp_path.glob("landtwin-*.png"))
    assert len(shots) == 1 and shots[0].stat().st_size > 10_000


@pytest.mark.window
def test_twin_view_writes_a_picture_and_a_real_window_under_xvfb(served: WebServer, tmp_path: Path) -> None:
    _need_adapter()
    from PIL import Image

    png = tmp_path / "view.png"
    token = served.data / "admin-token.txt"
    r = subprocess.run([TWIN, "view", "--url", served.url, "--token-file", str(token), "--size", "480x300",
                        "--png", str(png)], capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _heat_share(np.asarray(Image.open(png))) > 0.12
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is missing: apt-get install xvfb (the window half of this test needs it)")
    shot = tmp_path / "window.png"
    r = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", TWIN, "view", "--url", served.url,
                        "--size", "480x300", "--window-shot", str(shot)], capture_output=True, text=True, env=ENV,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _heat_share(np.asarray(Image.open(shot))) > 0.12
