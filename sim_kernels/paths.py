"""Shortest paths and all-or-nothing loading on a directed link network, in Taichi kernels.

Network conventions: N nodes, the first Z of them zones (centroids); nodes with an index below
``first_thru_node`` may start or end a path but are never passed through. Each origin's tree is built
by one thread (Dijkstra with an indexed binary heap, or label correcting); loading sums OD flows along
the trees with int64 fixed-point atomics, so results do not depend on thread timing.

Taichi must be initialised by the caller (``sim_kernels.runtime.ensure_init``).
"""

from dataclasses import dataclass

import numpy as np
import taichi as ti

__all__ = ["LinkNetwork", "PathWorkspace", "shortest_paths", "all_or_nothing", "UNREACHABLE"]

UNREACHABLE = 1e300  # distance of nodes that cannot be reached
_FIXED_SCALE = float(2**20)  # AON flows are summed as int64 fixed point: deterministic under threads


@dataclass(frozen=True)
class LinkNetwork:
    """Directed link arrays of an assignment network (see the module docstring for conventions)."""

    n_nodes: int
    n_zones: int
    first_thru_node: int
    link_from: np.ndarray  # (L,) int32
    link_to: np.ndarray  # (L,) int32
    free_flow_time: np.ndarray  # (L,) float64, > 0
    capacity: np.ndarray  # (L,) float64, > 0
    alpha: np.ndarray  # (L,) float64
    beta: np.ndarray  # (L,) float64

    def __post_init__(self) -> None:
        n_links = self.link_from.shape[0]
        for name in ("link_to", "free_flow_time", "capacity", "alpha", "beta"):
            if getattr(self, name).shape != (n_links,):
                raise ValueError(f"{name} must have shape ({n_links},)")
        if n_links and (
            self.link_from.min() < 0 or max(self.link_from.max(), self.link_to.max()) >= self.n_nodes
        ):
            raise ValueError("link end outside 0..n_nodes-1")
        if (self.capacity <= 0).any() or not np.isfinite(self.capacity).all():
            raise ValueError("capacity must be positive and finite")
        if (self.free_flow_time < 0).any() or not np.isfinite(self.free_flow_time).all():
            raise ValueError("free-flow time must be finite and non-negative")

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Outgoing links by node: offsets (N+1,) int32 and link indices (L,) int32."""
        order = np.argsort(self.link_from, kind="stable").astype(np.int32)
        counts = np.bincount(self.link_from, minlength=self.n_nodes)
        offsets = np.zeros(self.n_nodes + 1, dtype=np.int32)
        np.cumsum(counts, out=offsets[1:])
        return offsets, order


@ti.kernel
def _spfa_kernel(
    origins: ti.types.ndarray(dtype=ti.i32, ndim=1),
    first_thru: ti.i32,
    offsets: ti.types.ndarray(dtype=ti.i32, ndim=1),
    adj_link: ti.types.ndarray(dtype=ti.i32, ndim=1),
    link_to: ti.types.ndarray(dtype=ti.i32, ndim=1),
    cost: ti.types.ndarray(dtype=ti.f64, ndim=1),
    dist: ti.types.ndarray(dtype=ti.f64, ndim=2),
    pred: ti.types.ndarray(dtype=ti.i32, ndim=2),
    queue: ti.types.ndarray(dtype=ti.i32, ndim=2),
    inq: ti.types.ndarray(dtype=ti.i32, ndim=2),
):
    # one origin per thread; label-correcting search with a FIFO ring (each node queued at most once)
    n = dist.shape[1]
    for k in range(origins.shape[0]):
        for v in range(n):
            dist[k, v] = 1e300
            pred[k, v] = -1
            inq[k, v] = 0
        o = origins[k]
        dist[k, o] = 0.0
        queue[k, 0] = o
        inq[k, o] = 1
        head = 0
        tail = 1 % n
        cnt = 1
        while cnt > 0:
            u = queue[k, head]
            head = (head + 1) % n
            cnt -= 1
            inq[k, u] = 0
            if u == o or u >= first_thru:
                du = dist[k, u]
                for e in range(offsets[u], offsets[u + 1]):
                    lk = adj_link[e]
                    v = link_to[lk]
                    nd = du + cost[lk]
                    if nd < dist[k, v]:
                        dist[k, v] = nd
                        pred[k, v] = lk
                        if inq[k, v] == 0:
                            inq[k, v] = 1
                            queue[k, tail] = v
                            tail = (tail + 1) % n
                            cnt += 1


@ti.kernel
def _dijkstra_kernel(
    origins: ti.types.ndarray(dtype=ti.i32, ndim=1),
    first_thru: ti.i32,
    offsets: ti.types.ndarray(dtype=ti.i32, ndim=1),
    adj_link: ti.types.ndarray(dtype=ti.i32, ndim=1),
    link_to: ti.types.ndarray(dtype=ti.i32, ndim=1),
    cost: ti.types.ndarray(dtype=ti.f64, ndim=1),
    dist: ti.types.ndarray(dtype=ti.f64, ndim=2),
    pred: ti.types.ndarray(dtype=ti.i32, ndim=2),
    heap: ti.types.ndarray(dtype=ti.i32, ndim=2),
    hpos: ti.types.ndarray(dtype=ti.i32, ndim=2),
    hkey: ti.types.ndarray(dtype=ti.f64, ndim=2),
):
    # one origin per thread; Dijkstra with an indexed binary heap (decrease-key). hpos -1: never
    # queued, -2: settled
    n = dist.shape[1]
    for k in range(origins.shape[0]):
        for v in range(n):
            dist[k, v] = 1e300
            pred[k, v] = -1
            hpos[k, v] = -1
        o = origins[k]
        dist[k, o] = 0.0
        heap[k, 0] = o
        hkey[k, 0] = 0.0
        hpos[k, o] = 0
        size = 1
        while size > 0:
            u = heap[k, 0]
            hpos[k, u] = -2
            size -= 1
            if size > 0:
                last = heap[k, size]
                dl = hkey[k, size]
                i = 0
                while True:
                    c = 2 * i + 1
                    if c >= size:
                        break
                    if c + 1 < size and hkey[k, c + 1] < hkey[k, c]:
                        c += 1
                    if hkey[k, c] >= dl:
                        break
                    heap[k, i] = heap[k, c]
                    hkey[k, i] = hkey[k, c]
                    hpos[k, heap[k, i]] = i
                    i = c
                heap[k, i] = last
                hkey[k, i] = dl
                hpos[k, last] = i
            if u == o or u >= first_thru:
                du = dist[k, u]
                for e in range(offsets[u], offsets[u + 1]):
                    lk = adj_link[e]
                    v = link_to[lk]
                    nd = du + cost[lk]
                    if nd < dist[k, v] and hpos[k, v] != -2:
                        dist[k, v] = nd
                        pred[k, v] = lk
                        j = hpos[k, v]
                        if j == -1:
                            j = size
                            size += 1
                        while j > 0:
                            parent = (j - 1) // 2
                            if hkey[k, parent] <= nd:
                                break
                            heap[k, j] = heap[k, parent]
                            hkey[k, j] = hkey[k, parent]
                            hpos[k, heap[k, j]] = j
                            j = parent
                        heap[k, j] = v
                        hkey[k, j] = nd
                        hpos[k, v] = j


@ti.kernel
def _load_kernel(
    origins: ti.types.ndarray(dtype=ti.i32, ndim=1),
    demand_fx: ti.types.ndarray(dtype=ti.i64, ndim=2),
    pred: ti.types.ndarray(dtype=ti.i32, ndim=2),
    link_from: ti.types.ndarray(dtype=ti.i32, ndim=1),
    flow_fx: ti.types.ndarray(dtype=ti.i64, ndim=1),
):
    for k, d in ti.ndrange(demand_fx.shape[0], demand_fx.shape[1]):
        q = demand_fx[k, d]
        if q > 0:
            o = origins[k]
            v = d
            while v != o and pred[k, v] >= 0:
                lk = pred[k, v]
                ti.atomic_add(flow_fx[lk], q)
                v = link_from[lk]


class PathWorkspace:
    """Reusable buffers of the shortest-path kernel for one network and origin set."""

    def __init__(self, net: LinkNetwork, origins: np.ndarray) -> None:
        k, n = origins.shape[0], net.n_nodes
        self.origins = np.ascontiguousarray(origins, dtype=np.int32)
        self.offsets, self.adj = net.csr()
        self.link_to = np.ascontiguousarray(net.link_to, dtype=np.int32)
        self.link_from = np.ascontiguousarray(net.link_from, dtype=np.int32)
        self.dist = np.empty((k, n), dtype=np.float64)
        self.pred = np.empty((k, n), dtype=np.int32)
        self.queue = np.empty((k, n), dtype=np.int32)
        self.inq = np.empty((k, n), dtype=np.int32)  # queue flags (spfa) or heap positions (dijkstra)
        self.hkey = np.empty((k, n), dtype=np.float64)  # heap keys (dijkstra)


def shortest_paths(
    net: LinkNetwork,
    cost: np.ndarray,
    origins: np.ndarray,
    *,
    method: str = "dijkstra",
    _ws: PathWorkspace | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path trees from each origin under link ``cost`` (L,) >= 0.

    Returns ``dist`` (K, N) float64 (``UNREACHABLE`` where no path) and ``pred_link`` (K, N) int32, the
    last link of the path to each node (-1 at the origin and at unreachable nodes). Zone nodes below
    ``first_thru_node`` other than the origin are not passed through. ``method``: "dijkstra" (indexed
    binary heap) or "spfa" (label correcting with a FIFO queue); one origin per thread either way.
    """
    ws = _ws or PathWorkspace(net, np.asarray(origins))
    c = np.ascontiguousarray(np.maximum(cost, 0.0), dtype=np.float64)
    args = (
        ws.origins,
        int(net.first_thru_node),
        ws.offsets,
        ws.adj,
        ws.link_to,
        c,
        ws.dist,
        ws.pred,
        ws.queue,
        ws.inq,
    )
    if method == "dijkstra":
        _dijkstra_kernel(*args, ws.hkey)
    elif method == "spfa":
        _spfa_kernel(*args)
    else:
        raise ValueError(f"unknown shortest-path method {method!r}")
    return ws.dist, ws.pred


def all_or_nothing(
    net: LinkNetwork, origins: np.ndarray, demand: np.ndarray, pred_link: np.ndarray
) -> np.ndarray:
    """Load ``demand`` (K, Z) from each origin onto its shortest-path tree ``pred_link`` (K, N).

    Returns link flows (L,) float64. Demand to unreachable destinations is dropped (check first).
    """
    demand_fx = np.rint(np.asarray(demand, dtype=np.float64) * _FIXED_SCALE).astype(np.int64)
    flow_fx = np.zeros(net.link_from.shape[0], dtype=np.int64)
    _load_kernel(
        np.ascontiguousarray(origins, dtype=np.int32),
        np.ascontiguousarray(demand_fx),
        np.ascontiguousarray(pred_link, dtype=np.int32),
        np.ascontiguousarray(net.link_from, dtype=np.int32),
        flow_fx,
    )
    return flow_fx.astype(np.float64) / _FIXED_SCALE
