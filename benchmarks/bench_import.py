"""Benchmark: import the real Hoyerswerda OSM extract into a district bundle (GeoTIFFs, arrays, GLB tiles).

Run: ``.venv/bin/python benchmarks/bench_import.py [--cell 2] [--out DIR]``.
Prints the wall time of each import step, of the whole import and of a second (cached) import, their
ratio, the peak resident memory, and the road-graph figure of the extract (share of the drivable length
in the largest drivable component).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geodata.bundle import load_bundle  # noqa: E402
from geodata.importer import import_district  # noqa: E402

PBF = ROOT.parent / "shared" / "data" / "osm_hoyerswerda_centre" / "Hoyerswerda.osm.pbf"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cell", type=float, default=2.0)
    ap.add_argument("--out", default=None, help="data folder to keep (default: a temporary one)")
    args = ap.parse_args(argv)
    if not PBF.exists():
        print(f"real data not present: {PBF}")
        return 0
    data = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-import-"))
    marks: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    res = import_district(osm=PBF, name="hoyerswerda", data_dir=data, cell_m=args.cell, force=True,
                         progress=lambda s: marks.append((s, time.perf_counter())))
    t_full = time.perf_counter() - t0
    marks.append(("end", time.perf_counter()))
    t1 = time.perf_counter()
    again = import_district(osm=PBF, name="hoyerswerda", data_dir=data, cell_m=args.cell)
    t_cached = time.perf_counter() - t1
    t2 = time.perf_counter()
    d = load_bundle(res.path)
    t_load = time.perf_counter() - t2
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    for (name, a), (_, b) in zip(marks[:-1], marks[1:]):
        print(f"step {name:10s} {b - a:7.2f} s")
    print(f"import (cell {args.cell} m, grid {d.grid.rows} x {d.grid.cols}): {t_full:.2f} s")
    print(f"cached re-import: {t_cached:.3f} s (reused={again.reused}), ratio full/cached {t_full / t_cached:.0f}x")
    print(f"load_bundle: {t_load:.3f} s")
    print(f"peak memory: {peak_mb:.0f} MB")
    r = d.roads
    drv = r.drivable
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(r.node_xy_local_m)
    _, lab = connected_components(coo_matrix((np.ones(drv.sum()), (r.edge_from[drv], r.edge_to[drv])), shape=(n, n)),
                                  directed=False)
    per = np.bincount(lab[r.edge_from[drv]], weights=r.length_m[drv])
    print(f"buildings {len(d.buildings)}, stops {len(d.stops.name)}, road edges {len(r)}, "
          f"largest drivable component {per.max() / per.sum():.1%} of {per.sum() / 1000:.2f} km")
    if not args.out:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
