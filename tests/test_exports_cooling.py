"""The buildings' cooling demand as GeoJSON: footprints in WGS84 with kWh/day of the scenario and of the
baseline, through the REST API with the real heat engine; refused with a reason where it is not computed."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_support import auth, make_app, tiny_district

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 5R1C of buildings without volume


def test_geojson_has_one_closed_wgs84_polygon_per_building_with_both_figures() -> None:
    import json

    from server.exports import buildings_cooling_geojson

    d = tiny_district()
    n = len(d.buildings.footprints)
    now = np.array([10.0, 0.0, 7.5, 3.25][:n])
    base = np.array([12.0, 0.0, 7.5, 3.0][:n])
    cooled = np.array([True, False, True, True][:n])
    fc = json.loads(buildings_cooling_geojson(d, now, base, cooled))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == n
    for i, f in enumerate(fc["features"]):
        ring = np.asarray(f["geometry"]["coordinates"][0], float)
        assert f["geometry"]["type"] == "Polygon" and (ring[0] == ring[-1]).all() and len(ring) >= 4
        assert ((ring[:, 0] > 11.7) & (ring[:, 0] < 11.9) & (ring[:, 1] > 51.1) & (ring[:, 1] < 51.2)).all()
        p = f["properties"]
        assert p["building_id"] == int(d.buildings.building_id[i]) and p["cooled"] == bool(cooled[i])
        assert p["cooling_kwh_day"] == now[i] and p["cooling_kwh_day_baseline"] == base[i]
        assert p["cooling_diff_kwh_day"] == pytest.approx(now[i] - base[i])
    with pytest.raises(ValueError):
        buildings_cooling_geojson(d, now[:-1], base)


def test_cooling_export_through_the_api_for_baseline_and_scenario(tmp_path) -> None:
    from server.engines import available_engines

    if "heat" not in available_engines():
        pytest.skip("heat engine not present")
    app, tokens = make_app(tmp_path, engines=["costs", "heat"])
    h = auth(tokens["planner"])
    with TestClient(app) as c:
        a = c.post("/api/scenarios", json={"name": "A", "district": "tiny"}, headers=h).json()["scenario_id"]
        r = c.get(f"/api/scenarios/{a}/exports/buildings_cooling.geojson", headers=h)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/geo+json")
        base = {f["properties"]["building_id"]: f["properties"] for f in r.json()["features"]}
        assert len(base) == 4
        for p in base.values():  # the baseline scenario is its own baseline
            assert p["cooling_kwh_day"] == pytest.approx(p["cooling_kwh_day_baseline"], abs=2e-3)
        kpis = c.get(f"/api/scenarios/{a}/results/kpis", headers=h).json()["kpis"]["heat"]
        assert sum(p["cooling_kwh_day"] for p in base.values()) == pytest.approx(kpis["cooling_demand_kwh_day"], rel=1e-3)
        assert any(p["cooling_kwh_day"] > 0 for p in base.values() if p["cooled"])
        # tall trees along the south side of the first building (20..60 m east, its south wall at y = 20 m)
        b = c.post(f"/api/scenarios/{a}/fork", json={"name": "B"}, headers=h).json()["scenario_id"]
        for i, x in enumerate((24.0, 32.0, 40.0, 48.0, 56.0)):
            r = c.post(f"/api/scenarios/{b}/interventions", headers=h, json={"intervention": {
                "kind": "tree", "id": f"t{i}", "xy_local_m": [x, 14.0], "height_m": 18.0, "crown_diameter_m": 9.0}})
            assert r.status_code in (200, 201), r.text
        fb = c.get(f"/api/scenarios/{b}/exports/buildings_cooling.geojson", headers=h).json()["features"]
        scen = {f["properties"]["building_id"]: f["properties"] for f in fb}
        first = int(tiny_district().buildings.building_id[0])
        assert scen[first]["cooling_kwh_day_baseline"] == pytest.approx(base[first]["cooling_kwh_day"], abs=2e-3)
        assert scen[first]["cooling_kwh_day"] < base[first]["cooling_kwh_day"]  # the trees shade its south facade
        assert scen[first]["cooling_diff_kwh_day"] < 0
        # the public reads the same export of the shown results
        assert c.get(f"/api/scenarios/{b}/exports/buildings_cooling.geojson").status_code == 200
        assert c.get("/api/scenarios/nope/exports/buildings_cooling.geojson", headers=h).status_code == 404


def test_cooling_export_is_refused_with_a_reason_on_large_districts(tmp_path) -> None:
    from server.app import create_app
    from server.settings import Settings

    big = tiny_district("gross", size_m=1010.0, cell_m=1.0)  # 1010 x 1010 cells: above the live limit
    settings = Settings(data=tmp_path, db_url=f"sqlite:///{tmp_path / 'twin.sqlite'}", arch="cpu")
    app = create_app(settings, districts=[big], engines=["costs"])
    app.state.twin.storage.add_token("p-token", role="planner", department="Umwelt", name="Anna")
    with TestClient(app) as c:
        sid = c.post("/api/scenarios", json={"name": "A", "district": "gross"}, headers=auth("p-token")).json()["scenario_id"]
        r = c.get(f"/api/scenarios/{sid}/exports/buildings_cooling.geojson", headers=auth("p-token"))
        assert r.status_code == 404
        j = r.json()
        assert "1.000.000" in j["message_de"] and "1,000,000" in j["message_en"] and "1.020.100" in j["message_de"]


def test_cooling_export_after_a_restart_is_computed_again_for_planners(tmp_path) -> None:
    """Results read back from storage keep no per-building arrays: a planner's export computes them once."""
    from server.engines import available_engines

    if "heat" not in available_engines():
        pytest.skip("heat engine not present")
    app, tokens = make_app(tmp_path, engines=["costs", "heat"])
    h = auth(tokens["planner"])
    with TestClient(app) as c:
        sid = c.post("/api/scenarios", json={"name": "A", "district": "tiny"}, headers=h).json()["scenario_id"]
        c.post(f"/api/scenarios/{sid}/interventions", headers=h, json={"intervention": {
            "kind": "tree", "id": "t1", "xy_local_m": [40.0, 12.0], "height_m": 18.0, "crown_diameter_m": 9.0}})
        first = c.get(f"/api/scenarios/{sid}/exports/buildings_cooling.geojson", headers=h).json()["features"]
    app, tokens = make_app(tmp_path, engines=["costs", "heat"])  # the same database: a restarted server
    with TestClient(app) as c:
        assert "cooling_kwh_day" not in c.app.state.twin.shown_results(sid, compute=False).outputs["heat"].buildings
        r = c.get(f"/api/scenarios/{sid}/exports/buildings_cooling.geojson", headers=h)
        assert r.status_code == 200, r.text
        again = r.json()["features"]
        assert len(again) == len(first) == 4
        for a, b in zip(again, first):
            pa, pb = a["properties"], b["properties"]
            assert pa["building_id"] == pb["building_id"] and pa["cooled"] == pb["cooled"]
            for k in ("cooling_kwh_day", "cooling_kwh_day_baseline", "cooling_diff_kwh_day"):
                assert pa[k] == pytest.approx(pb[k], abs=2e-3), k
        # the public reads stored results only (nothing is computed for it): it is told why there is nothing
        r = c.get(f"/api/scenarios/{sid}/exports/buildings_cooling.geojson")
        assert r.status_code == 404 and "gespeicherte" in r.json()["message_de"]
