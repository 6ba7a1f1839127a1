"""landtwin's shadows, sky view factor and Tmrt side by side with UMEP/SOLWEIG on the same DSMs.

Cases: synthetic 500 x 500 DSMs at 1 m (seeded blocks of buildings, with and without trees) and the
Athens demo DSM shipped in the umep wheel. UMEP runs in its own venv (``benchmarks/peers/setup.sh umep``)
through ``benchmarks/peers/umep_runner.py``. Printed per case: shadow-mask agreement (target >= 98 %),
SVF RMSE on ground cells (<= 0.03), mean Tmrt over the compared hours and its difference (<= 2 K), and
the wall time of the SOLWEIG-equivalent day (shadows, SVF, Tmrt for every daylight hour) with the ratio
(target >= 5x).

Same weather and sun: the Athens EPW of the wheel, one summer day. UMEP's ``generate_solweig`` takes
the EPW clock hours as UTC, so landtwin is given the same day with ``timezone="UTC"`` here, and the
file's rows (local standard time, UTC+2) are first relabelled in UTC (``epw_in_utc``) so that the sun
both models compute stands where the measured radiation was (``--epw-clock as-is`` leaves them 2 h
apart, as this benchmark did before). SOLWEIG computes the sun of an hourly row half an hour before
the row's hour; landtwin's day is given the same instants (``--sun-at clock`` leaves its sun at the
hour, 30 min later than SOLWEIG's: more sun in the morning, less in the late afternoon). The ground is
landtwin's paving (concrete: albedo 0.25, emissivity 0.92); ``--ground solweig`` gives it the albedo
and emissivity SOLWEIG's ground is run with (0.15, 0.95). The person is the one UMEP's
``generate_solweig`` runs SOLWEIG with: a box body (``person_shape=box``) with a long-wave absorption
of 0.95 (``--body solweig``, the default); ``--body landtwin`` keeps landtwin's own person (an upright
cylinder, 0.97).

Usage: .venv/bin/python benchmarks/heat_vs_umep.py [--arch cpu|cuda] [--size 500] [--day 2023-07-15]
       [--umep-cache DIR] [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PEER = ROOT / ".peers" / "umep"
SOLWEIG_GROUND = (0.15, 0.95)  # albedo and emissivity of the ground in generate_solweig (its defaults)
SOLWEIG_BODY_ABSORB_LONG = 0.95  # the person's long-wave absorption in generate_solweig (its default; a box body)


def _site_packages() -> Path:
    return next((PEER / "lib").glob("python3*/site-packages"))


def _write(path: Path, arr: np.ndarray, transform: Affine, epsg: int) -> str:
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1], count=1,
                       dtype="float32", crs=f"EPSG:{epsg}", transform=transform) as dst:
        dst.write(arr.astype(np.float32), 1)
    return str(path)


def synthetic(size: int, seed: int, trees: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blocks of 6-30 m buildings on a gently sloping ground; optional street trees (cdsm above ground)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    dem = (120.0 + 0.01 * xx + 0.005 * yy).astype(np.float32)
    dsm = dem.copy()
    for r0 in range(10, size - 40, 45):
        for c0 in range(10, size - 40, 45):
            h, w = rng.integers(12, 34, 2)
            dsm[r0:r0 + h, c0:c0 + w] = dem[r0:r0 + h, c0:c0 + w] + rng.uniform(6, 30)
    cdsm = np.zeros_like(dem)
    if trees:
        for _ in range(size // 4):
            r, c = rng.integers(3, size - 3, 2)
            if dsm[r, c] - dem[r, c] < 0.1:
                rad = int(rng.integers(2, 5))
                disk = (yy[r - rad:r + rad + 1, c - rad:c + rad + 1] - r) ** 2 + (xx[r - rad:r + rad + 1, c - rad:c + rad + 1] - c) ** 2
                win = cdsm[r - rad:r + rad + 1, c - rad:c + rad + 1]
                win[disk <= rad * rad] = rng.uniform(6, 14)
        cdsm[dsm - dem > 0.1] = 0.0
    return dsm, dem, cdsm


def exact_svf(dsm: np.ndarray, cells: np.ndarray, *, n_az: int = 360, step: float = 0.05) -> np.ndarray:
    """Sky view factor of ``cells`` (k, 2) with the DSM's cells as square prisms, by marching each of
    ``n_az`` rays in steps of ``step`` cells to the grid edge (the slow, obvious reference)."""
    rows, cols = dsm.shape
    d = np.arange(step, float(np.hypot(rows, cols)), step)
    out = np.empty(len(cells))
    for i, (r, c) in enumerate(cells):
        acc = 0.0
        for k in range(n_az):
            a = 2 * np.pi * (k + 0.5) / n_az
            y, x = (r + 0.5) - d * np.cos(a), (c + 0.5) + d * np.sin(a)
            ok = (y >= 0) & (y < rows) & (x >= 0) & (x < cols)
            h = dsm[np.floor(y[ok]).astype(int), np.floor(x[ok]).astype(int)] - dsm[r, c]
            t = float(np.max(np.maximum(h, 0.0) / d[ok])) if ok.any() else 0.0
            acc += 1.0 / (1.0 + t * t)
        out[i] = acc / n_az
    return out


def solweig_ground_excess_k(sun, hours: list[int], tg_k: float = 0.37, t_start_k: float = -3.41,
                            t_max_lst: float = 15.0) -> dict[int, float]:
    """Sunlit ground temperature above the air in SOLWEIG's empirical daytime wave (Lindberg et al.
    2016, cobble-stone parameters shipped with UMEP): amplitude tg_k * max sun altitude + t_start,
    a quarter sine from sunrise to ``t_max_lst`` o'clock of the clock the hours are given in."""
    el = np.asarray(sun.elevation_deg, float)
    up = int(np.argmax(el > 0))
    sunrise = up - 1 + (-el[up - 1]) / (el[up] - el[up - 1])
    amp = tg_k * float(el.max()) + t_start_k
    return {h: float(amp * np.sin((h - sunrise) / (t_max_lst - sunrise) * np.pi / 2)) for h in hours}


