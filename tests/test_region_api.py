"""The region's REST API: every endpoint from a real region bundle, OpenAPI, privacy of every response."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_data
from fastapi.testclient import TestClient
from server_support import make_app

from models.privacy import check_published
from models.region import AGE_COLUMNS, build_region, write_region

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def region():
    shared_data("zensus2011_grid_burgenlandkreis")
    return build_region(SHARED_DATA)


@pytest.fixture
def client(tmp_path: Path, region):
    app, _tokens = make_app(tmp_path)
    write_region(region, app.state.twin.settings.data, "burgenlandkreis")
    with TestClient(app) as c:
        yield c


def _no_small_counts(doc) -> None:
    assert check_published(doc) == []


def test_region_endpoints(client):
    lst = client.get("/api/regions")
    assert lst.status_code == 200
    assert [r["name"] for r in lst.json()] == ["burgenlandkreis"]
    _no_small_counts(lst.json())
    info = client.get("/api/regions/burgenlandkreis").json()
    assert info["gemeinden"] == 33 and info["stops_in_district"] == 780 and info["population_2019"] % 5 == 0
    assert info["method"]["population"]["de"] and info["sources"]
    _no_small_counts(info)
    g = client.get("/api/regions/burgenlandkreis/gemeinden.geojson")
    assert g.status_code == 200 and g.headers["content-type"].startswith("application/geo+json")
    gj = g.json()
    assert len(gj["features"]) == 33
    props = gj["features"][0]["properties"]
    for k in ("ags", "name", "population_2019", *AGE_COLUMNS, "share_under18", "share_65plus", "share_80plus",
              "old_age_ratio", "deficit_65plus", "deficit_under18", "mean_walk_stop_m", "mean_hospital_km"):
        assert k in props
    lon, lat = gj["features"][0]["geometry"]["coordinates"][0][0][:2] if gj["features"][0]["geometry"]["type"] == "Polygon" \
        else gj["features"][0]["geometry"]["coordinates"][0][0][0][:2]
    assert 11 < lon < 13 and 50 < lat < 52
    _no_small_counts(gj)
    kreis_old_age = sum(f["properties"]["population_2019"] for f in gj["features"])
    assert abs(kreis_old_age - info["population_2019"]) <= 33 * 2.5 + 2.5
    for res in ("1km", "100m"):
        grid = client.get(f"/api/regions/burgenlandkreis/grid.geojson?res={res}").json()
        assert grid["features"] and grid["res"] == res
        _no_small_counts(grid)
        for f in grid["features"]:
            p = f["properties"]
            for c in (*AGE_COLUMNS, "population_2019", "deficit_65plus", "deficit_under18"):
                v = p[c]
                assert v is None or v == 0 or (v >= 5 and v % 5 == 0)
            assert p["suppressed"] == any(p[c] is None for c in (*AGE_COLUMNS, "population_2019", "deficit_65plus",
                                                                  "deficit_under18"))
        if res == "100m":
            assert len(grid["features"]) == 9419 and any(f["properties"]["suppressed"] for f in grid["features"])
    stops = client.get("/api/regions/burgenlandkreis/stops.geojson").json()
    assert len(stops["features"]) == 1010
    assert sum(f["properties"]["in_kreis"] for f in stops["features"]) == 780
    assert {f["properties"]["service_class"] for f in stops["features"]} <= set("ABCDEF")
    hosp = client.get("/api/regions/burgenlandkreis/hospitals.geojson").json()
    assert sum(f["properties"]["in_kreis"] for f in hosp["features"]) == 5
    places = client.get("/api/regions/burgenlandkreis/settlements.geojson").json()
    zeitz = [f for f in places["features"] if f["properties"]["name"] == "Zeitz"]
    assert len(zeitz) == 1 and zeitz[0]["properties"]["gemeinde"] == "Zeitz"
    _no_small_counts(places)
    tif = client.get("/api/regions/burgenlandkreis/grid.tif?res=100m&quantity=age_80_plus")
    assert tif.status_code == 200 and tif.headers["content-type"] == "image/tiff"
    from rasterio.io import MemoryFile

    with MemoryFile(tif.content) as mem, mem.open() as src:
        arr = src.read(1)
        assert src.crs.to_epsg() == 3035 and src.res == (100.0, 100.0)
    vals = arr[np.isfinite(arr)]
    assert vals.size > 1000 and ((vals == 0) | ((vals >= 5) & (vals % 5 == 0))).all()
    assert client.get("/api/regions/burgenlandkreis/grid.tif?quantity=secret").status_code == 422
    acc = client.get("/api/regions/burgenlandkreis/access").json()
    assert len(acc["gemeinden"]) == 33 and "kreis" in acc and acc["assumptions"]["deficit_max_walk_m"] == 600
    _no_small_counts(acc)


def test_region_proposals(client):
    r = client.get("/api/regions/burgenlandkreis/proposals?budget=3&kind=zone")
    assert r.status_code == 200
    doc = r.json()
    assert len(doc["features"]) == 3 and doc["summary"]["persons_covered"] > 0
    assert all(i["kind"] == "on_demand_zone" for i in doc["interventions"])
    _no_small_counts(doc)
    ev = client.post("/api/regions/burgenlandkreis/evaluate", json={"interventions": doc["interventions"]})
    assert ev.status_code == 200
    evj = ev.json()
    _no_small_counts(evj)
    assert evj["kpis_after"]["deficit_65plus"] < evj["kpis_before"]["deficit_65plus"]
    bad = client.post("/api/regions/burgenlandkreis/evaluate",
                      json={"interventions": [{"kind": "new_stop", "id": "s", "xy_local_m": [-900000.0, 0.0]}]})
    assert bad.status_code == 422 and "Kreis" in bad.json()["message_de"]
    bad = client.post("/api/regions/burgenlandkreis/evaluate", json={"interventions": [{"kind": "tree", "id": "t"}]})
    assert bad.status_code == 422
    s = client.get("/api/regions/burgenlandkreis/proposals?budget=2&kind=stops").json()
    assert len(s["features"]) == 2 and s["summary"]["persons_covered"] >= s["summary"]["greedy_persons_covered"]
    _no_small_counts(s)


def test_region_errors(client):
    for url in ("/api/regions/nothere", "/api/regions/nothere/access", "/api/regions/nothere/gemeinden.geojson"):
        r = client.get(url)
        assert r.status_code == 404 and r.json()["message_de"] and r.json()["message_en"]
    assert client.get("/api/regions/burgenlandkreis/grid.geojson?res=5m").status_code == 422
    assert client.get("/api/regions/burgenlandkreis/proposals?budget=0").status_code == 422
    assert client.get("/api/regions/burgenlandkreis/proposals?kind=line").status_code == 422
    assert client.get("/api/regions/..%2Fx").status_code in (404, 422)


def test_region_in_openapi(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for p in ("/api/regions", "/api/regions/{name}", "/api/regions/{name}/gemeinden.geojson",
              "/api/regions/{name}/grid.geojson", "/api/regions/{name}/stops.geojson",
              "/api/regions/{name}/hospitals.geojson", "/api/regions/{name}/access", "/api/regions/{name}/proposals",
              "/api/regions/{name}/evaluate", "/api/regions/{name}/settlements.geojson", "/api/regions/{name}/grid.tif"):
        assert p in paths, p


def test_anonymous_computations_are_budgeted(client):
    """Evaluating edits costs a computation: anonymous visitors get 429 once their budget of public reads is
    spent (a planner's token is not limited this way)."""
    body = {"interventions": []}
    codes = [client.post("/api/regions/burgenlandkreis/evaluate", json=body).status_code for _ in range(40)]
    assert codes[0] == 200
    assert 429 in codes, codes
    r = client.post("/api/regions/burgenlandkreis/evaluate", json=body)
    assert r.status_code == 429 and "Too many requests" in r.text
