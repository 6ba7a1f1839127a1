"""``twin import`` and ``twin info``: build a district bundle from real open data, and summarise one.

- ``twin import --osm FILE [--dem FILE] [--buildings FILE] --name NAME [--cell 2] [--seed 0] [--force]``
  reads OpenStreetMap (``.osm.pbf``/``.osm``), optionally a DEM (GeoTIFF, SRTM ``.hgt``/``.hgt.zip``) and
  LoD2 buildings (CityJSON or CityGML), and writes ``<data>/districts/NAME/``. A second run with the same
  inputs and options reuses the bundle (content hash).
- ``twin info NAME [--json]`` prints the bundle's summary.

Bad input ends with one message naming the file and the problem, exit status 2, and no bundle written.
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.errors import CliError
from server.settings import data_dir

__all__ = ["register", "run_import", "run_info"]

_LABELS = {
    "name": "Name / name", "epsg": "Koordinatensystem / CRS (EPSG)", "centre_lonlat": "Mitte / centre (lon, lat)",
    "bbox_local_m": "Ausdehnung / extent (m)", "cell_m": "Zellgröße / cell (m)", "grid_shape": "Raster / grid (rows, cols)",
    "buildings": "Gebäude / buildings", "residents": "Einwohner / residents", "road_edges": "Straßenkanten / road edges",
    "drivable_km": "befahrbar / drivable (km)", "trees": "Bäume / trees", "stops": "Haltestellen / stops",
    "pois": "Einrichtungen / points of interest", "terrain_min_max_m": "Gelände / terrain min, max (m)",
}


def register(sub: argparse._SubParsersAction) -> None:
    ip = sub.add_parser("import", help="Gebiet aus offenen Daten bauen / build a district from open data")
    ip.add_argument("--osm", required=True, help="OpenStreetMap file (.osm.pbf or .osm)")
    ip.add_argument("--dem", default=None, help="elevation model (GeoTIFF, .hgt, .hgt.zip)")
    ip.add_argument("--buildings", default=None, help="LoD2 buildings (CityJSON .json or CityGML .gml)")
    ip.add_argument("--name", required=True, help="bundle name (letters, digits, _ . -)")
    ip.add_argument("--cell", type=float, default=2.0, help="raster cell size in metres (default 2)")
    ip.add_argument("--seed", type=int, default=0, help="seed of the resident synthesis (default 0)")
    ip.add_argument("--force", action="store_true", help="rebuild even when an identical bundle exists")
    ip.add_argument("--no-tiles", action="store_true", help="skip the GLB scene tiles")
    ip.set_defaults(func=run_import)
    fp = sub.add_parser("info", help="Gebiet zusammenfassen / summarise a district bundle")
    fp.add_argument("name")
    fp.add_argument("--json", action="store_true", help="print JSON")
    fp.set_defaults(func=run_info)


def run_import(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from geodata.importer import IMPORT_STEPS, import_district
    from geodata.sources import DataError

    labels = {"osm": "OSM lesen / reading OSM", "buildings": "Gebäude / buildings", "terrain": "Gelände / terrain",
              "residents": "Einwohner / residents", "district": "Raster / rasters", "bundle": "Bündel / bundle"}
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("Import", total=len(IMPORT_STEPS))

        def step(name: str) -> None:
            bar.update(task, completed=IMPORT_STEPS.index(name), description=labels.get(name, name))

        try:
            result = import_district(
                osm=args.osm, dem=args.dem, buildings=args.buildings, name=args.name,
                data_dir=data_dir(args.data_dir), cell_m=args.cell, seed=args.seed, force=args.force,
                tiles=not args.no_tiles, progress=step,
            )
        except DataError as exc:
            raise CliError(str(exc)) from None
        bar.update(task, completed=len(IMPORT_STEPS))
    s = result.summary
    verb = "wiederverwendet / reused" if result.reused else "geschrieben / written"
    print(f"{result.path} {verb}: {s['buildings']} Gebäude / buildings, {s['road_edges']} Straßenkanten / road edges, "
          f"{s['stops']} Haltestellen / stops, {s['residents']} Einwohner / residents")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from geodata.bundle import bundle_dir, read_manifest
    from geodata.sources import DataError

    try:
        path = bundle_dir(data_dir(args.data_dir), args.name)
        if not path.is_dir():
            raise CliError(f"Gebiet {args.name!r} nicht gefunden in {path.parent} / district {args.name!r} not found")
        m = read_manifest(path)
    except DataError as exc:
        raise CliError(str(exc)) from None
    tiles = (m.get("tiles") or {}).get("tiles") or []
    if args.json:
        out = {"path": str(path), "summary": m["summary"], "sources": m["sources"], "content_hash": m["content_hash"],
               "created_utc": m["created_utc"], "format_version": m["format_version"], "tiles": len(tiles)}
        json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    print(f"{path}")
    for k, v in m["summary"].items():
        print(f"  {_LABELS.get(k, k)}: {v}")
    print(f"  GLB-Kacheln / GLB tiles: {len(tiles)}")
    for s in m["sources"]:
        print(f"  Quelle / source: {s['kind']} {s['path']} (sha256 {s['sha256'][:12]}…, {s['licence']})")
    return 0
