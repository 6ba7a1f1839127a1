"""``twin heat``, ``twin svf``, ``twin shadows``, ``twin tmrt``: the heat simulation from the command line.

- ``twin heat NAME [--scenario FILE] [--hour 15] [--weather FILE] [--wind-speed M/S] [--energy]
  [--heat-wave-days N] --out DIR [--json]`` computes a
  district bundle (or ``sample``) with a scenario's heat interventions and writes the fields as
  GeoTIFFs, the KPIs as JSON and a PNG map of UTCI with a legend.
- ``twin svf --dsm FILE [--cdsm FILE] [--dem FILE] --out FILE.tif`` sky view factor of any projected DSM.
- ``twin shadows --dsm FILE [--cdsm FILE] [--dem FILE] (--when ISO-TIME | --azimuth DEG --altitude DEG)
  --out FILE.tif``: 1 = sunlit, 0 = shaded (crowns let the canopy transmissivity through).
- ``twin tmrt --dsm FILE [--cdsm FILE] [--dem FILE] --weather FILE --hours 12,15 --out DIR``: mean
  radiant temperature and UTCI.

Canopy rasters follow UMEP: heights above ground. Every output is written to a temporary path and
renamed, so a failure leaves nothing half-written; bad input exits with status 2 and one message.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

from cli.common import load_district, print_summary, read_scenario
from cli.errors import CliError
from geodata.files import atomic_dir, atomic_file

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    hp = sub.add_parser("heat", help="Hitze eines Gebiets berechnen / heat of a district")
    hp.add_argument("name", help="district bundle name, or 'sample'")
    hp.add_argument("--scenario", default=None, help="JSON file: a list of interventions or {'interventions': [...]}")
    hp.add_argument("--hour", type=int, default=15, help="local hour 0..23 (default 15)")
    hp.add_argument("--weather", default=None, help="EPW or UMEP met file (default: the design hot day)")
    hp.add_argument("--sample-size-km", type=float, default=2.0, help="size of the 'sample' district (default 2)")
    hp.add_argument("--out", required=True, help="output folder")
    hp.add_argument("--json", action="store_true", help="print a one-line JSON summary")
    hp.add_argument("--energy", action="store_true",
                    help="Kühlbedarf der Gebäude (5R1C) / buildings' cooling demand over the day: buildings_cooling.csv")
    hp.add_argument("--wind-speed", type=float, default=None, help="constant 10 m wind speed in m/s instead of the weather's")
    hp.add_argument("--heat-wave-days", type=int, default=None,
                    help="Hitzewelle von N Tagen (3-14) / heat wave of N days ending on the design day: tropical_nights.tif")
    hp.set_defaults(func=run_heat)
    for name, helptext in (("svf", "Himmelssichtfaktor / sky view factor"), ("shadows", "Schatten / shadows"),
                           ("tmrt", "mittlere Strahlungstemperatur und UTCI / mean radiant temperature and UTCI")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--dsm", required=True, help="surface model GeoTIFF (projected CRS, metres)")
        p.add_argument("--cdsm", default=None, help="canopy heights above ground GeoTIFF (same grid)")
        p.add_argument("--dem", default=None, help="terrain GeoTIFF (same grid)")
        p.add_argument("--out", required=True, help="output GeoTIFF (svf, shadows) or folder (tmrt)")
        p.add_argument("--json", action="store_true", help="print a one-line JSON summary")
        if name == "shadows":
            p.add_argument("--when", default=None, help="ISO time, e.g. 2024-07-15T15:00+02:00 (naive: Europe/Berlin)")
            p.add_argument("--azimuth", type=float, default=None, help="sun azimuth, degrees from north")
            p.add_argument("--altitude", type=float, default=None, help="sun elevation, degrees")
        if name == "tmrt":
            p.add_argument("--weather", required=True, help="EPW or UMEP met file")
            p.add_argument("--hours", default="12,15", help="local hours, comma separated (default 12,15)")
            p.add_argument("--day", default=None, help="day YYYY-MM-DD in the weather file (default: the hottest)")
            p.add_argument("--utc-offset", type=float, default=None, help="UTC offset of a UMEP met file, hours")
        p.set_defaults(func={"svf": run_svf, "shadows": run_shadows, "tmrt": run_tmrt}[name])


# ---- inputs ------------------------------------------------------------------------------------
class _Raster:
    def __init__(self, path: str, *, like: _Raster | None = None) -> None:
        import rasterio

        p = Path(path)
        if not p.is_file():
            raise CliError(f"Datei {p} nicht gefunden / file {p} not found")
        try:
            with rasterio.open(p) as src:
                arr = src.read(1, masked=True)
                self.crs, self.transform, self.profile = src.crs, src.transform, src.profile
        except rasterio.errors.RasterioIOError as exc:
            raise CliError(f"{p.name}: kein lesbares Raster ({exc}) / not a readable raster") from None
        if self.crs is None or not self.crs.is_projected:
            raise CliError(f"{p.name}: braucht ein projiziertes Koordinatensystem in Metern / needs a projected CRS in metres")
        a, e = self.transform.a, self.transform.e
        if abs(abs(a) - abs(e)) > 1e-6 * abs(a) or self.transform.b or self.transform.d:
            raise CliError(f"{p.name}: Zellen müssen quadratisch und nordausgerichtet sein / cells must be square and north-up")
        if np.ma.is_masked(arr) and arr.mask.any() or not np.isfinite(np.ma.filled(arr, 0.0)).all():
            raise CliError(f"{p.name}: enthält Lücken (nodata) / contains gaps (nodata)")
        self.data = np.asarray(np.ma.filled(arr, 0.0), np.float32)
        self.cell_m = float(abs(a))
        self.name = p.name
        if like is not None and (self.data.shape != like.data.shape or self.transform != like.transform):
            raise CliError(f"{p.name}: anderes Raster als das DSM / not on the DSM's grid")

    def write(self, path: Path, bands: list[np.ndarray], names: list[str]) -> None:
        """A float32 GeoTIFF on this raster's grid (NaN is nodata)."""
        from geodata.files import write_geotiff

        write_geotiff(path, bands, names=names, crs=self.crs, transform=self.transform, dtype="float32")

    def lonlat(self) -> tuple[float, float]:
        from geodata.crs import crs_from_any, reproject_xy

        epsg = crs_from_any(self.crs)
        if epsg is None:
            raise CliError(f"{self.name}: Koordinatensystem ohne EPSG-Code / CRS without an EPSG code")
        rows, cols = self.data.shape
        tr = self.transform
        x, y = tr.c + tr.a * cols / 2, tr.f + tr.e * rows / 2
        lon, lat = reproject_xy(np.array([x]), np.array([y]), epsg, 4326)
        return float(lon[0]), float(lat[0])


