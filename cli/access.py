"""``twin access``, ``twin optimise-stops`` and ``twin import-gtfs``: accessibility of a district, optimised
transit proposals, and GTFS import.

- ``twin access NAME --out DIR [--gtfs FEED] [--hour 10] [--scenario FILE]`` writes travel-time GeoTIFFs per
  service category (minutes, building cells), ``deficits.geojson`` (areas with counts of people without
  a car beyond the thresholds, small groups suppressed), ``stops.geojson`` (ÖV-Güteklasse per stop),
  ``kpis.json`` and ``map.png``. Nothing person-level is written.
- ``twin optimise-stops NAME --budget 10 --out FILE [--kind stops|line|zone]`` writes a scenario draft
  (interventions with KPIs before and after) as JSON.
- ``twin import-gtfs FILE [--name NAME]`` validates a GTFS feed (folder or .zip) and stores it under
  ``<data>/gtfs/NAME``; ``--gtfs NAME`` then uses it.

Every output is written to a temporary path and renamed into place at the end; bad input ends with one
message and exit status 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from cli.common import load_district, read_scenario
from cli.errors import CliError
from geodata.files import atomic_dir, atomic_file, district_geo, write_geotiff
from server.settings import data_dir

__all__ = ["register", "write_access_outputs"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def register(sub: argparse._SubParsersAction) -> None:
    ap = sub.add_parser("access", help="Erreichbarkeit berechnen / compute accessibility")
    ap.add_argument("name", help="district bundle name (or 'sample')")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--gtfs", default=None, help="GTFS feed: imported name, folder or .zip")
    ap.add_argument("--hour", type=int, default=10, help="hour of day 0-23 (default 10)")
    ap.add_argument("--scenario", default=None, help="JSON file with a list of interventions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real-stops", default=None,
                    help="stop CSV (DB/HAFAS, e.g. ../shared/data/burgenlandkreis_transit_stops_db/hafas_stops_burgenlandkreis.csv)"
                         " replacing the district's stops (no timetables: walking times to stops, class F)")
    ap.add_argument("--profile", action="store_true", help="also KPIs for every hour 5-22 (kpis_by_hour.json)")
    ap.set_defaults(func=run_access)
    op = sub.add_parser("optimise-stops", help="Haltestellen optimieren / optimise stops, a line or a zone")
    op.add_argument("name")
    op.add_argument("--budget", type=int, default=10, help="new stops (or stops of the line)")
    op.add_argument("--out", required=True, help="scenario draft JSON file")
    op.add_argument("--kind", choices=("stops", "line", "zone"), default="stops")
    op.add_argument("--method", choices=("auto", "milp", "greedy"), default="auto")
    op.add_argument("--candidates", type=int, default=2000)
    op.add_argument("--headway", type=float, default=30.0, help="line headway in minutes")
    op.add_argument("--zone-size", type=float, default=3000.0, help="on-demand zone edge in metres")
    op.add_argument("--gtfs", default=None)
    op.add_argument("--scenario", default=None)
    op.add_argument("--seed", type=int, default=0)
    op.set_defaults(func=run_optimise)
    gp = sub.add_parser("import-gtfs", help="GTFS-Fahrplan prüfen und übernehmen / validate and import a GTFS feed")
    gp.add_argument("file", help="GTFS folder or .zip")
    gp.add_argument("--name", default=None, help="name to store it under (default: file name)")
    gp.set_defaults(func=run_import_gtfs)


def _feed(args: argparse.Namespace) -> Any:
    if not args.gtfs:
        return None
    from geodata.gtfs import GtfsError, read_gtfs

    p = Path(args.gtfs)
    if not p.exists() and _NAME.match(args.gtfs):
        p = data_dir(args.data_dir) / "gtfs" / args.gtfs
    try:
        return read_gtfs(p)
    except GtfsError as exc:
        raise CliError(str(exc)) from None


def _engine(args: argparse.Namespace) -> Any:
    from models.people.access import AccessEngine

    district = load_district(args)
    network = None
    if getattr(args, "real_stops", None):
        from geodata.apply_transit import TransitNetwork
        from geodata.stops import StopDataError, read_stop_table, stops_in_frame

        try:
            st = stops_in_frame(read_stop_table(args.real_stops), district.frame, district.grid.bbox_local_m)
        except StopDataError as exc:
            raise CliError(str(exc)) from None
        if st.xy_local_m.shape[0] == 0:
            raise CliError("Keine der Haltestellen liegt im Gebiet / none of the stops lies in the district")
        network = TransitNetwork(st.xy_local_m, st.name, st.mode)
    return AccessEngine(district, seed=args.seed, gtfs=_feed(args), arch=args.arch, network=network)


def run_access(args: argparse.Namespace) -> int:
    from geodata.apply_transit import TransitError
    from geodata.interventions import InterventionError

    if not 0 <= args.hour <= 23:
        raise CliError(f"Stunde {args.hour} außerhalb 0-23 / hour out of range")
    ivs = read_scenario(args.scenario)
    eng = _engine(args)
    try:
        res = eng.compute(ivs, hour=args.hour, with_agents=False)
    except (TransitError, InterventionError) as exc:
        raise CliError(str(exc)) from None
    def write(tmp: Path) -> None:
        write_access_outputs(eng.district, res, tmp)
        if args.profile:
            _json(tmp / "kpis_by_hour.json", {str(h): k for h, k in eng.hourly(range(5, 23), ivs).items()})

    out = atomic_dir(args.out, write)
    k = res.kpis
    print(f"{out}: {int(k['persons'])} Personen / persons, Arzt im Mittel / doctor mean "
          f"{k['mean_time_min_doctor']:.1f} min, Defizit 65+ ohne Auto / deficit 65+ without car "
          f"{int(k['deficit_age65_no_car_doctor'])}, unter 18 / under 18 {int(k['deficit_under18_doctor'])}")
    for line in res.report:
        print(line)
    return 0


def write_access_outputs(district: Any, res: Any, folder: Path) -> None:
    """GeoTIFFs, GeoJSON, KPIs and a PNG map of an ``AccessResult`` into ``folder``."""
    grid, frame = district.grid, district.frame
    bi = district.building_index
    for cat, t in res.building_time_min.items():
        arr = np.full(grid.shape, np.nan, np.float32)
        has = bi >= 0
        arr[has] = t[bi[has]]
        arr[~np.isfinite(arr)] = np.nan
        write_geotiff(folder / f"time_{cat}_min.tif", arr, names=[f"time_{cat}_min"], **district_geo(district))
    feats = []
    for a in res.deficit_areas:
        w, s, e, n = a["bbox_local_m"]
        lon, lat = frame.local_to_lonlat(np.array([w, e, e, w, w]), np.array([s, s, n, n, s]))
        ring = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat)]
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                      "properties": {"area_id": a["area_id"], "bbox_local_m": a["bbox_local_m"], **{
                          f"{g}_{k}": v for g, d in a["groups"].items() for k, v in
                          [("persons", d["persons"]), ("suppressed", d["suppressed"])] + [
                              (f"deficit_{c}", x) for c, x in d["deficit"].items()]}}})
    _json(folder / "deficits.geojson", {"type": "FeatureCollection", "features": feats})
    sxy = res.network.stop_xy_local_m
    lon, lat = frame.local_to_lonlat(sxy[:, 0], sxy[:, 1]) if sxy.size else (np.zeros(0), np.zeros(0))
    _json(folder / "stops.geojson", {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
         "properties": {"name": str(res.network.stop_name[i]), "mode": str(res.network.stop_mode[i]),
                        "oev_class": str(res.stop_quality[i])}} for i in range(sxy.shape[0])]})
    _json(folder / "kpis.json", {"hour": res.hour, "kpis": res.kpis, "report": res.report})
    _map(district, res, folder / "map.png")


def _json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(_finite(obj), ensure_ascii=False, indent=1, allow_nan=False, default=_clean),
                    encoding="utf-8")


def _finite(obj: Any) -> Any:
    """JSON has no NaN or infinity: unreachable or undefined values become null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def _clean(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v))


