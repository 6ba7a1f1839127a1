"""Walking distances along a road network, when an OSM extract is given (instead of straight line times
the detour factor).

The graph is every OSM way that :func:`geodata.osm.collect_osm` reads as a road, except motorways and
trunk roads (closed to pedestrians), split at their nodes, both directions, edge lengths in metres in the
working CRS. Cells and stops join the graph at their nearest node; the join counts as a straight walk.
Points farther than :data:`MAX_JOIN_M` from any node keep the straight-line estimate (times the detour
factor), so an extract that covers only part of the Kreis improves that part and leaves the rest as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geodata.crs import reproject_xy
from geodata.osm import collect_osm
from geodata.sources import DataError

__all__ = ["WalkNetwork", "read_walk_network", "network_walk_m", "save_walk_network", "load_walk_network",
           "network_cover", "MAX_JOIN_M", "NOT_WALKABLE"]

MAX_JOIN_M = 300.0
NOT_WALKABLE = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})


@dataclass(frozen=True)
class WalkNetwork:
    """node_xy (N, 2) working CRS metres; graph (N, N) CSR of edge lengths in metres (symmetric)."""

    node_xy: np.ndarray
    graph: sp.csr_matrix
    source: str = ""

    @property
    def n_nodes(self) -> int:
        return int(self.node_xy.shape[0])


def read_walk_network(path: str | Path, epsg: int) -> WalkNetwork:
    """The walkable road network of an OSM extract (``.osm.pbf`` / ``.osm``) in ``epsg``; DataError when
    the file is unreadable or holds no walkable road."""
    fs = collect_osm(path)
    index: dict[int, int] = {}
    lonlat: list[tuple[float, float]] = []
    a_l, b_l = [], []
    for _wid, ids, ll, tags in fs.roads:
        if tags.get("highway") in NOT_WALKABLE or tags.get("foot") == "no":
            continue
        nodes = []
        for nid, (lon, lat) in zip(np.asarray(ids).tolist(), np.asarray(ll).tolist()):
            j = index.get(nid)
            if j is None:
                j = index[nid] = len(lonlat)
                lonlat.append((lon, lat))
            nodes.append(j)
        a_l.extend(nodes[:-1])
        b_l.extend(nodes[1:])
    if not a_l:
        raise DataError(path, "keine begehbaren Straßen im OSM-Auszug", "no walkable roads in the OSM extract")
    ll_arr = np.asarray(lonlat, float)
    x, y = reproject_xy(ll_arr[:, 0], ll_arr[:, 1], 4326, epsg)
    xy = np.column_stack([x, y])
    a, b = np.asarray(a_l), np.asarray(b_l)
    keep = a != b
    a, b = a[keep], b[keep]
    length = np.hypot(*(xy[a] - xy[b]).T)
    n = xy.shape[0]
    # parallel ways between the same two nodes: keep the shortest (sum_duplicates would add them)
    g2 = sp.coo_matrix((np.concatenate([length, length]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))
    order = np.lexsort((g2.data, g2.col, g2.row))
    r, c, d = g2.row[order], g2.col[order], g2.data[order]
    first = np.ones(r.size, bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    g = sp.csr_matrix((d[first], (r[first], c[first])), shape=(n, n))
    return WalkNetwork(xy, g, str(path))


def network_walk_m(net: WalkNetwork, point_xy: np.ndarray, stop_xy: np.ndarray, fallback_m: np.ndarray) -> np.ndarray:
    """(P,) walking distance from each point to its nearest stop along the network: join to the nearest
    node, the shortest path, join from the stop's node. ``fallback_m`` (P,) where the point or every stop is
    farther than MAX_JOIN_M from the network (or no path exists)."""
    pts = np.asarray(point_xy, float).reshape(-1, 2)
    out = np.asarray(fallback_m, float).copy()
    if stop_xy.shape[0] == 0 or pts.shape[0] == 0:
        return out
    tree = cKDTree(net.node_xy)
    s_d, s_n = tree.query(np.asarray(stop_xy, float).reshape(-1, 2))
    ok_s = s_d <= MAX_JOIN_M
    if not ok_s.any():
        return out
    # a virtual source joined to every stop's node by the stop's join distance
    n = net.n_nodes
    src_nodes, src_d = s_n[ok_s], s_d[ok_s]
    best = {}
    for nd, dd in zip(src_nodes.tolist(), src_d.tolist()):
        best[nd] = min(dd, best.get(nd, np.inf))
    cols = np.fromiter(best.keys(), np.int64)
    vals = np.fromiter(best.values(), float) + 1e-9  # a zero weight would be read as no edge
    extra_row = sp.csr_matrix((vals, (np.zeros(cols.size, np.int64), cols)), shape=(1, n + 1))
    g = sp.vstack([sp.hstack([net.graph, sp.csr_matrix((n, 1))]), extra_row], format="csr")
    dist = dijkstra(g, directed=True, indices=n)[:n]
    p_d, p_n = tree.query(pts)
    walk = p_d + dist[p_n] - 1e-9
    use = (p_d <= MAX_JOIN_M) & np.isfinite(walk)
    out[use] = walk[use]
    return out


def save_walk_network(net: WalkNetwork, path: str | Path) -> None:
    """Write ``net`` as a NumPy archive (no pickled objects) to ``path``."""
    g = net.graph.tocsr()
    with open(path, "wb") as fh:
        np.savez_compressed(fh, node_xy=net.node_xy.astype(float), data=g.data.astype(float),
                            indices=g.indices.astype(np.int64), indptr=g.indptr.astype(np.int64),
                            source=np.array(net.source))


def load_walk_network(path: str | Path) -> WalkNetwork:
    """Read a network written by :func:`save_walk_network`; DataError when unreadable or inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as z:
            xy = np.asarray(z["node_xy"], float)
            n = xy.shape[0]
            g = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(n, n))
            source = str(z["source"])
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(path, f"Straßennetz unlesbar ({exc})", f"walking network unreadable ({exc})") from exc
    if xy.ndim != 2 or xy.shape[1] != 2 or not np.isfinite(xy).all() or (g.data < 0).any():
        raise DataError(path, "Straßennetz beschädigt", "walking network damaged")
    return WalkNetwork(xy, g, source)


