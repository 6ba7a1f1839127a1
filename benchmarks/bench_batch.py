"""Benchmark: scenarios per minute of a batch of tree-row variants on the sample district, with 1 and
2 local worker processes (or on Ray with ``--ray``), and the speed-up from 1 to 2 workers.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--arch cpu|cuda] [--size-km 1] [--variants 8]
[--workers 1,2] [--ray ADDRESS] [--region-variants 40]``.

Each variant plants ``--trees`` trees on random open ground (seeded), evaluated by the full heat model
on a copy of the warm baseline engine. Printed per worker count: wall time including the
workers' start and baseline (what a planner waits for), scenarios per minute on that wall time, the
median seconds of one variant inside a worker, and the system load while it ran.

``--region-variants N`` also runs a batch of N forecast and migration variants of the Burgenlandkreis
(out-migration factors of the 18-29-year-olds crossed with yearly intakes, projected to 2040 per Gemeinde;
needs ../shared/data) with the same worker counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geodata.district import SURFACE  # noqa: E402
from geodata.interventions import Tree  # noqa: E402
from geodata.sample import build_sample_district  # noqa: E402
from models.batch.evaluate import EvalConfig  # noqa: E402
from models.batch.run import run_batch  # noqa: E402
from models.batch.variants import Variant  # noqa: E402


def variants(district, n: int, trees: int, seed: int = 0) -> list[Variant]:
    """``n`` variants of ``trees`` trees each on random open ground (no building, water or crown), seeded."""
    rng = np.random.default_rng(seed)
    g = district.grid
    ok = (district.building_index < 0) & (district.canopy_m <= 0) & (district.surface_class != SURFACE["water"])
    rr, cc = np.nonzero(ok[4:-4, 4:-4])
    out = []
    for k in range(n):
        pick = rng.choice(rr.size, trees, replace=False)
        x, y = g.rowcol_to_xy(rr[pick] + 4, cc[pick] + 4)
        out.append(Variant(f"baeume_{k + 1:03d}", tuple(Tree(id=f"t{j}", xy_local_m=(float(a), float(b)))
                                                        for j, (a, b) in enumerate(zip(x, y)))))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="cpu", help="Taichi backend: cpu or cuda")
    ap.add_argument("--size-km", type=float, default=1.0)
    ap.add_argument("--variants", type=int, default=8)
    ap.add_argument("--trees", type=int, default=20, help="trees per variant")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--ray", default=None, help="also run on this Ray cluster ('local' starts one with 2 CPUs)")
    ap.add_argument("--region-variants", type=int, default=0, help="also a batch of this many forecast variants")
    ap.add_argument("--skip-town", action="store_true", help="only the region batch")
    args = ap.parse_args(argv)
    if args.region_variants:
        region_batch(args.region_variants, [int(w) for w in args.workers.split(",")])
    if args.skip_town:
        return 0
    d = build_sample_district(size_km=args.size_km, name="bench")
    vs = variants(d, args.variants, args.trees)
    config = EvalConfig(arch=args.arch)
    tmp = Path(tempfile.mkdtemp(prefix="landtwin-batch-"))
    runs = []
    try:
        plans = [("local", int(w)) for w in args.workers.split(",")] + ([("ray", 2)] if args.ray else [])
        for backend, w in plans:
            load0 = os.getloadavg()[0]
            if backend == "ray":
                import ray

                ray.init(**({"num_cpus": 2} if args.ray == "local" else {"address": args.ray}), include_dashboard=False,
                         log_to_driver=False)
            res = run_batch(d, vs, tmp / f"{backend}{w}", config=config, workers=w, use_ray=backend == "ray",
                            progress=False)
            per = res.table["seconds"].dropna().astype(float).tolist()
            runs.append({"backend": backend, "workers": w, "variants": len(vs), "wall_s": round(res.seconds, 2),
                         "scenarios_per_minute": round(res.scenarios_per_minute, 2),
                         "variant_median_s": round(statistics.median(per), 3),
                         "failed": int(res.table["rank"].isna().sum()),
                         "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2)})
            print(json.dumps(runs[-1]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    local = {r["workers"]: r for r in runs if r["backend"] == "local"}
    if 1 in local and 2 in local:
        print(f"batch of {len(vs)} on {args.size_km:g} km ({args.arch}): {local[1]['scenarios_per_minute']:.1f} -> "
              f"{local[2]['scenarios_per_minute']:.1f} scenarios/min, speed-up 1 -> 2 workers "
              f"{local[2]['scenarios_per_minute'] / local[1]['scenarios_per_minute']:.2f}x")
    return 0


def region_batch(n: int, workers: list[int]) -> None:
    """Scenarios per minute of ``n`` forecast variants of the region with each worker count."""
    from models.batch.region import RegionSubject, run_region_batch
    from models.batch.variants import parse_variants
    from models.forecast.service import base_from_shared, housing_for

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    base = base_from_shared(shared)
    subject = RegionSubject(base, housing_for(base, shared), 2040)
    intakes = [0, 200, 400, 800, 1600]
    factors = np.linspace(0.5, 1.5, max(1, -(-n // len(intakes))))
    items = []
    for f in factors:
        for i in intakes:
            edits = [{"kind": "out_migration_factor", "id": "o", "factor": round(float(f), 4)}]
            if i:
                edits.append({"kind": "refugee_intake", "id": "r", "persons_per_year": i, "first_year": 2024,
                              "last_year": 2030, "age_profile": "families"})
            items.append({"name": f"abwanderung_{f:.3f}_zuzug_{i}", "interventions": edits})
    vs = parse_variants(items[:n])
    rates = {}
    tmp = Path(tempfile.mkdtemp(prefix="landtwin-region-batch-"))
    try:
        for w in workers:
            load0 = os.getloadavg()[0]
            res = run_region_batch(subject, vs, tmp / f"w{w}", workers=w, progress=False)
            per = res.table["seconds"].dropna().astype(float).tolist()
            rates[w] = res.scenarios_per_minute
            print(json.dumps({"backend": "local", "subject": "region", "workers": w, "variants": len(vs),
                              "wall_s": round(res.seconds, 2), "scenarios_per_minute": round(res.scenarios_per_minute, 1),
                              "variant_median_s": round(statistics.median(per), 4),
                              "failed": int(res.table["rank"].isna().sum()), "load_before": round(load0, 2),
                              "load_after": round(os.getloadavg()[0], 2)}), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if 1 in rates and 2 in rates:
        print(f"region batch of {len(vs)} forecast variants: {rates[1]:.0f} -> {rates[2]:.0f} scenarios/min, "
              f"speed-up 1 -> 2 workers {rates[2] / rates[1]:.2f}x", flush=True)


if __name__ == "__main__":
    sys.exit(main())