def epw_in_utc(src: Path, dst: Path) -> Path:
    """A copy of an EPW file whose rows are labelled in UTC: each row keeps its date and hour and takes
    the values of the row ``offset`` hours later (the header's time zone, whole hours), and the header
    says UTC. UMEP's ``generate_solweig`` reads EPW clock hours as UTC, so without this its sun would
    stand ``offset`` hours away from the measured radiation (and so would ours, given the same clock)."""
    lines = src.read_text(encoding="utf-8").splitlines()
    head = lines[0].split(",")
    shift = int(round(float(head[8])))
    head[8] = "0.0"
    data = [line.split(",") for line in lines[8:]]
    n = len(data)
    rows = [",".join(data[i][:5] + data[(i + shift) % n][5:]) for i in range(n)]
    tmp = dst.with_suffix(".tmp")
    tmp.write_text("\n".join([",".join(head), *lines[1:8], *rows]) + "\n", encoding="utf-8")
    tmp.replace(dst)
    return dst


def tmrt_with_solweig_ground(fields: dict, dsm: np.ndarray, dem: np.ndarray, weather, sun, hours: list[int],
                             params, wave: dict[int, float] | None, *, albedo: float | None = None,
                             emissivity: float | None = None, walls_at_air: bool = False,
                             tables: dict | None = None) -> np.ndarray:
    """Diagnostic only: landtwin's Tmrt (same shadows, sky view, walls, ground view) with the ground's
    surface temperature replaced by SOLWEIG's empirical wave (air + wave where sunlit, air in shade;
    ours where ``wave`` is None), when given the ground's albedo and emissivity by SOLWEIG's, and the
    walls at air temperature when ``walls_at_air``. Shows which term the hourly differences come
    from; never part of the model."""
    from geodata.canopy import ROOF_MIN_M
    from geodata.district import SURFACE
    from models.heat.pipeline import body_factors, class_tables, ground_view_radii_cells, hourly_forcing
    from sim_kernels.radiation import (
        combine_ground_view,
        ground_view,
        ground_view_weights,
        mean_radiant_temperature,
    )

    roof = (dsm - dem) > ROOF_MIN_M
    surface = np.where(roof, SURFACE["roof"], SURFACE["paving"]).astype(np.uint8)
    classes = class_tables(params) if tables is None else tables
    alb, emi = classes["albedo"].copy(), classes["emissivity"].copy()
    if albedo is not None:
        alb[SURFACE["paving"]] = albedo
    if emissivity is not None:
        emi[SURFACE["paving"]] = emissivity
    forcing = hourly_forcing(weather, sun, params)
    ta = np.asarray(weather.air_temp_c, np.float32)
    sunlit = fields["sunlit"]
    ts = fields["surface_temp_c"].copy()
    for k, h in enumerate(hours):
        if wave is not None:
            ts[k][~roof] = ta[h] + wave[h] * sunlit[k][~roof]
    hourly = {"direct_normal_w_m2": sun.dni_w_m2[hours], "diffuse_w_m2": sun.dhi_w_m2[hours],
              "elevation_deg": sun.elevation_deg[hours], "azimuth_deg": np.asarray(sun.azimuth_deg, np.float32)[hours],
              "longwave_sky_w_m2": sun.longwave_sky_w_m2[hours], "air_temp_c": forcing["air_temp_c"][hours],
              "wall_temp_c": forcing["air_temp_c" if walls_at_air else "wall_temp_c"][hours]}
    radii = ground_view_radii_cells(params, 1.0)
    near, own = None, (1.0, 1.0)
    if radii:
        emitted, reflected = ground_view(sunlit, fields["svf"], surface, alb, emi, ts, hourly, raised=roof,
                                         radii_cells=radii, wall_albedo=params["wall_albedo"])
        w = ground_view_weights(1.0, params["person_centre_height_m"], radii)
        near = combine_ground_view(emitted, reflected, w)
        own = float(w["own_down"]), float(w["own_side"])
    return mean_radiant_temperature(sunlit, fields["svf"], surface, alb, emi, ts, hourly,
                                    wall_albedo=params["wall_albedo"], wall_emissivity=params["wall_emissivity"],
                                    body=body_factors(params), near=near, own_down=own[0], own_side=own[1])


