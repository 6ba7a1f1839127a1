"""Real stops of the Burgenlandkreis (DB/HAFAS): reading, validation, projection into a local frame."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_data

from geodata.crs import LocalFrame
from geodata.stops import StopDataError, read_stop_table, stops_in_frame


def _table():
    return read_stop_table(shared_data("burgenlandkreis_transit_stops_db", "hafas_stops_burgenlandkreis.csv"))


def test_reads_all_real_stops() -> None:
    t = _table()
    assert len(t) == 1010  # SOURCE.md: 1010 stops, 780 inside the district
    assert int(t.in_district.sum()) == 780
    lon, lat = t.lonlat[:, 0], t.lonlat[:, 1]
    assert (lon > 11.38).all() and (lon < 12.32).all() and (lat > 50.92).all() and (lat < 51.33).all()
    hbf = [i for i, n in enumerate(t.name) if n == "Naumburg(Saale)Hbf"]
    assert hbf and t.mode[hbf[0]] == "rail"
    assert t.on_demand.sum() > 0  # Rufbus ("taxi") stops exist


def test_projection_into_a_frame_around_naumburg() -> None:
    t = _table()
    frame = LocalFrame.for_lonlat(11.78, 51.13)  # south-west of Naumburg
    s = stops_in_frame(t, frame, (0.0, 0.0, 6000.0, 6000.0))
    assert 10 < s.xy_local_m.shape[0] < 400
    assert (s.xy_local_m >= 0).all() and (s.xy_local_m <= 6000).all()
    assert "rail" in set(s.mode)
    # round trip back to lon/lat hits the source coordinates within a millimetre
    ids = [sid.split(":", 1)[1] for sid in s.source_id]
    ix = [int(np.nonzero(t.stop_id == i)[0][0]) for i in ids]
    lon, lat = frame.local_to_lonlat(s.xy_local_m[:, 0], s.xy_local_m[:, 1])
    np.testing.assert_allclose(np.stack([lon, lat], axis=1), t.lonlat[ix], atol=1e-8)
    # platforms fold into their stations
    unfolded = stops_in_frame(t, frame, (0.0, 0.0, 6000.0, 6000.0), fold_platforms=False)
    assert unfolded.xy_local_m.shape[0] >= s.xy_local_m.shape[0]


@pytest.mark.parametrize(
    "text, match",
    [
        ("stop_id,stop_name\n1,a\n", "Spalten fehlen"),
        ("stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,products\n1,a,51,11,0,,bus\n1,b,51,11,0,,bus\n", "doppelt"),
        ("stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,products\n1,a,951,11,0,,bus\n", "Koordinate"),
        ("stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,products\n1,a,x,11,0,,bus\n", "Koordinate"),
    ],
)
def test_bad_stop_files_are_refused(tmp_path, text, match) -> None:
    f = tmp_path / "stops.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(StopDataError, match=match):
        read_stop_table(f)
    with pytest.raises(StopDataError, match="nicht gefunden"):
        read_stop_table(tmp_path / "none.csv")
