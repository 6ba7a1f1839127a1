"""Optimised proposals for the region: new stops or on-demand (Rufbus) zones that serve the most persons
65+ and under 18 who have no stop of class D or better within a 600 m walk.

The maximal-covering model of the town level (:func:`models.people.covering.solve_milp`, HiGHS, with the
greedy heuristic alongside; the better of the two is proposed, so never worse than greedy) is set up on
the region's cells: demand ``w_i`` = deficit persons of cell ``i``; for stops, the candidates are the
centres of the cells with a deficit and candidate ``j`` covers cell ``i`` when the walk (along the streets of
the region's OSM network where it reaches, else straight line times the detour factor) is within the deficit
distance; for zones, the candidates are squares of ``zone_size_m``
around the settlements with a deficit, covering the cells inside. New stops are assumed served at class
``new_stop_class``, zones at ``zone_counts_as_class`` (``assets/region_access.json``). Every proposal is
evaluated again by :func:`models.region.access.region_access`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from geodata.interventions import NewStop, OnDemandZone, encode_intervention
from models.people.covering import solve_greedy, solve_milp
from models.region.access import ExtraStop, region_access
from models.region.model import Region
from models.region.network import network_cover
from models.region.service import assumptions

__all__ = ["RegionProposal", "coverage", "best_cover", "propose", "MILP_MAX_PAIRS"]

MILP_MAX_PAIRS = 3_000_000


@dataclass
class RegionProposal:
    """kind (stops | zone); items: name, x_m, y_m (stop or zone centre), polygon (zone, working CRS),
    persons_covered (marginal, in order of choice); interventions as scenario edits (``xy_local_m`` in the
    region's local frame, :attr:`Region.local_origin_m`); deficits before and after (unpublished floats)."""

    kind: str
    items: list[dict[str, Any]]
    interventions: list[dict[str, Any]]
    objective: float
    greedy_objective: float
    deficit_before: float
    deficit_after: float
    method: str
    status: str
    runtime_s: float
    notes: list[str] = field(default_factory=list)


def coverage(region: Region, kind: str, weights: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, list[Any]]:
    """(cover (I, J) bool over the cells with demand, candidate centres (J, 2), zone polygons or [])."""
    a = assumptions()
    cells = region.cells
    need = np.nonzero(weights > 0)[0]
    cxy = cells[["x_m", "y_m"]].to_numpy(float)[need]
    if need.size == 0:
        return sp.csr_matrix((0, 0), dtype=bool), np.zeros((0, 2)), []
    if kind == "stops":
        r = float(a["deficit_max_walk_m"]) / float(a["detour_factor_walk"])
        tree = cKDTree(cxy)
        pairs = tree.query_pairs(r, output_type="ndarray")
        rows = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(need.size)])
        cols = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(need.size)])
        cover = sp.csr_matrix((np.ones(rows.size, bool), (rows, cols)), shape=(need.size, need.size))
        if region.network is not None:  # walks along the streets of the bundle's OSM extract where it reaches
            cover = network_cover(region.network, cxy, cxy, float(a["deficit_max_walk_m"]), cover)
        return cover, cxy, []
    if kind == "zone":
        half = float(a["zone_size_m"]) / 2.0
        s = region.settlements
        lab = cells["settlement"].to_numpy()[need]
        with_need = sorted(set(lab.tolist()))
        cent = s.set_index("settlement").loc[with_need, ["x_m", "y_m"]].to_numpy(float)
        polys = [shapely.box(x - half, y - half, x + half, y + half) for x, y in cent]
        rows_l, cols_l = [], []
        for j, poly in enumerate(polys):
            ii = np.nonzero(shapely.intersects_xy(poly, cxy[:, 0], cxy[:, 1]))[0]
            rows_l.append(ii)
            cols_l.append(np.full(ii.size, j))
        rows, cols = np.concatenate(rows_l), np.concatenate(cols_l)
        cover = sp.csr_matrix((np.ones(rows.size, bool), (rows, cols)), shape=(need.size, len(cent)))
        return cover, cent, polys
    raise ValueError(f"Unbekannte Art {kind!r} / unknown kind (stops, zone)")


