"""Slow, obvious references of the access and agent kernels (for tests on tiny inputs only).

- ``dijkstra_times``: textbook Dijkstra with a binary heap, one source set at a time.
- ``positions_reference``: agent positions by walking each route node by node.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["dijkstra_times", "positions_reference"]


def dijkstra_times(src: np.ndarray, dst: np.ndarray, cost_s: np.ndarray, start_s: np.ndarray) -> np.ndarray:
    """Same contract as ``sim_kernels.access.multi_source_times`` (times only), float64 (C, N)."""
    start = np.asarray(start_s, dtype=np.float64)
    n = start.shape[1]
    adj: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for a, b, w in zip(np.asarray(src).tolist(), np.asarray(dst).tolist(), np.asarray(cost_s, float).tolist()):
        adj[a].append((b, w))
    out = np.full(start.shape, np.inf)
    for c in range(start.shape[0]):
        dist = start[c].copy()
        heap = [(float(dist[v]), v) for v in range(n) if np.isfinite(dist[v])]
        heapq.heapify(heap)
        done = np.zeros(n, dtype=bool)
        while heap:
            du, u = heapq.heappop(heap)
            if done[u]:
                continue
            done[u] = True
            for v, w in adj[u]:
                if du + w < dist[v]:
                    dist[v] = du + w
                    heapq.heappush(heap, (dist[v], v))
        out[c] = dist
    return out


def positions_reference(
    node_xy: np.ndarray,
    parent_node: np.ndarray,
    time_to_root_s: np.ndarray,
    trip_tree: np.ndarray,
    trip_start_node: np.ndarray,
    trip_depart_s: np.ndarray,
    trip_dwell_s: np.ndarray,
    agent_first_trip: np.ndarray,
    agent_home_node: np.ndarray,
    t_s: float,
) -> np.ndarray:
    """Positions (K, 2) of agents at ``t_s`` with the data layout of ``sim_kernels.agents``.

    Each trip is a home-based tour: out along the tree from ``trip_start_node`` to its root, a dwell,
    and back the same way. Between tours the agent is at home.
    """
    k = agent_first_trip.size - 1
    out = np.asarray(node_xy, dtype=np.float64)[np.asarray(agent_home_node)].copy()
    for a in range(k):
        for tr in range(agent_first_trip[a], agent_first_trip[a + 1]):
            tree = trip_tree[tr]
            u = trip_start_node[tr]
            dur = float(time_to_root_s[tree, u])
            t0 = float(trip_depart_s[tr])
            t_back = t0 + dur + float(trip_dwell_s[tr])
            if t_s < t0 or t_s > t_back + dur:
                continue
            if t_s <= t0 + dur:
                target = dur - (t_s - t0)  # time still to go to the root
            elif t_s < t_back:
                target = 0.0
            else:
                target = t_s - t_back  # time already away from the root on the way home
            path = [u]
            while parent_node[tree, path[-1]] >= 0:
                path.append(parent_node[tree, path[-1]])
            pos = node_xy[path[-1]]
            for v, w in zip(path[:-1], path[1:]):
                gv, gw = float(time_to_root_s[tree, v]), float(time_to_root_s[tree, w])
                if gv >= target >= gw:
                    f = 0.0 if gv == gw else (gv - target) / (gv - gw)
                    pos = node_xy[v] + f * (node_xy[w] - node_xy[v])
                    break
            if target >= float(time_to_root_s[tree, u]):
                pos = node_xy[u]
            out[a] = pos
    return out