def _inputs(args: argparse.Namespace) -> tuple[_Raster, np.ndarray | None, np.ndarray | None]:
    dsm = _Raster(args.dsm)
    cdsm = _Raster(args.cdsm, like=dsm).data if args.cdsm else None
    dem = _Raster(args.dem, like=dsm).data if args.dem else None
    if cdsm is not None and (cdsm < 0).any():
        raise CliError("Kronenhöhen (CDSM) dürfen nicht negativ sein / canopy heights must not be negative")
    return dsm, cdsm, dem


def _tops(dsm: np.ndarray, cdsm: np.ndarray | None, dem: np.ndarray | None,
          trunk_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Crown tops and bottoms by the engine's canopy rule (no crowns on roofs)."""
    from geodata.canopy import canopy_on_ground, canopy_tops

    ground = dsm if dem is None else dem
    return canopy_tops(ground, canopy_on_ground(dsm, dem, cdsm), trunk_ratio)


# ---- commands ----------------------------------------------------------------------------------
def run_svf(args: argparse.Namespace) -> int:
    from models.heat.engine import HeatParams
    from sim_kernels.runtime import ensure_init
    from sim_kernels.skyview import effective_svf, sky_view_factor

    dsm, cdsm, dem = _inputs(args)
    p = HeatParams.default(arch=args.arch or "cpu")
    ensure_init(p.arch)
    t0 = time.perf_counter()
    top, _ = _tops(dsm.data, cdsm, dem, p["trunk_ratio"])
    svf_b, svf_v = sky_view_factor(dsm.data, top, cell_m=dsm.cell_m, n_azimuths=int(p["svf_azimuths"]),
                                   radius_m=p["svf_radius_m"])
    eff = effective_svf(svf_b, svf_v, p["canopy_transmissivity"])
    secs = time.perf_counter() - t0
    bands, names = ([eff, svf_b], ["svf", "svf_buildings"]) if cdsm is not None else ([svf_b], ["svf"])
    out = atomic_file(args.out, lambda tmp: dsm.write(tmp, bands, names))
    print_summary(args, {"out": str(out), "svf_mean": round(float(eff.mean()), 4), "svf_min": round(float(eff.min()), 4),
                    "cells": int(eff.size), "seconds": round(secs, 3)})
    return 0


def run_shadows(args: argparse.Namespace) -> int:
    from models.heat.engine import HeatParams
    from sim_kernels.runtime import ensure_init
    from sim_kernels.shadows import cast_shadows

    if args.when is None and (args.azimuth is None or args.altitude is None):
        raise CliError("--when oder --azimuth und --altitude angeben / give --when or --azimuth and --altitude")
    dsm, cdsm, dem = _inputs(args)
    if args.when is not None:
        import pandas as pd
        import pvlib

        try:
            ts = pd.Timestamp(args.when)
        except ValueError:
            raise CliError(f"Zeit {args.when!r} nicht lesbar (ISO 8601) / time not readable") from None
        if ts.tzinfo is None:
            ts = ts.tz_localize("Europe/Berlin")
        lon, lat = dsm.lonlat()
        sp = pvlib.solarposition.get_solarposition(pd.DatetimeIndex([ts]), lat, lon)
        azimuth, altitude = float(sp["azimuth"].iloc[0]), float(sp["apparent_elevation"].iloc[0])
    else:
        azimuth, altitude = float(args.azimuth), float(args.altitude)
        if not (0.0 <= azimuth <= 360.0 and -90.0 <= altitude <= 90.0):
            raise CliError("Azimut 0..360 und Höhe -90..90 Grad / azimuth 0..360 and altitude -90..90 degrees")
    p = HeatParams.default(arch=args.arch or "cpu")
    ensure_init(p.arch)
    t0 = time.perf_counter()
    top, trunk = _tops(dsm.data, cdsm, dem, p["trunk_ratio"])
    _, sunlit = cast_shadows(dsm.data, top, trunk, cell_m=dsm.cell_m, azimuth_deg=azimuth, elevation_deg=altitude,
                             transmissivity=p["canopy_transmissivity"], max_reach_m=p["shadow_max_reach_m"])
    secs = time.perf_counter() - t0
    out = atomic_file(args.out, lambda tmp: dsm.write(tmp, [sunlit], ["sunlit"]))
    print_summary(args, {"out": str(out), "azimuth_deg": round(azimuth, 2), "altitude_deg": round(altitude, 2),
                    "sunlit_share": round(float(sunlit.mean()), 4), "seconds": round(secs, 3)})
    return 0


def _hours(text: str) -> tuple[int, ...]:
    try:
        hrs = tuple(int(h) for h in text.split(","))
    except ValueError:
        raise CliError(f"Stunden {text!r}: ganze Zahlen 0..23, durch Kommas getrennt / hours: integers 0..23") from None
    if not hrs or any(h < 0 or h > 23 for h in hrs) or len(set(hrs)) != len(hrs):
        raise CliError(f"Stunden {text!r}: verschiedene Werte 0..23 / hours: distinct values 0..23")
    return hrs


def _weather(path: str | None, lon: float, day: str | None = None, utc_offset: float | None = None):
    from geodata.weather import WeatherError, design_hot_day, read_weather

    try:
        if path is None:
            return design_hot_day()
        d = dt.date.fromisoformat(day) if day else None
        return read_weather(path, day=d, utc_offset_h=utc_offset, lon_deg=lon)
    except WeatherError as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:
        raise CliError(f"Tag {day!r}: {exc} / day not readable") from None


def run_tmrt(args: argparse.Namespace) -> int:
    from models.heat.engine import HeatParams, tmrt_on_rasters

    hours = _hours(args.hours)
    dsm, cdsm, dem = _inputs(args)
    lon, lat = dsm.lonlat()
    weather = _weather(args.weather, lon, args.day, args.utc_offset)
    t0 = time.perf_counter()
    fields, timings = tmrt_on_rasters(dsm.data, cell_m=dsm.cell_m, lonlat=(lon, lat), weather=weather, hours=hours,
                                      canopy_m=cdsm, ground_m=dem, params=HeatParams.default(arch=args.arch or "cpu"))
    secs = time.perf_counter() - t0

    def write(folder: Path) -> None:
        for k, h in enumerate(hours):
            dsm.write(folder / f"tmrt_{h:02d}.tif", [fields["tmrt_c"][k]], ["tmrt_c"])
            dsm.write(folder / f"utci_{h:02d}.tif", [fields["utci_c"][k]], ["utci_c"])
        dsm.write(folder / "svf.tif", [fields["svf"]], ["svf"])

    out = atomic_dir(args.out, write)
    print_summary(args, {"out": str(out), "day": str(weather.day), "hours": list(hours),
                    "tmrt_mean_c": [round(float(fields["tmrt_c"][k].mean()), 2) for k in range(len(hours))],
                    "utci_mean_c": [round(float(fields["utci_c"][k].mean()), 2) for k in range(len(hours))],
                    "seconds": round(secs, 3), "timings_s": {k: round(v, 3) for k, v in timings.items()}})
    return 0


def _png_map(path: Path, field: np.ndarray, hour: int, district, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    bounds = [9, 26, 32, 38, 46, 50]
    cmap = ListedColormap(["#b5d99c", "#fde08d", "#f6a04d", "#d7301f", "#7f0000"])
    w, s, e, n = district.grid.bbox_local_m
    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    shown = np.ma.masked_where(district.building_index >= 0, np.clip(field, 9.01, 49.99))
    im = ax.imshow(shown, cmap=cmap, norm=BoundaryNorm(bounds, cmap.N), extent=(w, e, s, n))
    ax.imshow(np.ma.masked_where(district.building_index < 0, np.ones_like(field)), cmap=ListedColormap(["#6e6e6e"]),
              extent=(w, e, s, n))
    cb = fig.colorbar(im, ax=ax, ticks=[17.5, 29, 35, 42, 48], shrink=0.8)
    cb.ax.set_yticklabels(["kein Stress / none\n9–26 °C", "mäßig / moderate\n26–32 °C", "stark / strong\n32–38 °C",
                           "sehr stark / very strong\n38–46 °C", "extrem / extreme\n> 46 °C"], fontsize=7)
    cb.set_label("UTCI-Wärmebelastung / UTCI heat stress")
    ax.set_title(f"{title} — UTCI {hour}:00 (Gebäude grau / buildings grey)", fontsize=9)
    ax.set_xlabel("Ost / east (m)")
    ax.set_ylabel("Nord / north (m)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_heat(args: argparse.Namespace) -> int:
    from geodata.apply_heat import HeatEditError
    from models.heat.engine import HeatEngine, HeatParams, stress_class, write_field_geotiff

    if not 0 <= args.hour <= 23:
        raise CliError("--hour 0..23")
    interventions = read_scenario(args.scenario)
    district = load_district(args)
    lon, _ = district.frame.origin_lonlat()
    weather = _weather(args.weather, lon)
    if args.wind_speed is not None:
        if not 0.0 <= args.wind_speed <= 40.0:
            raise CliError("--wind-speed 0..40 m/s")
        from dataclasses import replace

        weather = replace(weather, wind_speed_m_s=np.full(24, float(args.wind_speed)))
    if args.heat_wave_days is not None and not 3 <= args.heat_wave_days <= 14:
        raise CliError("--heat-wave-days 3..14")
    params = HeatParams.default(arch=args.arch or "cpu")
    engine = HeatEngine(district, weather=weather, params=params)
    try:
        res = engine.compute(interventions, hours=(args.hour,))
        cooling = engine.building_cooling(interventions) if args.energy else None
    except HeatEditError as exc:
        raise CliError(str(exc)) from None
    if cooling is not None:
        res.kpis["cooling_demand_kwh_day"] = cooling.district_kwh
    wave = None
    if args.heat_wave_days is not None:
        from geodata.weather import heat_wave
        from models.heat.heat_wave import run_heat_wave

        wave = run_heat_wave(district, heat_wave(args.heat_wave_days), interventions, params=params)
        res.kpis["tropical_nights_max"] = float(wave.tropical_nights.max())
        res.kpis["residents_with_tropical_nights"] = wave.residents_with_tropical_nights

    def write(folder: Path) -> None:
        for name in ("utci_c", "tmrt_c", "surface_temp_c", "air_temp_c", "sunlit"):
            write_field_geotiff(res, name, args.hour, district, str(folder / f"{name}_{args.hour:02d}.tif"))
        write_field_geotiff(res, "svf", None, district, str(folder / "svf.tif"))
        classes = stress_class(res.fields["utci_c"][0], params).astype(np.float32)
        res.fields["stress_class"] = classes[None]
        write_field_geotiff(res, "stress_class", args.hour, district, str(folder / f"stress_class_{args.hour:02d}.tif"))
        (folder / "kpis.json").write_text(json.dumps({"district": district.name, "hour": args.hour,
                                                      "weather": weather.source, "day": str(weather.day),
                                                      "interventions": len(interventions), "kpis": res.kpis,
                                                      "timings_s": res.timings_s}, indent=1, ensure_ascii=False))
        _png_map(folder / f"utci_{args.hour:02d}.png", res.fields["utci_c"][0], args.hour, district, district.name)
        if cooling is not None:
            b = district.buildings
            lines = ["building_id,use,floor_area_m2,cooling_kwh_day,cooling_kwh_m2_day"]
            for i in range(len(b.height_m)):
                fa = float(engine.envelope.floor_area_m2[i])
                kwh = float(cooling.cooling_kwh[i])
                lines.append(f"{int(b.building_id[i])},{b.use[i]},{fa:.1f},{kwh:.3f},{kwh / max(fa, 1.0):.4f}")
            (folder / "buildings_cooling.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if wave is not None:
            res.fields["tropical_nights"] = wave.tropical_nights.astype(np.float32)
            write_field_geotiff(res, "tropical_nights", None, district, str(folder / "tropical_nights.tif"))
            (folder / "heat_wave.json").write_text(json.dumps({
                "days": list(wave.days), "night_hours": list(wave.night_hours),
                "uhi_night_k": [round(float(v), 3) for v in wave.uhi_night_k],
                "residents_with_tropical_nights": wave.residents_with_tropical_nights}, indent=1))

    out = atomic_dir(args.out, write)
    k = res.kpis
    print_summary(args, {"out": str(out), "hour": args.hour, "utci_mean_c": round(k["utci_mean_c"], 2),
                    "utci_p95_c": round(k["utci_p95_c"], 2), "air_temp_mean_c": round(k["air_temp_mean_c"], 2),
                    "utci_diff_to_baseline_k": round(k["utci_diff_to_baseline_k"], 3), "cost_eur": k["cost_eur"],
                    "seconds": round(res.timings_s["total"], 2),
                    **{n: round(k[n], 3) for n in ("uhi_core_open_k", "cooling_demand_kwh_day", "tropical_nights_max",
                                                   "residents_with_tropical_nights") if n in k}})
    sys.stdout.flush()
    return 0
