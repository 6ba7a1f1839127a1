"""Optimised transit proposals: k new stops, one new line with a headway, or an on-demand zone.

New stops are placed by a maximal-covering location model (Church & ReVelle 1974): demand ``w_i`` is
the number of people without a car (65+ without a car, under 18) at home ``i`` who have no stop within
the walking threshold; candidate ``j`` covers home ``i`` when the walk from ``i`` to ``j`` is within
the threshold. Maximise ``sum w_i y_i`` subject to ``y_i <= sum_{j covers i} x_j``, ``sum x_j <= k``,
``x`` binary, ``0 <= y <= 1``, solved by ``scipy.optimize.milp`` (HiGHS). A greedy heuristic (largest
marginal coverage first) runs too; the better of the two is proposed, so the proposal is never worse
than greedy, also when HiGHS stops at its time limit.

Every proposal is a scenario draft: a list of interventions with the KPIs before and after, computed
by the access engine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geodata.interventions import BusLine, NewStop, OnDemandZone, encode_intervention
from models.people.access_network import WALK_SPEED_M_S
from models.people.covering import solve_greedy, solve_milp
from models.people.quality import thresholds

__all__ = ["Proposal", "CoverageProblem", "solve_milp", "solve_greedy", "coverage_problem", "optimise_stops",
           "propose_line", "propose_zone"]


@dataclass
class Proposal:
    """A scenario draft: ``interventions`` (JSON-able dicts) and KPIs ``before`` and ``after``."""

    kind: str  # stops, line, zone
    interventions: list[dict[str, Any]]
    before: dict[str, float]
    after: dict[str, float]
    objective: float  # persons of the target groups newly covered
    demand: float  # persons of the target groups with a deficit before
    method: str  # milp, greedy, evaluation
    status: str
    runtime_s: float
    greedy_objective: float = float("nan")
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("kind", "interventions", "before", "after", "objective", "demand",
                                               "method", "status", "runtime_s", "greedy_objective", "notes")}


@dataclass(frozen=True)
class CoverageProblem:
    weights: np.ndarray  # (I,) float64 demand per home
    cover: sp.csr_matrix  # (I, J) bool: candidate j covers home i
    cand_xy: np.ndarray  # (J, 2) local metres
    home_index: np.ndarray  # (I,) index into the engine's homes (buildings)


def coverage_problem(engine: Any, result: Any, *, category: str = "stop", n_candidates: int = 2000,
                     seed: int = 0, threshold_min: float | None = None) -> CoverageProblem:
    """Demand and coverage for new stops from an ``AccessResult``: homes whose target-group members
    are beyond the threshold for ``category``; candidates are street nodes that cover some of them."""

    thr_s = 60.0 * float(threshold_min if threshold_min is not None else thresholds()["threshold_min"][category])
    pop = engine.population
    groups = pop.groups()
    need = groups["age65_no_car"] | groups["under18"]
    t = result.building_time_min[category] if category in result.building_time_min else result.time_by_mode_min["transit"][category]
    nb = t.size
    own = pop.home_building < nb
    bad = need & own
    bad[own] &= t[pop.home_building[own]] * 60.0 > thr_s
    w_all = np.bincount(pop.home_building[bad], minlength=nb).astype(float)
    homes = np.nonzero(w_all > 0)[0]
    node = engine.building_node[homes]
    acc = engine.building_access_m[homes] / WALK_SPEED_M_S
    ok = (node >= 0) & (acc <= thr_s)
    homes, node, acc = homes[ok], node[ok], acc[ok]
    xy = engine.walk.node_xy
    usable = np.nonzero(engine._usable)[0]
    if homes.size == 0 or usable.size == 0:
        return CoverageProblem(np.zeros(0), sp.csr_matrix((0, 0), dtype=bool), np.zeros((0, 2)), homes)
    near = cKDTree(engine.building_xy[homes]).query_ball_point(xy[usable], r=thr_s * WALK_SPEED_M_S, return_length=True)
    cand = usable[near > 0]
    if cand.size > n_candidates:
        cand = np.sort(np.random.default_rng(seed).choice(cand, n_candidates, replace=False))
    g = engine.walk.to_csr()
    rows, cols = [], []
    chunk = max(1, int(2e7 // max(g.shape[0], 1)))
    for s in range(0, cand.size, chunk):
        d = dijkstra(g, directed=True, indices=cand[s:s + chunk], limit=thr_s)
        hit = d[:, node] + acc[None, :] <= thr_s
        jj, ii = np.nonzero(hit)
        rows.append(ii)
        cols.append(jj + s)
    r, c = np.concatenate(rows), np.concatenate(cols)
    cover = sp.csr_matrix((np.ones(r.size, bool), (r, c)), shape=(homes.size, cand.size))
    return CoverageProblem(w_all[homes], cover, xy[cand], homes)


# above this many coverage pairs the MILP is skipped by ``method="auto"`` (greedy only)
MILP_MAX_PAIRS = 5_000_000


def _best_of(problem: CoverageProblem, k: int, method: str, time_limit_s: float) -> tuple[np.ndarray, float, str, str, float]:
    if method not in ("auto", "milp", "greedy"):
        raise ValueError(f"Unbekanntes Verfahren {method!r} / unknown method (auto, milp, greedy)")
    g_idx, g_obj = solve_greedy(problem.weights, problem.cover, k)
    if method == "greedy" or (method == "auto" and problem.cover.nnz > MILP_MAX_PAIRS):
        return g_idx, g_obj, "greedy", "heuristic" if method == "greedy" else "greedy: instance too large for the MILP", g_obj
    m_idx, m_obj, status = solve_milp(problem.weights, problem.cover, k, time_limit_s=time_limit_s)
    if m_obj + 1e-9 >= g_obj:
        return m_idx, m_obj, "milp", status, g_obj
    return g_idx, g_obj, "greedy", f"milp {status}, greedy better", g_obj


def optimise_stops(engine: Any, budget: int, *, interventions: Sequence[Any] = (), method: str = "auto",
                   n_candidates: int = 2000, time_limit_s: float = 20.0, evaluate: bool = True) -> Proposal:
    """``budget`` new stops covering the most persons of the target groups without a stop nearby.

    ``method``: ``milp`` (HiGHS, and greedy alongside: the better is proposed), ``greedy``, or ``auto``
    (the MILP unless the instance has more than ``MILP_MAX_PAIRS`` coverage pairs)."""
    if budget < 1:
        raise ValueError("Budget muss mindestens 1 sein / budget must be at least 1")
    t0 = time.perf_counter()
    before = engine.compute(interventions, with_agents=False)
    problem = coverage_problem(engine, before, n_candidates=n_candidates, seed=engine.seed)
    idx, obj, meth, status, g_obj = _best_of(problem, budget, method, time_limit_s)
    stops = [NewStop(id=f"opt_stop_{k + 1}", name=f"Neue Haltestelle {k + 1}",
                     xy_local_m=(float(problem.cand_xy[j, 0]), float(problem.cand_xy[j, 1]))) for k, j in enumerate(idx)]
    runtime = time.perf_counter() - t0
    after = engine.compute(list(interventions) + stops, with_agents=False).kpis if evaluate else {}
    notes = [] if idx.size else ["Kein Bedarf ohne Haltestelle gefunden / no unserved demand found"]
    return Proposal("stops", [encode_intervention(s) for s in stops], before.kpis, after, obj,
                    float(problem.weights.sum()), meth, status, runtime, g_obj, notes)


def _doctor_xy(engine: Any) -> np.ndarray:
    p = engine.district.pois
    return np.asarray(p.xy_local_m, float)[p.category == "doctor"]


def propose_line(engine: Any, n_stops: int, headway_min: float, *, interventions: Sequence[Any] = (),
                 first_hour: int = 6, last_hour: int = 20, time_limit_s: float = 20.0) -> Proposal:
    """One bus line: ``n_stops`` stops chosen by maximal covering of the persons beyond the doctor
    threshold, ordered by nearest neighbour and ending at the doctor nearest to their centre."""
    t0 = time.perf_counter()
    before = engine.compute(interventions, with_agents=False)

    problem = coverage_problem(engine, before, category="doctor", n_candidates=2000, seed=engine.seed,
                               threshold_min=thresholds()["threshold_min"]["stop"])
    doctors = _doctor_xy(engine)
    idx, obj, meth, status, g_obj = _best_of(problem, max(n_stops - 1, 1), "auto", time_limit_s)
    if idx.size == 0 or doctors.shape[0] == 0:
        return Proposal("line", [], before.kpis, before.kpis, 0.0, float(problem.weights.sum()), meth,
                        "no line: no demand or no doctor", time.perf_counter() - t0, g_obj)
    pts = problem.cand_xy[idx]
    end = doctors[np.argmin(np.hypot(*(doctors - pts.mean(axis=0)).T))]
    order = [int(np.argmax(np.hypot(*(pts - end).T)))]
    left = set(range(len(pts))) - set(order)
    while left:
        last = pts[order[-1]]
        j = min(left, key=lambda q: float(np.hypot(*(pts[q] - last))))
        order.append(j)
        left.remove(j)
    seq = [tuple(map(float, pts[j])) for j in order] + [tuple(map(float, end))]
    line = BusLine(id="opt_line", name="Neue Linie", stops_local_m=seq, headway_min=float(headway_min),
                   first_hour=first_hour, last_hour=last_hour)
    after = engine.compute(list(interventions) + [line], with_agents=False).kpis
    return Proposal("line", [encode_intervention(line)], before.kpis, after, obj, float(problem.weights.sum()),
                    meth, status, time.perf_counter() - t0, g_obj)


def propose_zone(engine: Any, size_m: float = 2000.0, *, lead_time_min: float = 60.0, interventions: Sequence[Any] = (),
                 first_hour: int = 6, last_hour: int = 20, evaluate_top: int = 3) -> Proposal:
    """An on-demand zone: squares of ``size_m`` with a doctor's practice in the centre, at an edge or
    near a corner are ranked by the persons of the target groups beyond the doctor threshold inside them; the best ``evaluate_top`` are evaluated by
    the engine and the one that removes the most deficits is proposed."""
    t0 = time.perf_counter()
    before = engine.compute(interventions, with_agents=False)
    pop = engine.population
    g = pop.groups()
    t = before.building_time_min["doctor"]
    own = pop.home_building < t.size

    thr = thresholds()["threshold_min"]["doctor"]
    bad = (g["age65_no_car"] | g["under18"]) & own
    bad[own] &= t[pop.home_building[own]] > thr
    hxy = engine.building_xy[pop.home_building[bad]]
    w, s, e, n = engine.district.grid.bbox_local_m
    cands = []
    shifts = [(sx, sy) for sx in (-0.4, 0.0, 0.4) for sy in (-0.4, 0.0, 0.4)]
    for dx, dy in _doctor_xy(engine):
        for sx, sy in shifts:  # the practice in the centre, at an edge or near a corner of the zone
            cx, cy = dx + sx * size_m, dy + sy * size_m
            x0, x1 = max(cx - size_m / 2, w), min(cx + size_m / 2, e)
            y0, y1 = max(cy - size_m / 2, s), min(cy + size_m / 2, n)
            inside = int(((hxy[:, 0] >= x0) & (hxy[:, 0] <= x1) & (hxy[:, 1] >= y0) & (hxy[:, 1] <= y1)).sum())
            cands.append((inside, (float(x0), float(y0), float(x1), float(y1))))
    cands.sort(key=lambda c: -c[0])
    base_def = before.kpis["deficit_age65_no_car_doctor"] + before.kpis["deficit_under18_doctor"]
    best: tuple[float, OnDemandZone, dict[str, float]] | None = None
    for inside, (x0, y0, x1, y1) in cands[:evaluate_top]:
        if inside == 0:
            continue
        zone = OnDemandZone(id="opt_zone", label="Rufbus", polygon_local_m=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
                            lead_time_min=lead_time_min, first_hour=first_hour, last_hour=last_hour)
        try:
            k = engine.compute(list(interventions) + [zone], with_agents=False).kpis
        except ValueError:
            continue  # a zone without streets cannot be served
        gain = base_def - (k["deficit_age65_no_car_doctor"] + k["deficit_under18_doctor"])
        if best is None or gain > best[0]:
            best = (gain, zone, k)
    if best is None:
        return Proposal("zone", [], before.kpis, before.kpis, 0.0, float(bad.sum()), "evaluation",
                        "no zone with demand", time.perf_counter() - t0,
                        notes=["Keine Zone mit Bedarf / no zone with demand"])
    return Proposal("zone", [encode_intervention(best[1])], before.kpis, best[2], float(best[0]), float(bad.sum()),
                    "evaluation", "best of evaluated candidates", time.perf_counter() - t0)
