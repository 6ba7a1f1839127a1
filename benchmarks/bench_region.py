"""Benchmark: the whole Burgenlandkreis in one run: build the region from ../shared/data, write and read its
bundle, access and deficits, every published view (Gemeinden, 1 km and 100 m grid, stops, hospitals,
access), and the optimised proposals (10 new stops, 5 on-demand zones; MILP with HiGHS).
Targets: under 60 s and under 2 GB peak memory.

Run: ``.venv/bin/python benchmarks/bench_region.py [--shared-data DIR] [--json]``. Prints the wall time of
each step, the total and its ratio to 60 s, and the peak resident memory (``resource.getrusage``) and its
ratio to 2 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.region import build_region, load_region, write_region  # noqa: E402
from models.region.access import region_access  # noqa: E402
from models.region.proposals import propose  # noqa: E402
from models.region.views import (  # noqa: E402
    access_json,
    gemeinden_geojson,
    grid_geojson,
    hospitals_geojson,
    proposal_geojson,
    stops_geojson,
)

TARGET_S = 60.0
TARGET_GB = 2.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared-data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not (args.shared_data / "zensus2011_grid_burgenlandkreis").is_dir():
        print(f"open data not found in {args.shared_data}", file=sys.stderr)
        return 2
    times: dict[str, float] = {}
    t_all = time.perf_counter()

    def lap(name: str, t0: float) -> float:
        t = time.perf_counter()
        times[name] = round(t - t0, 3)
        return t

    t = time.perf_counter()
    region = build_region(args.shared_data)
    t = lap("build", t)
    tmp = Path(tempfile.mkdtemp(prefix="landtwin-bench-region-"))
    try:
        write_region(region, tmp, "bench")
        t = lap("write_bundle", t)
        region = load_region("bench", tmp, verify=True)
        t = lap("load_bundle", t)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    acc = region_access(region)
    t = lap("access", t)
    sizes = {}
    for name, make in (("gemeinden", lambda: gemeinden_geojson(region, acc)),
                       ("grid_1km", lambda: grid_geojson(region, "1km", acc)),
                       ("grid_100m", lambda: grid_geojson(region, "100m", acc)),
                       ("stops", lambda: stops_geojson(region)), ("hospitals", lambda: hospitals_geojson(region)),
                       ("access_json", lambda: access_json(acc))):
        sizes[name] = len(json.dumps(make()))
        t = lap(f"view_{name}", t)
    p_stops = propose(region, budget=10, kind="stops", base=acc)
    proposal_geojson(region, p_stops)
    t = lap("propose_10_stops", t)
    p_zone = propose(region, budget=5, kind="zone", base=acc)
    proposal_geojson(region, p_zone)
    t = lap("propose_5_zones", t)
    total = time.perf_counter() - t_all
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    out = {
        "cells": len(region.cells), "gemeinden": len(region.gemeinden), "stops": len(region.stops),
        "times_s": times, "total_s": round(total, 2), "ratio_to_60s": round(total / TARGET_S, 3),
        "peak_rss_gb": round(peak_gb, 3), "ratio_to_2gb": round(peak_gb / TARGET_GB, 3),
        "stops_method": p_stops.method, "stops_status": p_stops.status,
        "stops_milp_vs_greedy": [round(p_stops.objective, 1), round(p_stops.greedy_objective, 1)],
        "zones_milp_vs_greedy": [round(p_zone.objective, 1), round(p_zone.greedy_objective, 1)],
        "response_bytes": sizes,
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in times.items():
            print(f"{k:22s} {v:8.2f} s")
        print(f"{'total':22s} {total:8.2f} s  ({total / TARGET_S:.2f} of the 60 s target)")
        print(f"{'peak memory':22s} {peak_gb:8.2f} GB ({peak_gb / TARGET_GB:.2f} of the 2 GB target)")
        print(f"stops MILP vs greedy (persons, unpublished): {out['stops_milp_vs_greedy']}; zones: {out['zones_milp_vs_greedy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
