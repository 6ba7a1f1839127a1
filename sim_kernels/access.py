"""Travel-time kernels: multi-source shortest paths on a directed graph, in Taichi.

The graph is a list of E directed edges ``(src, dst, cost_s)``; one graph carries walking, cycling or
driving links and, for public transport, the frequency-based transit links built by
``models.people.access`` (boarding links that cost the mean wait = headway / 2, riding links
between consecutive stops of a line, alighting links). Distances are computed for C source sets at
once (one per service category) by parallel label-correcting relaxation with ``atomic_min``: by
default a frontier method (each round, the nodes improved in the round before relax their out-edges),
or full sweeps over all edges. Rounds repeat until nothing changes; the result is exact (the same
fixed point as Dijkstra) for non-negative costs.

To get the time *from* every node *to* the nearest facility, call with the reversed edge list.

Kernels take ``ti.types.ndarray`` arguments, keep no module-level fields and do no I/O; Taichi must be
initialised by ``sim_kernels.runtime.ensure_init`` before the first call.
"""


import numpy as np
import taichi as ti

from sim_kernels.runtime import current_arch

__all__ = ["multi_source_times", "tree_parents", "SWEEPS_PER_LAUNCH", "UNREACHED"]

UNREACHED = np.float32(np.inf)
# sweeps unrolled into one kernel launch (each sweep is its own parallel loop)
SWEEPS_PER_LAUNCH = 4


@ti.kernel
def _relax(
    src: ti.types.ndarray(dtype=ti.i32, ndim=1),
    dst: ti.types.ndarray(dtype=ti.i32, ndim=1),
    cost: ti.types.ndarray(dtype=ti.f32, ndim=1),
    dist: ti.types.ndarray(dtype=ti.f32, ndim=2),
    changed: ti.types.ndarray(dtype=ti.i32, ndim=1),
):
    for _sweep in ti.static(range(SWEEPS_PER_LAUNCH)):
        for c, e in ti.ndrange(dist.shape[0], src.shape[0]):
            d = dist[c, src[e]] + cost[e]
            if d < dist[c, dst[e]]:
                old = ti.atomic_min(dist[c, dst[e]], d)
                if d < old:
                    changed[0] = 1


@ti.kernel
def _clear_flags(fr_c: ti.types.ndarray(dtype=ti.i32, ndim=1), fr_u: ti.types.ndarray(dtype=ti.i32, ndim=1),
                 n: ti.i32, flag: ti.types.ndarray(dtype=ti.i32, ndim=2)):
    for i in range(n):
        flag[fr_c[i], fr_u[i]] = 0


@ti.kernel
def _relax_frontier(
    indptr: ti.types.ndarray(dtype=ti.i32, ndim=1),
    nbr: ti.types.ndarray(dtype=ti.i32, ndim=1),
    cost: ti.types.ndarray(dtype=ti.f32, ndim=1),
    dist: ti.types.ndarray(dtype=ti.f32, ndim=2),
    fr_c: ti.types.ndarray(dtype=ti.i32, ndim=1),
    fr_u: ti.types.ndarray(dtype=ti.i32, ndim=1),
    n: ti.i32,
    flag: ti.types.ndarray(dtype=ti.i32, ndim=2),
    nx_c: ti.types.ndarray(dtype=ti.i32, ndim=1),
    nx_u: ti.types.ndarray(dtype=ti.i32, ndim=1),
    count: ti.types.ndarray(dtype=ti.i32, ndim=1),
):
    for i in range(n):
        c = fr_c[i]
        u = fr_u[i]
        du = dist[c, u]
        for k in range(indptr[u], indptr[u + 1]):
            v = nbr[k]
            d = du + cost[k]
            if d < dist[c, v]:
                old = ti.atomic_min(dist[c, v], d)
                if d < old:
                    if ti.atomic_or(flag[c, v], 1) == 0:
                        slot = ti.atomic_add(count[0], 1)
                        nx_c[slot] = c
                        nx_u[slot] = v


@ti.kernel
def _parents(
    src: ti.types.ndarray(dtype=ti.i32, ndim=1),
    dst: ti.types.ndarray(dtype=ti.i32, ndim=1),
    cost: ti.types.ndarray(dtype=ti.f32, ndim=1),
    dist: ti.types.ndarray(dtype=ti.f32, ndim=2),
    parent_edge: ti.types.ndarray(dtype=ti.i32, ndim=2),
):
    for c, e in ti.ndrange(dist.shape[0], src.shape[0]):
        du = dist[c, src[e]]
        if du < ti.math.inf and du + cost[e] == dist[c, dst[e]] and du < dist[c, dst[e]]:
            # the largest tight edge id wins, so the tree is deterministic under any thread order
            ti.atomic_max(parent_edge[c, dst[e]], e)


def _check(src: np.ndarray, dst: np.ndarray, cost_s: np.ndarray, n_nodes: int) -> tuple[np.ndarray, ...]:
    s = np.ascontiguousarray(src, dtype=np.int32)
    d = np.ascontiguousarray(dst, dtype=np.int32)
    w = np.ascontiguousarray(cost_s, dtype=np.float32)
    if not (s.shape == d.shape == w.shape) or s.ndim != 1:
        raise ValueError("src, dst and cost_s must be 1-D arrays of equal length")
    if s.size and (s.min() < 0 or d.min() < 0 or s.max() >= n_nodes or d.max() >= n_nodes):
        raise ValueError("edge endpoint outside 0..n_nodes-1")
    if w.size and (not np.isfinite(w).all() or (w < 0).any()):
        raise ValueError("edge costs must be finite and non-negative")
    return s, d, w


