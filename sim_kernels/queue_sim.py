"""Dynamic queue-based (mesoscopic) traffic simulation with flow capacities, storage and spillback.

Model (one time step ``dt_s``, links handled in index order so that the run is deterministic):

1. each link earns outflow credit ``capacity_veh_s * dt_s`` (capped at ``max(1, capacity * dt)``);
2. the vehicle at the front of a link leaves it when its free-flow time on the link is over, the link
   has a whole unit of credit and the next link of its route has room (its vehicle count is below its
   storage); a vehicle that has waited ``stuck_s`` at the front moves on regardless (gridlock release,
   the same device as SUMO's teleport time); at the end of its route it arrives;
3. vehicles whose departure time has come enter their first link in departure order while it has room.

Junctions (node model, optional): a link may end at a junction ``j`` with a throughput capacity
``C_j`` (veh/s, all movements together, e.g. an unsignalised crossing of two streets). At the start of a
step every incoming link whose front vehicle is due (free-flow time over) asks for the junction; the
junction's capacity is shared among those links in proportion to their own capacities, so a link
earns credit at ``min(c_i, C_j * c_i / sum of c over the asking links)`` instead of ``c_i`` (a common
capacity-proportional mesoscopic node model). A link that does not ask, or asks alone at a junction
with ``C_j >= c_i``, keeps its own rate: a single vehicle is never delayed by the junction.
Below capacity, vehicles arriving at random still wait for gaps: a vehicle entering a link that ends at
junction ``j`` gets a waiting time ``w = q_j / (C_j (C_j - q_j))`` (the steady-state waiting time of a
single-server queue with random arrivals, without the service time; capped at ``max_wait_s``) added to
its free-flow time, where ``q_j`` is the junction's throughput smoothed over ``tau_s`` (exponentially,
updated at the end of each step); on an empty network ``w = 0``. Optional fixed extra time per route
element (``turn_delay_s``: slowing down to turn into the next link) is added to its free-flow time too.

Leaving times are exact inside the step: a vehicle that was free to go at ``r`` in (t - dt, t] leaves at
``r``, a queued one at ``t - dt``. So an empty network gives free-flow times of exactly length / speed.
Every vehicle is in exactly one of: waiting to enter, on a link, arrived (checked every step).

Arrays: K vehicles with routes as CSR (``route_offsets`` (K+1,), ``route_links`` (R,)); each vehicle uses a
link at most once. Times in seconds from the simulation start. Taichi must be initialised by the caller.
"""

from dataclasses import dataclass

import numpy as np
import taichi as ti

__all__ = ["QueueResult", "simulate", "vehicles_on_links_at", "extract_routes"]


@ti.func
def _wait(q: ti.f64, cap: ti.f64, max_wait_s: ti.f64) -> ti.f64:
    w = max_wait_s
    if q < cap:
        w = ti.min(q / (cap * (cap - q)), max_wait_s)
    return w


