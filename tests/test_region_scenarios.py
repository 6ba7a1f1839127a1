"""The region as a scenario subject: a scenario of ``region:<name>`` through the same scenario system as a
town's (create, edit, undo, fork, compare, comments, roles), its key figures from the region's access model
(checked against a direct evaluation), and no Taichi in the server's process for any of it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_DATA, shared_data
from fastapi.testclient import TestClient
from server_support import auth, make_app

from geodata.interventions import decode_intervention
from models.privacy import check_published
from models.region import build_region, write_region
from models.region.access import region_access
from models.region.scenario import evaluate, region_kpis

pytestmark = pytest.mark.timeout(300)

NAME = "burgenlandkreis"


@pytest.fixture(scope="module")
def region():
    shared_data("zensus2011_grid_burgenlandkreis")
    return build_region(SHARED_DATA)


@pytest.fixture(scope="module")
def base_kpis(region):
    return region_kpis(region_access(region))


@pytest.fixture
def app_tokens(tmp_path: Path, region):
    app, tokens = make_app(tmp_path)
    write_region(region, app.state.twin.settings.data, NAME)
    return app, tokens


def _ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    doc = r.json()
    assert check_published(doc) == [], "a person count 1-4 left the server"
    return doc


def _kpis(c: TestClient, sid: str, headers: dict | None = None) -> dict:
    doc = _ok(c.get(f"/api/scenarios/{sid}/results/kpis", headers=headers or {}))
    assert set(doc["kpis"]) == {"region"}
    return doc["kpis"]["region"]


def test_region_scenario_edit_undo_fork_compare_comment(app_tokens, region, base_kpis):
    app, tokens = app_tokens
    planner = auth(tokens["planner"])
    with TestClient(app) as c:
        # a citizen neither creates nor edits a region scenario
        r = c.post(f"/api/regions/{NAME}/scenarios", json={"name": "Bürger"})
        assert r.status_code == 403 and r.json()["message_de"] and r.json()["message_en"]
        a = _ok(c.post(f"/api/regions/{NAME}/scenarios", json={"name": "Kreis A"}, headers=planner), 201)
        assert a["district"] == f"region:{NAME}" and a["version"] == 0
        sid = a["scenario_id"]
        assert sid in [s["scenario_id"] for s in _ok(c.get("/api/scenarios", headers=planner))]
        listed = _ok(c.get(f"/api/scenarios?district=region:{NAME}", headers=planner))
        assert [s["scenario_id"] for s in listed] == [sid]
        assert _kpis(c, sid) == base_kpis  # public too: the region's figures need no simulation worker

        # a proposal's first stop added as an edit: the key figures change by its evaluated amount
        prop = _ok(c.get(f"/api/regions/{NAME}/proposals?budget=2&kind=stops"))
        stop = prop["interventions"][0]
        r = c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": stop})
        assert r.status_code == 403 and "ändern" in r.json()["message_de"]
        _ok(c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": stop}, headers=planner), 201)
        k1 = _kpis(c, sid, planner)
        expected = region_kpis(evaluate(region, [decode_intervention(stop)]))
        assert k1 == expected
        assert k1["deficit_65plus"] < base_kpis["deficit_65plus"]
        assert k1["share_served"] >= base_kpis["share_served"]

        # town-only edits and places outside the Kreis are refused, nothing is stored
        bad = [{"kind": "tree", "id": "t1", "xyz_local_m": [0.0, 0.0, 0.0]},
               {"kind": "new_stop", "id": "far", "xy_local_m": [-900000.0, 0.0]}]
        for item in bad:
            r = c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": item}, headers=planner)
            assert r.status_code == 422 and r.json()["message_de"] and r.json()["message_en"], r.text
        assert _ok(c.get(f"/api/scenarios/{sid}", headers=planner))["version"] == 1

        # fork into B and accept the zone proposal there: compare A/B shows the difference
        b = _ok(c.post(f"/api/scenarios/{sid}/fork", json={"name": "Kreis B"}, headers=planner), 201)
        bid = b["scenario_id"]
        assert b["district"] == f"region:{NAME}" and [e["intervention"]["id"] for e in b["interventions"]] == [stop["id"]]
        zones = _ok(c.get(f"/api/regions/{NAME}/proposals?budget=2&kind=zone"))
        r = c.post(f"/api/regions/{NAME}/proposals/accept", json={"scenario_id": bid, "budget": 2, "kind": "zone"})
        assert r.status_code == 403
        b2 = _ok(c.post(f"/api/regions/{NAME}/proposals/accept", json={"scenario_id": bid, "budget": 2, "kind": "zone"},
                        headers=planner))
        assert [e["intervention"]["kind"] for e in b2["interventions"]] == ["new_stop", "on_demand_zone", "on_demand_zone"]
        assert b2["version"] == b["version"] + 2  # one edit per zone
        kb = _kpis(c, bid, planner)
        objs = [decode_intervention(stop)] + [decode_intervention(z) for z in zones["interventions"]]
        assert kb == region_kpis(evaluate(region, objs))
        assert kb["deficit_65plus"] < k1["deficit_65plus"]
        cmp = _ok(c.get(f"/api/scenarios/{sid}/compare/{bid}", headers=planner))
        diff = cmp["difference"]["region"]
        assert diff["share_served"] == pytest.approx(kb["share_served"] - k1["share_served"], abs=1e-6)
        assert diff["deficit_65plus"] == kb["deficit_65plus"] - k1["deficit_65plus"] < 0
        # accepting into a scenario of another subject is refused
        town = _ok(c.post("/api/scenarios", json={"name": "Ort", "district": "tiny"}, headers=planner), 201)
        r = c.post(f"/api/regions/{NAME}/proposals/accept", json={"scenario_id": town["scenario_id"]}, headers=planner)
        assert r.status_code == 422

        # undo restores the figures of the empty scenario; redo brings the stop back
        _ok(c.post(f"/api/scenarios/{sid}/undo", headers=planner))
        assert _kpis(c, sid, planner) == base_kpis
        _ok(c.post(f"/api/scenarios/{sid}/redo", headers=planner))
        assert _kpis(c, sid, planner) == expected

        # comments: anyone, on a point inside the Kreis
        x, y = stop["xy_local_m"]
        body = {"scenario_version": 1, "xyz_local_m": [x, y, 0.0], "text": "Gute Stelle für eine Haltestelle"}
        com = _ok(c.post(f"/api/scenarios/{sid}/comments", json=body), 201)
        assert com["text"] == body["text"]
        assert [cm["text"] for cm in _ok(c.get(f"/api/scenarios/{sid}/comments"))] == [body["text"]]
        r = c.post(f"/api/scenarios/{sid}/comments", json={**body, "xyz_local_m": [-900000.0, 0.0, 0.0]})
        assert r.status_code == 422

        # the town's views of a scenario are not there for a region scenario (a clear 404, no crash)
        r = c.get(f"/api/scenarios/{sid}/exports/links.geojson", headers=planner)
        assert r.status_code == 404 and "Kreis-Szenario" in r.json()["message_de"]
        # the region subject must exist
        r = c.post("/api/regions/nowhere/scenarios", json={"name": "X"}, headers=planner)
        assert r.status_code == 404 and r.json()["message_en"]
        # nothing ran on the simulation worker for the region
        assert not any(e[0] in (sid, bid) for e in app.state.twin.service.executed)


def test_region_scenario_created_with_edits_validates_them(app_tokens):
    app, tokens = app_tokens
    planner = auth(tokens["planner"])
    with TestClient(app) as c:
        r = c.post(f"/api/regions/{NAME}/scenarios", headers=planner,
                   json={"name": "X", "interventions": [{"kind": "new_stop", "id": "s", "xy_local_m": [-900000.0, 0.0]}]})
        assert r.status_code == 422 and "Kreis" in r.json()["message_de"]
        r = c.post(f"/api/regions/{NAME}/scenarios", headers=planner,
                   json={"name": "X", "interventions": [{"kind": "new_stop", "id": "s", "xy_local_m": [0.0, 0.0]}] * 2})
        assert r.status_code == 422
        assert [s for s in _ok(c.get("/api/scenarios", headers=planner)) if s["district"].startswith("region:")] == []


_NO_TAICHI = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from fastapi.testclient import TestClient
    from server.app import create_app
    from server.settings import Settings

    data = Path(sys.argv[1])
    app = create_app(Settings(data=data, db_url=f"sqlite:///{data / 'twin.sqlite'}", arch="cpu"), engines=["costs"])
    app.state.twin.storage.add_token("region-planner-token-0123456789", role="planner", department="Plan", name="P")
    h = {"Authorization": "Bearer region-planner-token-0123456789"}
    with TestClient(app) as c:
        statuses = [c.get("/api/regions/burgenlandkreis/proposals?budget=2&kind=stops").status_code]
        sid = c.post("/api/regions/burgenlandkreis/scenarios", json={"name": "A"}, headers=h).json()["scenario_id"]
        statuses.append(c.post("/api/regions/burgenlandkreis/proposals/accept",
                               json={"scenario_id": sid, "budget": 2}, headers=h).status_code)
        statuses.append(c.get(f"/api/scenarios/{sid}/results/kpis").status_code)
    print(json.dumps({"statuses": statuses, "taichi": "taichi" in sys.modules,
                      "kernels": sorted(m for m in sys.modules if m.startswith("sim_kernels"))}))
""")


