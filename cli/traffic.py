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
import time
from pathlib import Path
from typing import Any

import numpy as np

from cli.common import load_district, print_summary, read_scenario
from cli.errors import CliError
from geodata.files import atomic_dir, atomic_file

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
        lines = ["From\tTo\tVolume\tCost"]
        lines += [
            f"{a + 1}\t{b + 1}\t{float(v)!r}\t{float(c)!r}"
            for a, b, v, c in zip(net.link_from, net.link_to, res.flow, res.cost)
        ]
        atomic_file(args.flows_out, lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    print_summary(
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
    from geodata.geojson import links_collection
    from geodata.interventions import InterventionError
    from models.traffic.engine import TrafficEngine
    from models.traffic.network import NetworkError

    if not (0 < args.rgap < 1):
        raise CliError("--rgap muss in (0, 1) liegen / --rgap must be in (0, 1)")
    district = load_district(args)
    ivs = read_scenario(args.scenario)
    t0 = time.perf_counter()
    try:
        engine = TrafficEngine(district, seed=args.seed, rgap=args.rgap, arch=args.arch)
        res = engine.compute(ivs)
        roads = apply_road_interventions(district.roads, [i for i in ivs if is_road_edit(i)]).roads
    except (InterventionError, NetworkError) as exc:
        raise CliError(str(exc)) from None
    wall = time.perf_counter() - t0
    kpis = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in res.kpis.items()}

    def write(tmp: Path) -> None:
        links = links_collection(district, roads, res.edited_edges)
        (tmp / "links.geojson").write_text(json.dumps(links, allow_nan=False), encoding="utf-8")
        (tmp / "kpis.json").write_text(
            json.dumps({"district": district.name, "interventions": len(ivs), "kpis": kpis,
                        "unserved": [{"origin_zone": o, "destination_zone": d, "trips_veh_h": round(q, 3)} for o, d, q in res.unserved]},
                       indent=1, ensure_ascii=False),
            encoding="utf-8",
        )  # fmt: skip
        write_map_png(
            tmp / "map.png", roads, res, f"{district.name}: Spitzenstunde / peak hour {res.peak_hour}:00"
        )

    target = atomic_dir(args.out, write)
    print_summary(
        args, {"out": str(target), "wall_time_s": round(wall, 3), **kpis, "unserved_pairs": len(res.unserved)}
    )
    return 0
