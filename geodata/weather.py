"""Weather of one day for the heat model: the design hot day, EPW and UMEP meteorological files,
validation, and the sun's position with clear-sky irradiance (pvlib).

A ``Weather`` holds 24 hourly instants 00:00..23:00 local time of one day. Units: degrees C, %,
m/s (wind at 10 m, direction it blows from, degrees clockwise from north), hPa, W/m2.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "Weather",
    "WeatherError",
    "SunHours",
    "design_hot_day",
    "heat_wave",
    "read_weather_days",
    "read_weather",
    "read_epw",
    "read_umep_met",
    "validate_weather",
    "sun_and_irradiance",
]

SIGMA = 5.670374419e-8


class WeatherError(ValueError):
    """A weather input that cannot be used; the message is German first, then English."""


@dataclass(frozen=True)
class Weather:
    """Hourly weather of one day (24 instants, local time)."""

    day: dt.date
    timezone: str  # IANA name, e.g. "Europe/Berlin" or "Etc/GMT-2" (= UTC+2)
    air_temp_c: np.ndarray  # (24,)
    rel_humidity_pct: np.ndarray  # (24,)
    wind_speed_m_s: np.ndarray  # (24,) at 10 m
    wind_dir_deg: np.ndarray  # (24,) direction the wind comes from
    pressure_hpa: np.ndarray  # (24,)
    ghi_w_m2: np.ndarray | None = None  # (24,) measured global horizontal; None: clear sky
    dni_w_m2: np.ndarray | None = None
    dhi_w_m2: np.ndarray | None = None
    longwave_sky_w_m2: np.ndarray | None = None
    source: str = ""

    def times(self) -> pd.DatetimeIndex:
        """The 24 instants as a tz-aware index."""
        return pd.date_range(pd.Timestamp(self.day), periods=24, freq="h", tz=self.timezone)


@dataclass(frozen=True)
class SunHours:
    """Sun and irradiance at the 24 instants of a Weather, for one place."""

    elevation_deg: np.ndarray  # (24,) apparent elevation
    azimuth_deg: np.ndarray  # (24,) clockwise from north
    dni_w_m2: np.ndarray  # direct normal
    dhi_w_m2: np.ndarray  # diffuse horizontal
    ghi_w_m2: np.ndarray  # global horizontal
    longwave_sky_w_m2: np.ndarray

    @property
    def direct_horizontal_w_m2(self) -> np.ndarray:
        return (self.dni_w_m2 * np.sin(np.radians(np.maximum(self.elevation_deg, 0.0)))).astype(np.float32)

    def daylight_hours(self) -> tuple[int, ...]:
        return tuple(int(h) for h in np.nonzero(self.dni_w_m2 > 0)[0])


def _err(de: str, en: str) -> WeatherError:
    return WeatherError(f"{de} / {en}")


def design_hot_day() -> Weather:
    """The design hot day of ``assets/design_hot_day_naumburg.csv`` (15 July, Europe/Berlin)."""
    text = resources.files("assets").joinpath("design_hot_day_naumburg.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    col = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    w = Weather(
        day=dt.date(2024, 7, 15), timezone="Europe/Berlin", air_temp_c=col["air_temp_c"],
        rel_humidity_pct=col["rel_humidity_pct"], wind_speed_m_s=col["wind_speed_m_s"],
        wind_dir_deg=col["wind_dir_deg"], pressure_hpa=col["pressure_hpa"], source="design_hot_day_naumburg",
    )
    validate_weather(w)
    return w


def validate_weather(w: Weather) -> None:
    """Check completeness and plausible units; raise ``WeatherError`` naming the first problem."""
    checks = (
        ("air_temp_c", w.air_temp_c, -60.0, 60.0, "Lufttemperatur (°C erwartet; Kelvin?)", "air temperature (°C expected; Kelvin?)"),
        ("rel_humidity_pct", w.rel_humidity_pct, 0.0, 100.0, "relative Feuchte (% erwartet)", "relative humidity (% expected)"),
        ("wind_speed_m_s", w.wind_speed_m_s, 0.0, 60.0, "Windgeschwindigkeit (m/s erwartet)", "wind speed (m/s expected)"),
        ("wind_dir_deg", w.wind_dir_deg, 0.0, 360.0, "Windrichtung (Grad)", "wind direction (degrees)"),
        ("pressure_hpa", w.pressure_hpa, 500.0, 1100.0, "Luftdruck (hPa erwartet)", "pressure (hPa expected)"),
    )
    for name, arr, lo, hi, de, en in checks:
        a = np.asarray(arr, float)
        if a.shape != (24,):
            raise _err(f"{name}: 24 Stundenwerte erwartet, {a.size} gefunden", f"{name}: 24 hourly values expected, got {a.size}")
        if not np.isfinite(a).all():
            h = int(np.argmin(np.isfinite(a)))
            raise _err(f"Lücke in {name} um {h}:00", f"gap in {name} at {h}:00")
        if (a < lo).any() or (a > hi).any():
            h = int(np.argmax((a < lo) | (a > hi)))
            raise _err(f"Unplausible {de}: {a[h]:g} um {h}:00", f"implausible {en}: {a[h]:g} at {h}:00")
    if np.nanmax(w.rel_humidity_pct) <= 1.0:
        raise _err("Relative Feuchte scheint ein Anteil (0..1) statt Prozent", "relative humidity looks like a fraction (0..1), not percent")
    for name in ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "longwave_sky_w_m2"):
        a = getattr(w, name)
        if a is None:
            continue
        a = np.asarray(a, float)
        if a.shape != (24,) or not np.isfinite(a).all():
            raise _err(f"Lücke in {name}", f"gap in {name}")
        if (a < 0).any() or (a > 1500).any():
            raise _err(f"Unplausible Strahlung {name} (W/m² erwartet)", f"implausible radiation {name} (W/m² expected)")


def _fixed_tz(offset_h: float) -> str:
    if offset_h != int(offset_h) or not -12 <= offset_h <= 14:
        raise _err(f"Zeitzonenversatz {offset_h} h nicht unterstützt", f"UTC offset {offset_h} h not supported")
    o = int(offset_h)
    return "UTC" if o == 0 else f"Etc/GMT{-o:+d}"


def _pick_day(days: dict[dt.date, dict[int, dict[str, float]]], day: dt.date | None, path: Path) -> dt.date:
    if day is not None:
        if day not in days:
            raise _err(f"{path.name}: Tag {day} fehlt in der Datei", f"{path.name}: day {day} is not in the file")
        return day
    full = [d for d, hrs in days.items() if len(hrs) == 24]
    if not days:
        raise _err(f"{path.name}: keine Daten", f"{path.name}: no data rows")
    if not full:  # the fullest day, so that the caller names its first gap
        return max(days, key=lambda d: len(days[d]))
    return max(full, key=lambda d: max(v["air_temp_c"] for v in days[d].values()))  # the hottest day


def _weather_from_hours(hrs: dict[int, dict[str, float]], day: dt.date, tz: str, path: Path, src: str) -> Weather:
    missing = [h for h in range(24) if h not in hrs]
    if missing:
        raise _err(f"{path.name}: Lücke am {day} um {missing[0]}:00", f"{path.name}: gap on {day} at {missing[0]}:00")

    def col(k: str) -> np.ndarray | None:
        vals = [hrs[h].get(k) for h in range(24)]
        return None if any(v is None for v in vals) else np.array(vals, float)

    w = Weather(
        day=day, timezone=tz, air_temp_c=col("air_temp_c"), rel_humidity_pct=col("rel_humidity_pct"),
        wind_speed_m_s=col("wind_speed_m_s"), wind_dir_deg=col("wind_dir_deg"), pressure_hpa=col("pressure_hpa"),
        ghi_w_m2=col("ghi_w_m2"), dni_w_m2=col("dni_w_m2"), dhi_w_m2=col("dhi_w_m2"),
        longwave_sky_w_m2=col("longwave_sky_w_m2"), source=f"{src}:{path.name}",
    )
    validate_weather(w)
    return w


def read_epw(path: str | Path, *, day: dt.date | None = None) -> Weather:
    """One day of an EnergyPlus weather file (EPW); the hottest complete day unless ``day`` is given.

    EPW rows are hour-ending values in local standard time (the header's offset); the row of hour k
    is taken as the instant k-1. Missing-value codes (99.9, 999, 9999, 999999) count as gaps.
    """
    p = Path(path)
    lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or not lines[0].startswith("LOCATION"):
        raise _err(f"{p.name}: keine EPW-Datei (erste Zeile nicht LOCATION)", f"{p.name}: not an EPW file (no LOCATION line)")
    offset = float(lines[0].split(",")[8])
    days: dict[dt.date, dict[int, dict[str, float]]] = {}
    for n, line in enumerate(lines[8:], start=9):
        f = line.split(",")
        if len(f) < 22:
            raise _err(f"{p.name}: Zeile {n} hat zu wenige Spalten", f"{p.name}: line {n} has too few columns")
        try:
            y, m, d, h = (int(float(v)) for v in f[:4])
            vals = [float(v) for v in (f[6], f[8], f[9], f[12], f[13], f[14], f[15], f[20], f[21])]
        except ValueError:
            raise _err(f"{p.name}: Zeile {n} enthält keine Zahl", f"{p.name}: line {n} holds a non-number") from None
        ta, rh, pa, ir, ghi, dni, dhi, wd, ws = vals
        rec = {"air_temp_c": ta if ta < 99.9 else math.nan, "rel_humidity_pct": rh if rh < 999 else math.nan,
               "pressure_hpa": pa / 100.0 if pa < 999999 else math.nan, "ghi_w_m2": ghi if ghi < 9999 else math.nan,
               "dni_w_m2": dni if dni < 9999 else math.nan, "dhi_w_m2": dhi if dhi < 9999 else math.nan,
               "wind_dir_deg": wd if wd < 999 else math.nan, "wind_speed_m_s": ws if ws < 999 else math.nan}
        if ir < 9999:
            rec["longwave_sky_w_m2"] = ir
        days.setdefault(dt.date(2001 if y < 1 else y, m, d), {})[h - 1] = rec
    chosen = _pick_day(days, day, p)
    return _weather_from_hours(days[chosen], chosen, _fixed_tz(offset), p, "epw")


def read_umep_met(path: str | Path, *, utc_offset_h: float, day: dt.date | None = None) -> Weather:
    """One day of a UMEP/SUEWS meteorological text file (24 columns, header line, -999 = missing).

    Columns used: iy id it imin, U (m/s), RH (%), Tair (°C), press (kPa), kdown, ldown, kdiff, kdir,
    wdir. Rows at minute 0 are the hour instants; ``utc_offset_h`` is the file's local time offset.
    """
    p = Path(path)
    lines = [ln for ln in p.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    if not lines or not lines[0].lstrip().startswith("%iy"):
        raise _err(f"{p.name}: keine UMEP-Meteodatei (Kopfzeile %iy ... fehlt)", f"{p.name}: not a UMEP met file (no %iy header)")
    header = lines[0].lstrip("%").split()
    idx = {k: header.index(k) for k in ("iy", "id", "it", "imin", "U", "RH", "Tair", "press", "kdown", "ldown",
                                        "kdiff", "kdir", "wdir") if k in header}
    if len(idx) < 13:
        raise _err(f"{p.name}: Spalten fehlen im Kopf", f"{p.name}: columns missing in the header")
    days: dict[dt.date, dict[int, dict[str, float]]] = {}
    for n, line in enumerate(lines[1:], start=2):
        f = line.split()
        try:
            v = {k: float(f[i]) for k, i in idx.items()}
        except (ValueError, IndexError):
            raise _err(f"{p.name}: Zeile {n} ist unlesbar", f"{p.name}: line {n} cannot be read") from None
        if v["imin"] != 0:
            continue
        nan = lambda x: math.nan if x <= -998 else x  # noqa: E731
        press = nan(v["press"])
        if 500 < press < 1100:
            raise _err(f"{p.name}: Luftdruck {press:g} sieht nach hPa aus; UMEP erwartet kPa",
                       f"{p.name}: pressure {press:g} looks like hPa; UMEP expects kPa")
        d0 = dt.date(int(v["iy"]), 1, 1) + dt.timedelta(days=int(v["id"]) - 1)
        rec = {"air_temp_c": nan(v["Tair"]), "rel_humidity_pct": nan(v["RH"]), "wind_speed_m_s": nan(v["U"]),
               "pressure_hpa": press * 10.0, "ghi_w_m2": nan(v["kdown"]),
               "wind_dir_deg": nan(v["wdir"]) if v["wdir"] > -998 else 270.0}
        if v["kdir"] > -998 and v["kdiff"] > -998:
            rec["dni_w_m2"], rec["dhi_w_m2"] = v["kdir"], v["kdiff"]
        if v["ldown"] > -998:
            rec["longwave_sky_w_m2"] = v["ldown"]
        days.setdefault(d0, {})[int(v["it"])] = rec
    chosen = _pick_day(days, day, p)
    return _weather_from_hours(days[chosen], chosen, _fixed_tz(utc_offset_h), p, "umep")


def read_weather(path: str | Path, *, day: dt.date | None = None, utc_offset_h: float | None = None,
                 lon_deg: float | None = None) -> Weather:
    """EPW (``.epw``) or UMEP met text (anything else); UMEP's offset defaults to round(lon / 15)."""
    p = Path(path)
    if not p.is_file():
        raise _err(f"Wetterdatei {p} nicht gefunden", f"weather file {p} not found")
    if p.suffix.lower() == ".epw":
        return read_epw(p, day=day)
    if utc_offset_h is None:
        utc_offset_h = round((lon_deg or 15.0) / 15.0)
    return read_umep_met(p, utc_offset_h=utc_offset_h, day=day)


def heat_wave(days: int = 5, *, warming_k: float = 3.0) -> list[Weather]:
    """A constructed heat wave of ``days`` consecutive days (3..14): the design hot day, its air
    temperature shifted by a ramp from ``-warming_k`` on the first day to 0 on the last (the design
    day is the wave's peak), humidity at the same vapour pressure. Each day reaches at least
    30 degrees C when the design day does, so the sequence is a heat wave by the usual definition
    (three or more consecutive hot days)."""
    if not 3 <= days <= 14:
        raise _err(f"Hitzewelle: 3 bis 14 Tage, nicht {days}", f"heat wave: 3 to 14 days, not {days}")
    base = design_hot_day()
    out = []
    for i in range(days):
        shift = -warming_k * (days - 1 - i) / max(days - 1, 1)
        ta = base.air_temp_c + shift
        es0 = 6.112 * np.exp(17.62 * base.air_temp_c / (243.12 + base.air_temp_c))
        es1 = 6.112 * np.exp(17.62 * ta / (243.12 + ta))
        rh = np.clip(base.rel_humidity_pct * es0 / es1, 1.0, 100.0)
        w = Weather(day=base.day - dt.timedelta(days=days - 1 - i), timezone=base.timezone, air_temp_c=ta,
                    rel_humidity_pct=rh, wind_speed_m_s=base.wind_speed_m_s, wind_dir_deg=base.wind_dir_deg,
                    pressure_hpa=base.pressure_hpa, source=f"heat_wave_{days}d_day{i + 1}")
        validate_weather(w)
        out.append(w)
    return out


def read_weather_days(path: str | Path, first: dt.date, days: int, *, utc_offset_h: float | None = None,
                      lon_deg: float | None = None) -> list[Weather]:
    """``days`` consecutive days from ``first`` of an EPW or UMEP met file (each complete)."""
    if not 1 <= days <= 31:
        raise _err(f"1 bis 31 Tage, nicht {days}", f"1 to 31 days, not {days}")
    return [read_weather(path, day=first + dt.timedelta(days=i), utc_offset_h=utc_offset_h, lon_deg=lon_deg)
            for i in range(days)]


def _clear_sky_longwave(air_temp_c: np.ndarray, rel_humidity_pct: np.ndarray) -> np.ndarray:
    """Prata (1996) clear-sky long wave: eps = 1 - (1 + w) exp(-sqrt(1.2 + 3 w)), w = 46.5 e / T."""
    t = np.asarray(air_temp_c, float)
    e_hpa = rel_humidity_pct / 100.0 * 6.112 * np.exp(17.62 * t / (243.12 + t))
    w = 46.5 * e_hpa / (t + 273.15)
    eps = 1.0 - (1.0 + w) * np.exp(-np.sqrt(1.2 + 3.0 * w))
    return eps * SIGMA * (t + 273.15) ** 4


def sun_and_irradiance(w: Weather, lat_deg: float, lon_deg: float, *, altitude_m: float = 100.0,
                       linke_turbidity: float = 3.5, min_elevation_deg: float = 2.0) -> SunHours:
    """Sun position (pvlib SPA) and irradiance at the 24 instants of ``w`` for one place.

    Measured irradiance is used where the weather carries it (GHI alone is split by Erbs);
    otherwise the Ineichen-Perez clear sky with ``linke_turbidity``. Below ``min_elevation_deg``
    the direct beam is set to 0.
    """
    import pvlib

    times = w.times()
    sp = pvlib.solarposition.get_solarposition(times, lat_deg, lon_deg, altitude=altitude_m,
                                               pressure=np.asarray(w.pressure_hpa) * 100.0,
                                               temperature=np.asarray(w.air_temp_c))
    doy = np.asarray(times.day_of_year, float)  # plain numbers: pvlib's pandas path uses deprecated API
    elev = sp["apparent_elevation"].to_numpy()
    azim = sp["azimuth"].to_numpy()
    if w.ghi_w_m2 is not None and w.dni_w_m2 is not None and w.dhi_w_m2 is not None:
        ghi, dni, dhi = (np.asarray(a, float) for a in (w.ghi_w_m2, w.dni_w_m2, w.dhi_w_m2))
    elif w.ghi_w_m2 is not None:
        ghi = np.asarray(w.ghi_w_m2, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            parts = pvlib.irradiance.erbs(ghi, sp["apparent_zenith"].to_numpy(), doy)
        dni, dhi = np.nan_to_num(np.asarray(parts["dni"], float)), np.nan_to_num(np.asarray(parts["dhi"], float))
    else:
        zen = sp["apparent_zenith"].to_numpy()
        am = pvlib.atmosphere.get_absolute_airmass(pvlib.atmosphere.get_relative_airmass(zen),
                                                   pvlib.atmosphere.alt2pres(altitude_m))
        with np.errstate(divide="ignore", invalid="ignore"):  # night hours give inf/nan, zeroed below
            cs = pvlib.clearsky.ineichen(zen, am, linke_turbidity, altitude=altitude_m,
                                         dni_extra=pvlib.irradiance.get_extra_radiation(doy))
        ghi, dni, dhi = (np.nan_to_num(np.asarray(cs[k], float)) for k in ("ghi", "dni", "dhi"))
    low = elev < min_elevation_deg
    dni = np.where(low, 0.0, dni)
    dhi = np.where(elev <= 0, 0.0, dhi)
    lw = w.longwave_sky_w_m2 if w.longwave_sky_w_m2 is not None else _clear_sky_longwave(w.air_temp_c, w.rel_humidity_pct)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return SunHours(f32(elev), f32(azim), f32(dni), f32(dhi), f32(ghi), f32(lw))
