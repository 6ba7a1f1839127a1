"""Dynamic simulation: landtwin's queue model against Eclipse SUMO on the same generated network and the
same trips (same routes), side by side in one run.

The network is a square grid of two-way single-lane streets (50 km/h), written as SUMO plain XML
(nodes, edges) and built with netconvert (priority junctions, no signals); the trips are written as SUMO
vehicles with explicit routes. The queue model runs twice: without junction limits and with the node
model (every node with three or more neighbours is a junction of type ``--junction-type`` from
``assets/junction_capacity.csv``, "priority" like SUMO's), then also with the time lost turning. Prints the mean travel time of all runs, their
ratios, wall times and vehicle updates per second. SUMO runs from its own venv
(``benchmarks/peers/setup.sh sumo``).

    .venv/bin/python benchmarks/traffic_vs_sumo.py [--grid 10] [--trips 3600] [--junction-type priority]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.traffic.network import junction_capacity_table, turn_delays_s  # noqa: E402
from sim_kernels.assignment import LinkNetwork, shortest_paths  # noqa: E402
from sim_kernels.queue_sim import extract_routes, simulate  # noqa: E402
from sim_kernels.runtime import ensure_init  # noqa: E402

PEER_BIN = ROOT / ".peers" / "sumo" / "bin"
SPEED_MS = 50 / 3.6
LANE_CAP_VEH_H = 1800.0  # saturation flow of one lane (HBS 2015 ~1,800-2,000 veh/h)
JAM_SPACING_M = 7.5


def grid(n: int, spacing_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ij = np.arange(n * n).reshape(n, n)
    a = np.concatenate([ij[:, :-1].ravel(), ij[:-1, :].ravel()])
    b = np.concatenate([ij[:, 1:].ravel(), ij[1:, :].ravel()])
    a, b = np.concatenate([a, b]), np.concatenate([b, a])
    yy, xx = np.divmod(np.arange(n * n), n)
    return a.astype(np.int32), b.astype(np.int32), np.column_stack([xx, yy]) * spacing_m


def write_sumo(tmp: Path, a, b, xy, routes_off, routes, dep) -> Path:
    nodes = ET.Element("nodes")
    for i, (x, y) in enumerate(xy):
        ET.SubElement(nodes, "node", id=f"n{i}", x=f"{x:.2f}", y=f"{y:.2f}", type="priority")
    ET.ElementTree(nodes).write(tmp / "grid.nod.xml")
    edges = ET.Element("edges")
    for k, (u, v) in enumerate(zip(a, b)):
        ET.SubElement(
            edges,
            "edge",
            id=f"e{k}",
            attrib={"from": f"n{u}", "to": f"n{v}", "numLanes": "1", "speed": f"{SPEED_MS:.4f}"},
        )
    ET.ElementTree(edges).write(tmp / "grid.edg.xml")
    root = ET.Element("routes")
    ET.SubElement(
        root,
        "vType",
        id="car",
        accel="2.6",
        decel="4.5",
        sigma="0.5",
        length="5",
        minGap="2.5",
        maxSpeed="50",
    )
    for k in range(dep.size):
        veh = ET.SubElement(
            root,
            "vehicle",
            id=f"v{k}",
            type="car",
            depart=f"{dep[k]:.2f}",
            departLane="best",
            departSpeed="max",
        )
        ET.SubElement(
            veh, "route", edges=" ".join(f"e{lk}" for lk in routes[routes_off[k] : routes_off[k + 1]])
        )
    ET.ElementTree(root).write(tmp / "trips.rou.xml")
    subprocess.run(
        [
            str(PEER_BIN / "netconvert"),
            "-n",
            "grid.nod.xml",
            "-e",
            "grid.edg.xml",
            "-o",
            "grid.net.xml",
            "--no-turnarounds",
            "true",
            "--junctions.corner-detail",
            "0",
            "--no-warnings",
            "true",
        ],
        cwd=tmp,
        check=True,
        capture_output=True,
    )
    return tmp


def run_sumo(tmp: Path) -> tuple[float, np.ndarray, int]:
    t0 = time.perf_counter()
    r = subprocess.run(
        [
            str(PEER_BIN / "sumo"),
            "-n",
            "grid.net.xml",
            "-r",
            "trips.rou.xml",
            "--tripinfo-output",
            "trips.xml",
            "--no-step-log",
            "true",
            "--no-warnings",
            "true",
            "--time-to-teleport",
            "300",
            "--seed",
            "1",
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    infos = ET.parse(tmp / "trips.xml").getroot().findall("tripinfo")
    dur = np.array([float(t.get("duration")) for t in infos])
    steps = sum(
        int(float(t.get("duration"))) for t in infos
    )  # vehicle-seconds simulated = vehicle updates at 1 s
    return wall, dur, steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=10)
    ap.add_argument("--spacing", type=float, default=200.0)
    ap.add_argument("--trips", type=int, default=3600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--junction-type", default="priority")
    args = ap.parse_args()
    ensure_init("cpu")
    rng = np.random.default_rng(args.seed)
    a, b, xy = grid(args.grid, args.spacing)
    length = np.hypot(*(xy[b] - xy[a]).T)
    n_nodes = args.grid * args.grid
    fft = length / SPEED_MS
    net = LinkNetwork(
        n_nodes,
        n_nodes,
        0,
        a,
        b,
        fft,
        np.full(a.size, LANE_CAP_VEH_H),
        np.full(a.size, 0.15),
        np.full(a.size, 4.0),
    )
    orig = rng.integers(0, n_nodes, args.trips)
    dest = rng.integers(0, n_nodes, args.trips)
    dest = np.where(dest == orig, (dest + 1) % n_nodes, dest)
    dep = np.sort(rng.uniform(0, 3600, args.trips))
    origins = np.unique(orig).astype(np.int32)
    _, pred = shortest_paths(net, fft, origins)
    off, routes, kept = extract_routes(pred, a, np.searchsorted(origins, orig), orig, dest)
    dep = dep[kept]
    print(
        f"grid {args.grid}x{args.grid} ({a.size} links, {args.spacing:.0f} m), {dep.size} trips over one hour, same routes"
    )
    cap_s = np.full(a.size, LANE_CAP_VEH_H / 3600.0)
    storage = np.maximum(np.floor(length / JAM_SPACING_M), 1).astype(np.int32)
    caps = {t: c for t, c, _ in junction_capacity_table().values()}
    turn_s = {t: d for t, _, d in junction_capacity_table().values()}
    if args.junction_type not in caps:
        raise SystemExit(f"unknown junction type {args.junction_type!r}; known: {sorted(caps)}")
    deg = np.bincount(a, minlength=n_nodes)  # two-way grid: out-degree = neighbours
    is_j = deg >= 3
    link_node = np.where(is_j[b], (np.cumsum(is_j) - 1)[b], -1).astype(np.int32)
    node_cap = np.full(int(is_j.sum()), caps[args.junction_type] / 3600.0)
    free = np.add.reduceat(fft[routes], off[:-1])
    runs = {}
    for name, kw in (
        ("no junctions", {}),
        (
            f"junctions {caps[args.junction_type]:.0f} veh/h",
            dict(link_node=link_node, node_capacity_veh_s=node_cap),
        ),
        (
            f"+ turns {turn_s[args.junction_type]:.1f} s",
            dict(
                link_node=link_node,
                node_capacity_veh_s=node_cap,
                turn_delay_s=turn_delays_s(
                    xy, a, b, off, routes, np.full(a.size, turn_s[args.junction_type])
                ),
            ),
        ),
    ):
        warm = {k: v for k, v in kw.items() if k != "turn_delay_s"}
        simulate(fft, cap_s, storage, off[:2], routes[: off[1]], dep[:1], horizon_s=100.0, **warm)  # compile
        t0 = time.perf_counter()
        res = simulate(fft, cap_s, storage, off, routes, dep, dt_s=1.0, horizon_s=4 * 3600.0, **kw)
        wall = time.perf_counter() - t0
        tt = res.travel_time_s
        runs[name] = (wall, tt)
        print(
            f"  landtwin ({name:>22}): mean travel time {np.nanmean(tt):7.1f} s (free flow {free.mean():.1f} s), "
            f"arrived {np.isfinite(tt).mean():.1%}, wall {wall:.3f} s, "
            f"{float(np.nansum(tt)) / wall:,.0f} vehicle updates/s"
        )
    if not (PEER_BIN / "sumo").exists():
        print("  SUMO venv missing: run benchmarks/peers/setup.sh sumo")
        return
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = write_sumo(Path(tmpd), a, b, xy, off, routes, dep)
        sumo_wall, sumo_tt, sumo_updates = run_sumo(tmp)
    print(
        f"  SUMO               : mean travel time {sumo_tt.mean():7.1f} s, arrived {sumo_tt.size} of {dep.size}, "
        f"wall {sumo_wall:.3f} s, {sumo_updates / sumo_wall:,.0f} vehicle updates/s"
    )
    for name, (wall, tt) in runs.items():
        diff = np.nanmean(tt) / sumo_tt.mean() - 1
        print(
            f"  {name:>22}: mean travel time landtwin vs SUMO {diff:+.1%} (target within 20 %), "
            f"speed ratio SUMO / landtwin wall time {sumo_wall / wall:.1f}x (target >= 10x)"
        )


if __name__ == "__main__":
    main()
