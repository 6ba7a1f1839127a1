"""Daily activity chains, mode choice and the moving agents of a day.

Each synthetic person gets a weekday programme from ``assets/activity_chains.json`` (kindergarten,
school, work, shopping, doctor, leisure, care visits, by age, with departure windows and dwell times);
every activity is a home-based tour to the nearest destination of its category. The mode of a tour
is drawn from a multinomial logit over walk, bike, car and walk + public transport with the
parameters of ``assets/mode_choice.json`` (car only with a car at the person's disposal; a mode with
no path is unavailable). ``AgentSet`` moves the persons along the shortest-path trees of the access
engine (``sim_kernels.agents``) and gives positions at any time for animation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from models.people.access_network import BIKE_SPEED_M_S, WALK_SPEED_M_S
from models.people.population import Population
from sim_kernels import agents as agent_kernels
from sim_kernels.access import tree_parents

__all__ = ["mode_params", "activity_table", "activity_chains", "choose_modes", "AgentSet", "build_agents", "MODES"]

MODES = ("walk", "bike", "car", "transit")
_NET_OF_MODE = {"walk": 0, "bike": 0, "car": 1, "transit": 2}


@lru_cache(maxsize=1)
def mode_params() -> dict[str, Any]:
    return json.loads(resources.files("assets").joinpath("mode_choice.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def activity_table() -> dict[str, Any]:
    return json.loads(resources.files("assets").joinpath("activity_chains.json").read_text(encoding="utf-8"))


def activity_chains(pop: Population, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Tours of the day: ``person`` (R,) int64, ``category`` (R,) object, ``depart_s`` (R,) float64
    wished departure (seconds after local midnight), ``dwell_s`` (R,) float64."""
    person, cat, dep, dwell = [], [], [], []
    age = pop.age_y.astype(np.int64)
    for act in activity_table()["activities"]:
        lo, hi = act["age"]
        who = np.nonzero((age >= lo) & (age < hi) & (rng.random(age.size) < act["p"]))[0]
        h0, h1 = act["depart_h"]
        person.append(who)
        cat.append(np.full(who.size, act["category"], dtype=object))
        dep.append((h0 + rng.random(who.size) * (h1 - h0)) * 3600.0)
        dwell.append(np.full(who.size, act["dwell_min"] * 60.0))
    p = np.concatenate(person).astype(np.int64)
    order = np.lexsort((np.concatenate(dep), p))
    return {"person": p[order], "category": np.concatenate(cat)[order], "depart_s": np.concatenate(dep)[order],
            "dwell_s": np.concatenate(dwell)[order]}


