"""``twin access``, ``twin optimise-stops`` and ``twin import-gtfs`` end to end on a generated bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from access_world import grid_district

from cli.main import main
from geodata.bundle import write_bundle
from geodata.interventions import decode_intervention

FIXTURE = Path(__file__).parent / "fixtures" / "gtfs_small"


@pytest.fixture(scope="module")
def data(tmp_path_factory, taichi_cpu) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_bundle(grid_district(n=9, n_stops=2, residents_per_building=8, seed=1), root / "districts" / "grid", tiles=False)
    return root


def test_access_writes_rasters_geojson_kpis_and_map(data, tmp_path, capsys) -> None:
    out = tmp_path / "acc"
    assert main(["--data-dir", str(data), "access", "grid", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert {"deficits.geojson", "stops.geojson", "kpis.json", "map.png", "time_doctor_min.tif"} <= set(names)
    with rasterio.open(out / "time_doctor_min.tif") as src:
        arr = src.read(1)
        assert src.crs.to_epsg() == 25832
        assert np.nanmax(arr) > 0 and np.isnan(arr).any()
    k = json.loads((out / "kpis.json").read_text())["kpis"]
    assert k["persons"] > 0
    fc = json.loads((out / "deficits.geojson").read_text())
    for f in fc["features"]:
        for key, v in f["properties"].items():
            if key.endswith("persons") or "_deficit_" in key:
                assert v is None or v == 0 or v >= 5
    # nothing person-level: no file has a row per person, no age column anywhere
    for p in out.iterdir():
        if p.suffix in (".json", ".geojson"):
            text = p.read_text()
            assert "age_y" not in text and "household" not in text
    assert "Personen / persons" in capsys.readouterr().out


def test_optimise_stops_writes_a_scenario_draft(data, tmp_path) -> None:
    out = tmp_path / "draft.json"
    assert main(["--data-dir", str(data), "optimise-stops", "grid", "--budget", "2", "--out", str(out)]) == 0
    draft = json.loads(out.read_text())
    assert draft["kind"] == "stops" and draft["method"] in ("milp", "greedy")
    assert set(draft["before"]) == set(draft["after"]) or not draft["interventions"]
    for iv in draft["interventions"]:
        decode_intervention(iv)
    # the draft is a scenario the access command accepts
    acc = tmp_path / "acc"
    scen = tmp_path / "scen.json"
    scen.write_text(json.dumps(draft["interventions"]))
    assert main(["--data-dir", str(data), "access", "grid", "--out", str(acc), "--scenario", str(scen)]) == 0


def test_import_gtfs_then_use_it(data, tmp_path) -> None:
    assert main(["--data-dir", str(data), "import-gtfs", str(FIXTURE), "--name", "small"]) == 0
    assert (data / "gtfs" / "small" / "stop_times.txt").is_file()
    out = tmp_path / "acc"
    assert main(["--data-dir", str(data), "access", "grid", "--out", str(out), "--gtfs", "small", "--hour", "7",
                 "--profile"]) == 0
    stops = json.loads((out / "stops.geojson").read_text())["features"]
    assert len(stops) == 3
    by_hour = json.loads((out / "kpis_by_hour.json").read_text())
    assert sorted(map(int, by_hour)) == list(range(5, 23))
    assert by_hour["7"] == json.loads((out / "kpis.json").read_text())["kpis"]


def test_bad_input_changes_nothing(data, tmp_path, capsys) -> None:
    out = tmp_path / "acc"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    assert main(["--data-dir", str(data), "access", "nowhere", "--out", str(out)]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"kind": "headway_change", "id": "h", "line_id": "nope", "headway_min": 10}]))
    assert main(["--data-dir", str(data), "access", "grid", "--out", str(out), "--scenario", str(bad)]) == 2
    zone = tmp_path / "zone.json"
    zone.write_text(json.dumps([{"kind": "on_demand_zone", "id": "z", "polygon_local_m": [[1, 1], [9, 1], [9, 9]]}]))
    assert main(["--data-dir", str(data), "access", "grid", "--out", str(out), "--scenario", str(zone)]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    feed = tmp_path / "feed"
    shutil.copytree(FIXTURE, feed)
    lines = (feed / "stop_times.txt").read_text().splitlines()
    (feed / "stop_times.txt").write_text("\n".join(x for x in lines if not x.startswith("R2_1,")) + "\n")
    assert main(["--data-dir", str(data), "import-gtfs", str(feed), "--name", "broken"]) == 2
    assert not (data / "gtfs" / "broken").exists()
    err = capsys.readouterr().err
    assert "existiert nicht" in err and "missing stop_times" in err and "keine Straße" in err
    assert not list(tmp_path.glob(".acc-*"))


def test_unreachable_services_become_null_in_json(data, tmp_path) -> None:
    scen = tmp_path / "close.json"
    # close every point of interest: no category can be reached, the outputs stay valid JSON
    import geodata.bundle as gb

    d = gb.load_bundle(data / "districts" / "grid")
    scen.write_text(json.dumps([{"kind": "facility", "id": f"c{i}", "action": "close", "poi_index": i}
                                for i in range(d.pois.xy_local_m.shape[0])]))
    out = tmp_path / "acc"
    assert main(["--data-dir", str(data), "access", "grid", "--out", str(out), "--scenario", str(scen)]) == 0
    k = json.loads((out / "kpis.json").read_text())
    assert k["kpis"]["mean_time_min_doctor"] is None and k["report"]


def test_real_stops_replace_the_district_stops(data, tmp_path) -> None:
    from conftest import shared_data

    csv_path = shared_data("burgenlandkreis_transit_stops_db", "hafas_stops_burgenlandkreis.csv")
    out = tmp_path / "acc"
    # the generated district's frame starts at 11.81 E, 51.15 N: Naumburg (Saale), which has real stops
    assert main(["--data-dir", str(data), "access", "grid", "--out", str(out), "--real-stops", str(csv_path)]) == 0
    stops = json.loads((out / "stops.geojson").read_text())["features"]
    assert stops and all(11.80 < f["geometry"]["coordinates"][0] < 11.83 for f in stops)
    assert all(f["properties"]["oev_class"] == "F" for f in stops)  # stops only, no timetables
    bad = tmp_path / "bad.csv"
    bad.write_text("stop_id\n1\n")
    assert main(["--data-dir", str(data), "access", "grid", "--out", str(tmp_path / "b"), "--real-stops", str(bad)]) == 2
