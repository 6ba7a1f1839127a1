"""Traffic speed figures: a road edit on the 2 x 2 km sample (warm-started equilibrium), and 100,000
vehicles over a peak hour on a 10 x 10 km district in the queue simulation.

    .venv/bin/python benchmarks/bench_traffic.py [--vehicles 100000] [--big sample|grid]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from geodata.interventions import decode_intervention  # noqa: E402
from geodata.sample import build_sample_district  # noqa: E402
from sim_kernels.runtime import ensure_init  # noqa: E402


def edit_on_sample() -> None:
    from models.traffic.engine import TrafficEngine

    d = build_sample_district(size_km=2.0, seed=0, cell_m=2.0)
    t0 = time.perf_counter()
    eng = TrafficEngine(d, seed=0, rgap=1e-5, dynamic=False)
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = eng.compute([])
    t_base = time.perf_counter() - t0
    print(
        f"2 x 2 km sample: {len(d.roads)} road edges, {eng.base_network.n_links} links, {len(eng.zones)} zones, "
        f"{base.kpis['trips']:,.0f} peak-hour trips; engine set-up {t_init:.2f} s, first equilibrium {t_base:.3f} s "
        f"({base.kpis['iterations']:.0f} it, gap {base.kpis['relative_gap']:.1e})"
    )
    busiest = int(np.argmax(base.edge_flow_veh_h))
    edits = [
        (
            "Tempo 30 on the busiest road",
            {"kind": "speed_limit", "id": "t30", "edge_index": busiest, "maxspeed_kmh": 30},
        ),
        (
            "one lane less on the busiest road",
            {"kind": "lane_change", "id": "lane", "edge_index": busiest, "lanes": 1},
        ),
        ("closure of the busiest road", {"kind": "road_closure", "id": "close", "edge_index": busiest}),
    ]
    for label, iv in edits:
        eng.compute([])  # back to the base solution
        t0 = time.perf_counter()
        res = eng.compute([decode_intervention(iv)])
        dt = time.perf_counter() - t0
        print(
            f"  {label:35s}: new equilibrium in {dt:.3f} s ({res.kpis['iterations']:.0f} it, gap "
            f"{res.kpis['relative_gap']:.1e}; flow there {base.edge_flow_veh_h[busiest]:.0f} -> "
            f"{res.edge_flow_veh_h[busiest]:.0f} veh/h) (target <= 1 s)"
        )
    t0 = time.perf_counter()
    dyn = eng.compute([], dynamic=True)
    print(
        f"  peak hour incl. queue simulation of {dyn.kpis['vehicles_simulated']:,.0f} vehicles: {time.perf_counter() - t0:.2f} s"
    )


def big_network(kind: str):
    if kind == "sample":
        from models.traffic.network import build_network, define_zones

        t0 = time.perf_counter()
        d = build_sample_district(size_km=10.0, seed=0, cell_m=10.0)
        net = build_network(d.roads, define_zones(d, zone_m=500.0))
        print(
            f"10 x 10 km sample district built in {time.perf_counter() - t0:.1f} s: {len(d.roads)} road edges, "
            f"{net.n_links} links, {len(net.zones)} zones"
        )
        from models.traffic.demand import build_demand

        od = build_demand(d, net).peak_od_veh_h
        print(
            f"  the district's own peak-hour demand: {od.sum():,.0f} trips; scaled up to the benchmark's vehicles"
        )
        return net.net, net.capacity_veh_h, net.storage_veh, od
    from traffic_networks import grid_network

    net, _, _ = grid_network(41, spacing_m=250.0, zones=400, rng=np.random.default_rng(0))
    lanes = np.where(net.capacity > 1000, 2, 1)
    storage = np.maximum(np.floor(250.0 * lanes / 7.5), 1).astype(np.int32)
    storage[net.free_flow_time == 10.0] = 10**8
    print(f"10 x 10 km generated grid: {net.link_from.size} links, {net.n_zones} zones")
    return net, net.capacity, storage, None


def hundred_thousand(n_vehicles: int, kind: str) -> None:
    from sim_kernels.assignment import assign, shortest_paths
    from sim_kernels.queue_sim import extract_routes, simulate

    net, cap_veh_h, storage, od = big_network(kind)
    rng = np.random.default_rng(0)
    z = net.n_zones
    if od is None:
        od = rng.gamma(1.0, 1.0, (z, z))
    od = np.array(od, dtype=np.float64)
    np.fill_diagonal(od, 0.0)
    od *= n_vehicles / od.sum()
    t0 = time.perf_counter()
    res = assign(net, od, rgap=1e-2, max_iter=30)
    t_assign = time.perf_counter() - t0
    t0 = time.perf_counter()
    whole = np.floor(od)
    n = (whole + (rng.random(od.shape) < od - whole)).astype(np.int64)
    o, d = np.nonzero(n)
    orig, dest = np.repeat(o, n[o, d]).astype(np.int32), np.repeat(d, n[o, d]).astype(np.int32)
    dep = rng.uniform(0, 3600, orig.size)
    origins = np.unique(orig).astype(np.int32)
    _, pred = shortest_paths(net, res.cost, origins)
    off, links, kept = extract_routes(
        pred, net.link_from, np.searchsorted(origins, orig).astype(np.int32), orig, dest
    )
    t_routes = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = simulate(
        net.free_flow_time, cap_veh_h / 3600.0, storage, off, links, dep[kept], horizon_s=3 * 3600.0
    )
    t_sim = time.perf_counter() - t0
    tt = sim.travel_time_s
    print(
        f"  {int(kept.sum()):,} vehicles over a peak hour: equilibrium {t_assign:.2f} s ({res.iterations} it, gap "
        f"{res.relative_gap:.1e}), routes {t_routes:.2f} s, queue simulation {t_sim:.2f} s for {sim.stats.shape[0]:,} "
        f"steps of 1 s; arrived {np.isfinite(tt).mean():.1%}, mean travel time {np.nanmean(tt) / 60:.1f} min, "
        f"{np.nansum(tt) / t_sim:,.0f} vehicle updates/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=100_000)
    ap.add_argument("--big", choices=("sample", "grid"), default="sample")
    ap.add_argument("--skip-edit", action="store_true")
    args = ap.parse_args()
    ensure_init("cpu")
    if not args.skip_edit:
        edit_on_sample()
    hundred_thousand(args.vehicles, args.big)


if __name__ == "__main__":
    main()
