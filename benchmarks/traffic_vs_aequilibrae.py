"""User-equilibrium assignment: landtwin's bi-conjugate Frank-Wolfe against AequilibraE, side by side in
one run, on Sioux Falls and on a generated grid, to the same relative gap.

Prints iterations, wall and CPU time, total travel time, the speed ratio and the gap curves.
AequilibraE runs in its own venv (``benchmarks/peers/setup.sh aequilibrae``).

    .venv/bin/python benchmarks/traffic_vs_aequilibrae.py [--rgap 1e-5] [--grid 30] [--zones 120]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from traffic_networks import grid_network, random_od  # noqa: E402

from geodata.tntp import read_flows, read_net, read_trips  # noqa: E402
from sim_kernels.assignment import LinkNetwork, assign  # noqa: E402
from sim_kernels.runtime import ensure_init  # noqa: E402

PEER = ROOT / ".peers" / "aequilibrae" / "bin" / "python"
SF = ROOT.parent / "shared" / "data" / "tntp_siouxfalls"


def run_peer(net: LinkNetwork, od: np.ndarray, rgap: float, max_iter: int, cores: int) -> dict | None:
    if not PEER.exists():
        print(f"  AequilibraE venv missing: run benchmarks/peers/setup.sh aequilibrae ({PEER})")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "in.npz"
        np.savez(
            f,
            n_zones=net.n_zones,
            link_from=net.link_from,
            link_to=net.link_to,
            fft=net.free_flow_time,
            capacity=net.capacity,
            alpha=net.alpha,
            beta=net.beta,
            od=od,
            blocked_centroids=net.first_thru_node > 0,
            cores=cores,
        )
        r = subprocess.run(
            [
                str(PEER),
                str(ROOT / "benchmarks" / "_aequilibrae_runner.py"),
                str(f),
                str(rgap),
                str(max_iter),
            ],
            capture_output=True,
            text=True,
        )
    if r.returncode != 0:
        print("  AequilibraE failed:", r.stderr[-2000:])
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_ours(net: LinkNetwork, od: np.ndarray, rgap: float, max_iter: int) -> dict:
    assign(net, od, rgap=1.0, max_iter=2)  # compile the kernels outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    res = assign(net, od, rgap=rgap, max_iter=max_iter, method="bfw")
    return {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "iterations": res.iterations,
        "rgap": res.relative_gap,
        "gaps": res.gap_history,
        "tstt": res.total_travel_time,
        "flows": res.flow,
    }


def compare(label: str, net: LinkNetwork, od: np.ndarray, rgap: float, max_iter: int, cores: int) -> None:
    print(
        f"\n== {label}: {net.n_nodes} nodes, {net.link_from.size} links, {net.n_zones} zones, "
        f"{od.sum():,.0f} trips, target relative gap {rgap:g}"
    )
    ours = run_ours(net, od, rgap, max_iter)
    peer = run_peer(net, od, rgap, max_iter, cores)
    print(
        f"  landtwin    : {ours['iterations']:4d} it, gap {ours['rgap']:.2e}, wall {ours['wall_s']:.3f} s, "
        f"cpu {ours['cpu_s']:.3f} s, TSTT {ours['tstt']:,.1f}"
    )
    if peer is None:
        return
    print(
        f"  AequilibraE : {peer['iterations']:4d} it, gap {peer['rgap']:.2e}, wall {peer['wall_s']:.3f} s, "
        f"cpu {peer['cpu_s']:.3f} s, TSTT {peer['tstt']:,.1f}"
    )
    print(
        f"  ratio AequilibraE / landtwin: wall {peer['wall_s'] / ours['wall_s']:.1f}x, cpu {peer['cpu_s'] / ours['cpu_s']:.1f}x"
    )
    f_ours, f_peer = ours["flows"], np.asarray(peer["flows"])
    big = f_peer > 0.05 * f_peer.max()
    print(
        f"  link flows: max relative difference on loaded links {np.max(np.abs(f_ours[big] / f_peer[big] - 1)):.2%}"
    )
    print("  gap per iteration (landtwin | AequilibraE):")
    n = max(len(ours["gaps"]), len(peer["gaps"]) - 1)
    for it in sorted({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, n} & set(range(1, n + 1))):
        a = ours["gaps"][it - 1] if it <= len(ours["gaps"]) else float("nan")
        b = peer["gaps"][it] if it < len(peer["gaps"]) else float("nan")  # its row 0 is the initial AON
        print(f"    {it:5d}  {a:10.3e} | {b:10.3e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rgap", type=float, default=1e-5)
    ap.add_argument("--max-iter", type=int, default=2000)
    ap.add_argument("--grid", type=int, default=30)
    ap.add_argument("--zones", type=int, default=120)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--trips-per-node", type=float, default=150.0)
    ap.add_argument("--skip-sioux-falls", action="store_true")
    args = ap.parse_args()
    ensure_init("cpu")
    t = read_net(SF / "SiouxFalls_net.tntp")
    od = read_trips(SF / "SiouxFalls_trips.tntp", t.n_zones)
    net = LinkNetwork(
        t.n_nodes,
        t.n_zones,
        t.first_thru_node,
        t.link_from,
        t.link_to,
        t.free_flow_time_min,
        t.capacity_veh_h,
        t.bpr_alpha,
        t.bpr_beta,
    )
    if not args.skip_sioux_falls:
        compare("Sioux Falls", net, od, args.rgap, args.max_iter, args.cores)
        _, _, vol, cost = read_flows(SF / "SiouxFalls_flow.tntp")
        print(f"  reference TSTT {float(vol @ cost):,.1f}")
    rng = np.random.default_rng(0)
    gnet, _, _ = grid_network(args.grid, zones=args.zones, rng=rng)
    god = random_od(args.zones, args.trips_per_node * args.grid * args.grid, rng)
    compare(f"generated {args.grid}x{args.grid} grid", gnet, god, args.rgap, args.max_iter, args.cores)


if __name__ == "__main__":
    main()