def choose_modes(time_min: np.ndarray, has_car: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Logit mode choice. ``time_min`` (R, 4) one-way minutes for MODES (inf = no path), ``has_car``
    (R,) bool. Returns the chosen mode index (R,) int64 (-1 when no mode is available) and the
    probabilities (R, 4) float64."""
    par = mode_params()
    t = np.asarray(time_min, np.float64)
    km = np.where(np.isfinite(t[:, 2]), t[:, 2], 0.0) * par["car_speed_km_per_min"]
    v = np.empty_like(t)
    for j, m in enumerate(MODES):
        cost = par["cost_eur_per_km"][m] * km + (par["transit_fare_eur"] if m == "transit" else 0.0)
        v[:, j] = par["asc"][m] + par["beta_time_per_min"][m] * t[:, j] + par["beta_cost_per_eur"] * cost
    avail = np.isfinite(t)
    avail[:, 2] &= np.asarray(has_car, bool)
    v = np.where(avail, v, -np.inf)
    vmax = v.max(axis=1, keepdims=True)
    ok = np.isfinite(vmax[:, 0])
    e = np.where(avail, np.exp(v - np.where(ok[:, None], vmax, 0.0)), 0.0)
    prob = e / np.where(ok, e.sum(axis=1), 1.0)[:, None]
    cum = np.cumsum(prob, axis=1)
    u = rng.random(t.shape[0])[:, None]
    choice = np.minimum((u > cum).sum(axis=1), 3).astype(np.int64)
    choice[~ok] = -1
    return choice, prob


@dataclass
class AgentSet:
    """K moving persons of one day (in the engine's memory only).

    ``mode`` (K,) int32 is each agent's main mode code (``sim_kernels.agents.MODE``) for colouring;
    ``positions_at(t_s)`` gives (K, 2) float32 local metres and ``mode_at(t_s)`` the mode (K,) then.
    """

    net: dict[str, np.ndarray]
    trips: dict[str, np.ndarray]
    mode: np.ndarray
    n_links: int
    n_stops: int
    mode_shares: dict[str, float]

    def __len__(self) -> int:
        return int(self.trips["agent_first_trip"].size - 1)

    def positions_at(self, t_s: float) -> np.ndarray:
        return agent_kernels.positions(self.net, self.trips, t_s)[0]

    def mode_at(self, t_s: float) -> np.ndarray:
        return agent_kernels.positions(self.net, self.trips, t_s)[1]

    def run_day(self, *, dt_s: float = 60.0, heat_c: np.ndarray | None = None, heat_origin_xy_m=(0.0, 0.0),
                heat_cell_m: float = 1.0) -> dict[str, np.ndarray]:
        """Agent-seconds per link and hour, waiting per stop, time and heat on foot (see
        ``sim_kernels.agents.run_day``) over 24 h."""
        return agent_kernels.run_day(self.net, self.trips, t_start_s=0.0, dt_s=dt_s, n_steps=int(86400 / dt_s),
                                     n_links=self.n_links, n_stops=self.n_stops, heat_c=heat_c,
                                     heat_origin_xy_m=heat_origin_xy_m, heat_cell_m=heat_cell_m)

    def heat_kpis(self, grid: Any, utci_c: np.ndarray, pop: Population) -> dict[str, float]:
        """Mean degree-hours of UTCI above 32 °C on foot per person, for all and for the groups.

        ``utci_c`` (rows, cols) or (24, rows, cols) °C covers the district's bbox (row 0 north); its cell
        size follows from its width, so a coarser heat grid than the district's works as well."""
        w, _, e, n = grid.bbox_local_m
        field = np.asarray(utci_c, np.float32)
        cell = (e - w) / field.shape[-1]
        day = self.run_day(heat_c=field, heat_origin_xy_m=(w, n), heat_cell_m=cell)
        transit_tours = float((self.trips["trip_tree"] >= 2 * (self.net["time_to_root_s"].shape[0] // 3)).sum())
        out = {"heat_on_foot_c_h_mean": float(day["heat_c_h"].mean()) if len(self) else 0.0,
               "time_on_foot_min_mean": float(day["foot_s"].mean() / 60.0) if len(self) else 0.0,
               "wait_at_stops_h_total": float(day["stop_wait_s"].sum() / 3600.0),
               "wait_min_per_transit_tour": float(day["stop_wait_s"].sum() / 60.0 / transit_tours) if transit_tours else 0.0}
        for g, m in pop.groups().items():
            if g != "all" and m.sum() >= 5:
                out[f"heat_on_foot_c_h_mean_{g}"] = float(day["heat_c_h"][m].mean())
        return out


    def car_trips(self) -> dict[str, np.ndarray]:
        """Car legs of the day as demand for traffic models: ``origin_node``, ``destination_node`` (road
        node indices) and ``depart_s`` (L,), outbound and return legs, no person ids."""
        tr, up = self.trips, self.net["up"]
        car = np.nonzero(tr["trip_mode"] == agent_kernels.MODE["car"])[0]
        tree = tr["trip_tree"][car].astype(np.int64)
        start = tr["trip_start_node"][car].astype(np.int64)
        root = start.copy()
        for k in range(up.shape[1] - 1, -1, -1):
            anc = up[tree, k, root]
            root = np.where(anc >= 0, anc, root)
        dur = self.net["time_to_root_s"][tree, start] * tr["trip_scale"][car]
        back = tr["trip_depart_s"][car] + dur + tr["trip_dwell_s"][car]
        return {"origin_node": np.concatenate([start, root]).astype(np.int32),
                "destination_node": np.concatenate([root, start]).astype(np.int32),
                "depart_s": np.concatenate([tr["trip_depart_s"][car], back]).astype(np.float32)}


def _trees(tt: dict[str, Any], n_cat: int) -> dict[str, np.ndarray]:
    """Stack the shortest-path trees of the walk, car and transit graphs (T = 3 C trees, one node
    numbering) with one edge numbering (walk edges, then car, then transit)."""
    graphs = [tt["graphs"][k] for k in ("walk", "car", "transit")]
    n = max(g.n_nodes for g in graphs)
    par_node = np.full((3 * n_cat, n), -1, np.int32)
    par_edge = np.full((3 * n_cat, n), -1, np.int32)
    g_s = np.zeros((3 * n_cat, n), np.float32)
    offset = 0
    for k, (name, g) in enumerate(zip(("walk", "car", "transit"), graphs)):
        times = tt["times_s"][name]
        s, d, w = g.reversed()
        pe = tree_parents(s, d, w, times)
        rows = slice(k * n_cat, (k + 1) * n_cat)
        m = g.n_nodes
        par_edge[rows, :m] = np.where(pe >= 0, pe + offset, -1)
        par_node[rows, :m] = np.where(pe >= 0, g.dst[np.maximum(pe, 0)], -1)
        g_s[rows, :m] = np.where(np.isfinite(times), times, 0.0)
        offset += g.src.size
    cat = {f: np.concatenate([getattr(g, f) for g in graphs]).astype(np.int32) for f in ("edge_mode", "edge_link", "edge_stop")}
    return {"node_xy": graphs[2].node_xy.astype(np.float32), "up": agent_kernels.ancestors(par_node),
            "time_to_root_s": g_s, "edge_to_parent": par_edge, **cat}


def build_agents(tt: dict[str, Any], categories: tuple[str, ...], pop: Population, home_node: np.ndarray,
                 by_mode: dict[str, dict[str, np.ndarray]], rng: np.random.Generator) -> AgentSet:
    """Activity chains, mode choice and the trip arrays of all persons of ``pop``."""
    chains = activity_chains(pop, rng)
    person = chains["person"]
    home = pop.home_building[person]
    kinds, inv = np.unique(chains["category"].astype(str), return_inverse=True)
    ci = np.array([categories.index(k) for k in kinds], np.int64)[inv]
    times = np.stack([_pick(by_mode[m], categories, ci, home) for m in MODES], axis=1)
    node = home_node[home]
    times[node < 0] = np.inf
    choice, _ = choose_modes(times, pop.has_car[person], rng)
    keep = choice >= 0
    person, ci, choice, node = person[keep], ci[keep], choice[keep], node[keep]
    dep, dwell = chains["depart_s"][keep], chains["dwell_s"][keep]
    net = _trees(tt, len(categories))
    tree = np.array([_NET_OF_MODE[m] for m in MODES], np.int64)[choice] * len(categories) + ci
    scale = np.where(choice == 1, WALK_SPEED_M_S / BIKE_SPEED_M_S, 1.0)
    code = np.array([agent_kernels.MODE[m] for m in ("walk", "bike", "car", "walk")], np.int32)[choice]
    dur = net["time_to_root_s"][tree, node] * scale
    # tours one after the other: a tour starts no earlier than 10 min after the previous one ended
    gap = float(activity_table()["gap_min"]) * 60.0
    first = np.searchsorted(person, np.arange(len(pop) + 1))
    rank = np.arange(person.size) - first[person]
    end = np.zeros(person.size)
    for r in range(int(rank.max(initial=-1)) + 1):
        sel = np.nonzero(rank == r)[0]
        if r > 0:
            dep[sel] = np.maximum(dep[sel], end[sel - 1] + gap)
        end[sel] = dep[sel] + 2 * dur[sel] + dwell[sel]
    trips = {"trip_tree": tree.astype(np.int32), "trip_start_node": node.astype(np.int32),
             "trip_depart_s": dep.astype(np.float32), "trip_dwell_s": dwell.astype(np.float32),
             "trip_scale": scale.astype(np.float32), "trip_mode": code,
             "agent_first_trip": first.astype(np.int32),
             "agent_home_node": np.maximum(home_node[pop.home_building], 0).astype(np.int32)}
    main = np.zeros(len(pop), np.int32)
    main[person[::-1]] = code[::-1]  # the first tour's mode
    main[np.isin(np.arange(len(pop)), person[choice == 3])] = agent_kernels.MODE["ride"]
    shares = {m: float((choice == j).mean()) if choice.size else 0.0 for j, m in enumerate(MODES)}
    n_links = int(max(net["edge_link"].max(initial=-1) + 1, 1))
    n_stops = int(max(net["edge_stop"].max(initial=-1) + 1, 1))
    return AgentSet(net=net, trips=trips, mode=main, n_links=n_links, n_stops=n_stops, mode_shares=shares)


def _pick(times: dict[str, np.ndarray], categories: tuple[str, ...], ci: np.ndarray, home: np.ndarray) -> np.ndarray:
    out = np.full(ci.size, np.inf)
    for k, c in enumerate(categories):
        sel = ci == k
        if sel.any():
            out[sel] = times[c][home[sel]]
    return out
