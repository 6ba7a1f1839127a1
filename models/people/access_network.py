"""Travel graphs for the access engine: walking, cycling and driving on the District's roads, and a
walk + public-transport graph for one hour of the day.

All graphs share one node numbering: road nodes first (0..M-1, as in ``District.roads``), then one
node per (line direction, stop position) and one hub per on-demand zone. Public transport is
frequency-based: boarding a line costs the walk from the street to the stop plus the mean wait, half
the headway in that hour; riding costs the line's time between consecutive stops; alighting costs the
walk back to the street. An on-demand zone is a hub reachable from every street node inside it during
its service window, at the cost of half its booking lead time (assumption: users plan around the
booking) plus the ride at ``ON_DEMAND_SPEED_KMH`` over the detour-weighted distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree
from shapely import contains_xy

from geodata.apply_transit import DETOUR_FACTOR, TransitNetwork
from geodata.district import District
from sim_kernels.agents import MODE

__all__ = [
    "Graph",
    "street_graphs",
    "transit_graph",
    "snap",
    "WALK_SPEED_M_S",
    "BIKE_SPEED_M_S",
    "ON_DEMAND_SPEED_KMH",
]

# 4.5 km/h: mean walking speed of adults (HBS 2015 / FGSV EFA 2002 design speed 1.2-1.34 m/s).
WALK_SPEED_M_S = 1.25
# 15 km/h: mean cycling speed on urban and rural roads (FGSV ERA 2010 / MiD 2017 mean trip speeds).
BIKE_SPEED_M_S = 4.2
# share of the speed limit that cars reach on average over a link with junctions (assumption).
CAR_SPEED_SHARE = 0.8
ON_DEMAND_SPEED_KMH = 30.0
ON_DEMAND_WAIT_SHARE = 0.5
ALIGHT_S = 1.0
MIN_EDGE_S = 0.05
NO_WALK = frozenset({"motorway", "motorway_link", "trunk", "trunk_link", "rail"})


@dataclass(frozen=True)
class Graph:
    """Directed edges (E,) over ``n_nodes`` nodes; costs in seconds; ``node_xy`` (n_nodes, 2) local m.

    ``edge_mode`` uses ``sim_kernels.agents.MODE`` (0 = the trip's own mode), ``edge_link`` the road
    edge index (or -1), ``edge_stop`` the stop index of a boarding edge (or -1)."""

    src: np.ndarray
    dst: np.ndarray
    cost_s: np.ndarray
    edge_mode: np.ndarray
    edge_link: np.ndarray
    edge_stop: np.ndarray
    node_xy: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.node_xy.shape[0])

    def to_csr(self) -> sp.csr_matrix:
        """(n_nodes, n_nodes) CSR matrix of costs; of parallel edges the cheapest is kept (a CSR
        built directly would add them up)."""
        order = np.lexsort((self.cost_s, self.dst, self.src))
        s, d, c = self.src[order], self.dst[order], self.cost_s[order]
        first = np.ones(s.size, bool)
        first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
        return sp.csr_matrix((c[first], (s[first], d[first])), shape=(self.n_nodes, self.n_nodes))

    def reversed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, dst, cost) with every edge turned round: times *to* sources."""
        return self.dst, self.src, self.cost_s


def _empty_i32() -> np.ndarray:
    return np.zeros(0, np.int32)


def street_graphs(district: District) -> tuple[Graph, Graph]:
    """(walk, car) graphs on the road nodes. Walking uses every road but motorways and trunks in both
    directions at ``WALK_SPEED_M_S``; driving uses drivable roads, one-way rules and
    ``CAR_SPEED_SHARE`` of the speed limit."""
    r = district.roads
    xy = np.asarray(r.node_xy_local_m, float).reshape(-1, 2)
    a = np.asarray(r.edge_from, np.int32)
    b = np.asarray(r.edge_to, np.int32)
    length = np.maximum(np.asarray(r.length_m, float), 0.0)
    link = np.arange(a.size, dtype=np.int32)
    cls = np.asarray(r.road_class, object)
    walk_ok = np.array([c not in NO_WALK for c in cls], bool)
    ws = np.concatenate([a[walk_ok], b[walk_ok]])
    wd = np.concatenate([b[walk_ok], a[walk_ok]])
    wc = np.maximum(np.concatenate([length[walk_ok]] * 2) / WALK_SPEED_M_S, MIN_EDGE_S)
    wl = np.concatenate([link[walk_ok]] * 2)
    walk = Graph(ws, wd, wc, np.zeros(ws.size, np.int32), wl, np.full(ws.size, -1, np.int32), xy)
    drv = r.drivable if len(r) else np.zeros(0, bool)
    ow = np.asarray(r.oneway, np.int8)
    speed = np.maximum(np.asarray(r.maxspeed_kmh, float), 5.0) / 3.6 * CAR_SPEED_SHARE
    fwd = drv & (ow >= 0)
    bwd = drv & (ow <= 0)
    cs = np.concatenate([a[fwd], b[bwd]])
    cd = np.concatenate([b[fwd], a[bwd]])
    cc = np.maximum(np.concatenate([length[fwd] / speed[fwd], length[bwd] / speed[bwd]]), MIN_EDGE_S)
    cl = np.concatenate([link[fwd], link[bwd]])
    car = Graph(cs, cd, cc, np.zeros(cs.size, np.int32), cl, np.full(cs.size, -1, np.int32), xy)
    return walk, car


def snap(points_xy: np.ndarray, node_xy: np.ndarray, usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest usable node (int32) and its straight-line distance (float64, m) for points (P, 2)."""
    pts = np.asarray(points_xy, float).reshape(-1, 2)
    cand = np.arange(node_xy.shape[0]) if usable is None else np.nonzero(usable)[0]
    if cand.size == 0 or pts.shape[0] == 0:
        return np.full(pts.shape[0], -1, np.int32), np.full(pts.shape[0], np.inf)
    d, i = cKDTree(node_xy[cand]).query(pts)
    return cand[i].astype(np.int32), np.asarray(d, float)


def walk_nodes(walk: Graph) -> np.ndarray:
    """(n_nodes,) bool: nodes that have a walking edge."""
    used = np.zeros(walk.n_nodes, bool)
    used[walk.src] = True
    used[walk.dst] = True
    return used


def transit_graph(walk: Graph, net: TransitNetwork, hour: int) -> Graph:
    """Walking plus public transport (lines and on-demand zones) running in local ``hour`` (0..23)."""
    usable = walk_nodes(walk)
    stop_node, stop_d = snap(net.stop_xy_local_m, walk.node_xy, usable)
    xy = [walk.node_xy]
    parts = [(walk.src, walk.dst, walk.cost_s, walk.edge_mode, walk.edge_link, walk.edge_stop)]
    nxt = walk.n_nodes
    for ln in net.lines:
        deps = float(ln.departures_per_h[hour])
        k = ln.stop_index.size
        if deps <= 0 or k < 2 or (stop_node[ln.stop_index] < 0).any():
            continue
        wait_s = 3600.0 / deps / 2.0
        rnodes = nxt + np.arange(k, dtype=np.int32)
        nxt += k
        xy.append(net.stop_xy_local_m[ln.stop_index])
        street = stop_node[ln.stop_index]
        access = stop_d[ln.stop_index] / WALK_SPEED_M_S
        # boarding at every stop but the last, alighting at every stop but the first
        parts.append((street[:-1], rnodes[:-1], access[:-1] + wait_s, np.full(k - 1, MODE["wait"], np.int32),
                      np.full(k - 1, -1, np.int32), ln.stop_index[:-1].astype(np.int32)))
        parts.append((rnodes[1:], street[1:], access[1:] + ALIGHT_S, np.zeros(k - 1, np.int32),
                      np.full(k - 1, -1, np.int32), np.full(k - 1, -1, np.int32)))
        parts.append((rnodes[:-1], rnodes[1:], np.maximum(ln.hop_s, MIN_EDGE_S), np.full(k - 1, MODE["ride"], np.int32),
                      np.full(k - 1, -1, np.int32), np.full(k - 1, -1, np.int32)))
    v = ON_DEMAND_SPEED_KMH / 3.6
    for z in net.zones:
        if not (z.first_hour <= hour < z.last_hour):
            continue
        inside = np.nonzero(usable & contains_xy(z.polygon, walk.node_xy[:, 0], walk.node_xy[:, 1]))[0].astype(np.int32)
        if inside.size == 0:
            continue
        c = z.polygon.centroid
        hub = np.int32(nxt)
        nxt += 1
        xy.append(np.array([[c.x, c.y]]))
        ride = np.hypot(walk.node_xy[inside, 0] - c.x, walk.node_xy[inside, 1] - c.y) * DETOUR_FACTOR / v
        m = inside.size
        parts.append((inside, np.full(m, hub, np.int32), ride + z.lead_time_min * 60.0 * ON_DEMAND_WAIT_SHARE + MIN_EDGE_S,
                      np.full(m, MODE["ride"], np.int32), np.full(m, -1, np.int32), np.full(m, -1, np.int32)))
        parts.append((np.full(m, hub, np.int32), inside, ride + ALIGHT_S, np.full(m, MODE["ride"], np.int32),
                      np.full(m, -1, np.int32), np.full(m, -1, np.int32)))
    cols = [np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(6)]
    return Graph(cols[0].astype(np.int32), cols[1].astype(np.int32), cols[2].astype(np.float64),
                 cols[3].astype(np.int32), cols[4].astype(np.int32), cols[5].astype(np.int32),
                 np.concatenate(xy).astype(np.float64))
