"""Benchmark: the heat model tile by tile on a generated district, in bounded memory, written as COGs:
the radiation fields (shadows of every daylight hour, sky view, surface energy balance, Tmrt at the KPI
hour), then air temperature (one coarse solve from the stitched sums) and UTCI, tile by tile.

Run: ``.venv/bin/python benchmarks/bench_tiled.py [--arch cpu|cuda] [--size-km 10] [--cell 2]
[--max-memory 3G] [--hours 15] [--no-air] [--keep DIR]``.

Prints the tile plan, cells per second of the tiled run (building the district not counted), the
peak resident memory of the process against ``--max-memory``, and the time for the whole Burgenlandkreis
extrapolated at the same cells per second on two bases: its whole area (1,413.75 km², official, see
../shared/data/burgenlandkreis_admin_boundaries_vg5000/SOURCE.md) and its inhabited 100 m census cells
(Zensus 2011, counted from ../shared/data/zensus2011_grid_burgenlandkreis when present; the file covers
the Kreis' bounding box, so this basis is an upper bound of the inhabited area).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cli.batch import parse_memory  # noqa: E402
from geodata.sample import build_sample_district  # noqa: E402
from models.heat.params import HeatParams  # noqa: E402
from models.heat.tiled import bytes_per_cell, peak_rss_bytes, run_tiled  # noqa: E402

KREIS_KM2 = 1413.75
CENSUS = ROOT.parent / "shared" / "data" / "zensus2011_grid_burgenlandkreis" / "zensus2011_100m_age5_burgenlandkreis_bbox.csv"


def inhabited_km2() -> float | None:
    """Area of the 100 m census cells with residents (0.01 km² each), or None without the file."""
    if not CENSUS.is_file():
        return None
    with CENSUS.open(newline="") as f:
        rows = csv.DictReader(f)
        n = sum(1 for r in rows if sum(int(r[k]) for k in r if k.startswith("age_")) > 0)
    return n * 0.01


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="cpu", help="Taichi backend: cpu or cuda")
    ap.add_argument("--size-km", type=float, default=10.0)
    ap.add_argument("--cell", type=float, default=2.0)
    ap.add_argument("--max-memory", default="3G")
    ap.add_argument("--hours", default="15")
    ap.add_argument("--keep", type=Path, default=None, help="keep the COGs here (default: a temporary folder)")
    ap.add_argument("--no-air", action="store_true", help="radiation fields only (no air temperature and UTCI)")
    args = ap.parse_args(argv)
    limit = parse_memory(args.max_memory)
    hours = tuple(int(h) for h in args.hours.split(","))
    t0 = time.perf_counter()
    d = build_sample_district(size_km=args.size_km, cell_m=args.cell, name="bench")
    build_s = time.perf_counter() - t0
    print(f"district {args.size_km:g} km at {args.cell:g} m: {d.grid.rows} x {d.grid.cols} cells, "
          f"{len(d.buildings)} buildings, built in {build_s:.1f} s", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="landtwin-tiled-"))
    out = args.keep or tmp / "heat"
    last = [time.perf_counter()]

    def tick(i: int, n: int) -> None:
        now = time.perf_counter()
        print(f"  tile {i}/{n} {now - last[0]:.1f} s, peak {peak_rss_bytes() / 2**30:.2f} GiB", flush=True)
        last[0] = now

    try:
        res = run_tiled(d, out, hours=hours, params=HeatParams.default(arch=args.arch), max_memory_bytes=limit,
                        air=not args.no_air, on_tile=tick)
        cog_mb = sum(p.stat().st_size for p in Path(res.out).glob("*.tif")) / 1e6
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    cps = res.cells_per_second
    kreis_cells = KREIS_KM2 * 1e6 / args.cell**2
    inhabited = inhabited_km2()
    result = {
        "arch": args.arch, "size_km": args.size_km, "cell_m": args.cell, "cells": res.cells,
        "tiles": len(res.plan.tiles()), "tile_core_cells": res.plan.core, "halo_cells": res.plan.halo,
        "tile_state_mib": round((res.plan.core + 2 * res.plan.halo) ** 2 * bytes_per_cell(len(hours)) / 2**20, 1),
        "build_s": round(build_s, 2), "tiled_s": round(res.seconds, 2), "air_utci_s": round(res.air_seconds, 2),
        "cells_per_second": round(cps),
        "peak_rss_gib": round(res.peak_rss_bytes / 2**30, 3), "max_memory_gib": round(limit / 2**30, 3),
        "under_limit": res.peak_rss_bytes <= limit, "cog_mb": round(cog_mb, 1),
        "kreis_area_km2": KREIS_KM2, "kreis_whole_area_h": round(kreis_cells / cps / 3600, 2),
        "kreis_inhabited_km2": None if inhabited is None else round(inhabited, 2),
        "kreis_inhabited_h": None if inhabited is None else round(inhabited * 1e6 / args.cell**2 / cps / 3600, 2),
    }
    print(json.dumps(result, indent=1))
    what = "radiation only" if args.no_air else f"incl. air+UTCI {res.air_seconds:.0f} s"
    print(f"tiled heat {args.arch} ({what}): {cps / 1e6:.2f} M cells/s, peak {result['peak_rss_gib']:.2f} GiB of "
          f"{result['max_memory_gib']:.2f} GiB ({'under' if result['under_limit'] else 'OVER'} the limit); whole Kreis "
          f"{result['kreis_whole_area_h']:.1f} h (area), {result['kreis_inhabited_h']} h (inhabited census cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
