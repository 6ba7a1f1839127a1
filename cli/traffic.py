"""``twin traffic`` and ``twin assign``: road traffic from the command line.

- ``twin traffic NAME [--scenario FILE] --out DIR [--json]``: peak-hour traffic of a district bundle (or
  ``sample``) with a scenario's road interventions; writes ``links.geojson`` (per road: volume, V/C,
  speed, delay, noise; WGS84 lon/lat), ``kpis.json`` (KPIs and the trips that cannot be served) and
  ``map.png`` (volumes as line widths, V/C as colours, with legends).
- ``twin assign --tntp-net FILE --tntp-trips FILE [--rgap 1e-4] [--max-iter N] [--method bfw]
  [--flows-out FILE] [--json]``: user-equilibrium assignment of any TNTP network (honouring its first
  thru node); prints total travel time, relative gap, iterations and wall time.

Outputs are written to a temporary path and renamed: a failure leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cli.errors import CliError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    tp = sub.add_parser("traffic", help="Verkehr eines Gebiets berechnen / traffic of a district")
    tp.add_argument("name", help="district bundle name, or 'sample'")
    tp.add_argument(
        "--scenario", default=None, help="JSON file: a list of interventions or {'interventions': [...]}"
    )
    tp.add_argument(
        "--sample-size-km", type=float, default=2.0, help="size of the 'sample' district (default 2)"
    )
    tp.add_argument("--seed", type=int, default=0, help="seed of the vehicle sampling (default 0)")
    tp.add_argument("--rgap", type=float, default=1e-5, help="relative gap to reach (default 1e-5)")
    tp.add_argument("--out", required=True, help="output folder")
    tp.add_argument("--json", action="store_true", help="print a one-line JSON summary")
    tp.set_defaults(func=run_traffic)
    ap = sub.add_parser(
        "assign", help="Verkehrsumlegung eines TNTP-Netzes / user-equilibrium assignment of a TNTP network"
    )
    ap.add_argument("--tntp-net", required=True, help="*_net.tntp file")
    ap.add_argument("--tntp-trips", required=True, help="*_trips.tntp file")
    ap.add_argument("--rgap", type=float, default=1e-4, help="relative gap to reach (default 1e-4)")
    ap.add_argument("--max-iter", type=int, default=1000, help="iteration limit (default 1000)")
    ap.add_argument(
        "--method", choices=("bfw", "cfw", "fw"), default="bfw", help="Frank-Wolfe variant (default bfw)"
    )
    ap.add_argument("--flows-out", default=None, help="write link flows and costs (TNTP flow format)")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.set_defaults(func=run_assign)


def _print(args: argparse.Namespace, data: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    else:
        for k, v in data.items():
            print(f"{k}: {v}")


def run_assign(args: argparse.Namespace) -> int:
    from geodata.tntp import TntpError, read_net, read_trips

    if not (0 <= args.rgap < 1) or args.max_iter < 1:
        raise CliError(
            "--rgap muss in [0, 1) liegen und --max-iter >= 1 sein / --rgap must be in [0, 1), --max-iter >= 1"
        )
    try:
        tnet = read_net(args.tntp_net)
        od = read_trips(args.tntp_trips, tnet.n_zones)
    except TntpError as exc:
        raise CliError(str(exc)) from None
    from sim_kernels.assignment import LinkNetwork, assign
    from sim_kernels.runtime import ensure_init

    ensure_init(args.arch)
    net = LinkNetwork(
        tnet.n_nodes, tnet.n_zones, tnet.first_thru_node, tnet.link_from, tnet.link_to,
        tnet.free_flow_time_min, tnet.capacity_veh_h, tnet.bpr_alpha, tnet.bpr_beta,
    )  # fmt: skip
    t0 = time.perf_counter()
    res = assign(net, od, rgap=args.rgap, max_iter=args.max_iter, method=args.method)
    wall = time.perf_counter() - t0
    if args.flows_out:
        target = Path(args.flows_out)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        lines = ["From\tTo\tVolume\tCost"]
        lines += [
            f"{a + 1}\t{b + 1}\t{float(v)!r}\t{float(c)!r}"
            for a, b, v, c in zip(net.link_from, net.link_to, res.flow, res.cost)
        ]
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(target)
    _print(
        args,
        {
            "total_travel_time": res.total_travel_time,
            "relative_gap": res.relative_gap,
            "iterations": res.iterations,
            "wall_time_s": round(wall, 4),
            "converged": bool(res.relative_gap <= args.rgap),
            "links": len(tnet),
            "zones": tnet.n_zones,
            "unserved_trips": float(res.unreachable[:, 2].sum()),
        },
    )
    return 0


def _load_district(args: argparse.Namespace) -> Any:
    if args.name == "sample":
        from geodata.sample import build_sample_district

        if not 0.5 <= args.sample_size_km <= 20:
            raise CliError("--sample-size-km muss in 0.5..20 liegen / must be in 0.5..20")
        return build_sample_district(size_km=args.sample_size_km, seed=0, cell_m=2.0)
    from geodata.bundle import load_bundle
    from geodata.importer import bundle_dir
    from geodata.sources import DataError
    from server.settings import data_dir

    path = bundle_dir(data_dir(args.data_dir), args.name)
    if not path.is_dir():
        raise CliError(
            f"Gebiet {args.name!r} nicht gefunden in {path.parent} / district {args.name!r} not found"
        )
    try:
        return load_bundle(path)
    except DataError as exc:
        raise CliError(str(exc)) from None


def _interventions(path: str | None) -> list[Any]:
    if not path:
        return []
    from geodata.interventions import InterventionError, decode_intervention

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"Szenario {path} nicht lesbar: {exc} / scenario file unreadable") from None
    items = data.get("interventions", data) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise CliError(
            "Szenario muss eine Liste von Maßnahmen sein / scenario must be a list of interventions"
        )
    try:
        return [decode_intervention(it) for it in items]
    except InterventionError as exc:
        raise CliError(str(exc)) from None


def links_geojson(district: Any, res: Any, roads: Any) -> dict[str, Any]:
    """GeoJSON FeatureCollection (WGS84 lon/lat) of the drivable roads with their results."""
    feats = []
    for e in np.nonzero(roads.drivable)[0]:
        g = np.asarray(roads.geometry[e], dtype=np.float64)
        lon, lat = district.frame.local_to_lonlat(g[:, 0], g[:, 1])
        ed = res.edited_edges
        noise = float(ed["noise_db"][e])
        feats.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]},
            "properties": {
                "edge": int(e), "name": str(roads.name[e] or ""), "road_class": str(roads.road_class[e]),
                "closed": bool(ed["closed"][e]), "flow_veh_h": round(float(ed["flow_veh_h"][e]), 2),
                "vc": round(float(ed["vc"][e]), 4), "speed_kmh": round(float(ed["speed_kmh"][e]), 2),
                "delay_s": round(float(ed["delay_s"][e]), 2), "noise_lme_db": None if np.isnan(noise) else round(noise, 1),
            },
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": feats}


def write_map_png(path: Path, roads: Any, res: Any, title: str) -> None:
    """PNG map: line width by volume, colour by V/C, with a colour bar and a width legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    drv = np.nonzero(roads.drivable)[0]
    ed = res.edited_edges
    flow = ed["flow_veh_h"][drv].astype(float)
    vmax = max(float(flow.max()) if flow.size else 1.0, 1.0)
    width = 0.4 + 5.6 * flow / vmax
    fig, ax = plt.subplots(figsize=(9, 8), dpi=110)
    norm = Normalize(0.0, 1.2)
    lc = LineCollection(
        [np.asarray(roads.geometry[e]) for e in drv], linewidths=width, cmap="RdYlGn_r", norm=norm
    )
    lc.set_array(ed["vc"][drv].astype(float))
    ax.add_collection(lc)
    closed = [np.asarray(roads.geometry[e]) for e in drv if ed["closed"][e]]
    if closed:
        ax.add_collection(LineCollection(closed, colors="k", linewidths=1.5, linestyles="dashed"))
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xlabel("x / m (lokal, Ost)")
    ax.set_ylabel("y / m (lokal, Nord)")
    ax.set_title(title)
    fig.colorbar(lc, ax=ax, shrink=0.7, label="Auslastung V/C / volume-capacity ratio")
    handles = [Line2D([], [], color="grey", lw=0.4 + 5.6 * q) for q in (0.1, 0.5, 1.0)]
    labels = [f"{q * vmax:,.0f} Kfz/h" for q in (0.1, 0.5, 1.0)]
    if closed:
        handles.append(Line2D([], [], color="k", lw=1.5, ls="--"))
        labels.append("gesperrt / closed")
    ax.legend(handles, labels, title="Verkehrsstärke / volume", loc="lower right", fontsize=8)
    fig.savefig(path)
    plt.close(fig)


