"""Tiled runs served to the viewers: a window read over the API equals the COG's pixels; roles, budgets and
refusals like the other read endpoints."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from heat_fixtures import heat_district
from PIL import Image
from server_support import auth, make_app

from cli.main import main
from geodata.bundle import write_bundle
from models.heat.engine import HeatParams
from models.heat.tiled import run_tiled

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("srv")
    run_tiled(heat_district(160.0), root / "tiled" / "stadt1", hours=(10, 15), core_cells=40,
              params=HeatParams.default(shadow_max_reach_m=60.0, svf_radius_m=30.0))
    app, tokens = make_app(root)
    with TestClient(app) as client:
        yield client, tokens, root / "tiled" / "stadt1"


def _cog(folder, layer, band, r0, r1, c0, c1):
    with rasterio.open(folder / f"{layer}.tif") as src:
        return src.read(band)[r0:r1, c0:c1], src.transform, src.crs


def test_a_window_equals_the_cogs_pixels(served):
    client, tokens, folder = served
    r = client.get("/api/tiled/stadt1/utci_c/window.tif?row=10&col=25&rows=30&cols=41&hour=15",
                   headers=auth(tokens["planner"]))
    assert r.status_code == 200 and r.headers["content-type"] == "image/tiff"
    ref, t, crs = _cog(folder, "utci_c", 2, 10, 40, 25, 66)
    with rasterio.MemoryFile(r.content) as mem, mem.open() as ds:
        got = ds.read(1)
        assert ds.crs == crs and ds.transform.c == t.c + 25 * t.a and ds.transform.f == t.f + 10 * t.e
    assert got.shape == (30, 41) and np.array_equal(got, ref) and np.ptp(ref) > 0
    # sky view has one band and no hour; every other step averages the cells
    r = client.get("/api/tiled/stadt1/svf/window.tif?rows=80&cols=80&step=2")
    with rasterio.MemoryFile(r.content) as mem, mem.open() as ds:
        half = ds.read(1)
        assert ds.transform.a == 2 * t.a
    full, *_ = _cog(folder, "svf", 1, 0, 80, 0, 80)
    np.testing.assert_allclose(half, full.reshape(40, 2, 40, 2).mean(axis=(1, 3)), atol=1e-5)


def test_runs_listed_and_a_png_for_a_quick_look(served):
    client, _, _ = served
    runs = client.get("/api/tiled").json()
    assert [r["run"] for r in runs] == ["stadt1"] and runs[0]["hours"] == [10, 15]
    assert {"utci_c", "air_temp_c", "tmrt_c", "svf"} <= set(runs[0]["layers"])
    assert client.get("/api/tiled/stadt1").json()["rows"] == 80
    r = client.get("/api/tiled/stadt1/tmrt_c/window.png?rows=80&cols=60&hour=10")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (60, 80) and img.mode == "RGBA"


@pytest.mark.parametrize("url, status", [
    ("/api/tiled/nirgends/utci_c/window.tif?hour=15", 404),
    ("/api/tiled/stadt1/people/window.tif?hour=15", 404),
    ("/api/tiled/stadt1/utci_c/window.tif?hour=12", 422),
    ("/api/tiled/stadt1/utci_c/window.tif", 422),
    ("/api/tiled/stadt1/utci_c/window.tif?hour=15&rows=2000&cols=10", 422),
    ("/api/tiled/stadt1/utci_c/window.tif?hour=15&row=70&rows=20", 422),
    ("/api/tiled/..%2Fsecret/utci_c/window.tif?hour=15", 404),
    ("/api/tiled/stadt1/utci_c/window.png?hour=15&vmin=5&vmax=5", 422),
    ("/api/tiled/stadt1/utci_c/window.tif?hour=15&step=0", 422),
])
def test_bad_reads_are_refused_in_both_languages(served, url, status):
    client, tokens, _ = served
    r = client.get(url, headers=auth(tokens["planner"]))
    assert r.status_code == status, r.text
    if r.headers.get("content-type", "").startswith("application/json") and "message_de" in r.json():
        assert r.json()["message_de"] and r.json()["message_en"]


def test_anonymous_reads_count_against_the_read_budget(served):
    client, tokens, _ = served
    url = "/api/tiled/stadt1/air_temp_c/window.tif?rows=8&cols=8&hour=15"
    codes = [client.get(url).status_code for _ in range(200)]
    assert codes[0] == 200 and 429 in codes
    assert client.get(url, headers=auth(tokens["planner"])).status_code == 200


def test_twin_heat_tiles_run_is_served(served, capsys):
    """``twin heat-tiles NAME --run RUN`` writes where the server reads: listed, and its window equals its COG."""
    client, tokens, folder = served
    root = folder.parents[1]
    h = auth(tokens["planner"])  # the anonymous budget may be spent by the test before
    write_bundle(heat_district(120.0), root / "districts" / "klein", tiles=False)
    assert main(["heat-tiles", "klein", "--run", "klein-15", "--tile-cells", "32", "--data-dir", str(root),
                 "--json"]) == 0
    capsys.readouterr()
    assert [r["run"] for r in client.get("/api/tiled", headers=h).json()] == ["klein-15", "stadt1"]
    r = client.get("/api/tiled/klein-15/air_temp_c/window.tif?row=5&col=7&rows=40&cols=30&hour=15", headers=h)
    ref, *_ = _cog(root / "tiled" / "klein-15", "air_temp_c", 1, 5, 45, 7, 37)
    with rasterio.MemoryFile(r.content) as mem, mem.open() as ds:
        assert np.array_equal(ds.read(1), ref)
    assert main(["heat-tiles", "klein", "--run", "../weg", "--data-dir", str(root)]) == 2
    assert "/" in capsys.readouterr().err
