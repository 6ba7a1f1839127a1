"""Travel-time kernels: multi-source shortest paths on a directed graph, in Taichi.

The graph is a list of E directed edges ``(src, dst, cost_s)``; one graph carries walking, cycling or
driving links and, for public transport, the frequency-based transit links built by
``server.simulation.access`` (boarding links that cost the mean wait = headway / 2, riding links
between consecutive stops of a line, alighting links). Distances are computed for C source sets at
once (one per service category) by parallel label-correcting relaxation: every sweep relaxes all
edges of all categories with ``atomic_min``; the sweeps repeat until nothing changes. The result is
exact (the same fixed point as Dijkstra) for non-negative costs.

To get the time *from* every node *to* the nearest facility, call with the reversed edge list.

Kernels take ``ti.types.ndarray`` arguments, keep no module-level fields and do no I/O; Taichi must be
initialised by ``sim_kernels.runtime.ensure_init`` before the first call.
"""


import numpy as np
import taichi as ti

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
    max_launches: int = 100_000,
) -> tuple[np.ndarray, int]:
    """Shortest travel times from C source sets to every node.

    Parameters
    ----------
    src, dst : (E,) int, directed edge endpoints in 0..N-1.
    cost_s : (E,) float, non-negative edge cost in seconds.
    start_s : (C, N) float, initial time at each node for each source set (0 at a source, or the
        time to reach the graph from the source; ``inf`` elsewhere).

    Returns
    -------
    times_s : (C, N) float32, ``min over sources (start + path cost)``; ``inf`` where unreachable.
    sweeps : number of relaxation sweeps run (a multiple of ``SWEEPS_PER_LAUNCH``).
    """
    start = np.ascontiguousarray(start_s, dtype=np.float32)
    if start.ndim != 2:
        raise ValueError("start_s must be (C, N)")
    s, d, w = _check(src, dst, cost_s, start.shape[1])
    dist = start.copy()
    if s.size == 0 or dist.size == 0:
        return dist, 0
    changed = np.zeros(1, dtype=np.int32)
    launches = 0
    while launches < max_launches:
        changed[0] = 0
        _relax(s, d, w, dist, changed)
        launches += 1
        if changed[0] == 0:
            break
    return dist, launches * SWEEPS_PER_LAUNCH


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