def box_body_tmrt(tmrt_c: np.ndarray, sunlit: np.ndarray, sun, hours: list[int], params) -> np.ndarray:
    """Diagnostic only: landtwin's Tmrt with the direct beam falling on a box-shaped body aligned
    with the grid (each of the four sides F_side = 0.22 times the beam on it, as UMEP's
    ``generate_solweig`` runs SOLWEIG, without its cylinder) instead of the upright cylinder
    (F_cyl = 0.28 times the beam on a vertical surface facing the sun)."""
    from models.heat.pipeline import body_factors

    body = body_factors(params)
    if body["box"]:  # landtwin's Tmrt already is the box body's
        return tmrt_c.copy()
    out = np.empty_like(tmrt_c)
    sigma = 5.670374419e-8
    for k, h in enumerate(hours):
        e, az = np.radians(float(sun.elevation_deg[h])), np.radians(float(sun.azimuth_deg[h]))
        beam = float(sun.dni_w_m2[h]) * np.cos(e) if sun.elevation_deg[h] > 0.01 else 0.0
        box = body["f_side"] * (abs(np.sin(az)) + abs(np.cos(az)))
        s_str = body["absorb_long"] * sigma * (tmrt_c[k].astype(np.float64) + 273.15) ** 4
        s_str += body["absorb_short"] * beam * sunlit[k] * (box - body["f_cyl"])
        out[k] = (s_str / (body["absorb_long"] * sigma)) ** 0.25 - 273.15
    return out


