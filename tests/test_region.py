"""The region built from the real open data: counts, sums, the bundle, the CLI and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA, shared_data

from geodata.sources import DataError
from models.privacy import check_published
from models.region import AGE_COLUMNS, build_region, load_region, region_names, write_region
from models.region.build import SOURCES


@pytest.fixture(scope="module")
def region():
    shared_data("zensus2011_grid_burgenlandkreis")
    return build_region(SHARED_DATA)


def _destatis_total() -> float:
    df = pd.read_csv(shared_data("demography_burgenlandkreis", "destatis_12411-0017_kreise_altersgruppen_2019-12-31.csv"),
                     sep=";", dtype=str)
    return float(df[df["Schlüssel"] == "15084"]["Insgesamt"].iloc[0])


def test_region_counts(region):
    assert len(region.gemeinden) == 33
    assert region.gemeinden["ags"].str.match(r"^15084\d{3}$").all()
    assert region.crs == "EPSG:25832"
    total = region.gemeinden["population_2019"].sum()
    assert abs(total - _destatis_total()) / _destatis_total() < 0.005
    assert int(region.stops["in_kreis"].sum()) == 780
    assert int(region.hospitals["in_kreis"].sum()) == 5
    # the Zensus SOURCE.md states 9,419 cells inside the VG5000 outline
    assert len(region.cells) == 9419


def test_gemeinden_add_up_to_kreis(region):
    g = region.gemeinden
    cells = region.cells
    for col in AGE_COLUMNS:
        assert g[col].sum() == pytest.approx(cells[col].sum(), rel=1e-12)
        assert (cells[col] >= 0).all()
    assert np.allclose(g[list(AGE_COLUMNS)].sum(axis=1), g["population_2019"])
    by_cells = cells.groupby("ags")[list(AGE_COLUMNS)].sum().sum(axis=1)
    assert np.allclose(g.set_index("ags")["population_2019"].loc[by_cells.index], by_cells)
    assert set(cells["ags"]) <= set(g["ags"])
    # the Kreis area is 1413.75 km² officially; VG5000 is generalised (a few % off)
    assert abs(g["area_km2"].sum() - 1413.75) / 1413.75 < 0.03


def test_age_groups_match_2019_table(region):
    targets = region.manifest["method"]["population"]["kreis_targets_2019"]
    for col in AGE_COLUMNS:
        assert region.cells[col].sum() == pytest.approx(targets[col], rel=1e-9)
    # 65+ of the Destatis table: 50,640 (SOURCE.md)
    assert region.cells[["age_65_79", "age_80_plus"]].to_numpy().sum() == pytest.approx(50640, rel=1e-9)


def test_settlements_named_after_places(region):
    names = set(region.settlements["settlement"])
    for town in ("Naumburg (Saale)", "Weißenfels", "Zeitz", "Hohenmölsen", "Bad Kösen (Naumburg (Saale))"):
        assert town in names
    assert region.settlements["settlement"].is_unique
    big = region.settlements.sort_values("persons").iloc[-1]
    assert big["settlement"] == "Weißenfels"
    assert set(region.cells["settlement"]) == names


def test_stop_classes_estimated(region):
    st = region.stops
    assert set(st["service_class"]) <= set("ABCDEF")
    assert st["class_estimated"].all()
    hbf = st[st["name"] == "Naumburg(Saale)Hbf"]
    assert len(hbf) == 1 and hbf["service_class"].iloc[0] == "B"  # long-distance hub: category III
    on_demand_only = st[st["products"] == "taxi"]
    assert len(on_demand_only) and (on_demand_only["service_class"] == "F").all()


def test_bundle_round_trip(region, tmp_path):
    path = write_region(region, tmp_path, "bk")
    assert region_names(tmp_path) == ["bk"]
    m = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert m["format"] == "landtwin-region" and len(m["content_hash"]) == 64
    assert {s["key"] for s in m["sources"]} == set(SOURCES)
    assert all(s["licence"] for s in m["sources"])
    assert "de" in m["method"]["population"] and "en" in m["method"]["population"]
    back = load_region("bk", tmp_path, verify=True)
    assert back.info() == {**region.info(), "name": "bk"}
    for attr in ("gemeinden", "cells", "stops", "hospitals", "settlements"):
        pd.testing.assert_frame_equal(getattr(back, attr), getattr(region, attr), check_exact=False, rtol=1e-9)
    assert back.kreis_outline.symmetric_difference(region.kreis_outline).area < 1e-3 * region.kreis_outline.area
    # nothing temporary left beside it
    assert [p.name for p in (tmp_path / "regions").iterdir()] == ["bk"]


def test_damaged_bundle_is_refused(region, tmp_path):
    path = write_region(region, tmp_path, "bk")
    (path / "stops.csv").write_text("garbage", encoding="utf-8")
    with pytest.raises(DataError, match="Prüfsumme|checksum"):
        load_region("bk", tmp_path, verify=True)
    with pytest.raises(DataError):
        load_region("missing", tmp_path)


# --- bad input --------------------------------------------------------------------------------------

@pytest.fixture()
def shared_copy(tmp_path) -> Path:
    """A data folder of links to the real files, so one of them can be replaced."""
    shared_data("zensus2011_grid_burgenlandkreis")
    root = tmp_path / "shared"
    for rel, _ in SOURCES.values():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(SHARED_DATA / rel)
    return root


def _replace(root: Path, key: str, text: str) -> Path:
    p = root / SOURCES[key][0]
    p.unlink()
    p.write_text(text, encoding="utf-8")
    return p


def _gemeinden_text(**change) -> str:
    doc = json.loads((SHARED_DATA / SOURCES["gemeinden"][0]).read_text(encoding="utf-8"))
    doc.update(change)
    return json.dumps(doc)


@pytest.mark.parametrize("case", ["missing", "corrupt", "unknown_crs", "metres_as_degrees", "bad_zensus", "negative_zensus",
                                  "stops_columns", "kreis_missing_in_table"])
def test_bad_input_gets_a_clear_message(shared_copy, case):
    if case == "missing":
        (shared_copy / SOURCES["hospitals"][0]).unlink()
    elif case == "corrupt":
        _replace(shared_copy, "gemeinden", _gemeinden_text()[:5000])
    elif case == "unknown_crs":
        _replace(shared_copy, "gemeinden", _gemeinden_text(crs={"type": "name", "properties": {"name": "EPSG:999999"}}))
    elif case == "metres_as_degrees":
        _replace(shared_copy, "gemeinden", _gemeinden_text(crs={"type": "name", "properties": {"name": "EPSG:25832"}}))
    elif case == "bad_zensus":
        _replace(shared_copy, "zensus_100m", "cell_id,x_3035,y_3035,age_under18\n1,2,3,4\n")
    elif case == "negative_zensus":
        _replace(shared_copy, "zensus_100m", "cell_id,x_3035,y_3035,lon,lat,age_under18,age_18_29,age_30_49,age_50_64,"
                 "age_65plus\nc,4440000,3100000,11.9,51.1,-3,0,0,0,0\n")
    elif case == "stops_columns":
        _replace(shared_copy, "stops", "stop_id,stop_name\n1,a\n")
    elif case == "kreis_missing_in_table":
        _replace(shared_copy, "kreis_ages_2019", "Schlüssel;Name;unter 3 Jahre;Insgesamt\n1001;X;5;5\n")
    with pytest.raises(DataError) as exc:
        build_region(shared_copy)
    msg = str(exc.value)
    assert " / " in msg and exc.value.de and exc.value.en


def _table(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "gemeinden.csv"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text,match", [
    ("ags,population\n15084999,100\n", "unknown AGS"),
    ("ags,population\n15084355,-5\n", "invalid value"),
    ("ags,population\n15084355,abc\n", "invalid value"),
    ("ags,population\n1508435,100\n", "8-digit"),
    ("ags,population\n15084355,100\n15084355,100\n", "duplicate AGS"),
    ("ags,population,age_0_9\n15084355,100,100\n", "age groups incomplete"),
    ("ags;einwohner\n15084355;100\n", "missing columns"),
])
def test_bad_gemeinde_table(shared_copy, tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        build_region(shared_copy, gemeinde_table=_table(tmp_path, text))


def test_calibrated_to_gemeinde_table(shared_copy, tmp_path):
    ages = ",".join(AGE_COLUMNS)
    vals = [2000, 2000, 3000, 7000, 8000, 7000, 3000]
    text = ("ags;population\n15084355;32000\n15084590;28000\n").replace(";", ",")
    r = build_region(shared_copy, gemeinde_table=_table(tmp_path, text))
    g = r.gemeinden.set_index("ags")
    assert g.loc["15084355", "population_2019"] == pytest.approx(32000)
    assert g.loc["15084590", "population_2019"] == pytest.approx(28000)
    assert r.manifest["method"]["population"]["calibrated_to_gemeinde_table"]
    text2 = f"ags,population,{ages}\n15084550,{sum(vals)}," + ",".join(map(str, vals)) + "\n"
    (tmp_path / "t2").mkdir()
    r2 = build_region(shared_copy, gemeinde_table=_table(tmp_path / "t2", text2))
    row = r2.gemeinden.set_index("ags").loc["15084550"]
    assert [row[c] for c in AGE_COLUMNS] == pytest.approx(vals)


# --- the command line -------------------------------------------------------------------------------

def _twin(*args: str) -> int:
    from cli.main import main

    return main(list(args))


def test_cli_build_info_access(shared_copy, tmp_path, capsys):
    data = tmp_path / "data"
    assert _twin("--data-dir", str(data), "region", "build", "bk", "--shared-data", str(shared_copy), "--json") == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["gemeinden"] == 33 and first["stops_in_district"] == 780
    assert _twin("--data-dir", str(data), "region", "info", "bk", "--json") == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    info = json.loads(out)
    for k in ("gemeinden", "population_2019", "stops_in_district", "cells_100m_inhabited", "hospitals_in_district"):
        assert k in info
    assert info["population_2019"] % 5 == 0 and abs(info["population_2019"] - _destatis_total()) <= 2.5
    assert check_published(info) == []
    assert info["old_age_ratio_2019"] == pytest.approx(50.6, abs=0.05)  # SOURCE.md: Altenquotient 2019 = 50.6
    assert _twin("--data-dir", str(data), "region", "access", "bk", "--json") == 0
    acc = json.loads(capsys.readouterr().out)
    assert len(acc["gemeinden"]) == 33 and check_published(acc) == []
    assert all(g["deficit_65plus"] is None or g["deficit_65plus"] % 5 == 0 for g in acc["gemeinden"])
    assert _twin("--data-dir", str(data), "region", "access", "bk") == 0
    text = capsys.readouterr().out
    assert "Zeitz" in text and "Kreis" in text


def test_cli_bad_input_writes_nothing(shared_copy, tmp_path, capsys):
    data = tmp_path / "data"
    _replace(shared_copy, "stops", "stop_id,stop_name\n1,a\n")
    assert _twin("--data-dir", str(data), "region", "build", "bk", "--shared-data", str(shared_copy)) == 2
    err = capsys.readouterr().err
    assert "Spalten fehlen" in err and "missing columns" in err
    assert not (data / "regions").exists() or list((data / "regions").iterdir()) == []
    assert _twin("--data-dir", str(data), "region", "info", "nothere") == 2
    (tmp_path / "x.osm").write_text("<osm><node", encoding="utf-8")
    write_region(build_region(SHARED_DATA), data, "ok")
    assert _twin("--data-dir", str(data), "region", "access", "ok", "--osm", str(tmp_path / "x.osm")) == 2
    assert "corrupt" in capsys.readouterr().err
    assert _twin("--data-dir", str(data), "region", "build", "../evil", "--shared-data", str(shared_copy)) == 2
    shutil.rmtree(shared_copy)
    assert _twin("--data-dir", str(data), "region", "build", "bk", "--shared-data", str(shared_copy)) == 2


def test_demo_builds_the_region_once(shared_copy, tmp_path, capsys):
    from cli.region import ensure_region_bundle

    data = tmp_path / "demo"
    path = ensure_region_bundle(data, shared_copy)
    assert path is not None and (path / "manifest.json").is_file()
    stamp = (path / "manifest.json").stat().st_mtime_ns
    assert ensure_region_bundle(data, shared_copy) == path
    assert (path / "manifest.json").stat().st_mtime_ns == stamp
    assert ensure_region_bundle(tmp_path / "other", tmp_path / "no-data") is None
    assert "fehlen" in capsys.readouterr().out


def _gtfs_feed(folder: Path, a: tuple[float, float], b: tuple[float, float], headway_min: int) -> Path:
    """A small GTFS feed: one bus route between the points a and b (lon, lat), both directions, every
    ``headway_min`` from 06:00 to 19:59 on weekdays."""
    folder.mkdir()
    (folder / "stops.txt").write_text(f"stop_id,stop_name,stop_lat,stop_lon\nA,A,{a[1]},{a[0]}\nB,B,{b[1]},{b[0]}\n",
                                      encoding="utf-8")
    (folder / "routes.txt").write_text("route_id,route_short_name,route_type\nr1,1,3\n", encoding="utf-8")
    (folder / "calendar.txt").write_text("service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
                                         "start_date,end_date\nwk,1,1,1,1,1,0,0,20250101,20251231\n", encoding="utf-8")
    trips, times = ["route_id,service_id,trip_id"], ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
    n = 0
    for minute in range(6 * 60, 20 * 60, headway_min):
        for first, second in (("A", "B"), ("B", "A")):
            n += 1
            trips.append(f"r1,wk,t{n}")
            h0, m0 = divmod(minute, 60)
            h1, m1 = divmod(minute + 5, 60)
            times.append(f"t{n},{h0:02d}:{m0:02d}:00,{h0:02d}:{m0:02d}:00,{first},1")
            times.append(f"t{n},{h1:02d}:{m1:02d}:00,{h1:02d}:{m1:02d}:00,{second},2")
    (folder / "trips.txt").write_text("\n".join(trips) + "\n", encoding="utf-8")
    (folder / "stop_times.txt").write_text("\n".join(times) + "\n", encoding="utf-8")
    return folder


def test_service_classes_from_gtfs_departures(region, shared_copy, tmp_path):
    """With a timetable, the stops it serves get their class by the ARE method (not estimated)."""
    rural = region.stops[region.stops["in_kreis"] & (region.stops["products"] == "bus;taxi")
                         & (region.stops["service_class"] == "E")]
    a, b = rural.iloc[0], rural.iloc[1]
    feed = _gtfs_feed(tmp_path / "gtfs", (a.lon, a.lat), (b.lon, b.lat), 10)
    r = build_region(shared_copy, gtfs=feed)
    st = r.stops.set_index("stop_id")
    for s in (a, b):
        # 84 departures an hour-window per direction from 06 to 20 h: mean interval 10 min, bus category IV
        assert st.loc[s.stop_id, "interval_min"] == pytest.approx(10.0)
        assert st.loc[s.stop_id, "service_class"] == "C"
        assert not st.loc[s.stop_id, "class_estimated"]
    assert st["class_estimated"].sum() >= len(st) - 10
    assert "ARE" in r.manifest["method"]["service_classes"]
    assert "gtfs" in {s["key"] for s in r.manifest["sources"]}
    with pytest.raises(DataError):
        (tmp_path / "gtfs" / "trips.txt").unlink()
        build_region(shared_copy, gtfs=feed)


def test_cli_propose_writes_geojson(region, tmp_path, capsys):
    data = tmp_path / "data"
    write_region(region, data, "bk")
    out = tmp_path / "p.geojson"
    assert _twin("--data-dir", str(data), "region", "propose", "bk", "--budget", "2", "--kind", "zone",
                 "--out", str(out), "--json") == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert check_published(doc) == [] and len(doc["features"]) == 2
    assert json.loads(out.read_text(encoding="utf-8")) == doc
    assert _twin("--data-dir", str(data), "region", "propose", "bk", "--budget", "0") == 2