def multi_source_times(
    src: np.ndarray,
    dst: np.ndarray,
    cost_s: np.ndarray,
    start_s: np.ndarray,
    *,
    method: str = "frontier",
    max_launches: int = 100_000,
    device_arrays: bool | None = None,
) -> tuple[np.ndarray, int]:
    """Shortest travel times from C source sets to every node.

    Parameters
    ----------
    src, dst : (E,) int, directed edge endpoints in 0..N-1.
    cost_s : (E,) float, non-negative edge cost in seconds.
    start_s : (C, N) float, initial time at each node for each source set (0 at a source, or the
        time to reach the graph from the source; ``inf`` elsewhere).

    method : ``frontier`` (default): each round only the nodes improved in the previous round relax
        their out-edges (node-parallel over a CSR of the edges); ``sweep``: every round relaxes all
        edges (edge-parallel, ``SWEEPS_PER_LAUNCH`` sweeps per launch). Both reach the same fixed point.
    device_arrays : keep the frontier's arrays in Taichi ndarrays (default: when Taichi runs on a GPU).

    Returns
    -------
    times_s : (C, N) float32, ``min over sources (start + path cost)``; ``inf`` where unreachable.
    rounds : number of rounds (frontier) or sweeps (sweep) run.
    """
    start = np.ascontiguousarray(start_s, dtype=np.float32)
    if start.ndim != 2:
        raise ValueError("start_s must be (C, N)")
    s, d, w = _check(src, dst, cost_s, start.shape[1])
    dist = start.copy()
    if s.size == 0 or dist.size == 0:
        return dist, 0
    changed = np.zeros(1, dtype=np.int32)
    if method == "sweep":
        launches = 0
        while launches < max_launches:
            changed[0] = 0
            _relax(s, d, w, dist, changed)
            launches += 1
            if changed[0] == 0:
                break
        return dist, launches * SWEEPS_PER_LAUNCH
    # frontier: only nodes improved in the last round relax their out-edges (CSR by source); the
    # frontier is a compact list, so a round costs its own size, not the graph's
    order = np.argsort(s, kind="stable")
    nbr = np.ascontiguousarray(d[order])
    cost = np.ascontiguousarray(w[order])
    indptr = np.zeros(dist.shape[1] + 1, dtype=np.int32)
    np.cumsum(np.bincount(s, minlength=dist.shape[1]), out=indptr[1:])
    fc, fu = np.nonzero(np.isfinite(dist))
    cap = dist.size
    fr_c = np.zeros(cap, np.int32)
    fr_u = np.zeros(cap, np.int32)
    fr_c[: fc.size], fr_u[: fu.size] = fc, fu
    n = int(fc.size)
    if device_arrays is None:
        device_arrays = current_arch() not in (None, "cpu")
    put = _to_device if device_arrays else (lambda a: a)
    g_ptr, g_nbr, g_cost, g_dist = put(indptr), put(nbr), put(cost), put(dist)
    fr_c, fr_u = put(fr_c), put(fr_u)
    nx_c, nx_u = put(np.zeros(cap, np.int32)), put(np.zeros(cap, np.int32))
    flag = put(np.zeros(dist.shape, np.int32))
    count = put(np.zeros(1, np.int32))
    rounds = 0
    while n > 0 and rounds < max_launches:
        _clear_flags(fr_c, fr_u, n, flag)
        count.fill(0)
        _relax_frontier(g_ptr, g_nbr, g_cost, g_dist, fr_c, fr_u, n, flag, nx_c, nx_u, count)
        rounds += 1
        n = int(count[0]) if isinstance(count, np.ndarray) else int(count.to_numpy()[0])
        fr_c, nx_c = nx_c, fr_c
        fr_u, nx_u = nx_u, fr_u
    return (g_dist if isinstance(g_dist, np.ndarray) else g_dist.to_numpy()), rounds


def _to_device(a: np.ndarray):
    """A Taichi ndarray copy of ``a`` (on the GPU when Taichi runs there), so that rounds do not copy
    host arrays back and forth."""
    t = ti.ndarray(dtype=ti.f32 if a.dtype == np.float32 else ti.i32, shape=a.shape)
    t.from_numpy(a)
    return t


def tree_parents(
    src: np.ndarray, dst: np.ndarray, cost_s: np.ndarray, times_s: np.ndarray
) -> np.ndarray:
    """Shortest-path tree of converged ``times_s``: for every (category, node) the id of the edge
    that reaches it on a shortest path, or -1 for sources and unreached nodes. (C, N) int32.

    With the reversed edge list (as for times *to* facilities) the tree edge of node v points from v
    towards its nearest facility.
    """
    times = np.ascontiguousarray(times_s, dtype=np.float32)
    s, d, w = _check(src, dst, cost_s, times.shape[1])
    parent = np.full(times.shape, -1, dtype=np.int32)
    if s.size:
        _parents(s, d, w, times, parent)
    return parent