@ti.kernel
def _steps_kernel(
    t_start: ti.f64,
    n_sub: ti.i32,
    dt: ti.f64,
    stuck_s: ti.f64,
    fft_s: ti.types.ndarray(dtype=ti.f64, ndim=1),
    cap_veh_s: ti.types.ndarray(dtype=ti.f64, ndim=1),
    storage: ti.types.ndarray(dtype=ti.i32, ndim=1),
    credit: ti.types.ndarray(dtype=ti.f64, ndim=1),
    q_slots: ti.types.ndarray(dtype=ti.i32, ndim=1),
    q_head: ti.types.ndarray(dtype=ti.i32, ndim=1),
    q_tail: ti.types.ndarray(dtype=ti.i32, ndim=1),
    w_list: ti.types.ndarray(dtype=ti.i32, ndim=1),
    w_head: ti.types.ndarray(dtype=ti.i32, ndim=1),
    w_end: ti.types.ndarray(dtype=ti.i32, ndim=1),
    route_offsets: ti.types.ndarray(dtype=ti.i32, ndim=1),
    route_links: ti.types.ndarray(dtype=ti.i32, ndim=1),
    depart_s: ti.types.ndarray(dtype=ti.f64, ndim=1),
    pos: ti.types.ndarray(dtype=ti.i32, ndim=1),
    enter_s: ti.types.ndarray(dtype=ti.f64, ndim=1),
    exit_s: ti.types.ndarray(dtype=ti.f64, ndim=1),
    counts: ti.types.ndarray(dtype=ti.i64, ndim=1),
    stats: ti.types.ndarray(dtype=ti.i64, ndim=2),
    link_node: ti.types.ndarray(dtype=ti.i32, ndim=1),
    node_cap_veh_s: ti.types.ndarray(dtype=ti.f64, ndim=1),
    node_ask: ti.types.ndarray(dtype=ti.f64, ndim=1),
    asks: ti.types.ndarray(dtype=ti.i32, ndim=1),
    node_q: ti.types.ndarray(dtype=ti.f64, ndim=1),
    node_n: ti.types.ndarray(dtype=ti.f64, ndim=1),
    extra_s: ti.types.ndarray(dtype=ti.f64, ndim=1),
    tau_s: ti.f64,
    max_wait_s: ti.f64,
    base_s: ti.types.ndarray(dtype=ti.f64, ndim=1),
):
    # steps depend on each other and links are handled in index order: one serial loop, compiled
    ti.loop_config(serialize=True)
    for step in range(n_sub):
        t = t_start + (step + 1) * dt
        lo = t - dt
        for j in range(node_ask.shape[0]):
            node_ask[j] = 0.0
        for lk in range(fft_s.shape[0]):
            asks[lk] = 0
            if link_node[lk] >= 0 and q_head[lk] < q_tail[lk]:
                v = q_slots[q_head[lk]]
                ri = route_offsets[v] + pos[v]
                entered = enter_s[v]
                if pos[v] > 0:
                    entered = exit_s[ri - 1]
                if entered + fft_s[lk] + extra_s[ri] <= t + 1e-9:
                    asks[lk] = 1
                    node_ask[link_node[lk]] += cap_veh_s[lk]
        for lk in range(fft_s.shape[0]):
            cmax = ti.max(1.0, cap_veh_s[lk] * dt)
            rate = cap_veh_s[lk]
            if asks[lk] == 1:
                j = link_node[lk]
                rate = ti.min(rate, node_cap_veh_s[j] * cap_veh_s[lk] / node_ask[j])
            credit[lk] = ti.min(credit[lk] + rate * dt, cmax)
            while q_head[lk] < q_tail[lk] and credit[lk] >= 1.0 - 1e-9:
                v = q_slots[q_head[lk]]
                ri = route_offsets[v] + pos[v]
                entered = enter_s[v]
                if pos[v] > 0:
                    entered = exit_s[ri - 1]
                ready = entered + fft_s[lk] + extra_s[ri]
                if ready > t + 1e-9:
                    break
                leave = ti.max(ready, lo)
                if ri + 1 == route_offsets[v + 1]:
                    exit_s[ri] = leave
                    counts[1] += 1
                else:
                    nxt = route_links[ri + 1]
                    full = q_tail[nxt] - q_head[nxt] >= storage[nxt]
                    if full and t - ready < stuck_s:
                        break
                    exit_s[ri] = leave
                    pos[v] += 1
                    q_slots[q_tail[nxt]] = v
                    q_tail[nxt] += 1
                    extra_s[ri + 1] = base_s[ri + 1]
                    if link_node[nxt] >= 0:
                        extra_s[ri + 1] += _wait(
                            node_q[link_node[nxt]], node_cap_veh_s[link_node[nxt]], max_wait_s
                        )
                if link_node[lk] >= 0:
                    node_n[link_node[lk]] += 1.0
                q_head[lk] += 1
                credit[lk] -= 1.0
        for lk in range(fft_s.shape[0]):
            while w_head[lk] < w_end[lk]:
                v = w_list[w_head[lk]]
                if depart_s[v] > t + 1e-9 or q_tail[lk] - q_head[lk] >= storage[lk]:
                    break
                enter_s[v] = ti.max(depart_s[v], lo)
                q_slots[q_tail[lk]] = v
                q_tail[lk] += 1
                w_head[lk] += 1
                extra_s[route_offsets[v]] = base_s[route_offsets[v]]
                if link_node[lk] >= 0:
                    extra_s[route_offsets[v]] += _wait(
                        node_q[link_node[lk]], node_cap_veh_s[link_node[lk]], max_wait_s
                    )
                counts[0] += 1
        gain = ti.min(1.0, dt / tau_s)
        for j in range(node_q.shape[0]):
            node_q[j] += (node_n[j] / dt - node_q[j]) * gain
            node_n[j] = 0.0
        on_links = ti.cast(0, ti.i64)
        waiting = ti.cast(0, ti.i64)
        for lk in range(fft_s.shape[0]):
            on_links += ti.cast(q_tail[lk] - q_head[lk], ti.i64)
            waiting += ti.cast(w_end[lk] - w_head[lk], ti.i64)
        stats[step, 0] = counts[0]
        stats[step, 1] = counts[1]
        stats[step, 2] = on_links
        stats[step, 3] = waiting


