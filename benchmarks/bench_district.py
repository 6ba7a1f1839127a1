"""Benchmark: build and export a generated 10 x 10 km district (target: >= 50,000 buildings, <= 120 s on
2 cores, <= 4 GB peak memory).

Run: ``.venv/bin/python benchmarks/bench_district.py [--size-km 10] [--cell 2] [--seed 0] [--out DIR]``.
Prints the building count, wall times of the build and the tile export, their ratio to the 120 s
target, and the peak resident memory (``resource.getrusage``, kilobytes on Linux) and its ratio to 4 GB.
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

from geodata.sample import build_sample_district  # noqa: E402
from geodata.scene import export_tiles  # noqa: E402

TARGET_S = 120.0
TARGET_GB = 4.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-km", type=float, default=10.0)
    ap.add_argument("--cell", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="keep the tiles here (default: a temporary folder)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    d = build_sample_district(size_km=args.size_km, seed=args.seed, cell_m=args.cell, name="bench")
    t1 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="landtwin-bench-"))
    out = args.out or tmp / "tiles"
    try:
        tileset = export_tiles(d, out)
        t2 = time.perf_counter()
        total_mb = sum(t["bytes"] for t in tileset["tiles"]) / 1e6
    finally:
        if args.out is None:
            shutil.rmtree(tmp, ignore_errors=True)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    total = t2 - t0
    result = {
        "size_km": args.size_km, "cell_m": args.cell, "grid_shape": list(d.grid.shape),
        "buildings": len(d.buildings), "residents": d.residents_total, "road_edges": len(d.roads),
        "trees": int(d.trees.xy_local_m.shape[0]), "tiles": len(tileset["tiles"]), "tiles_mb": round(total_mb, 1),
        "build_s": round(t1 - t0, 2), "export_s": round(t2 - t1, 2), "total_s": round(total, 2),
        "ratio_to_target_time": round(total / TARGET_S, 3),
        "peak_rss_gb": round(peak_gb, 3), "ratio_to_target_memory": round(peak_gb / TARGET_GB, 3),
    }
    print(json.dumps(result, indent=1))
    print(f"district {args.size_km:g} km: {len(d.buildings)} buildings, build {t1 - t0:.1f} s + export {t2 - t1:.1f} s "
          f"= {total:.1f} s ({total / TARGET_S:.2f} x the {TARGET_S:.0f} s target), peak memory {peak_gb:.2f} GB "
          f"({peak_gb / TARGET_GB:.2f} x {TARGET_GB:.0f} GB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
