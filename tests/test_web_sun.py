"""The sun the viewers draw is the heat model's sun: the server sends the design day in its Welcome, and
the web viewer's own code (bundled from ``viewer/web/src``) lights the scene from exactly that sun."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import msgspec
import numpy as np
import pytest
from server_support import tiny_district
from webserver import browser, open_viewer, web_server  # noqa: F401  (fixtures)

import protocol as p
from geodata.design_day import DESIGN_DATE, design_day_sun
from geodata.weather import design_hot_day
from server.engines import design_day_info

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "viewer" / "web"
ESBUILD = WEB / "node_modules" / ".bin" / "esbuild"

pytestmark = pytest.mark.timeout(120)


def _welcome(design_day: p.DesignDay | None) -> p.Welcome:
    user = p.UserInfo(role="citizen", department="", name="", user_id="u")
    state = p.ScenarioState(scenario_id="s1", name="Plan", district="tiny", version=1, status="active",
                            kind="official", interventions=[])
    grid = p.GridInfo(rows=50, cols=50, cell_m=4.0, west_m=0.0, south_m=0.0)
    kw = {} if design_day is None else {"design_day": design_day}
    return p.Welcome(protocol=p.PROTOCOL_VERSION, session_id="x", user=user, can_edit=False, scenario=state,
                     grid=grid, presence=[], **kw)


def test_design_day_is_the_heat_models_day_and_sun() -> None:
    d = tiny_district()
    info = design_day_info(d)
    assert design_day_info(d) is info  # computed once per district
    w = design_hot_day()
    assert info.date == w.day.isoformat() == DESIGN_DATE.isoformat() and info.timezone == w.timezone
    assert info.utc_offset_h == 2.0  # summer time in July
    pytest.importorskip("taichi")
    from models.heat.engine import HeatEngine

    engine = HeatEngine(d)  # the sun the model casts its shadows with
    np.testing.assert_allclose(info.sun_azimuth_deg, engine.sun.azimuth_deg, atol=1e-3)
    np.testing.assert_allclose(info.sun_elevation_deg, engine.sun.elevation_deg, atol=1e-3)
    assert max(info.sun_elevation_deg) > 55 and min(info.sun_elevation_deg) < -10


def test_welcome_decodes_with_and_without_the_design_day() -> None:
    info = design_day_info(tiny_district())
    back = p.decode_server(p.encode(_welcome(info)))
    assert back.design_day == info
    old = p.decode_server(p.encode(_welcome(None)))  # a server without it
    assert old.design_day is None
    bad = dict(msgspec.to_builtins(info), sun_azimuth_deg=[0.0] * 23)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(bad, p.DesignDay)


def test_the_web_viewer_lights_the_scene_with_the_models_sun(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the README's set-up installs Node 20+)")
    if not ESBUILD.exists():
        pytest.skip("viewer/web/node_modules missing: run `make setup` (npm ci in viewer/web)")
    d = tiny_district()
    info = design_day_info(d)
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a_with.msgpack").write_bytes(p.encode(_welcome(info)))
    (frames / "b_without.msgpack").write_bytes(p.encode(_welcome(None)))
    bundle = tmp_path / "sun_check.mjs"
    subprocess.run([str(ESBUILD), "test/sun_check.ts", "--bundle", "--platform=node", "--format=esm",
                    f"--outfile={bundle}", "--log-level=warning"], cwd=WEB, check=True, timeout=60)
    lon, lat = d.frame.local_to_lonlat(np.array([100.0]), np.array([100.0]))
    out = json.loads(subprocess.run(["node", str(bundle), str(frames), str(lon[0]), str(lat[0]),
                                     f"{DESIGN_DATE.isoformat()}T12:00:00Z"],
                                    capture_output=True, text=True, check=True, timeout=60).stdout)
    got = out["a_with.msgpack"]
    assert got["azimuth"] == info.sun_azimuth_deg and got["elevation"] == info.sun_elevation_deg
    az, el = np.radians(info.sun_azimuth_deg), np.radians(info.sun_elevation_deg)
    expect = np.stack([np.sin(az) * np.cos(el), np.sin(el), -np.cos(az) * np.cos(el)], axis=1)  # x east, y up, z south
    np.testing.assert_allclose(got["direction"], expect, atol=1e-9)
    # without a design day the viewer's approximation for the same date stays within a degree of the model
    approx = out["b_without.msgpack"]
    model = design_day_sun(d)
    up = np.asarray(model.elevation_deg) > 5
    assert np.abs(np.asarray(approx["elevation"])[up] - np.asarray(model.elevation_deg)[up]).max() < 1.0
    daz = (np.asarray(approx["azimuth"])[up] - np.asarray(model.azimuth_deg)[up] + 180) % 360 - 180
    assert np.abs(daz).max() < 1.5


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_the_page_lights_the_district_with_the_design_day_of_its_welcome(browser, web_server) -> None:  # noqa: F811
    """In Chromium against ``twin serve``: the sun light stands where the model's sun stands at the hour shown."""
    from geodata.bundle import load_bundle

    expected = design_day_info(load_bundle(web_server.data / "districts" / "sample"))
    ctx, page, watch = open_viewer(browser, web_server.page_url(mode="citizen"))
    try:
        page.wait_for_function("__viewer.app.designDay !== null", timeout=30_000)
        got = page.evaluate("__viewer.app.designDay")
        assert got["date"] == expected.date and got["sun_azimuth_deg"] == expected.sun_azimuth_deg
        for hour in (9, 15):
            page.evaluate(f"__viewer.setHour({hour})")
            v = page.evaluate("(() => { const v = __viewer.view, s = v.sun.position, c = v.centre;"
                              " return [s.x - c.x, s.y - c.y, s.z - c.z]; })()")
            v = np.asarray(v) / np.linalg.norm(v)
            az, el = np.radians(expected.sun_azimuth_deg[hour]), np.radians(expected.sun_elevation_deg[hour])
            np.testing.assert_allclose(v, [np.sin(az) * np.cos(el), np.sin(el), -np.cos(az) * np.cos(el)], atol=1e-6)
        assert watch.errors == []
    finally:
        ctx.close()
