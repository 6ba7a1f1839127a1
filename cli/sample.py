"""``twin sample``: build the embedded sample district (a town in the Saale valley at Naumburg) and
write its bundle to ``<data-dir>/districts/NAME`` (rasters, arrays, GLB tiles), optionally with a
rendered picture.

A second run with the same options finds the bundle current (content hash) and only prints its
summary, unless ``--force``. ``--render PNG`` draws an offscreen picture with pygfx.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cli.errors import CliError

GENERATOR_VERSION = 1


def register(sub) -> None:
    p = sub.add_parser("sample", help="Beispielgebiet bauen / build the sample district (Naumburg, Saale valley)")
    p.add_argument("--name", default="sample", help="bundle name (default: sample)")
    p.add_argument("--size-km", type=float, default=2.0, help="side of the square district, 0.5..20 km (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--cell", type=float, default=2.0, help="raster cell size in metres, 0.5..20 (default 2)")
    p.add_argument("--render", metavar="PNG", default=None, help="also render a picture of the district to PNG")
    p.add_argument("--force", action="store_true", help="rebuild even when an identical bundle exists")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _summary_lines(summary: dict) -> list[str]:
    labels = {"buildings": "Gebäude / buildings", "residents": "Einwohner / residents",
              "road_edges": "Straßenkanten / road edges", "drivable_km": "befahrbar km / drivable km",
              "trees": "Bäume / trees", "stops": "Haltestellen / stops", "pois": "Einrichtungen / POIs",
              "terrain_min_max_m": "Gelände min/max m / terrain min/max m"}
    return [f"  {labels.get(k, k)}: {v}" for k, v in summary.items()]


def run(args) -> int:
    from geodata.bundle import bundle_dir, bundle_is_current, content_key, read_manifest, write_bundle
    from geodata.sample import SampleError, build_sample_district
    from geodata.sources import DataError
    from server.settings import data_dir

    try:
        path = bundle_dir(data_dir(args.data_dir), args.name)
    except DataError as exc:
        raise CliError(str(exc)) from None
    png = Path(args.render) if args.render else None
    if png is not None and png.suffix.lower() != ".png":
        raise CliError(f"Bilddatei {png} muss auf .png enden / picture file must end in .png")
    key = content_key({"kind": "sample", "generator": GENERATOR_VERSION, "size_km": float(args.size_km),
                       "seed": int(args.seed), "cell_m": float(args.cell)})
    t0 = time.perf_counter()
    district = None
    if args.force or not bundle_is_current(path, key):
        try:
            district = build_sample_district(size_km=args.size_km, seed=args.seed, cell_m=args.cell, name=args.name)
        except SampleError as exc:
            raise CliError(str(exc)) from None
        write_bundle(district, path, content_hash=key)
        built = True
    else:
        built = False
    manifest = read_manifest(path)
    summary = manifest["summary"]
    if png is not None:
        from viewer.desktop.render import RenderError, render_district_png

        try:
            if district is not None:
                render_district_png(district, png)
            else:
                render_district_png(path / "tiles", png)
        except RenderError as exc:
            raise CliError(str(exc)) from None
    seconds = time.perf_counter() - t0
    if args.json:
        json.dump({"path": str(path), "built": built, "seconds": round(seconds, 2), "summary": summary,
                   "render": str(png) if png else None}, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    state = "gebaut / built" if built else "aktuell, wiederverwendet / current, reused"
    print(f"Beispielgebiet / sample district {args.name}: {state} in {seconds:.1f} s")
    print(f"  {path}")
    for line in _summary_lines(summary):
        print(line)
    if png:
        print(f"  Bild / picture: {png}")
    return 0