def run_case(name: str, dsm: np.ndarray, dem: np.ndarray, cdsm: np.ndarray, transform: Affine, epsg: int,
             args: argparse.Namespace, work: Path) -> dict:
    from geodata.crs import reproject_xy
    from geodata.district import SURFACE
    from geodata.weather import read_epw, sun_and_irradiance
    from models.heat.engine import HeatParams, tmrt_on_rasters
    from models.heat.pipeline import class_tables
    from sim_kernels.shadows import cast_shadows
    from sim_kernels.skyview import sky_view_factor

    folder = work / name
    folder.mkdir()
    rows, cols = dsm.shape
    paths = {k: _write(folder / f"{k}.tif", a, transform, epsg) for k, a in (("dsm", dsm), ("dem", dem), ("cdsm", cdsm))}
    x0, y0 = transform.c, transform.f
    bbox = [x0, y0 - rows, x0 + cols, y0]
    lon, lat = reproject_xy(np.array([x0 + cols / 2]), np.array([y0 - rows / 2]), epsg, 4326)
    epw = _site_packages() / "demos" / "data" / "athens" / "athens_2023.epw"
    if args.epw_clock == "utc":
        epw = epw_in_utc(epw, work / "athens_2023_utc.epw")
    weather = replace(read_epw(epw, day=dt.date.fromisoformat(args.day)), timezone="UTC")
    params = HeatParams.default(arch=args.arch, **{"svf_radius_m": float(max(rows, cols)), **args.overrides})
    sun = sun_and_irradiance(weather, float(lat[0]), float(lon[0]), min_elevation_deg=params["min_sun_elevation_deg"])
    # SOLWEIG puts the sun of an hourly row half an hour before the row's hour (the middle of the hour the
    # row would end); landtwin's day is given the same instants, so both see the same sun with the same light
    day_weather = weather if args.sun_at == "clock" else replace(weather, timezone=dt.timezone(dt.timedelta(minutes=30)))
    day_sun = sun_and_irradiance(day_weather, float(lat[0]), float(lon[0]), min_elevation_deg=params["min_sun_elevation_deg"])
    day_hours = sun.daylight_hours()
    compare = [h for h in day_hours if sun.elevation_deg[h] >= 10.0]
    positions = [[float(sun.azimuth_deg[h]), float(sun.elevation_deg[h])] for h in compare]
    cfg = {**paths, "bbox": bbox, "epw": str(epw), "day": args.day, "hours": list(day_hours), "positions": positions,
           "out": str(folder / "umep")}
    (folder / "cfg.json").write_text(json.dumps(cfg))
    umep_dir = folder / "umep"
    cached = None
    if args.umep_cache:  # UMEP's results on the same rasters, sun and day from an earlier run
        digest = hashlib.sha256(b"".join(a.tobytes() for a in (dsm, dem, cdsm)) + Path(epw).read_bytes() + json.dumps(
            {k: v for k, v in cfg.items() if k not in ("out", "dsm", "dem", "cdsm", "epw")}, sort_keys=True).encode()).hexdigest()
        cached = Path(args.umep_cache) / f"{name}-{digest[:16]}"
        if (cached / "umep.json").exists():
            umep_dir = cached
    t0 = time.perf_counter()
    if umep_dir != cached:
        proc = subprocess.run([str(PEER / "bin" / "python"), str(ROOT / "benchmarks" / "peers" / "umep_runner.py"),
                               str(folder / "cfg.json")], capture_output=True, text=True, cwd=folder)
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-4000:])
            raise SystemExit(f"UMEP failed on {name}")
        if cached is not None:
            cached.mkdir(parents=True, exist_ok=True)
            for f in ("umep.npz", "umep.json"):
                shutil.copy(umep_dir / f, cached / f"{f}.tmp")
                (cached / f"{f}.tmp").replace(cached / f)
    umep_wall = time.perf_counter() - t0
    peer = np.load(umep_dir / "umep.npz")
    peer_t = json.loads((umep_dir / "umep.json").read_text())["timings_s"]

    # ours: single shadows at the same positions, SVF, and the day
    from sim_kernels.runtime import ensure_init

    ensure_init(args.arch)
    flat = dsm  # buildings and terrain only, as UMEP's single shadow masks
    agree = []
    t0 = time.perf_counter()
    ours_sh = [cast_shadows(dsm, flat, flat, cell_m=1.0, azimuth_deg=a, elevation_deg=e,
                            max_reach_m=params["shadow_max_reach_m"])[0] for a, e in positions]
    t_shadow = (time.perf_counter() - t0) / max(len(positions), 1)
    for ours, theirs in zip(ours_sh, peer["shadows"]):
        agree.append(float((ours == (theirs > 0.5)).mean()))
    t0 = time.perf_counter()
    svf, _ = sky_view_factor(dsm, None, cell_m=1.0, n_azimuths=int(params["svf_azimuths"]), radius_m=params["svf_radius_m"])
    t_svf = time.perf_counter() - t0
    ground = (dsm - dem) < 0.1
    inner = np.zeros_like(ground)
    inner[2:-2, 2:-2] = True
    svf_rmse = float(np.sqrt(np.mean((svf - peer["svf"])[ground & inner] ** 2)))
    # both against the exact geometry of square-prism cells, on a sample of ground cells
    cand = np.argwhere(ground & inner)
    pick = cand[np.random.default_rng(1).choice(len(cand), min(args.exact_cells, len(cand)), replace=False)]
    exact = exact_svf(dsm, pick)
    svf_bias_ours = float(np.mean(svf[pick[:, 0], pick[:, 1]] - exact))
    svf_bias_umep = float(np.mean(peer["svf"][pick[:, 0], pick[:, 1]] - exact))
    tmrt_on_rasters(dsm[:16, :16], cell_m=1.0, lonlat=(float(lon[0]), float(lat[0])), weather=day_weather,
                    hours=day_hours, ground_m=dem[:16, :16], params=params, utci=False)  # compile the kernels first
    t0 = time.perf_counter()
    tables = class_tables(params)
    if args.ground == "solweig":  # the ground's albedo and emissivity SOLWEIG is run with, on our paving
        tables["albedo"][SURFACE["paving"]], tables["emissivity"][SURFACE["paving"]] = SOLWEIG_GROUND
    fields, timings = tmrt_on_rasters(dsm, cell_m=1.0, lonlat=(float(lon[0]), float(lat[0])), weather=day_weather,
                                      hours=day_hours, canopy_m=cdsm, ground_m=dem, params=params, utci=False,
                                      classes=tables)
    our_day = time.perf_counter() - t0
    tm_ours, tm_theirs, tm_hours = [], [], []
    open_ground = ground & (cdsm <= 0) & inner
    if args.keep:
        keep = Path(args.keep)
        keep.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(keep / f"{name}.npz", dsm=dsm, dem=dem, cdsm=cdsm, hours=np.array(day_hours),
                            tmrt_ours=fields["tmrt_c"], sunlit_ours=fields["sunlit"], svf_ours=fields["svf"],
                            svf_ours_buildings=svf, svf_umep=peer["svf"],
                            **{k: peer[k] for k in peer.files if k.startswith("tmrt_")})
    ground_ours, ground_solweig = [], []
    wave = solweig_ground_excess_k(day_sun, list(day_hours))
    run = (fields, dsm, dem, day_weather, day_sun, list(day_hours), params)
    diag = {"wave": tmrt_with_solweig_ground(*run, wave, tables=tables),
            "wave_albedo": tmrt_with_solweig_ground(*run, wave, albedo=SOLWEIG_GROUND[0], emissivity=SOLWEIG_GROUND[1],
                                                    tables=tables),
            "walls_at_air": tmrt_with_solweig_ground(*run, None, walls_at_air=True, tables=tables)}
    diag["box_body"] = box_body_tmrt(fields["tmrt_c"], fields["sunlit"], day_sun, list(day_hours), params)
    diag["wave_box"] = box_body_tmrt(diag["wave"], fields["sunlit"], day_sun, list(day_hours), params)
    diag_diff: dict[str, list[float]] = {k: [] for k in diag}
    part_diff: dict[str, list[float]] = {"sun": [], "shade": []}
    for k, h in enumerate(day_hours):
        key = f"tmrt_{h:02d}"
        if h in compare and key in peer.files:
            tm_hours.append(h)
            tm_ours.append(float(fields["tmrt_c"][k][open_ground].mean()))
            tm_theirs.append(float(peer[key][open_ground].mean()))
            for name_d, arr in diag.items():
                diag_diff[name_d].append(round(float(arr[k][open_ground].mean()) - tm_theirs[-1], 2))
            for part, cells in (("sun", open_ground & (fields["sunlit"][k] > 0.5)),
                                ("shade", open_ground & (fields["sunlit"][k] <= 0.5))):
                part_diff[part].append(round(float((fields["tmrt_c"][k] - peer[key])[cells].mean()), 2)
                                       if cells.any() else float("nan"))
            lit = open_ground & (fields["sunlit"][k] > 0.5)
            ground_ours.append(round(float(fields["surface_temp_c"][k][lit].mean() - weather.air_temp_c[h]), 1) if lit.any() else None)
            ground_solweig.append(round(wave[h], 1))
    return {
        "case": name, "cells": int(dsm.size), "positions": len(positions),
        "shadow_agreement_min": min(agree), "shadow_agreement_mean": float(np.mean(agree)),
        "svf_rmse_ground": svf_rmse, "tmrt_mean_ours_c": float(np.mean(tm_ours)), "tmrt_mean_umep_c": float(np.mean(tm_theirs)),
        "tmrt_hourly_diff_k": [round(a - b, 2) for a, b in zip(tm_ours, tm_theirs)], "tmrt_hours": tm_hours,
        "tmrt_hourly_diff_with_solweig_ground_k": diag_diff["wave"],
        "tmrt_hourly_diff_with_solweig_ground_and_albedo_k": diag_diff["wave_albedo"],
        "tmrt_hourly_diff_with_walls_at_air_k": diag_diff["walls_at_air"],
        "tmrt_hourly_diff_with_box_body_k": diag_diff["box_body"],
        "tmrt_hourly_diff_with_solweig_ground_and_box_body_k": diag_diff["wave_box"],
        "tmrt_hourly_diff_sunlit_k": part_diff["sun"], "tmrt_hourly_diff_shaded_k": part_diff["shade"],
        "tmrt_hourly_ours_c": [round(a, 2) for a in tm_ours], "tmrt_hourly_umep_c": [round(b, 2) for b in tm_theirs],
        "svf_bias_vs_exact_ours": svf_bias_ours, "svf_bias_vs_exact_umep": svf_bias_umep,
        "sunlit_ground_minus_air_ours_k": ground_ours, "sunlit_ground_minus_air_solweig_wave_k": ground_solweig,
        "shadow_s_ours": t_shadow, "shadow_s_umep": peer_t["shadow_each"], "svf_s_ours": t_svf, "svf_s_umep": peer_t["svf"],
        "day_s_ours": our_day, "day_s_umep": peer_t["solweig_day"], "umep_process_s": umep_wall,
        "day_hours": len(day_hours), "our_timings_s": timings,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="cpu", help="Taichi backend for landtwin: cpu or cuda")
    ap.add_argument("--size", type=int, default=500)
    ap.add_argument("--day", default="2023-07-15")
    ap.add_argument("--cases", default="synthetic,synthetic_trees,athens", help="comma-separated cases")
    ap.add_argument("--exact-cells", type=int, default=200, help="ground cells of the exact-geometry SVF check")
    ap.add_argument("--keep", default=None, help="folder to keep both sides' hourly Tmrt and SVF per case (npz)")
    ap.add_argument("--epw-clock", choices=("utc", "as-is"), default="utc",
                    help="utc: relabel the weather rows in UTC first (sun and measured radiation in phase for both "
                         "models); as-is: the file's local clock read as UTC by both (radiation 2 h out of phase)")
    ap.add_argument("--sun-at", choices=("solweig", "clock"), default="solweig",
                    help="solweig: landtwin's sun of each hour half an hour before it, where SOLWEIG puts it; clock: at "
                         "the hour (the sun then stands 30 min apart in the two models)")
    ap.add_argument("--ground", choices=("paving", "solweig"), default="paving",
                    help="paving: landtwin's own paving (albedo 0.25, emissivity 0.92); solweig: that paving with the "
                         "albedo and emissivity SOLWEIG's ground is given (0.15, 0.95)")
    ap.add_argument("--body", choices=("solweig", "landtwin"), default="solweig",
                    help="solweig: landtwin's person given the body UMEP runs SOLWEIG with (box, long-wave absorption "
                         "0.95); landtwin: landtwin's own person (upright cylinder, 0.97)")
    ap.add_argument("--umep-cache", default=None,
                    help="folder keeping UMEP's results per case; reused when rasters, sun and day are the same")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a landtwin heat parameter (number), e.g. --set ground_view_radius_m=0")
    args = ap.parse_args()
    args.overrides = {"person_shape": "box", "body_absorb_long": SOLWEIG_BODY_ABSORB_LONG} if args.body == "solweig" else {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            args.overrides[key] = float(value)
        except ValueError:  # a word, e.g. person_shape=box
            args.overrides[key] = value
    if not (PEER / "bin" / "python").exists():
        raise SystemExit("UMEP peer missing: run benchmarks/peers/setup.sh umep")
    results = []
    cases = args.cases.split(",")
    print(f"landtwin vs UMEP/SOLWEIG (arch {args.arch}, day {args.day}, person: {args.body}, ground: {args.ground})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        origin = Affine(1.0, 0.0, 476800.0, 0.0, -1.0, 4206250.0)  # beside the Athens demo, EPSG:2100
        for name in cases:
            if name == "athens":
                data = _site_packages() / "demos" / "data" / "athens"
                with rasterio.open(data / "DSM.tif") as s:
                    dsm, tr = s.read(1).astype(np.float32), s.transform
                with rasterio.open(data / "DEM.tif") as s:
                    dem = s.read(1).astype(np.float32)
                r = run_case("athens", dsm, dem, np.zeros_like(dsm), tr, 2100, args, work)
            else:
                dsm, dem, cdsm = synthetic(args.size, seed=7, trees=name == "synthetic_trees")
                r = run_case(name, dsm, dem, cdsm, origin, 2100, args, work)
            results.append(r)
            report(r)
    print("\nJSON " + json.dumps(results))


def report(r: dict) -> None:
    """Print one case's figures."""
    if r:
        print(f"\n[{r['case']}] {r['cells']} cells, {r['positions']} sun positions compared, {r['day_hours']} daylight hours")
        print(f"  shadow agreement   min {100 * r['shadow_agreement_min']:.2f} %  mean {100 * r['shadow_agreement_mean']:.2f} %  (target >= 98 %)")
        print(f"  SVF RMSE (ground)  {r['svf_rmse_ground']:.4f}  (target <= 0.03)")
        print(f"  SVF bias vs exact prism geometry: landtwin {r['svf_bias_vs_exact_ours']:+.4f}  UMEP {r['svf_bias_vs_exact_umep']:+.4f}")
        d = r["tmrt_mean_ours_c"] - r["tmrt_mean_umep_c"]
        print(f"  mean Tmrt          landtwin {r['tmrt_mean_ours_c']:.2f} °C  UMEP {r['tmrt_mean_umep_c']:.2f} °C  diff {d:+.2f} K  (target |diff| <= 2 K)")
        print(f"    hourly diffs (K) {r['tmrt_hourly_diff_k']}")
        print("    hour  landtwin  UMEP    diff  (sun / shade)   sunlit ground-air: landtwin / SOLWEIG wave   "
              "diagnostic diffs: SOLWEIG's ground temperature / and its albedo+emissivity / walls at air / "
              "box body / SOLWEIG's ground temperature and box body")
        for h, a, b, d, d1, d2, g1, g2, w1, w2, w3, w4, w5 in zip(
                r["tmrt_hours"], r["tmrt_hourly_ours_c"], r["tmrt_hourly_umep_c"], r["tmrt_hourly_diff_k"],
                r["tmrt_hourly_diff_sunlit_k"], r["tmrt_hourly_diff_shaded_k"], r["sunlit_ground_minus_air_ours_k"],
                r["sunlit_ground_minus_air_solweig_wave_k"], r["tmrt_hourly_diff_with_solweig_ground_k"],
                r["tmrt_hourly_diff_with_solweig_ground_and_albedo_k"], r["tmrt_hourly_diff_with_walls_at_air_k"],
                r["tmrt_hourly_diff_with_box_body_k"], r["tmrt_hourly_diff_with_solweig_ground_and_box_body_k"]):
            print(f"    {h:4d}  {a:8.2f}  {b:6.2f}  {d:+5.2f}  ({d1:+5.2f} / {d2:+5.2f})   {g1!s:>5} / {g2!s:>5}   "
                  f"{w1:+5.2f} / {w2:+5.2f} / {w3:+5.2f} / {w4:+5.2f} / {w5:+5.2f}")
        print(f"    sunlit open ground minus air (K): landtwin {r['sunlit_ground_minus_air_ours_k']}")
        print(f"                      SOLWEIG's empirical wave {r['sunlit_ground_minus_air_solweig_wave_k']}")
        print(f"  one shadow         landtwin {r['shadow_s_ours']:.3f} s  UMEP {r['shadow_s_umep']:.3f} s")
        print(f"  SVF                landtwin {r['svf_s_ours']:.2f} s  UMEP {r['svf_s_umep']:.2f} s  ratio {r['svf_s_umep'] / r['svf_s_ours']:.1f}x")
        print(f"  SOLWEIG-like day   landtwin {r['day_s_ours']:.2f} s  UMEP {r['day_s_umep']:.2f} s  ratio {r['day_s_umep'] / r['day_s_ours']:.1f}x  (target >= 5x)")
        print(f"    landtwin stages  {json.dumps({k: round(v, 2) for k, v in r['our_timings_s'].items()})}", flush=True)


if __name__ == "__main__":
    main()