def _map(district: Any, res: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 7), dpi=100)
    w, s, e, n = district.grid.bbox_local_m
    t = res.building_time_min["doctor"]
    arr = np.full(district.grid.shape, np.nan, np.float32)
    has = district.building_index >= 0
    arr[has] = t[district.building_index[has]]
    im = ax.imshow(np.where(np.isfinite(arr), arr, np.nan), extent=(w, e, s, n), cmap="magma_r", vmin=0, vmax=60)
    fig.colorbar(im, ax=ax, shrink=0.7, label="Arzt / doctor (min, zu Fuß + ÖPNV)")
    colours = {"A": "#1a9850", "B": "#91cf60", "C": "#d9ef8b", "D": "#fee08b", "E": "#fc8d59", "F": "#d73027"}
    sxy = res.network.stop_xy_local_m
    for q, c in colours.items():
        m = res.stop_quality == q
        if m.any():
            ax.scatter(sxy[m, 0], sxy[m, 1], s=18, c=c, edgecolors="k", linewidths=0.4, label=f"ÖV-Güteklasse {q}")
    if res.stop_quality.size:
        ax.legend(loc="lower right", fontsize=7)
    ax.set_title("Erreichbarkeit Hausarzt / access to a GP")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    fig.savefig(path)
    plt.close(fig)