@dataclass
class QueueResult:
    """Outcome of ``simulate``; times in seconds, ``nan`` where an event has not happened.

    ``stats`` (steps, 4) int64 columns: entered so far, arrived so far, vehicles on links, vehicles waiting
    to enter (departed or not); on links + waiting + arrived = K at every step.
    """

    route_offsets: np.ndarray  # (K+1,) int32
    route_links: np.ndarray  # (R,) int32
    depart_s: np.ndarray  # (K,) float64
    enter_s: np.ndarray  # (K,) float64, entering the first link
    exit_s: np.ndarray  # (R,) float64, leaving each link of the route
    stats: np.ndarray  # (steps, 4) int64
    times_s: np.ndarray  # (steps,) float64, end of each step

    @property
    def arrival_s(self) -> np.ndarray:
        """(K,) float64 time each vehicle left its last link."""
        return self.exit_s[self.route_offsets[1:] - 1]

    @property
    def travel_time_s(self) -> np.ndarray:
        """(K,) float64 arrival minus departure (includes waiting to enter)."""
        return self.arrival_s - self.depart_s

    def link_entry_s(self) -> np.ndarray:
        """(R,) float64 time of entering each route element."""
        ent = np.empty_like(self.exit_s)
        ent[1:] = self.exit_s[:-1]
        ent[self.route_offsets[:-1]] = self.enter_s
        return ent

    def link_times(self, n_links: int) -> tuple[np.ndarray, np.ndarray]:
        """Per link: vehicles that traversed it (L,) int64 and their mean traversal time (L,) s (nan if none)."""
        ent = self.link_entry_s()
        done = np.isfinite(self.exit_s) & np.isfinite(ent)
        n = np.bincount(self.route_links[done], minlength=n_links)
        tot = np.bincount(self.route_links[done], (self.exit_s - ent)[done], minlength=n_links)
        with np.errstate(invalid="ignore", divide="ignore"):
            return n, np.where(n > 0, tot / np.maximum(n, 1), np.nan)


