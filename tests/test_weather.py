"""Weather: the design hot day, EPW and UMEP readers, validation of gaps and units, sun and irradiance."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from geodata.weather import WeatherError, design_hot_day, read_weather, sun_and_irradiance, validate_weather

UMEP_HEADER = ("%iy id it imin qn qh qe qs qf U RH Tair press rain kdown snow ldown fcld wuh xsmd lai kdiff "
               "kdir wdir")


def _umep_file(path: Path, *, temp_offset: float = 0.0, press_kpa: float = 100.1, drop_hour: int | None = None) -> Path:
    rows = [UMEP_HEADER]
    for h in range(24):
        if h == drop_hour:
            continue
        ta = 20 + 8 * np.sin(np.pi * (h - 9) / 12) + temp_offset
        kdown = max(0.0, 800 * np.sin(np.pi * (h - 5) / 15))
        vals = [2023, 196, h, 0] + [-999] * 5 + [2.0, 50.0, round(ta, 2), press_kpa, 0, round(kdown, 1), -999, -999,
                                                 -999, -999, -999, -999, -999, -999, 220]
        rows.append(" ".join(str(v) for v in vals))
    path.write_text("\n".join(rows) + "\n")
    return path


def _epw_file(path: Path) -> Path:
    head = ["LOCATION,Naumburg,ST,DEU,test,0,51.15,11.81,1.0,110.0"] + ["X"] * 7
    rows = []
    for d in (14, 15):
        for h in range(1, 25):
            ta = 18 + 12 * np.sin(np.pi * (h - 10) / 12) + (3 if d == 15 else 0)
            f = [2019, 7, d, h, 60, "x", f"{ta:.1f}", "12.0", "55", "100200", "0", "0", "350", "0", "0", "0"]
            f += ["0"] * 4 + ["240", "2.5"] + ["0"] * 13
            rows.append(",".join(str(v) for v in f))
    path.write_text("\n".join(head + rows) + "\n")
    return path


def test_design_hot_day_is_hot_humid_and_windy() -> None:
    w = design_hot_day()
    assert w.air_temp_c.max() >= 30.0
    assert int(np.argmax(w.air_temp_c)) == 15
    assert (w.rel_humidity_pct > 20).all() and (w.wind_speed_m_s >= 0.5).all()
    sun = sun_and_irradiance(w, 51.15, 11.81)
    assert 55 < sun.elevation_deg.max() < 63  # mid July at 51 N
    assert 160 < sun.azimuth_deg[13] < 185  # solar noon about 13:15 CEST
    assert sun.dni_w_m2[15] > 700 and sun.dni_w_m2[0] == 0
    assert 330 < sun.longwave_sky_w_m2.mean() < 420
    assert sun.daylight_hours()[0] in (5, 6) and sun.daylight_hours()[-1] in (20, 21)


def test_umep_met_reader_and_ghi_split(tmp_path: Path) -> None:
    w = read_weather(_umep_file(tmp_path / "met.txt"), utc_offset_h=2)
    assert w.day == dt.date(2023, 7, 15)
    assert w.pressure_hpa[0] == pytest.approx(1001.0)
    sun = sun_and_irradiance(w, 51.0, 12.0)
    assert sun.dni_w_m2.max() > 200 and np.all(sun.dhi_w_m2 >= 0)
    np.testing.assert_allclose(sun.ghi_w_m2, w.ghi_w_m2, atol=1e-3)


def test_epw_reader_takes_the_hottest_day(tmp_path: Path) -> None:
    w = read_weather(_epw_file(tmp_path / "x.epw"))
    assert w.day == dt.date(2019, 7, 15)
    assert w.timezone == "Etc/GMT-1"
    assert w.pressure_hpa[3] == pytest.approx(1002.0)
    assert w.longwave_sky_w_m2 is not None and w.longwave_sky_w_m2[0] == 350
    w14 = read_weather(tmp_path / "x.epw", day=dt.date(2019, 7, 14))
    assert w14.air_temp_c.max() < w.air_temp_c.max()


@pytest.mark.parametrize(
    "kwargs,needle",
    [({"drop_hour": 7}, "gap"), ({"temp_offset": 273.15}, "Kelvin"), ({"press_kpa": 1001.0}, "hPa")],
)
def test_bad_umep_files_are_refused(tmp_path: Path, kwargs: dict, needle: str) -> None:
    with pytest.raises(WeatherError, match=needle):
        read_weather(_umep_file(tmp_path / "met.txt", **kwargs), utc_offset_h=1)


def test_validation_of_units_and_gaps() -> None:
    w = design_hot_day()
    with pytest.raises(WeatherError, match="fraction"):
        validate_weather(replace(w, rel_humidity_pct=w.rel_humidity_pct / 100.0))
    t = w.air_temp_c.copy()
    t[4] = np.nan
    with pytest.raises(WeatherError, match="gap in air_temp_c at 4:00"):
        validate_weather(replace(w, air_temp_c=t))
    with pytest.raises(WeatherError, match="not found"):
        read_weather("/nonexistent/met.txt")
    with pytest.raises(WeatherError, match="24 hourly"):
        validate_weather(replace(w, wind_speed_m_s=w.wind_speed_m_s[:20]))
