"""``twin region``: the whole Kreis as a model.

- ``twin region build NAME [--shared-data DIR] [--gemeinde-table CSV] [--gtfs FEED] [--osm FILE]`` builds the
  region from the open data (``../shared/data`` beside the project by default) and writes ``<data>/regions/NAME/``
  (with the OSM extract's walking network, used by access and proposals, when given).
- ``twin region info NAME [--json]``: Gemeinden, population 2019, inhabited cells, stops, hospitals.
- ``twin region access NAME [--json] [--osm FILE]``: deficits and distances per Gemeinde and for the Kreis
  (walking along the streets of an OSM extract where given).
- ``twin region propose NAME --budget N [--kind stops|zone] [--json]``: optimised new stops or on-demand zones.

Every person count printed passes through ``models.privacy`` (0, "unter 5", or rounded to 5). Bad input ends
with one message and exit status 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cli.errors import CliError
from server.settings import data_dir

__all__ = ["register", "default_shared_data", "build_and_write"]


def default_shared_data() -> Path:
    """``../shared/data`` beside the project."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def register(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser("region", help="Region (ganzer Kreis) / the region (the whole Kreis)")
    rs = rp.add_subparsers(dest="region_command", metavar="ACTION")
    b = rs.add_parser("build", help="Region bauen / build the region")
    b.add_argument("name", help="region name, e.g. burgenlandkreis")
    b.add_argument("--shared-data", default=None, help="open data folder (default ../shared/data)")
    b.add_argument("--gemeinde-table", default=None, help="official Gemeinde population CSV (ags, population, age_*)")
    b.add_argument("--gtfs", default=None, help="GTFS feed (folder or .zip) for service classes by departures")
    b.add_argument("--osm", default=None, help="OSM extract (.osm.pbf/.osm): its walking network kept in the bundle, "
                   "walks along its streets in access and proposals")
    b.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    b.set_defaults(func=run_build)
    i = rs.add_parser("info", help="Kennzahlen / key figures")
    i.add_argument("name")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run_info)
    a = rs.add_parser("access", help="Erreichbarkeit und Defizite / access and deficits")
    a.add_argument("name")
    a.add_argument("--json", action="store_true")
    a.add_argument("--osm", default=None, help="OSM extract (.osm.pbf/.osm): walking distances along its streets")
    a.set_defaults(func=run_access)
    p = rs.add_parser("propose", help="Vorschläge: Haltestellen oder Rufbus-Zonen / proposals: stops or on-demand zones")
    p.add_argument("name")
    p.add_argument("--budget", type=int, default=5, help="number of new stops or zones")
    p.add_argument("--kind", choices=("stops", "zone"), default="stops")
    p.add_argument("--method", choices=("auto", "milp", "greedy"), default="auto")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", default=None, help="write the proposal as GeoJSON to this file")
    p.set_defaults(func=run_propose)
    rp.set_defaults(func=lambda args: (rp.print_help(), 1)[1])


