"""landtwin's shadows, sky view factor and Tmrt side by side with UMEP/SOLWEIG on the same DSMs.

Cases: synthetic 500 x 500 DSMs at 1 m (seeded blocks of buildings, with and without trees) and the
Athens demo DSM shipped in the umep wheel. UMEP runs in its own venv (``benchmarks/peers/setup.sh umep``)
through ``benchmarks/peers/umep_runner.py``. Printed per case: shadow-mask agreement (target >= 98 %),
SVF RMSE on ground cells (<= 0.03), mean Tmrt over the compared hours and its difference (<= 2 K), and
the wall time of the SOLWEIG-equivalent day (shadows, SVF, Tmrt for every daylight hour) with the ratio
(target >= 5x).

Same weather and sun: the Athens EPW of the wheel, one summer day. UMEP's ``generate_solweig`` takes
the EPW clock hours as UTC, so landtwin is given the same day with ``timezone="UTC"`` here.

Usage: .venv/bin/python benchmarks/heat_vs_umep.py [--arch cpu|cuda] [--size 500] [--day 2023-07-15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def run_case(name: str, dsm: np.ndarray, dem: np.ndarray, cdsm: np.ndarray, transform: Affine, epsg: int,
             args: argparse.Namespace, work: Path) -> dict:
    from geodata.crs import reproject_xy
    from geodata.weather import read_epw, sun_and_irradiance
    from models.heat.engine import HeatParams, tmrt_on_rasters
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
    weather = replace(read_epw(epw, day=dt.date.fromisoformat(args.day)), timezone="UTC")
    params = HeatParams.default(arch=args.arch, svf_radius_m=float(max(rows, cols)))
    sun = sun_and_irradiance(weather, float(lat[0]), float(lon[0]), min_elevation_deg=params["min_sun_elevation_deg"])
    day_hours = sun.daylight_hours()
    compare = [h for h in day_hours if sun.elevation_deg[h] >= 10.0]
    positions = [[float(sun.azimuth_deg[h]), float(sun.elevation_deg[h])] for h in compare]
    cfg = {**paths, "bbox": bbox, "epw": str(epw), "day": args.day, "hours": list(day_hours), "positions": positions,
           "out": str(folder / "umep")}
    (folder / "cfg.json").write_text(json.dumps(cfg))
    t0 = time.perf_counter()
    proc = subprocess.run([str(PEER / "bin" / "python"), str(ROOT / "benchmarks" / "peers" / "umep_runner.py"),
                           str(folder / "cfg.json")], capture_output=True, text=True, cwd=folder)
    umep_wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-4000:])
        raise SystemExit(f"UMEP failed on {name}")
    peer = np.load(folder / "umep" / "umep.npz")
    peer_t = json.loads((folder / "umep" / "umep.json").read_text())["timings_s"]

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
    tmrt_on_rasters(dsm[:16, :16], cell_m=1.0, lonlat=(float(lon[0]), float(lat[0])), weather=weather,
                    hours=day_hours, ground_m=dem[:16, :16], params=params, utci=False)  # compile the kernels first
    t0 = time.perf_counter()
    fields, timings = tmrt_on_rasters(dsm, cell_m=1.0, lonlat=(float(lon[0]), float(lat[0])), weather=weather,
                                      hours=day_hours, canopy_m=cdsm, ground_m=dem, params=params, utci=False)
    our_day = time.perf_counter() - t0
    tm_ours, tm_theirs = [], []
    open_ground = ground & (cdsm <= 0) & inner
    if args.keep:
        keep = Path(args.keep)
        keep.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(keep / f"{name}.npz", dsm=dsm, dem=dem, cdsm=cdsm, hours=np.array(day_hours),
                            tmrt_ours=fields["tmrt_c"], sunlit_ours=fields["sunlit"], svf_ours=fields["svf"],
                            svf_ours_buildings=svf, svf_umep=peer["svf"],
                            **{k: peer[k] for k in peer.files if k.startswith("tmrt_")})
    ground_ours, ground_solweig = [], []
    wave = solweig_ground_excess_k(sun, list(day_hours))
    for k, h in enumerate(day_hours):
        key = f"tmrt_{h:02d}"
        if h in compare and key in peer.files:
            tm_ours.append(float(fields["tmrt_c"][k][open_ground].mean()))
            tm_theirs.append(float(peer[key][open_ground].mean()))
            lit = open_ground & (fields["sunlit"][k] > 0.5)
            ground_ours.append(round(float(fields["surface_temp_c"][k][lit].mean() - weather.air_temp_c[h]), 1) if lit.any() else None)
            ground_solweig.append(round(wave[h], 1))
    return {
        "case": name, "cells": int(dsm.size), "positions": len(positions),
        "shadow_agreement_min": min(agree), "shadow_agreement_mean": float(np.mean(agree)),
        "svf_rmse_ground": svf_rmse, "tmrt_mean_ours_c": float(np.mean(tm_ours)), "tmrt_mean_umep_c": float(np.mean(tm_theirs)),
        "tmrt_hourly_diff_k": [round(a - b, 2) for a, b in zip(tm_ours, tm_theirs)],
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
    args = ap.parse_args()
    if not (PEER / "bin" / "python").exists():
        raise SystemExit("UMEP peer missing: run benchmarks/peers/setup.sh umep")
    results = []
    cases = args.cases.split(",")
    print(f"landtwin vs UMEP/SOLWEIG (arch {args.arch}, day {args.day})", flush=True)
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
        print(f"    sunlit open ground minus air (K): landtwin {r['sunlit_ground_minus_air_ours_k']}")
        print(f"                      SOLWEIG's empirical wave {r['sunlit_ground_minus_air_solweig_wave_k']}")
        print(f"  one shadow         landtwin {r['shadow_s_ours']:.3f} s  UMEP {r['shadow_s_umep']:.3f} s")
        print(f"  SVF                landtwin {r['svf_s_ours']:.2f} s  UMEP {r['svf_s_umep']:.2f} s  ratio {r['svf_s_umep'] / r['svf_s_ours']:.1f}x")
        print(f"  SOLWEIG-like day   landtwin {r['day_s_ours']:.2f} s  UMEP {r['day_s_umep']:.2f} s  ratio {r['day_s_umep'] / r['day_s_ours']:.1f}x  (target >= 5x)")
        print(f"    landtwin stages  {json.dumps({k: round(v, 2) for k, v in r['our_timings_s'].items()})}", flush=True)


if __name__ == "__main__":
    main()