def network_cover(net: WalkNetwork, point_xy: np.ndarray, cand_xy: np.ndarray, max_walk_m: float,
                  fallback: sp.csr_matrix) -> sp.csr_matrix:
    """(P, J) bool: candidate ``j`` within ``max_walk_m`` of point ``i`` along the network (joins to the
    nearest nodes count as straight walks). Pairs whose point or candidate lies farther than MAX_JOIN_M from
    the network keep their entry of ``fallback`` (straight line times the detour factor)."""
    pts = np.asarray(point_xy, float).reshape(-1, 2)
    cand = np.asarray(cand_xy, float).reshape(-1, 2)
    n_p, n_j = pts.shape[0], cand.shape[0]
    if n_p == 0 or n_j == 0:
        return sp.csr_matrix((n_p, n_j), dtype=bool)
    tree = cKDTree(net.node_xy)
    p_d, p_n = tree.query(pts)
    c_d, c_n = tree.query(cand)
    p_ok, c_ok = p_d <= MAX_JOIN_M, c_d <= MAX_JOIN_M
    rows_l, cols_l = [], []
    fb = sp.csc_matrix(fallback, dtype=bool)
    off_net = np.nonzero(~p_ok)[0]
    by_node: dict[int, list[int]] = {}
    for i in np.nonzero(p_ok)[0].tolist():
        by_node.setdefault(int(p_n[i]), []).append(i)
    for j in range(n_j):
        if not c_ok[j] or c_d[j] > max_walk_m:
            ii = fb[:, j].nonzero()[0]  # a candidate off the network: the straight-line estimate
            rows_l.append(ii)
            cols_l.append(np.full(ii.size, j))
            continue
        budget = max_walk_m - float(c_d[j])
        # a path of length <= budget stays within that distance of its start: the ball's subgraph suffices
        ball = np.asarray(tree.query_ball_point(net.node_xy[c_n[j]], budget), np.int64)
        start = int(np.nonzero(ball == c_n[j])[0][0])
        dist = dijkstra(net.graph[ball][:, ball], directed=True, indices=start, limit=budget)
        hit = [i for k in np.nonzero(np.isfinite(dist))[0].tolist() for i in by_node.get(int(ball[k]), ())
               if dist[k] + p_d[i] <= budget]
        ii = np.asarray(hit, np.int64)
        if off_net.size:  # points off the network: the straight-line estimate
            ii = np.concatenate([ii, np.intersect1d(fb[:, j].nonzero()[0], off_net)])
        rows_l.append(ii)
        cols_l.append(np.full(ii.size, j))
    rows, cols = np.concatenate(rows_l), np.concatenate(cols_l)
    return sp.csr_matrix((np.ones(rows.size, bool), (rows, cols)), shape=(n_p, n_j))