def build_and_write(name: str, data: Path, shared: Path, *, gemeinde_table: str | None = None, gtfs: str | None = None,
                    show_progress: bool = True, osm: str | None = None) -> Any:
    """Build the region and write its bundle, with a progress bar; CliError for bad input."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from geodata.sources import DataError
    from models.region import build_region, region_dir, write_region

    try:
        region_dir(data, name)
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), disable=not show_progress,
                      transient=True) as bar:
            task = bar.add_task("Region", total=1.0)

            def step(msg: str, frac: float) -> None:
                bar.update(task, completed=frac, description=f"Region {name}: {msg}")

            region = build_region(shared, gemeinde_table=gemeinde_table, gtfs=gtfs, progress=step, osm=osm)
            region.name = name
            write_region(region, data, name)
    except DataError as exc:
        raise CliError(str(exc)) from None
    return region


def _load(args: argparse.Namespace) -> Any:
    from geodata.sources import DataError
    from models.region import load_region

    try:
        return load_region(args.name, data_dir(args.data_dir))
    except DataError as exc:
        raise CliError(f"{exc} (twin region build {args.name})") from None


def _print(obj: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str))
    else:
        print("\n".join(lines))


def _fmt(v: Any) -> str:
    return "unter 5 / under 5" if v is None else f"{v:,}".replace(",", ".") if isinstance(v, int) else str(v)


def _info_lines(info: dict[str, Any]) -> list[str]:
    return [f"{info['kreis']} ({info['ags']}), {info['crs']}",
            f"  Gemeinden: {info['gemeinden']}",
            f"  Einwohner 2019 / population 2019: {_fmt(info['population_2019'])}",
            f"  bewohnte 100-m-Zellen / inhabited 100 m cells: {info['cells_100m_inhabited']}",
            f"  Siedlungen / settlements: {info['settlements']}",
            f"  Haltestellen im Kreis / stops in the Kreis: {info['stops_in_district']}",
            f"  Krankenhäuser im Kreis / hospitals in the Kreis: {info['hospitals_in_district']}"]


def run_build(args: argparse.Namespace) -> int:
    from models.region.views import info_json

    shared = Path(args.shared_data) if args.shared_data else default_shared_data()
    region = build_and_write(args.name, data_dir(args.data_dir), shared, gemeinde_table=args.gemeinde_table,
                             gtfs=args.gtfs, show_progress=not args.json, osm=args.osm)
    info = info_json(region)
    _print({k: info[k] for k in ("name", "gemeinden", "population_2019", "cells_100m_inhabited", "stops_in_district",
                                 "hospitals_in_district", "settlements")}, args.json,
           [*_info_lines(info), f"→ {data_dir(args.data_dir) / 'regions' / args.name}"])
    return 0


def run_info(args: argparse.Namespace) -> int:
    from models.region.views import info_json

    info = info_json(_load(args))
    _print(info, args.json, _info_lines(info))
    return 0


def run_access(args: argparse.Namespace) -> int:
    from geodata.sources import DataError
    from models.region.access import region_access
    from models.region.network import read_walk_network
    from models.region.views import access_json

    region = _load(args)
    try:
        net = read_walk_network(args.osm, region.epsg) if args.osm else None
    except DataError as exc:
        raise CliError(str(exc)) from None
    out = access_json(region_access(region, network=net))
    lines = [f"{'Gemeinde':28s} {'65+ ohne':>9s} {'u18 ohne':>9s} {'Anteil 65+':>10s} {'Weg Halt m':>10s} {'KH km':>6s}"]
    for g in [*out["gemeinden"], {**out["kreis"], "name": "Kreis"}]:
        lines.append(f"{g['name'][:28]:28s} {_fmt(g['deficit_65plus']):>9s} {_fmt(g['deficit_under18']):>9s} "
                     f"{g['share_deficit_65plus']:>10.1%} {g['mean_walk_stop_m']:>10.0f} {g['mean_hospital_km']:>6.1f}")
    lines.append("ohne = ohne Haltestelle der Klasse D oder besser in 600 m Fußweg / "
                 "without a stop of class D or better within a 600 m walk")
    _print(out, args.json, lines)
    return 0


def run_propose(args: argparse.Namespace) -> int:
    from models.region.proposals import propose
    from models.region.views import proposal_geojson

    if args.budget < 1 or args.budget > 200:
        raise CliError("Budget muss zwischen 1 und 200 liegen / budget must be between 1 and 200")
    region = _load(args)
    prop = propose(region, budget=args.budget, kind=args.kind, method=args.method)
    gj = proposal_geojson(region, prop)
    if args.out:
        from geodata.files import atomic_file

        text = json.dumps(gj, ensure_ascii=False)
        atomic_file(Path(args.out), lambda tmp: tmp.write_text(text, encoding="utf-8"))
    s = gj["summary"]
    _print(gj if args.json else s, args.json,
           [f"{args.kind}: {len(gj['features'])} Vorschläge / proposals ({s['method']}, {s['status']})",
            f"  zusätzlich versorgt 65+ und unter 18 / newly served 65+ and under 18: {_fmt(s['persons_covered'])}",
            f"  Defizit vorher / deficit before: {_fmt(s['deficit_persons_before'])}",
            *[f"  - {f['properties']['name']}: {_fmt(f['properties']['persons_covered'])}" for f in gj["features"]]])
    return 0


DEMO_REGION = "burgenlandkreis"


def ensure_region_bundle(data: Path, shared: Path | None = None) -> Path | None:
    """For ``twin demo``: build the Burgenlandkreis region from ``../shared/data`` (with a progress bar) when
    that folder is present and the bundle is missing; None when the open data is absent."""
    from models.region import region_dir
    from models.region.build import SOURCES

    target = region_dir(data, DEMO_REGION)
    if (target / "manifest.json").is_file():
        return target
    src = shared or default_shared_data()
    if not all((src / rel).is_file() for rel, _ in SOURCES.values()):
        print(f"Region: offene Daten fehlen in {src}, Regionsansicht ohne Daten / open data missing, "
              "region view without data", flush=True)
        return None
    print("Baue die Region Burgenlandkreis / building the Burgenlandkreis region ...", flush=True)
    build_and_write(DEMO_REGION, data, src)
    return target