def simulate(
    fft_s: np.ndarray,
    capacity_veh_s: np.ndarray,
    storage_veh: np.ndarray,
    route_offsets: np.ndarray,
    route_links: np.ndarray,
    depart_s: np.ndarray,
    *,
    dt_s: float = 1.0,
    horizon_s: float,
    stuck_s: float = 300.0,
    link_node: np.ndarray | None = None,
    node_capacity_veh_s: np.ndarray | None = None,
    tau_s: float = 300.0,
    max_wait_s: float = 60.0,
    turn_delay_s: np.ndarray | None = None,
) -> QueueResult:
    """Run the queue model until ``horizon_s`` (or until every vehicle has arrived).

    Parameters
    ----------
    fft_s, capacity_veh_s : (L,) free-flow time (> 0) and outflow capacity (> 0, veh/s) per link.
    storage_veh : (L,) int, vehicles a link holds (length * lanes / jam spacing), >= 1.
    route_offsets, route_links : the vehicles' link sequences as CSR, (K+1,) and (R,).
    depart_s : (K,) departure times, s.
    link_node : (L,) int, the junction each link ends at (-1: none); with ``node_capacity_veh_s`` (J,)
        float, each junction's throughput capacity (> 0, veh/s). Both None: no junction limits.
    tau_s, max_wait_s : smoothing time of the junction throughput and cap of the random waiting time, s.
    turn_delay_s : (R,) float, fixed extra time (>= 0, s) of each route element; None: zeros.
    """
    fft = np.ascontiguousarray(fft_s, dtype=np.float64)
    cap = np.ascontiguousarray(capacity_veh_s, dtype=np.float64)
    sto = np.ascontiguousarray(np.maximum(storage_veh, 1), dtype=np.int32)
    n_links = fft.shape[0]
    off = np.ascontiguousarray(route_offsets, dtype=np.int32)
    rl = np.ascontiguousarray(route_links, dtype=np.int32)
    dep = np.ascontiguousarray(depart_s, dtype=np.float64)
    k = dep.shape[0]
    if (fft <= 0).any() or (cap <= 0).any() or not (np.isfinite(fft).all() and np.isfinite(cap).all()):
        raise ValueError("free-flow times and capacities must be positive and finite")
    if off.shape != (k + 1,) or off[0] != 0 or off[-1] != rl.shape[0] or (np.diff(off) < 1).any():
        raise ValueError("every vehicle needs a route of at least one link")
    if rl.size and (rl.min() < 0 or rl.max() >= n_links):
        raise ValueError("route refers to a link that does not exist")
    if not np.isfinite(dep).all() or dt_s <= 0:
        raise ValueError("departure times must be finite and dt positive")
    if (link_node is None) != (node_capacity_veh_s is None):
        raise ValueError("link_node and node_capacity_veh_s go together")
    lnode = np.ascontiguousarray(np.full(n_links, -1) if link_node is None else link_node, dtype=np.int32)
    ncap = np.ascontiguousarray(
        np.ones(0) if node_capacity_veh_s is None else node_capacity_veh_s, np.float64
    )
    if lnode.shape != (n_links,) or (lnode >= ncap.size).any() or (lnode < -1).any() or ncap.ndim != 1:
        raise ValueError("link_node must give one junction index (or -1) per link")
    if (ncap <= 0).any() or not np.isfinite(ncap).all() or tau_s <= 0 or max_wait_s < 0:
        raise ValueError("junction capacities and tau_s must be positive and finite, max_wait_s >= 0")
    ncap = ncap if ncap.size else np.ones(1)  # the kernel wants a non-empty array
    node_ask, node_q, node_n = np.zeros(ncap.size), np.zeros(ncap.size), np.zeros(ncap.size)
    asks = np.zeros(n_links, dtype=np.int32)
    veh_of = np.repeat(np.arange(k), np.diff(off))
    key = np.sort(veh_of.astype(np.int64) * n_links + rl)
    if key.size > 1 and (key[1:] == key[:-1]).any():
        raise ValueError("a route uses a link twice")
    usage = np.bincount(rl, minlength=n_links)
    q_off = np.zeros(n_links + 1, dtype=np.int32)
    np.cumsum(usage, out=q_off[1:])
    q_slots = np.full(max(1, rl.size), -1, dtype=np.int32)
    q_head = q_off[:-1].copy()
    q_tail = q_off[:-1].copy()
    first = rl[off[:-1]] if k else np.zeros(0, np.int32)
    order = np.lexsort((np.arange(k), dep, first)).astype(np.int32)  # by first link, then departure
    w_cnt = np.bincount(first, minlength=n_links)
    w_head = np.zeros(n_links, dtype=np.int32)
    np.cumsum(w_cnt[:-1], out=w_head[1:])
    w_end = (w_head + w_cnt).astype(np.int32)
    pos = np.zeros(k, dtype=np.int32)
    enter = np.full(k, np.nan)
    exit_ = np.full(rl.shape[0], np.nan)
    extra = np.zeros(max(1, rl.shape[0]))
    base = np.zeros(max(1, rl.shape[0]))
    td = np.zeros(rl.shape) if turn_delay_s is None else np.asarray(turn_delay_s, dtype=np.float64)
    if td.shape != rl.shape or not np.isfinite(td).all() or (td < 0).any():
        raise ValueError("turn_delay_s needs one finite, non-negative time per route element")
    base[: td.size] = td
    credit = np.zeros(n_links)
    n_steps = int(np.ceil(horizon_s / dt_s))
    stats = np.zeros((n_steps, 4), dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    times = (np.arange(n_steps) + 1) * dt_s
    done = 0
    chunk = 60
    while done < n_steps:
        n_sub = min(chunk, n_steps - done)
        sub = np.zeros((n_sub, 4), dtype=np.int64)
        _steps_kernel(
            done * dt_s, n_sub, dt_s, stuck_s, fft, cap, sto, credit, q_slots, q_head, q_tail, order,
            w_head, w_end, off, rl, dep, pos, enter, exit_, counts, sub, lnode, ncap, node_ask, asks,
            node_q, node_n, extra, tau_s, max_wait_s, base,
        )  # fmt: skip
        stats[done : done + n_sub] = sub
        done += n_sub
        if counts[1] == k:
            break
    last = done
    if k and counts[1] == k:
        last = int(np.argmax(stats[:done, 1] == k)) + 1
    return QueueResult(off, rl, dep, enter, exit_, stats[:last], times[:last])


def vehicles_on_links_at(
    res: QueueResult, fft_s: np.ndarray, t_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vehicles on the network at time ``t_s``: vehicle index (V,), link (V,) and fraction of the link
    travelled (V,) float64 in [0, 1] (free-flow progress; queued vehicles wait at the link end)."""
    ent = res.link_entry_s()
    ext = np.where(np.isnan(res.exit_s), np.inf, res.exit_s)
    on = (ent <= t_s) & (t_s < ext)
    idx = np.nonzero(on)[0]
    veh = np.searchsorted(res.route_offsets, idx, side="right") - 1
    links = res.route_links[idx]
    frac = np.clip((t_s - ent[idx]) / np.asarray(fft_s, dtype=np.float64)[links], 0.0, 1.0)
    return veh, links, frac


@ti.kernel
def _route_len_kernel(
    tree: ti.types.ndarray(dtype=ti.i32, ndim=1),
    origin: ti.types.ndarray(dtype=ti.i32, ndim=1),
    dest: ti.types.ndarray(dtype=ti.i32, ndim=1),
    pred: ti.types.ndarray(dtype=ti.i32, ndim=2),
    link_from: ti.types.ndarray(dtype=ti.i32, ndim=1),
    length: ti.types.ndarray(dtype=ti.i32, ndim=1),
):
    for k in range(dest.shape[0]):
        v = dest[k]
        n = 0
        while v != origin[k] and pred[tree[k], v] >= 0:
            v = link_from[pred[tree[k], v]]
            n += 1
        if v != origin[k]:
            n = -1
        length[k] = n


@ti.kernel
def _route_fill_kernel(
    tree: ti.types.ndarray(dtype=ti.i32, ndim=1),
    dest: ti.types.ndarray(dtype=ti.i32, ndim=1),
    pred: ti.types.ndarray(dtype=ti.i32, ndim=2),
    link_from: ti.types.ndarray(dtype=ti.i32, ndim=1),
    offsets: ti.types.ndarray(dtype=ti.i32, ndim=1),
    links: ti.types.ndarray(dtype=ti.i32, ndim=1),
):
    for k in range(dest.shape[0]):
        v = dest[k]
        j = offsets[k + 1] - 1
        while j >= offsets[k]:
            lk = pred[tree[k], v]
            links[j] = lk
            v = link_from[lk]
            j -= 1


def extract_routes(
    pred_link: np.ndarray, link_from: np.ndarray, tree: np.ndarray, origin: np.ndarray, dest: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Link sequences of K trips from shortest-path trees.

    ``pred_link`` (T, N) int32 trees (as from ``assignment.shortest_paths``), ``tree`` (K,) the tree row of
    each trip, ``origin``/``dest`` (K,) nodes. Returns (offsets (K'+1,), links (R,), kept (K,) bool): trips
    whose destination is unreachable or equal to the origin are dropped (``kept`` False).
    """
    tree = np.ascontiguousarray(tree, dtype=np.int32)
    org = np.ascontiguousarray(origin, dtype=np.int32)
    dst = np.ascontiguousarray(dest, dtype=np.int32)
    pred = np.ascontiguousarray(pred_link, dtype=np.int32)
    lf = np.ascontiguousarray(link_from, dtype=np.int32)
    n = np.zeros(dst.shape[0], dtype=np.int32)
    if dst.size:
        _route_len_kernel(tree, org, dst, pred, lf, n)
    kept = n > 0
    offsets = np.zeros(int(kept.sum()) + 1, dtype=np.int32)
    np.cumsum(n[kept], out=offsets[1:])
    links = np.zeros(int(offsets[-1]), dtype=np.int32)
    if kept.any():
        _route_fill_kernel(tree[kept], dst[kept], pred, lf, offsets, links)
    return offsets, links, kept
