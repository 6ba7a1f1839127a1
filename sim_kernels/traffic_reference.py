"""Slow, obvious NumPy/Python references of the traffic kernels, for tests on tiny inputs.

- ``dijkstra``: textbook Dijkstra with a binary heap, honouring ``first_thru_node``;
- ``all_or_nothing``: walk every OD pair's path back from the destination;
- ``frank_wolfe``: plain Frank-Wolfe with a golden-section line search;
- ``queue_sim``: the queue model of ``sim_kernels.queue_sim`` written as a per-vehicle Python loop.
"""

import heapq

import numpy as np

__all__ = ["dijkstra", "all_or_nothing", "frank_wolfe", "queue_sim"]


def dijkstra(
    n_nodes: int, first_thru: int, link_from: np.ndarray, link_to: np.ndarray, cost: np.ndarray, origin: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distances (N,) float64 (inf if unreachable) and predecessor links (N,) int (-1) from ``origin``."""
    dist = np.full(n_nodes, np.inf)
    pred = np.full(n_nodes, -1, dtype=np.int64)
    out: list[list[int]] = [[] for _ in range(n_nodes)]
    for lk, a in enumerate(link_from):
        out[int(a)].append(lk)
    dist[origin] = 0.0
    heap = [(0.0, origin)]
    done = np.zeros(n_nodes, dtype=bool)
    while heap:
        du, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        if u != origin and u < first_thru:
            continue
        for lk in out[u]:
            v = int(link_to[lk])
            nd = du + float(cost[lk])
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = lk
                heapq.heappush(heap, (nd, v))
    return dist, pred


def all_or_nothing(
    link_from: np.ndarray, od: np.ndarray, origins: np.ndarray, preds: np.ndarray
) -> np.ndarray:
    """Link flows (L,) of loading ``od[origins[k], d]`` on the tree ``preds[k]`` (one path walk per pair)."""
    flow = np.zeros(link_from.shape[0])
    for k, o in enumerate(origins):
        for d in range(od.shape[1]):
            q = od[o, d]
            if q <= 0 or d == o:
                continue
            v = d
            while v != o:
                lk = int(preds[k][v])
                if lk < 0:
                    break
                flow[lk] += q
                v = int(link_from[lk])
    return flow


def _bpr(t0, alpha, beta, cap, x):
    return t0 * (1.0 + alpha * (np.maximum(x, 0.0) / cap) ** beta)


def frank_wolfe(
    n_nodes, n_zones, first_thru, link_from, link_to, t0, cap, alpha, beta, od, iterations: int
) -> tuple[np.ndarray, float]:
    """Plain Frank-Wolfe, a fixed number of iterations; returns flows (L,) and the last relative gap."""
    origins = np.arange(n_zones)

    def aon(cost):
        preds, dists = [], []
        for o in origins:
            d, p = dijkstra(n_nodes, first_thru, link_from, link_to, cost, int(o))
            preds.append(p)
            dists.append(d)
        return all_or_nothing(link_from, od, origins, preds), np.array(dists)

    x, _ = aon(_bpr(t0, alpha, beta, cap, np.zeros_like(t0)))
    gap = np.inf
    for _ in range(iterations):
        c = _bpr(t0, alpha, beta, cap, x)
        y, dist = aon(c)
        mask = od > 0
        np.fill_diagonal(mask, False)
        gap = (x @ c - (od[mask] * dist[:, :n_zones][mask]).sum()) / (x @ c)
        d = y - x

        def objective(lam, x=x, d=d):
            f = x + lam * d
            # Beckmann integral of the BPR function
            return np.sum(t0 * (f + alpha * cap / (beta + 1) * (f / cap) ** (beta + 1)))

        lo, hi = 0.0, 1.0
        g = (np.sqrt(5) - 1) / 2
        for _ in range(80):
            a, b = hi - g * (hi - lo), lo + g * (hi - lo)
            if objective(a) < objective(b):
                hi = b
            else:
                lo = a
        x = x + 0.5 * (lo + hi) * d
    return x, float(gap)


def queue_sim(
    fft_s,
    cap_veh_s,
    storage_veh,
    routes,
    depart_s,
    dt_s: float,
    n_steps: int,
    stuck_s: float = 300.0,
    link_node=None,
    node_cap_veh_s=None,
    tau_s: float = 300.0,
    max_wait_s: float = 60.0,
    turn_delay_s=None,
):
    """Per-vehicle reference of the queue model: returns (enter_s (K,), exit_s (R,) flat in route order).

    Same rules as the kernel: links in index order each step; a vehicle leaves a link when its free-flow
    time is over, the link has outflow credit and the next link has room (or it waited ``stuck_s``);
    waiting vehicles enter their first link in departure order when it has room. Leaving times are
    ``max(ready, t - dt)``. Junctions: at the start of a step the links whose front vehicle is due share
    their end junction's capacity ``node_cap_veh_s[link_node[i]]`` in proportion to their capacities; a
    vehicle entering a link that ends at junction j waits ``q_j / (C_j (C_j - q_j))`` extra (at most
    ``max_wait_s``), q_j the junction's throughput smoothed over ``tau_s``; ``turn_delay_s`` (R,) is a
    fixed extra time per route element.
    """
    n_links = len(fft_s)
    k_veh = len(routes)
    offs = np.concatenate([[0], np.cumsum([len(r) for r in routes])])
    enter = np.full(k_veh, np.nan)
    exit_ = np.full(offs[-1], np.nan)
    pos = np.zeros(k_veh, dtype=int)
    on_link: list[list[int]] = [[] for _ in range(n_links)]
    waiting: list[list[int]] = [[] for _ in range(n_links)]
    for k in np.argsort(depart_s, kind="stable"):
        waiting[routes[k][0]].append(int(k))
    credit = np.zeros(n_links)
    extra = np.zeros(offs[-1])
    base = np.zeros(offs[-1]) if turn_delay_s is None else np.asarray(turn_delay_s, dtype=float)
    n_nodes = 0 if link_node is None else len(node_cap_veh_s)
    node_q = np.zeros(n_nodes)

    def wait(lk: int) -> float:
        if link_node is None or link_node[lk] < 0:
            return 0.0
        q, c = node_q[link_node[lk]], node_cap_veh_s[link_node[lk]]
        return min(q / (c * (c - q)), max_wait_s) if q < c else max_wait_s

    for step in range(n_steps):
        node_n = np.zeros(n_nodes)
        t = (step + 1) * dt_s
        rate = np.array(cap_veh_s, dtype=float)
        if link_node is not None:
            due = []
            for lk in range(n_links):
                if link_node[lk] >= 0 and on_link[lk]:
                    v = on_link[lk][0]
                    entered = enter[v] if pos[v] == 0 else exit_[offs[v] + pos[v] - 1]
                    if entered + fft_s[lk] + extra[offs[v] + pos[v]] <= t + 1e-9:
                        due.append(lk)
            asking = {int(link_node[lk]): 0.0 for lk in due}
            for lk in due:
                asking[int(link_node[lk])] += cap_veh_s[lk]
            for lk in due:
                j = int(link_node[lk])
                rate[lk] = min(cap_veh_s[lk], node_cap_veh_s[j] * cap_veh_s[lk] / asking[j])
        for lk in range(n_links):
            credit[lk] = min(credit[lk] + rate[lk] * dt_s, max(1.0, cap_veh_s[lk] * dt_s))
            q = on_link[lk]
            while q and credit[lk] >= 1.0 - 1e-9:
                v = q[0]
                entered = enter[v] if pos[v] == 0 else exit_[offs[v] + pos[v] - 1]
                ready = entered + fft_s[lk] + extra[offs[v] + pos[v]]
                if ready > t + 1e-9:
                    break
                if pos[v] + 1 < len(routes[v]):
                    nxt = routes[v][pos[v] + 1]
                    if len(on_link[nxt]) >= storage_veh[nxt] and t - ready < stuck_s:
                        break
                    on_link[nxt].append(v)
                    extra[offs[v] + pos[v] + 1] = base[offs[v] + pos[v] + 1] + wait(nxt)
                if link_node is not None and link_node[lk] >= 0:
                    node_n[link_node[lk]] += 1
                exit_[offs[v] + pos[v]] = max(ready, t - dt_s)
                pos[v] = min(pos[v] + 1, len(routes[v]) - 1)
                q.pop(0)
                credit[lk] -= 1.0
        for lk in range(n_links):
            w = waiting[lk]
            while w and depart_s[w[0]] <= t + 1e-9 and len(on_link[lk]) < storage_veh[lk]:
                v = w.pop(0)
                enter[v] = max(depart_s[v], t - dt_s)
                on_link[lk].append(v)
                extra[offs[v]] = base[offs[v]] + wait(lk)
        node_q += (node_n / dt_s - node_q) * min(1.0, dt_s / tau_s)
    return enter, exit_
