"""Benchmark: accessibility, agents and stop optimisation.

Run: ``.venv/bin/python benchmarks/bench_access.py [--arch cpu] [--skip-large]``.

Prints, each with its target and the ratio time / target:
1. access for every home of the 2 × 2 km sample to every service class (target <= 2 s), warm and cold;
2. the same for the 10 × 10 km generated district with 180,000 residents (time printed);
3. the multi-source kernel against scipy.sparse.csgraph Dijkstra on the 10 km walk graph and on a
   300 × 300 street grid (90,000 nodes) (ratios, and that the times agree);
4. agents: 180,000 persons over a day in 60 s steps (target <= 60 s), agent-steps per second;
5. optimisation: 10 new stops among 2,000 candidates on the 10 km district (target <= 30 s), MILP and
   greedy objective.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from access_districts import district  # noqa: E402

from models.people.access import CATEGORIES, AccessEngine  # noqa: E402
from models.people.optimise import coverage_problem, solve_greedy, solve_milp  # noqa: E402
from sim_kernels.access import multi_source_times  # noqa: E402


def _t(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def line(label: str, value: float, unit: str = "s", target: float | None = None) -> None:
    extra = f"   target {target:g} {unit}, ratio {value / target:.3f}" if target else ""
    print(f"{label:<58} {value:10.3f} {unit}{extra}", flush=True)


def bench_sample(arch: str | None) -> None:
    d, t_load = district(2.0, cell_m=2.0)
    print(f"\n2 x 2 km sample: {len(d.buildings)} buildings, {d.residents_total} residents, {len(d.roads)} road edges"
          f" (district ready in {t_load:.1f} s)")
    t0 = time.perf_counter()
    eng = AccessEngine(d, seed=0, arch=arch)
    line("engine set-up (population, graphs)", time.perf_counter() - t0)
    t0 = time.perf_counter()
    eng.compute([], with_agents=False)
    line("access, all homes x all categories (first call, JIT)", time.perf_counter() - t0, target=2.0)
    warm, res = _t(lambda: eng.compute([], with_agents=False))
    line("access, all homes x all categories (warm, median of 3)", warm, target=2.0)
    print(f"   categories: {len(CATEGORIES)} ({', '.join(CATEGORIES)}), homes {len(d.buildings)}, persons {len(eng.population)}")


def bench_large(arch: str | None, *, agents_dt: float) -> None:
    d, t_load = district(10.0, cell_m=10.0, residents=180_000)
    print(f"\n10 x 10 km generated district: {len(d.buildings)} buildings, {d.residents_total} residents, "
          f"{len(d.roads)} road edges, {d.stops.xy_local_m.shape[0]} stops, {d.pois.xy_local_m.shape[0]} POIs "
          f"(district ready in {t_load:.1f} s)")
    t0 = time.perf_counter()
    eng = AccessEngine(d, seed=0, arch=arch)
    line("engine set-up (population of 180,000, graphs)", time.perf_counter() - t0)
    t0 = time.perf_counter()
    eng.compute([], with_agents=False)
    line("access, 180,000 residents (first call)", time.perf_counter() - t0)
    warm, res = _t(lambda: eng.compute([], with_agents=False), repeat=2)
    line("access, 180,000 residents (warm)", warm)

    # kernel against scipy on the same walk graph, same sources
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    from geodata.apply_transit import apply_transit

    net, services = apply_transit(d, eng.base_network, [])
    pts = eng._source_points(net, services)
    start = eng._starts(eng.walk, pts, eng._usable)
    s, dd, w = eng.walk.reversed()
    t_k, (times, sweeps) = _t(lambda: multi_source_times(s, dd, w, start), repeat=3)
    n = eng.walk.n_nodes
    g = eng.walk.to_csr()
    # scipy: one super-source per category (an extra node linked to the sources by their start times)
    t0 = time.perf_counter()
    ref = np.empty_like(times)
    gc = g.tocoo()
    for c in range(start.shape[0]):
        fin = np.isfinite(start[c])
        src_nodes = np.nonzero(fin)[0]
        gs = csr_matrix((np.concatenate([gc.data, start[c, fin] + 1e-9]),
                         (np.concatenate([gc.col, np.full(src_nodes.size, n)]),
                          np.concatenate([gc.row, src_nodes]))), shape=(n + 1, n + 1))
        ref[c] = dijkstra(gs, indices=n)[:n] if src_nodes.size else np.inf
    t_s = time.perf_counter() - t0
    fin = np.isfinite(ref)
    err = float(np.max(np.abs(times[fin] - ref[fin]))) if fin.any() else 0.0
    line(f"kernel: {start.shape[0]} categories x {n} nodes, {sweeps} rounds", t_k)
    line("scipy.sparse.csgraph Dijkstra, same sources", t_s)
    print(f"   ratio kernel/scipy {t_k / t_s:.3f}; max |difference| {err:.4f} s; unreachable equal: "
          f"{bool((np.isinf(times) == np.isinf(ref)).all())}; graph {g.nnz} edges")

    # agents over a day
    t0 = time.perf_counter()
    res = eng.compute([])
    t_plan = time.perf_counter() - t0
    ag = res.agents
    n_trips = ag.trips["trip_tree"].size
    steps = int(86400 / agents_dt)
    ag.run_day(dt_s=3600.0)  # compile
    t0 = time.perf_counter()
    day = ag.run_day(dt_s=agents_dt)
    t_day = time.perf_counter() - t0
    line(f"access + activity chains + mode choice for {len(ag)} persons ({n_trips} tours)", t_plan)
    line(f"agents: {len(ag)} persons x {steps} steps of {agents_dt:g} s", t_day, target=60.0)
    print(f"   agent-steps per second {len(ag) * steps / t_day:,.0f}; mode shares "
          + ", ".join(f"{k} {v:.2f}" for k, v in ag.mode_shares.items())
          + f"; agent-hours on links {day['link_s'].sum() / 3600:,.0f}")
    t0 = time.perf_counter()
    for t in np.linspace(6 * 3600, 20 * 3600, 50):
        ag.positions_at(float(t))
    line("positions_at(t) for all persons (mean of 50 calls)", (time.perf_counter() - t0) / 50)

    # optimisation: 10 stops among 2,000 candidates
    t0 = time.perf_counter()
    prob = coverage_problem(eng, res, n_candidates=2000, seed=0)
    t_cov = time.perf_counter() - t0
    t0 = time.perf_counter()
    g_idx, g_obj = solve_greedy(prob.weights, prob.cover, 10)
    t_g = time.perf_counter() - t0
    t0 = time.perf_counter()
    m_idx, m_obj, status = solve_milp(prob.weights, prob.cover, 10, time_limit_s=25.0)
    t_m = time.perf_counter() - t0
    print(f"   stop problem: {prob.cover.shape[0]} demand homes ({prob.weights.sum():.0f} persons without a car and "
          f"without a stop within the threshold), {prob.cover.shape[1]} candidates, {prob.cover.nnz} coverage pairs")
    line("optimisation: coverage matrix (network walk times)", t_cov)
    line("optimisation: greedy", t_g)
    line("optimisation: MILP (HiGHS)", t_m)
    line("optimisation total (coverage + greedy + MILP)", t_cov + t_g + t_m, target=30.0)
    print(f"   objective MILP {m_obj:.0f} ({status}) vs greedy {g_obj:.0f} persons covered")


def bench_grid(n: int = 300, n_cat: int = 9, sources: int = 20) -> None:
    """The kernel on a larger graph than the generated district's: an n x n street grid."""
    from scipy.sparse.csgraph import dijkstra

    from models.people.access_network import Graph

    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    v = ii * n + jj
    a = np.concatenate([v[:, :-1].ravel(), v[:-1, :].ravel()])
    b = np.concatenate([v[:, 1:].ravel(), v[1:, :].ravel()])
    rng = np.random.default_rng(0)
    w = rng.uniform(20.0, 120.0, a.size)
    src, dst, cost = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([w, w])
    start = np.full((n_cat, n * n), np.inf)
    for c in range(n_cat):
        start[c, rng.choice(n * n, sources, replace=False)] = 0.0
    multi_source_times(src, dst, cost, start[:1])
    t_f, (f, rounds) = _t(lambda: multi_source_times(src, dst, cost, start))
    t_w, (sw, sweeps) = _t(lambda: multi_source_times(src, dst, cost, start, method="sweep"), repeat=1)
    g = Graph(src, dst, cost, src * 0, src * 0, src * 0, np.zeros((n * n, 2))).to_csr()
    t_s, ref = _t(lambda: np.stack([dijkstra(g, indices=np.nonzero(np.isfinite(start[c]))[0], min_only=True)
                                    for c in range(n_cat)]))
    print(f"\n{n} x {n} street grid: {n * n} nodes, {src.size} directed edges, {n_cat} categories x {sources} sources")
    line(f"kernel, frontier ({rounds} rounds)", t_f)
    line(f"kernel, full sweeps ({sweeps} sweeps)", t_w)
    line("scipy.sparse.csgraph Dijkstra (min_only per category)", t_s)
    print(f"   ratio frontier/scipy {t_f / t_s:.3f}, sweeps/scipy {t_w / t_s:.3f}; max |difference| "
          f"{float(np.max(np.abs(f - ref))):.4f} s, sweeps equal frontier: {bool(np.array_equal(f, sw))}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default=None, help="Taichi arch: cpu (default), cuda, gpu")
    ap.add_argument("--skip-large", action="store_true", help="only the 2 x 2 km sample")
    ap.add_argument("--agents-dt", type=float, default=60.0, help="agent time step in seconds")
    args = ap.parse_args(argv)
    from sim_kernels.runtime import ensure_init

    print(f"Taichi arch: {ensure_init(args.arch)}")
    bench_sample(args.arch)
    bench_grid()
    if not args.skip_large:
        bench_large(args.arch, agents_dt=args.agents_dt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