def test_region_proposals_and_scenarios_do_not_load_taichi(tmp_path: Path, region):
    write_region(region, tmp_path, NAME)
    out = subprocess.run([sys.executable, "-c", _NO_TAICHI, str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["statuses"] == [200, 200, 200]
    assert doc["taichi"] is False and doc["kernels"] == []


def test_build_with_osm_keeps_the_network_and_the_server_walks_along_it(tmp_path, capsys):
    """``twin region build --osm``: the extract's walking network in the bundle (its source in the manifest);
    the server's access figures then walk along its streets. A bad extract writes nothing."""
    from test_region_access import _street_grid

    from cli.main import main

    shared_data("zensus2011_grid_burgenlandkreis")
    data = tmp_path / "data"
    (tmp_path / "bad.osm").write_text("<osm><node", encoding="utf-8")
    assert main(["--data-dir", str(data), "region", "build", "bk", "--shared-data", str(SHARED_DATA),
                 "--osm", str(tmp_path / "bad.osm"), "--json"]) == 2
    err = capsys.readouterr().err
    assert "bad.osm" in err and "beschädigt" in err and "corrupt" in err
    assert not (data / "regions" / "bk").exists()
    osm = _street_grid(tmp_path, 676_000.0, 5_665_000.0, n=13, step=400.0)  # streets around Naumburg
    assert main(["--data-dir", str(data), "region", "build", "bk", "--shared-data", str(SHARED_DATA),
                 "--osm", str(osm), "--json"]) == 0
    capsys.readouterr()
    manifest = json.loads((data / "regions" / "bk" / "manifest.json").read_text(encoding="utf-8"))
    assert [s["key"] for s in manifest["sources"]][-1] == "osm" and "walk_network.npz" in manifest["files"]
    assert "OSM" in manifest["method"]["road_network"]
    app, _tokens = make_app(data)
    with TestClient(app) as c:
        acc = _ok(c.get("/api/regions/bk/access"))
    assert acc["assumptions"]["walk_distances"].startswith("OSM")
