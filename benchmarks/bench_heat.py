"""Heat simulation speed on the 2 x 2 km sample district at 2 m (1 M cells).

Prints: the full design-day recompute (every daylight hour), one tree placed -> updated UTCI for the
shown hour (incremental), cells per second of each stage, and the memory peak. Targets (2 CPU cores):
one tree <= 300 ms, full day <= 60 s. With ``--uhi`` also the heat island of the sample (core minus
open land at 04:00 and 13:00, calm and at 5 m/s) and the district cooling demand. With ``--cooling`` the
buildings' cooling demand over the day as the live loop computes it: the first time (whole day) and
after each single-tree edit (only what the tree changed).

Usage: .venv/bin/python benchmarks/bench_heat.py [--arch cpu|cuda] [--size-km 2.0] [--hour 15] [--trees 5] [--uhi] [--cooling]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="cpu", help="Taichi backend: cpu or cuda")
    ap.add_argument("--size-km", type=float, default=2.0)
    ap.add_argument("--hour", type=int, default=15)
    ap.add_argument("--trees", type=int, default=5, help="single-tree edits to time")
    ap.add_argument("--skip-day", action="store_true")
    ap.add_argument("--uhi", action="store_true", help="also the heat island at 04:00 and 13:00, calm and at 5 m/s, and "
                    "the district cooling demand")
    ap.add_argument("--cooling", action="store_true", help="also the buildings' cooling demand: first time and per edit")
    args = ap.parse_args()

    from geodata.interventions import decode_intervention
    from geodata.sample import build_sample_district
    from models.heat.engine import HeatEngine, HeatParams

    t0 = time.perf_counter()
    district = build_sample_district(size_km=args.size_km, seed=0, cell_m=2.0)
    t_build = time.perf_counter() - t0
    cells = district.grid.rows * district.grid.cols
    print(f"sample {args.size_km} km at 2 m: {district.grid.shape} = {cells:,} cells, {len(district.buildings)} buildings,"
          f" {district.residents_total} residents (built in {t_build:.1f} s)")
    params = HeatParams.default(arch=args.arch)
    t0 = time.perf_counter()
    engine = HeatEngine(district, params=params)
    print(f"engine set-up {time.perf_counter() - t0:.2f} s, daylight hours {engine.daylight}, arch {args.arch}")

    out: dict = {"cells": cells, "arch": args.arch}
    if not args.skip_day:
        day = HeatEngine(district, params=params)
        day.compute([], hours=(args.hour,))  # compiles every kernel once
        t0, c0 = time.perf_counter(), time.process_time()
        res = day.compute([], hours=day.daylight, full=True)
        t_day, cpu_day = time.perf_counter() - t0, time.process_time() - c0
        n_h = len(day.daylight)
        t = res.timings_s
        print(f"\nfull design-day recompute ({n_h} daylight hours): {t_day:.2f} s wall, {cpu_day:.1f} s CPU of this "
              f"process (target <= 60 s wall on 2 cores)")
        for stage, work in (("shadows", cells * n_h), ("svf", cells), ("energy_tmrt", cells * n_h), ("air", cells * n_h),
                            ("utci", cells * n_h)):
            secs = t.get(stage, 0.0)
            print(f"  {stage:12s} {secs:7.2f} s  {work / max(secs, 1e-9) / 1e6:9.2f} M cell-hours/s")
        out.update(day_s=t_day, day_cpu_s=cpu_day, day_hours=n_h, stages_s={k: v for k, v in t.items()})
        del day, res

    engine.compute([], hours=(args.hour,))
    rng = np.random.default_rng(0)
    ground = np.argwhere((district.building_index < 0) & (district.canopy_m == 0))
    times, cpus, breakdowns = [], [], []
    for i in range(args.trees + 1):
        r, c = ground[rng.integers(len(ground))]
        x, y = district.grid.rowcol_to_xy(np.array([r]), np.array([c]))
        tree = decode_intervention({"kind": "tree", "id": f"t{i}", "xy_local_m": [float(x[0]), float(y[0])],
                                    "height_m": 14.0, "crown_diameter_m": 10.0})
        t0, c0 = time.perf_counter(), time.process_time()
        res = engine.compute([tree], hours=(args.hour,))
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        if i > 0:  # the first edit warms caches
            times.append(dt)
            cpus.append(cpu)
            breakdowns.append(res.timings_s)
            w = res.changed_window
            print(f"  tree {i}: {1000 * dt:6.1f} ms wall ({1000 * cpu:6.1f} ms CPU), window {w[1] - w[0]}x{w[3] - w[2]} cells, "
                  f"UTCI change at the tree {res.kpis['utci_diff_to_baseline_k']:+.4f} K (area mean)")
        engine.compute([], hours=(args.hour,))
    med = float(np.median(times))
    print(f"\none tree placed -> updated UTCI at {args.hour}:00: median {1000 * med:.0f} ms wall, "
          f"{1000 * float(np.median(cpus)):.0f} ms CPU, over {len(times)} edits (target <= 300 ms wall on 2 cores)")
    print(f"load average while measuring: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    keys = [k for k in breakdowns[0] if k != "total"]
    print("  median stages (ms): " + ", ".join(f"{k} {1000 * np.median([b.get(k, 0.0) for b in breakdowns]):.0f}" for k in keys))
    if args.cooling:
        out["cooling"] = cooling_per_edit(engine, district, ground, args.trees)
    if args.uhi:
        out["uhi"] = heat_island(district, params)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory peak {peak_mb:.0f} MB")
    out.update(tree_ms_median=1000 * med, tree_cpu_ms_median=1000 * float(np.median(cpus)), tree_ms=[1000 * t for t in times], peak_mb=peak_mb)
    print("JSON " + json.dumps(out))


def cooling_per_edit(engine, district, ground: np.ndarray, trees: int) -> dict:
    """Wall time of ``building_cooling`` as the live loop calls it: the first time, then after each of
    ``trees`` single-tree edits (each edit's heat fields computed first, as the live loop does)."""
    from geodata.interventions import decode_intervention

    t0 = time.perf_counter()
    first = engine.building_cooling([])
    t_first = time.perf_counter() - t0
    print(f"\ncooling demand over the day, first time (whole day): {t_first:.2f} s, district {first.district_kwh:,.0f} kWh")
    rng = np.random.default_rng(1)
    times = []
    for i in range(trees):
        r, c = ground[rng.integers(len(ground))]
        x, y = district.grid.rowcol_to_xy(np.array([r]), np.array([c]))
        tree = decode_intervention({"kind": "tree", "id": f"c{i}", "xy_local_m": [float(x[0]), float(y[0])],
                                    "height_m": 14.0, "crown_diameter_m": 10.0})
        engine.compute([tree], hours=engine._state.hours)
        t0 = time.perf_counter()
        cool = engine.building_cooling([tree])
        times.append(time.perf_counter() - t0)
        print(f"  tree {i + 1}: cooling {1000 * times[-1]:6.0f} ms, district {cool.district_kwh:,.1f} kWh "
              f"({cool.district_kwh - first.district_kwh:+.2f})")
    med = float(np.median(times))
    print(f"cooling demand per edit: median {1000 * med:.0f} ms wall over {len(times)} edits "
          f"(load average {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores)")
    return {"first_s": t_first, "per_edit_ms_median": 1000 * med, "per_edit_ms": [1000 * t for t in times]}


def heat_island(district, params) -> dict:
    """Core-minus-open air temperature at 04:00 and 13:00 on the design day, the same at a constant
    5 m/s wind, and the buildings' cooling demand over the day (with its wall time)."""
    import dataclasses

    from geodata.weather import design_hot_day
    from models.heat.engine import HeatEngine
    from models.heat.uhi import core_minus_open_k

    out: dict = {}
    print("\nheat island: core (250 m blocks >= 25 % built) minus open land (>= 300 m from buildings)")
    for label, wind in (("calm", None), ("5 m/s", 5.0)):
        w = design_hot_day()
        if wind is not None:
            w = dataclasses.replace(w, wind_speed_m_s=np.full(24, wind))
        eng = HeatEngine(district, weather=w, params=params)
        t0 = time.perf_counter()
        res = eng.compute([], hours=(4, 13))
        figs = [core_minus_open_k(res.fields["air_temp_c"][k], eng.core, eng.open_land) for k in range(2)]
        print(f"  {label:6s} 04:00 {figs[0]:+.2f} K (target 1.5-5 K calm; < half of calm at 5 m/s)  13:00 {figs[1]:+.2f} K "
              f"(target within +-1.5 K)  [{time.perf_counter() - t0:.1f} s]")
        out[label] = {"h04_k": figs[0], "h13_k": figs[1]}
        if wind is None:
            t0 = time.perf_counter()
            cool = eng.building_cooling()
            secs = time.perf_counter() - t0
            n = int(cool.cooled.sum())
            print(f"  cooling demand of {n} cooled buildings over the design day: {cool.district_kwh:,.0f} kWh "
                  f"({cool.district_kwh / max(float(eng.envelope.floor_area_m2[cool.cooled].sum()), 1.0):.3f} kWh/m2 floor) "
                  f"in {secs:.1f} s")
            out["cooling_kwh_day"], out["cooling_s"] = cool.district_kwh, secs
    return out


if __name__ == "__main__":
    main()