def run_optimise(args: argparse.Namespace) -> int:
    from models.people.optimise import optimise_stops, propose_line, propose_zone

    if args.budget < 1 or args.budget > 500:
        raise CliError(f"Budget {args.budget} außerhalb 1-500 / budget out of range")
    ivs = read_scenario(args.scenario)
    eng = _engine(args)
    if args.kind == "stops":
        p = optimise_stops(eng, args.budget, interventions=ivs, method=args.method, n_candidates=args.candidates)
    elif args.kind == "line":
        p = propose_line(eng, max(args.budget, 2), args.headway, interventions=ivs)
    else:
        p = propose_zone(eng, args.zone_size, interventions=ivs)
    out = atomic_file(args.out, lambda tmp: _json(tmp, p.to_json()))
    gain = {g: p.before.get(f"deficit_{g}_stop", 0) - p.after.get(f"deficit_{g}_stop", 0) for g in ("age65_no_car", "under18")}
    print(f"{out}: {len(p.interventions)} Maßnahmen / interventions ({p.method}, {p.status}), abgedeckt / covered "
          f"{p.objective:.0f} von / of {p.demand:.0f}; Haltestellen-Defizit 65+ / stop deficit 65+ -{gain['age65_no_car']:.0f}, "
          f"unter 18 / under 18 -{gain['under18']:.0f}")
    return 0


def run_import_gtfs(args: argparse.Namespace) -> int:
    from geodata.gtfs import GtfsError, read_gtfs

    src = Path(args.file)
    try:
        feed = read_gtfs(src)
    except GtfsError as exc:
        raise CliError(str(exc)) from None
    name = args.name or src.name.removesuffix(".zip")
    if not _NAME.match(name):
        raise CliError(f"ungültiger Name {name!r} / invalid name")
    target = data_dir(args.data_dir) / "gtfs" / name

    def write(tmp: Path) -> None:
        if src.is_dir():
            for f in src.glob("*.txt"):
                shutil.copy2(f, tmp / f.name)
        else:
            import zipfile

            with zipfile.ZipFile(src) as z:
                for n in z.namelist():
                    if n.endswith(".txt"):
                        (tmp / Path(n).name).write_bytes(z.read(n))

    atomic_dir(target, write)
    print(f"{target}: {feed.stop_id.size} Haltestellen / stops, {feed.route_id.size} Linien / routes, "
          f"{feed.trip_id.size} Fahrten / trips")
    return 0