def best_cover(w: np.ndarray, cover: sp.csr_matrix, k: int, method: str = "auto",
               time_limit_s: float = 30.0) -> tuple[np.ndarray, float, float, str, str]:
    """(chosen, objective, greedy objective, method used, status): the MILP and greedy, the better one."""
    if method not in ("auto", "milp", "greedy"):
        raise ValueError(f"Unbekanntes Verfahren {method!r} / unknown method (auto, milp, greedy)")
    g_idx, g_obj = solve_greedy(w, cover, k)
    if method == "greedy" or (method == "auto" and cover.nnz > MILP_MAX_PAIRS):
        return g_idx, g_obj, g_obj, "greedy", "heuristic"
    m_idx, m_obj, status = solve_milp(w, cover, k, time_limit_s=time_limit_s)
    if m_obj + 1e-9 >= g_obj:
        return m_idx, m_obj, g_obj, "milp", status
    return g_idx, g_obj, g_obj, "greedy", f"milp {status}, greedy better"


def _order_by_gain(w: np.ndarray, cover: sp.csr_matrix, chosen: np.ndarray) -> list[tuple[int, float]]:
    left = list(int(j) for j in chosen)
    ww = w.copy()
    cov = sp.csc_matrix(cover, dtype=float)
    out = []
    while left:
        gains = np.asarray(cov[:, left].T @ ww).ravel()
        b = int(np.argmax(gains))
        j = left.pop(b)
        out.append((j, float(gains[b])))
        ww[cov[:, j].nonzero()[0]] = 0.0
    return out


def propose(region: Region, *, budget: int, kind: str = "stops", method: str = "auto",
            time_limit_s: float = 30.0, base: Any = None) -> RegionProposal:
    """``budget`` new stops or zones serving the most deficit persons. ``base``: a RegionAccess to start
    from (default: the region as it is)."""
    if budget < 1:
        raise ValueError("Budget muss mindestens 1 sein / budget must be at least 1")
    t0 = time.perf_counter()
    a = assumptions()
    before = base if base is not None else region_access(region)
    demand = (before.cells["deficit_65plus"] + before.cells["deficit_under18"]).to_numpy(float)
    need = np.nonzero(demand > 0)[0]
    cover, cent, polys = coverage(region, kind, demand)
    w = demand[need]
    idx, obj, g_obj, meth, status = best_cover(w, cover, budget, method, time_limit_s)
    ordered = _order_by_gain(w, cover, idx) if idx.size else []
    settle = region.cells["settlement"].to_numpy()
    near = cKDTree(region.cells[["x_m", "y_m"]].to_numpy(float))
    ox, oy = region.local_origin_m
    items, interventions, extra, zones = [], [], [], []
    for n, (j, gain) in enumerate(ordered, start=1):
        x, y = float(cent[j, 0]), float(cent[j, 1])
        place = str(settle[near.query([x, y])[1]])
        if kind == "stops":
            name = f"Neue Haltestelle {place}"
            items.append({"rank": n, "name": name, "x_m": x, "y_m": y, "persons_covered": gain})
            extra.append(ExtraStop(x, y, str(a["new_stop_class"]), name))
            interventions.append(encode_intervention(NewStop(id=f"region_stop_{n}", name=name[:100],
                                                             xy_local_m=(x - ox, y - oy))))
        else:
            name = f"Rufbus-Zone {place}"
            poly = polys[j]
            coords = [(float(px), float(py)) for px, py in list(poly.exterior.coords)[:-1]]
            items.append({"rank": n, "name": name, "x_m": x, "y_m": y, "polygon": coords, "persons_covered": gain})
            zones.append(poly)
            interventions.append(encode_intervention(OnDemandZone(
                id=f"region_zone_{n}", label=name[:100], polygon_local_m=[(px - ox, py - oy) for px, py in coords])))
    after = region_access(region, extra_stops=extra, zones=zones) if ordered else before
    d_before = float(before.kreis["deficit_65plus"] + before.kreis["deficit_under18"])
    d_after = float(after.kreis["deficit_65plus"] + after.kreis["deficit_under18"])
    notes = [] if ordered else ["Kein Defizit gefunden / no deficit found"]
    return RegionProposal(kind, items, interventions, obj, g_obj, d_before, d_after, meth, status,
                          time.perf_counter() - t0, notes)