def run_traffic(args: argparse.Namespace) -> int:
    from geodata.apply_roads import apply_road_interventions, is_road_edit
    from geodata.interventions import InterventionError
    from models.traffic.engine import TrafficEngine
    from models.traffic.network import NetworkError

    if not (0 < args.rgap < 1):
        raise CliError("--rgap muss in (0, 1) liegen / --rgap must be in (0, 1)")
    district = _load_district(args)
    ivs = _interventions(args.scenario)
    t0 = time.perf_counter()
    try:
        engine = TrafficEngine(district, seed=args.seed, rgap=args.rgap, arch=args.arch)
        res = engine.compute(ivs)
        roads = apply_road_interventions(district.roads, [i for i in ivs if is_road_edit(i)]).roads
    except (InterventionError, NetworkError) as exc:
        raise CliError(str(exc)) from None
    wall = time.perf_counter() - t0
    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)
    kpis = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in res.kpis.items()}
    try:
        (tmp / "links.geojson").write_text(json.dumps(links_geojson(district, res, roads)), encoding="utf-8")
        (tmp / "kpis.json").write_text(
            json.dumps({"district": district.name, "interventions": len(ivs), "kpis": kpis,
                        "unserved": [{"origin_zone": o, "destination_zone": d, "trips_veh_h": round(q, 3)} for o, d, q in res.unserved]},
                       indent=1, ensure_ascii=False),
            encoding="utf-8",
        )  # fmt: skip
        write_map_png(
            tmp / "map.png", roads, res, f"{district.name}: Spitzenstunde / peak hour {res.peak_hour}:00"
        )
        if target.exists():
            shutil.rmtree(target)
        tmp.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _print(
        args, {"out": str(target), "wall_time_s": round(wall, 3), **kpis, "unserved_pairs": len(res.unserved)}
    )
    return 0
