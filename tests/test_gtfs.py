"""GTFS: reading and validating a small hand-written feed, bad feeds refused, the frequency view."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from access_world import grid_district

from geodata.gtfs import GtfsError, feed_to_network, parse_time_s, read_gtfs, route_mode

FIXTURE = Path(__file__).parent / "fixtures" / "gtfs_small"


def test_reads_the_fixture() -> None:
    f = read_gtfs(FIXTURE)
    assert list(f.stop_id) == ["S1", "S2", "S3", "S4"]
    assert f.trip_id.size == 9 + 1 + 4 + 1
    assert f.st_trip.size == 9 * 4 + 4 + 4 * 2 + 2
    late = int(np.nonzero(f.trip_id == "R1_late")[0][0])
    dep = f.st_departure_s[f.st_trip == late]
    # past midnight kept as > 24 h; the empty intermediate time is interpolated
    assert dep[0] == 24 * 3600 + 600 and dep[1] == pytest.approx((dep[0] + dep[2]) / 2)
    assert f.services_by_day["tuesday"] == frozenset({"WD"})


def test_zip_equals_folder(tmp_path) -> None:
    z = tmp_path / "feed.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in FIXTURE.iterdir():
            zf.write(p, p.name)
    a, b = read_gtfs(FIXTURE), read_gtfs(z)
    np.testing.assert_array_equal(a.st_departure_s, b.st_departure_s)


def test_times_and_modes() -> None:
    assert parse_time_s("25:01:02") == 25 * 3600 + 62
    assert parse_time_s(" ") is None
    for bad in ("7:60:00", "aa:00:00", "07:00"):
        with pytest.raises(ValueError):
            parse_time_s(bad)
    assert route_mode(3) == "bus" and route_mode(2) == "rail" and route_mode(0) == "tram" and route_mode(109) == "rail"


def _broken(tmp_path: Path, name: str, edit) -> Path:
    d = tmp_path / "feed"
    shutil.copytree(FIXTURE, d)
    p = d / name
    p.write_text(edit(p.read_text(encoding="utf-8")), encoding="utf-8")
    return d


@pytest.mark.parametrize(
    "name, edit, match",
    [
        ("stop_times.txt", lambda t: "\n".join(l for l in t.splitlines() if not l.startswith("R2_0,")) + "\n",
         "missing stop_times"),
        ("stop_times.txt", lambda t: t.replace(",S2,", ",S9,", 1), "does not exist"),
        ("stop_times.txt", lambda t: t.replace("06:07:00", "05:07:00", 1), "backwards"),
        ("stop_times.txt", lambda t: t.replace("06:00:00", "6h", 1), "invalid time"),
        ("trips.txt", lambda t: t.replace("R2,WD,R2_0", "R7,WD,R2_0"), "unknown route"),
        ("stops.txt", lambda t: t.replace("51.1540", "95.0"), "invalid coordinate"),
        ("stop_times.txt", lambda t: t.replace("trip_id,arrival_time", "trip,arrival_time"), "missing columns"),
    ],
)
def test_bad_feeds_are_refused(tmp_path, name, edit, match) -> None:
    with pytest.raises(GtfsError, match=match):
        read_gtfs(_broken(tmp_path, name, edit))


def test_missing_file_and_not_a_feed(tmp_path) -> None:
    d = tmp_path / "feed"
    shutil.copytree(FIXTURE, d)
    (d / "trips.txt").unlink()
    with pytest.raises(GtfsError, match="trips.txt"):
        read_gtfs(d)
    (tmp_path / "x.txt").write_text("nope")
    with pytest.raises(GtfsError, match="not a GTFS"):
        read_gtfs(tmp_path / "x.txt")


def test_frequency_view_inside_the_district() -> None:
    d = grid_district(n=9, n_stops=0)  # 900 m square from the frame origin 11.81 E, 51.15 N
    net = feed_to_network(read_gtfs(FIXTURE), d)
    assert net.n_stops == 3  # S4 lies outside
    r1 = [ln for ln in net.lines if ln.line_id.startswith("R1@")]
    r2 = [ln for ln in net.lines if ln.line_id.startswith("R2@")]
    assert len(r1) == 1 and len(r2) == 1  # the Saturday trip does not run on a Tuesday
    assert r1[0].departures_per_h[6] == 3 and r1[0].departures_per_h[8] == 3
    assert r1[0].departures_per_h[0] == 1  # the 24:10 trip counts after midnight
    np.testing.assert_allclose(r1[0].hop_s, [180.0, 210.0])  # dwell of 30 s at S2 is not riding
    assert r2[0].departures_per_h[6:10].tolist() == [1, 1, 1, 1] and r2[0].mode == "rail"
    assert set(net.stop_mode) == {"bus", "rail"}


def test_engine_uses_the_feed(taichi_cpu) -> None:
    from models.people.access import AccessEngine

    d = grid_district(n=9, n_stops=0)
    eng = AccessEngine(d, seed=0, gtfs=read_gtfs(FIXTURE))
    assert eng.base_network.n_stops == 3
    res = eng.compute([], hour=7, with_agents=False)
    assert res.stop_quality.shape == (3,) and set(res.stop_quality) <= set("ABCDEF")
    assert np.isfinite(res.building_time_min["stop"]).all()
    # stop indices of interventions refer to the feed's stops (the district itself has none here)
    from geodata.interventions import decode_intervention

    moved = eng.compute([decode_intervention({"kind": "move_stop", "id": "m", "stop_index": 2, "xy_local_m": [450, 450]})],
                        hour=7, with_agents=False)
    np.testing.assert_allclose(moved.network.stop_xy_local_m[2], [450, 450])
    assert moved.network.lines[0].hop_s.sum() != res.network.lines[0].hop_s.sum()
