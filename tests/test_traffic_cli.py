"""``twin assign`` on Sioux Falls and ``twin traffic`` on the sample district, including bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_data

from cli.main import main
from geodata.tntp import read_flows


def _sf():
    return shared_data("tntp_siouxfalls", "SiouxFalls_net.tntp"), shared_data(
        "tntp_siouxfalls", "SiouxFalls_trips.tntp"
    )


def test_assign_sioux_falls_json(taichi_cpu, tmp_path, capsys) -> None:
    net, trips = _sf()
    flows = tmp_path / "flows.tntp"
    rc = main(
        [
            "assign",
            "--tntp-net",
            str(net),
            "--tntp-trips",
            str(trips),
            "--rgap",
            "1e-4",
            "--json",
            "--flows-out",
            str(flows),
        ]
    )
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(line)
    assert out["relative_gap"] <= 1e-4 and out["converged"] and out["iterations"] >= 1
    assert out["total_travel_time"] == pytest.approx(7_480_225.3, rel=1e-3)
    assert out["wall_time_s"] > 0
    a, b, vol, cost = read_flows(flows)
    assert a.size == 76 and float(vol @ cost) == pytest.approx(out["total_travel_time"], rel=1e-9)


def test_assign_bad_file_clear_error(taichi_cpu, tmp_path, capsys) -> None:
    net, _ = _sf()
    bad = tmp_path / "trips.tntp"
    bad.write_text("<NUMBER OF ZONES> 3\n<END OF METADATA>\nOrigin 1\n 2 : 5.0;\n")
    flows = tmp_path / "flows.tntp"
    rc = main(
        ["assign", "--tntp-net", str(net), "--tntp-trips", str(bad), "--json", "--flows-out", str(flows)]
    )
    assert rc == 2 and "zones" in capsys.readouterr().err and not flows.exists()


@pytest.fixture(scope="module")
def traffic_out(taichi_cpu, tmp_path_factory):
    out = tmp_path_factory.mktemp("traffic") / "run"
    scn = out.parent / "scenario.json"
    scn.write_text(json.dumps({"interventions": [{"kind": "road_closure", "id": "c", "edge_index": 5}]}))
    rc = main(
        ["traffic", "sample", "--sample-size-km", "0.5", "--scenario", str(scn), "--out", str(out), "--json"]
    )
    assert rc == 0
    return out


def test_traffic_writes_geojson_kpis_png(traffic_out) -> None:
    gj = json.loads((traffic_out / "links.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) > 10
    props = [f["properties"] for f in gj["features"]]
    closed = [p for p in props if p["edge_index"] == 5]
    assert closed and closed[0]["closed"] and closed[0]["flow_veh_h"] == 0.0
    assert max(p["flow_veh_h"] for p in props) > 0
    lon, lat = np.array(gj["features"][0]["geometry"]["coordinates"]).T
    assert (5 < lon).all() and (lon < 16).all() and (47 < lat).all() and (lat < 56).all()  # WGS84, Germany
    k = json.loads((traffic_out / "kpis.json").read_text())
    for key in (
        "vehicle_km",
        "vehicle_hours",
        "mean_travel_time_min",
        "co2_t",
        "nox_kg",
        "relative_gap",
        "iterations",
        "unserved_trips",
    ):
        assert key in k["kpis"]
    png = (traffic_out / "map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_traffic_bad_scenario_changes_nothing(taichi_cpu, tmp_path, capsys) -> None:
    scn = tmp_path / "bad.json"
    scn.write_text(json.dumps([{"kind": "road_closure", "id": "c", "edge_index": 99999}]))
    out = tmp_path / "run"
    rc = main(["traffic", "sample", "--sample-size-km", "0.5", "--scenario", str(scn), "--out", str(out)])
    assert rc == 2 and "does not exist" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [scn]
