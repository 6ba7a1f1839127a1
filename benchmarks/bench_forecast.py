"""Benchmark: population forecast of the whole Kreis, all Gemeinden, 2019-2040, baseline plus 100 scenario
variants.

Run: ``.venv/bin/python benchmarks/bench_forecast.py [--shared-data DIR] [--variants 100]``.

Prints:
1. building the base population from the open data (Zensus 100 m grid per Gemeinde) and the housing basis;
2. the baseline projection (cohort model only, and with demand), cold (life tables fitted) and warm;
3. 100 scenario variants (refugee intakes, housing estates, out-migration factors, fertility and
   life-expectancy paths with seeded random parameters), projection + demand each: time per variant,
   median and maximum (target: one variant under 0.5 s on 2 cores), and the baseline's deviation from the
   official forecasts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from geodata.interventions import DemographicPath, HousingEstate, OutMigrationFactor, RefugeeIntake
from models.forecast.calibrate import compare_with_targets
from models.forecast.demand import compute_demand
from models.forecast.scenario import run_forecast
from models.forecast.service import base_from_shared, housing_for

TARGET_S = 0.5


def _variant(rng: np.random.Generator, ags: tuple[str, ...], i: int) -> list:
    edits: list = []
    kinds = rng.choice(4, size=int(rng.integers(1, 4)), replace=False)
    for k in kinds:
        if k == 0:
            first = int(rng.integers(2021, 2035))
            edits.append(RefugeeIntake(id=f"r{i}", persons_per_year=int(rng.integers(50, 2000)), first_year=first,
                                       last_year=first + int(rng.integers(0, 5)),
                                       gemeinden=[str(a) for a in rng.choice(ags, size=int(rng.integers(0, 5)), replace=False)],
                                       age_profile=str(rng.choice(["asylum", "families", "kreis"]))))
        elif k == 1:
            edits.append(HousingEstate(id=f"h{i}", ags=str(rng.choice(ags)), dwellings=int(rng.integers(10, 800)),
                                       persons_per_dwelling=float(rng.uniform(1.5, 3.0)),
                                       year=int(rng.integers(2021, 2039)), years=int(rng.integers(1, 5))))
        elif k == 2:
            edits.append(OutMigrationFactor(id=f"o{i}", factor=float(rng.uniform(0.3, 2.0)),
                                            first_year=int(rng.integers(2020, 2030)),
                                            gemeinden=[str(a) for a in rng.choice(ags, size=int(rng.integers(0, 8)), replace=False)]))
        else:
            edits.append(DemographicPath(id=f"d{i}", tfr_2040=float(rng.uniform(1.2, 2.0)),
                                         e0_change_2040_male=float(rng.uniform(-2, 3)),
                                         e0_change_2040_female=float(rng.uniform(-2, 3))))
    return edits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared-data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--variants", type=int, default=100)
    ap.add_argument("--to", type=int, default=2040)
    args = ap.parse_args()
    print(f"CPU cores visible: {os.cpu_count()}, affinity: {len(os.sched_getaffinity(0))}")

    t0 = time.perf_counter()
    base = base_from_shared(args.shared_data)
    housing = housing_for(base, args.shared_data)
    t_base = time.perf_counter() - t0
    g = len(base.ags)
    print(f"1. base population + housing basis from the open data: {t_base:.3f} s ({g} Gemeinden, "
          f"{base.persons.sum():,.0f} persons, {base.persons.size:,} cells)")

    t0 = time.perf_counter()
    pr = run_forecast(base, (), args.to)
    t_cold = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        pr = run_forecast(base, (), args.to)
        compute_demand(pr, housing, [])
        times.append(time.perf_counter() - t0)
    print(f"2. baseline 2019-{args.to}: cold {t_cold:.3f} s (life tables fitted), warm with demand "
          f"{statistics.median(times) * 1000:.1f} ms")
    for row in compare_with_targets(pr):
        dev = f"{row['deviation_pct']:+.2f} %" if "deviation_pct" in row else f"{row['deviation_points']:+.2f} points"
        print(f"   {row['indicator']} {row['year']}: official {row['value']:,} model {row['model']:,} ({dev}, "
              f"{'within' if row['within'] else 'OUTSIDE'} tolerance)")

    rng = np.random.default_rng(2040)
    variants = [_variant(rng, base.ags, i) for i in range(args.variants)]
    per = []
    total0 = time.perf_counter()
    for edits in variants:
        t0 = time.perf_counter()
        p = run_forecast(base, edits, args.to)
        compute_demand(p, housing, edits)
        per.append(time.perf_counter() - t0)
    total = time.perf_counter() - total0
    med, mx = statistics.median(per), max(per)
    print(f"3. {args.variants} scenario variants (projection + demand): total {total:.2f} s, per variant median "
          f"{med * 1000:.1f} ms, max {mx * 1000:.1f} ms, mean {total / max(len(per), 1) * 1000:.1f} ms "
          f"(target < {TARGET_S} s: ratio max/target {mx / TARGET_S:.3f}) -> {'met' if mx < TARGET_S else 'NOT met'}")


if __name__ == "__main__":
    main()
