"""The REST API through FastAPI's TestClient: scenarios, interventions, comments, results, exports, tiles."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_support import auth, make_app, tiny_district

TREE = {"kind": "tree", "id": "t1", "xy_local_m": [80.0, 80.0]}


@pytest.fixture
def client(tmp_path: Path):
    app, tokens = make_app(tmp_path, kiosk_idle_s=0.6)
    with TestClient(app) as c:
        c.tokens = tokens  # type: ignore[attr-defined]
        c.twin = app.state.twin  # type: ignore[attr-defined]
        yield c


def _scenario(c, name: str = "A", who: str = "planner") -> str:
    r = c.post("/api/scenarios", json={"name": name, "district": "tiny"}, headers=auth(c.tokens[who]))
    assert r.status_code == 201, r.text
    return r.json()["scenario_id"]


def test_health_and_openapi_are_complete(client) -> None:
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["districts"] == ["tiny"] and h["protocol"] == 1
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    schemas = spec["components"]["schemas"]
    assert "Intervention" in schemas and "Tree" in schemas and "ErrorOut" in schemas
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            assert any(code.startswith("2") for code in op["responses"]), f"{method} {path}"
            assert "422" in op["responses"], f"{method} {path} documents no validation error"


def test_scenario_lifecycle(client) -> None:
    h = auth(client.tokens["planner"])
    sid = _scenario(client)
    assert client.get(f"/api/scenarios/{sid}").json()["version"] == 0
    r = client.post(f"/api/scenarios/{sid}/interventions", json={"intervention": TREE}, headers=h)
    assert r.status_code == 201 and r.json()["scenario_version"] == 1 and r.json()["revision"] == 1
    fork = client.post(f"/api/scenarios/{sid}/fork", json={"name": "B"}, headers=auth(client.tokens["planner2"])).json()
    assert fork["parent_id"] == sid and fork["kind"] == "draft"
    assert [e["intervention"]["id"] for e in fork["interventions"]] == ["t1"]
    r = client.patch(f"/api/scenarios/{sid}", json={"name": "A neu"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "A neu"
    listed = {s["scenario_id"] for s in client.get("/api/scenarios?district=tiny").json()}
    assert listed == {sid, fork["scenario_id"]}
    client.patch(f"/api/scenarios/{sid}", json={"status": "archived"}, headers=h)
    assert sid not in {s["scenario_id"] for s in client.get("/api/scenarios").json()}
    assert sid in {s["scenario_id"] for s in client.get("/api/scenarios?include_archived=true").json()}
    r = client.post(f"/api/scenarios/{sid}/interventions", json={"intervention": {**TREE, "id": "t9"}}, headers=h)
    assert r.status_code == 403 and r.json()["error"] == "archived"
    # another department may not rename
    r = client.patch(f"/api/scenarios/{fork['scenario_id']}", json={"name": "x"}, headers=h)
    assert r.status_code == 403


def test_stale_revision_gets_409_with_current_state_and_changes_nothing(client) -> None:
    sid = _scenario(client)
    h1, h2 = auth(client.tokens["planner"]), auth(client.tokens["planner2"])
    client.post(f"/api/scenarios/{sid}/interventions", json={"intervention": TREE}, headers=h1)
    r = client.put(f"/api/scenarios/{sid}/interventions/t1",
                   json={"intervention": {**TREE, "height_m": 20.0}, "base_revision": 1}, headers=h1)
    assert r.status_code == 200 and r.json()["revision"] == 2
    r = client.put(f"/api/scenarios/{sid}/interventions/t1",
                   json={"intervention": {**TREE, "height_m": 5.0}, "base_revision": 1}, headers=h2)
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "conflict" and body["current"]["revision"] == 2
    assert body["current"]["intervention"]["height_m"] == 20.0 and "Umwelt" in body["message_de"]
    assert client.get(f"/api/scenarios/{sid}").json()["version"] == 2
    r = client.delete(f"/api/scenarios/{sid}/interventions/t1?base_revision=2", headers=h2)
    assert r.status_code == 200 and r.json()["op"] == "remove"
    # undo and redo are per user: planner 2 undoes the removal
    assert client.post(f"/api/scenarios/{sid}/undo", headers=h2).json()["op"] == "add"
    assert client.post(f"/api/scenarios/{sid}/redo", headers=h2).json()["op"] == "remove"
    assert client.post(f"/api/scenarios/{sid}/redo", headers=h2).status_code == 422


@pytest.mark.parametrize("bad", [
    {"kind": "tree", "id": "t1", "xy_local_m": [5000.0, 80.0]},  # outside the district
    {"kind": "park", "id": "p", "polygon_local_m": [[0, 0], [10, 10], [10, 0], [0, 10]]},  # self-intersecting
    {"kind": "park", "id": "p", "polygon_local_m": [[0, 0], [10, 10]]},  # too few vertices
    {"kind": "unseal", "id": "u", "polygon_local_m": [[i % 100, i // 100] for i in range(600)]},  # too many
    {"kind": "tree", "id": "t1", "xy_local_m": [80.0, 80.0], "height_m": -3},
    {"kind": "rocket", "id": "r"},
    {"kind": "green_roof", "id": "g", "building_id": 99},  # no such building
    {"kind": "speed_limit", "id": "s", "edge_index": 40},  # no such road
])
def test_bad_interventions_get_422_in_german_and_english_and_change_nothing(client, bad) -> None:
    sid = _scenario(client)
    r = client.post(f"/api/scenarios/{sid}/interventions", json={"intervention": bad}, headers=auth(client.tokens["planner"]))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["message_de"] and body["message_en"] and body["message_de"] != body["message_en"]
    assert client.get(f"/api/scenarios/{sid}").json()["version"] == 0
    assert client.twin.storage.count_edits(sid) == 0


def test_unknown_token_and_missing_scenario(client) -> None:
    r = client.get("/api/scenarios", headers=auth("nope"))
    assert r.status_code == 401 and r.json()["error"] == "unauthorised"
    r = client.get("/api/scenarios/abc123")
    assert r.status_code == 404 and "existiert nicht" not in r.json()["message_en"]


def test_comments_votes_and_moderation(client) -> None:
    sid = _scenario(client)
    r = client.post(f"/api/scenarios/{sid}/comments", json={
        "scenario_version": 0, "xyz_local_m": [100, 100, 152], "kind": "idea", "text": "Bitte Bäume am Markt",
        "email": "a@b.de"})
    assert r.status_code == 201
    c = r.json()
    assert "email" not in c and c["votes"] == 0
    # one vote per visitor (the server's cookie), whatever key the client sends
    for new_visitor, key in ((True, "browser-aaaa"), (False, "browser-bbbb"), (True, "browser-bbbb")):
        if new_visitor:
            client.cookies.clear()
        r = client.post(f"/api/comments/{c['comment_id']}/vote", json={"value": 1, "voter_key": key})
    assert r.json()["votes"] == 2
    r = client.post(f"/api/scenarios/{sid}/comments", json={
        "scenario_version": 7, "xyz_local_m": [1, 1, 1], "text": "x"})
    assert r.status_code == 422
    r = client.post(f"/api/scenarios/{sid}/comments", json={
        "scenario_version": 0, "xyz_local_m": [900, 1, 1], "text": "x"})
    assert r.status_code == 422
    assert client.patch(f"/api/comments/{c['comment_id']}", json={"hidden": True}).status_code == 403
    r = client.patch(f"/api/comments/{c['comment_id']}", json={"hidden": True, "answer": "Geplant"},
                     headers=auth(client.tokens["planner"]))
    assert r.status_code == 200 and r.json()["answer"] == "Geplant"
    assert client.get(f"/api/scenarios/{sid}/comments").json() == []
    assert len(client.get(f"/api/scenarios/{sid}/comments", headers=auth(client.tokens["planner"])).json()) == 1


def test_kpis_csv_and_compare(client) -> None:
    h = auth(client.tokens["planner"])
    a = _scenario(client, "A")
    b = client.post(f"/api/scenarios/{a}/fork", json={"name": "B"}, headers=h).json()["scenario_id"]
    client.post(f"/api/scenarios/{b}/interventions", json={"intervention": TREE}, headers=h)
    client.post(f"/api/scenarios/{b}/interventions", json={"intervention": {**TREE, "id": "t2"}}, headers=h)
    k = client.get(f"/api/scenarios/{b}/results/kpis").json()
    assert k["scenario_version"] == 2 and k["kpis"]["costs"]["investment_eur"] == 7000.0
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/scenarios/{b}/exports/kpis.csv").text)))
    assert {"scenario_id", "scenario_version", "engine", "kpi", "value"} <= set(rows[0])
    assert any(r["kpi"] == "investment_eur" and float(r["value"]) == 7000.0 for r in rows)
    cmp_ = client.get(f"/api/scenarios/{a}/compare/{b}").json()
    assert cmp_["difference"]["costs"]["investment_eur"] == 7000.0
    assert cmp_["a"]["kpis"]["costs"]["investment_eur"] == 0.0


def test_geojson_exports_are_wgs84(client) -> None:
    sid = _scenario(client)
    h = auth(client.tokens["planner"])
    client.post(f"/api/scenarios/{sid}/interventions", json={"intervention": TREE}, headers=h)
    client.post(f"/api/scenarios/{sid}/interventions", json={"intervention": {
        "kind": "park", "id": "p1", "polygon_local_m": [[10, 10], [50, 10], [50, 50]]}}, headers=h)
    client.post(f"/api/scenarios/{sid}/comments", json={"scenario_version": 2, "xyz_local_m": [10, 10, 150], "text": "gut"})
    for what, n in (("interventions", 2), ("comments", 1), ("links", 4), ("stops", 2)):
        r = client.get(f"/api/scenarios/{sid}/exports/{what}.geojson")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
        fc = r.json()
        assert fc["type"] == "FeatureCollection" and len(fc["features"]) == n
        for f in fc["features"]:
            coords = np.asarray(f["geometry"]["coordinates"], dtype=object).ravel().tolist()
            flat = np.asarray(json.loads(json.dumps(f["geometry"]["coordinates"])), dtype=float).reshape(-1, 2)
            assert coords and np.all((flat[:, 0] > 11.7) & (flat[:, 0] < 11.9) & (flat[:, 1] > 51.1) & (flat[:, 1] < 51.2))
    park = [f for f in client.get(f"/api/scenarios/{sid}/exports/interventions.geojson").json()["features"] if f["properties"]["id"] == "p1"][0]
    assert park["geometry"]["type"] == "Polygon" and park["geometry"]["coordinates"][0][0] == park["geometry"]["coordinates"][0][-1]


def test_field_geotiff_round_trips_with_crs_and_transform(tmp_path: Path) -> None:
    import rasterio
    from rasterio.io import MemoryFile

    from server.exports import field_geotiff

    d = tiny_district()
    vals = np.linspace(20, 40, d.grid.rows * d.grid.cols, dtype=np.float32).reshape(d.grid.shape)
    vals[0, 0] = np.nan
    with MemoryFile(field_geotiff(d, vals, name="utci_c", unit="degC")) as mem, mem.open() as src:
        assert src.crs == rasterio.crs.CRS.from_epsg(d.frame.epsg)
        assert src.transform.c == pytest.approx(d.frame.origin_e_m) and src.transform.a == d.grid.cell_m
        got = src.read(1)
        assert np.isnan(got[0, 0]) and np.allclose(got[1:], vals[1:])


def test_tiles_are_served_from_the_bundle(client) -> None:
    import trimesh

    tiles = client.twin.districts.tiles_dir("tiny")
    tiles.mkdir(parents=True)
    glb = trimesh.creation.box(extents=(1, 2, 3)).export(file_type="glb")
    (tiles / "0_0.glb").write_bytes(glb)
    (tiles / "tileset.json").write_text(json.dumps({"asset": {"version": "1.1"}, "geometricError": 100,
                                                     "root": {"content": {"uri": "tiles/0_0.glb"}}}))
    r = client.get("/api/districts/tiny/tileset.json")
    assert r.status_code == 200 and r.json()["asset"]["version"] == "1.1"
    r = client.get("/api/districts/tiny/tiles/0_0.glb")
    assert r.status_code == 200 and r.content == glb and r.headers["content-type"] == "model/gltf-binary"
    assert client.get("/api/districts/tiny/tiles/..%2Fsecret.glb").status_code in (404, 422)
    assert client.get("/api/districts/tiny/tiles/missing.glb").status_code == 404
    assert client.get("/api/districts/nowhere/tileset.json").status_code == 404
    assert client.get("/api/districts").json()[0]["has_tiles"] is True


def test_kiosk_sandbox_is_editable_and_resets_after_inactivity(client) -> None:
    sid = _scenario(client)
    assert client.post(f"/api/scenarios/{sid}/sandbox", headers={"X-Landtwin-Role": "kiosk"}).status_code == 403
    token = client.post("/api/tokens", json={"role": "kiosk", "name": "Rathaus"}, headers=auth(client.tokens["admin"])).json()["token"]
    kiosk = auth(token)
    sb = client.post(f"/api/scenarios/{sid}/sandbox", headers=kiosk).json()
    assert sb["kind"] == "sandbox" and sb["parent_id"] == sid
    r = client.post(f"/api/scenarios/{sid}/interventions", json={"intervention": TREE}, headers=kiosk)
    assert r.status_code == 403
    r = client.post(f"/api/scenarios/{sb['scenario_id']}/interventions", json={"intervention": {**TREE, "id": "k"}}, headers=kiosk)
    assert r.status_code == 201
    twin = client.twin
    twin.hub.touch(sb["scenario_id"])
    assert len(client.get(f"/api/scenarios/{sb['scenario_id']}").json()["interventions"]) == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not client.get(f"/api/scenarios/{sb['scenario_id']}").json()["interventions"]:
            break
        time.sleep(0.2)
    assert client.get(f"/api/scenarios/{sb['scenario_id']}").json()["interventions"] == []


def test_serve_command_refuses_a_missing_district_and_a_bad_database(tmp_path: Path, capsys) -> None:
    from cli.main import main

    assert main(["--data-dir", str(tmp_path), "serve", "--district", "nirgendwo"]) == 2
    err = capsys.readouterr().err
    assert "nicht gefunden" in err and "not found" in err
    folder = tmp_path / "districts" / "tiny"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    assert main(["--data-dir", str(tmp_path), "serve", "--db", "nosuchdb://x", "--port", "1"]) == 2
    assert "database" in capsys.readouterr().err


def test_field_geotiff_and_difference_through_the_api_with_the_heat_engine(tmp_path: Path) -> None:
    import rasterio
    from rasterio.io import MemoryFile

    from server.engines import available_engines

    if "heat" not in available_engines():
        pytest.skip("heat engine not present")
    app, tokens = make_app(tmp_path, engines=["costs", "heat"])
    h = auth(tokens["planner"])
    with TestClient(app) as c:
        a = _scenario_with(c, h)
        b = c.post(f"/api/scenarios/{a}/fork", json={"name": "B"}, headers=h).json()["scenario_id"]
        for i, xy in enumerate(([70, 70], [80, 70], [90, 70], [70, 80], [80, 90])):
            c.post(f"/api/scenarios/{b}/interventions", json={"intervention": {"kind": "tree", "id": f"t{i}", "xy_local_m": xy,
                                                                            "height_m": 15, "crown_diameter_m": 10}}, headers=h)
        r = c.get(f"/api/scenarios/{b}/exports/fields/utci_c.tif?hour=15", headers=h)  # computed for a planner
        assert r.status_code == 200 and r.headers["content-type"] == "image/tiff"
        with MemoryFile(r.content) as mem, mem.open() as src:
            utci = src.read(1)
            assert src.crs == rasterio.crs.CRS.from_epsg(25832) and utci.shape == (50, 50)
            assert 15.0 < float(np.nanmean(utci)) < 60.0
        r = c.get(f"/api/scenarios/{a}/compare/{b}/fields/utci_c.tif?hour=15", headers=h)
        with MemoryFile(r.content) as mem, mem.open() as src:
            diff = src.read(1)
        assert float(np.nanmin(diff)) < -0.5  # shade of the new trees cools
        assert c.get(f"/api/scenarios/{a}/compare/{b}", headers=h).json()["difference"]["heat"]["utci_mean_c"] < 0
        assert c.get(f"/api/scenarios/{b}/exports/fields/nope_c.tif", headers=h).status_code == 404


def _scenario_with(c, h) -> str:
    r = c.post("/api/scenarios", json={"name": "A", "district": "tiny"}, headers=h)
    assert r.status_code == 201
    return r.json()["scenario_id"]
