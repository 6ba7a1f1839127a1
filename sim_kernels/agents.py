"""Agent movement kernels: positions of K persons at any time of day, and day runs that count
agent-seconds per link, waiting per stop and heat exposure on foot.

Routes are not stored per person. Every trip is a home-based tour along a shortest-path tree that the
access engine computed towards the nearest facility of a category (``sim_kernels.access.tree_parents``):
out from the trip's start node up the tree to its root, a dwell at the root, and back the same way. A
position at time t is found by binary lifting on the tree (``ancestors``), so ``positions`` costs
O(log depth) per agent at any t, in any order of t, without stepping.

Arrays (T trees, N nodes, E edges, R trips, K agents, L lifting levels):

- ``node_xy`` (N, 2) float32 local metres;
- ``up`` (T, L, N) int32 ancestors, ``up[t, 0, v]`` the next node towards the root (-1 at the root);
- ``time_to_root_s`` (T, N) float32; ``edge_to_parent`` (T, N) int32 edge ids;
- ``edge_mode`` (E,) int32 mode code of each edge (``MODE``), ``edge_link`` (E,) int32 road link
  index or -1, ``edge_stop`` (E,) int32 stop index of a boarding (waiting) edge or -1;
- ``trip_tree``, ``trip_start_node`` (R,) int32, ``trip_depart_s``, ``trip_dwell_s``, ``trip_scale``
  (R,) float32 (real time = tree time × scale, e.g. cycling on the walking tree), ``trip_mode`` (R,)
  int32: the mode of the trip's edges unless the tree's edge says otherwise (transit trees);
- ``agent_first_trip`` (K + 1,) int32 offsets into the trips, which are sorted by departure per agent;
  ``agent_home_node`` (K,) int32, where the agent stays between tours (the start node of its trips).

Edge modes: 0 for ordinary street edges (the trip's own mode applies), ``ride`` and ``wait`` for the
transit edges of walk+transit trees (a transit trip has mode ``walk`` and its riding and waiting edges
override it).
"""


import numpy as np
import taichi as ti

__all__ = ["MODE", "ancestors", "positions", "run_day"]

# mode codes; 0 = staying (at home or at an activity)
MODE = {"stay": 0, "walk": 1, "bike": 2, "car": 3, "ride": 4, "wait": 5}


def ancestors(parent_node: np.ndarray) -> np.ndarray:
    """Binary-lifting table (T, L, N) int32 from parents (T, N) int32 (-1 at roots and unreached)."""
    par = np.ascontiguousarray(parent_node, dtype=np.int32)
    levels = [par]
    while True:
        prev = levels[-1]
        nxt = np.where(prev >= 0, np.take_along_axis(prev, np.maximum(prev, 0), axis=1), -1).astype(np.int32)
        if (nxt < 0).all():
            break
        levels.append(nxt)
        if len(levels) > 31:
            raise ValueError("parent table has a cycle")
    return np.ascontiguousarray(np.stack(levels, axis=1))


@ti.func
def _locate(up: ti.template(), g: ti.template(), tree: ti.i32, start: ti.i32, target: ti.f32):
    """Node v on the path from ``start`` and its parent w with g[v] > target >= g[w]; v = w = start
    when the start is already within ``target`` of the root."""
    v = start
    w = start
    if g[tree, start] > target:
        for kk in range(up.shape[1]):
            k = up.shape[1] - 1 - kk
            anc = up[tree, k, v]
            if anc >= 0:
                if g[tree, anc] > target:
                    v = anc
        w = up[tree, 0, v]
        if w < 0:
            w = v
    return v, w


@ti.func
def _agent_at(
    a: ti.i32, t: ti.f32, node_xy: ti.template(), up: ti.template(), g: ti.template(),
    e_par: ti.template(), edge_mode: ti.template(), trip_tree: ti.template(), trip_start: ti.template(),
    trip_depart: ti.template(), trip_dwell: ti.template(), trip_scale: ti.template(),
    trip_mode: ti.template(), first: ti.template(), home: ti.template(),
):
    """(x, y, mode, edge) of agent a at time t; edge -1 while staying."""
    r0 = first[a]
    x = node_xy[home[a], 0]
    y = node_xy[home[a], 1]
    mode = 0
    edge = -1
    for r in range(r0, first[a + 1]):
        tree = trip_tree[r]
        s = trip_start[r]
        sc = trip_scale[r]
        dur = g[tree, s] * sc
        t0 = trip_depart[r]
        t_back = t0 + dur + trip_dwell[r]
        if t >= t0 and t <= t_back + dur:
            target = ti.f32(0.0)
            if t <= t0 + dur:
                target = (dur - (t - t0)) / sc
            elif t >= t_back:
                target = (t - t_back) / sc
            v, w = _locate(up, g, tree, s, target)
            gv = g[tree, v]
            gw = g[tree, w]
            f = ti.f32(0.0)
            if gv > gw:
                f = ti.min(ti.max((gv - target) / (gv - gw), 0.0), 1.0)
            x = node_xy[v, 0] + f * (node_xy[w, 0] - node_xy[v, 0])
            y = node_xy[v, 1] + f * (node_xy[w, 1] - node_xy[v, 1])
            if v != w and target > 0.0 and t > t0 and (t < t0 + dur or t > t_back):
                edge = e_par[tree, v]
                mode = trip_mode[r]
                if edge >= 0 and edge_mode[edge] > 0:
                    mode = edge_mode[edge]
    return x, y, mode, edge


@ti.kernel
def _positions(
    t: ti.f32, node_xy: ti.types.ndarray(), up: ti.types.ndarray(), g: ti.types.ndarray(),
    e_par: ti.types.ndarray(), edge_mode: ti.types.ndarray(), trip_tree: ti.types.ndarray(),
    trip_start: ti.types.ndarray(), trip_depart: ti.types.ndarray(), trip_dwell: ti.types.ndarray(),
    trip_scale: ti.types.ndarray(), trip_mode: ti.types.ndarray(), first: ti.types.ndarray(), home: ti.types.ndarray(),
    out_xy: ti.types.ndarray(), out_mode: ti.types.ndarray(),
):
    for a in range(out_xy.shape[0]):
        x, y, m, _e = _agent_at(a, t, node_xy, up, g, e_par, edge_mode, trip_tree, trip_start,
                                trip_depart, trip_dwell, trip_scale, trip_mode, first, home)
        out_xy[a, 0] = x
        out_xy[a, 1] = y
        out_mode[a] = m


@ti.kernel
def _day(
    t_start: ti.f32, dt: ti.f32, n_steps: ti.i32, node_xy: ti.types.ndarray(), up: ti.types.ndarray(),
    g: ti.types.ndarray(), e_par: ti.types.ndarray(), edge_mode: ti.types.ndarray(),
    edge_link: ti.types.ndarray(), edge_stop: ti.types.ndarray(), trip_tree: ti.types.ndarray(),
    trip_start: ti.types.ndarray(), trip_depart: ti.types.ndarray(), trip_dwell: ti.types.ndarray(),
    trip_scale: ti.types.ndarray(), trip_mode: ti.types.ndarray(), first: ti.types.ndarray(), home: ti.types.ndarray(),
    heat_c: ti.types.ndarray(), heat_origin: ti.types.ndarray(), heat_cell_m: ti.f32, heat_limit_c: ti.f32,
    link_s: ti.types.ndarray(), stop_wait_s: ti.types.ndarray(), foot_s: ti.types.ndarray(),
    heat_c_h: ti.types.ndarray(),
):
    for a in range(foot_s.shape[0]):
        for i in range(n_steps):
            t = t_start + i * dt
            x, y, m, e = _agent_at(a, t, node_xy, up, g, e_par, edge_mode, trip_tree, trip_start,
                                   trip_depart, trip_dwell, trip_scale, trip_mode, first, home)
            hour = ti.min(ti.max(ti.cast(t // 3600.0, ti.i32), 0), link_s.shape[0] - 1)
            if e >= 0:
                if edge_link[e] >= 0:
                    ti.atomic_add(link_s[hour, edge_link[e]], dt)
                if edge_stop[e] >= 0:
                    ti.atomic_add(stop_wait_s[edge_stop[e]], dt)
            if m == 1 or m == 5:
                foot_s[a] += dt
                hh = ti.min(hour, heat_c.shape[0] - 1)
                col = ti.cast(ti.floor((x - heat_origin[0]) / heat_cell_m), ti.i32)
                row = ti.cast(ti.floor((heat_origin[1] - y) / heat_cell_m), ti.i32)
                if row >= 0 and row < heat_c.shape[1] and col >= 0 and col < heat_c.shape[2]:
                    excess = heat_c[hh, row, col] - heat_limit_c
                    if excess > 0:
                        heat_c_h[a] += excess * dt / 3600.0


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _i32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int32)


def positions(net: dict[str, np.ndarray], trips: dict[str, np.ndarray], t_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions (K, 2) float32 local metres and mode codes (K,) int32 of all agents at ``t_s``.

    ``net`` holds node_xy, up, time_to_root_s, edge_to_parent, edge_mode; ``trips`` holds the trip_*
    arrays and agent_first_trip (see the module docstring).
    """
    k = trips["agent_first_trip"].size - 1
    out_xy = np.zeros((k, 2), dtype=np.float32)
    out_mode = np.zeros(k, dtype=np.int32)
    if k:
        _positions(np.float32(t_s), _f32(net["node_xy"]), _i32(net["up"]), _f32(net["time_to_root_s"]),
                   _i32(net["edge_to_parent"]), _i32(net["edge_mode"]), _i32(trips["trip_tree"]),
                   _i32(trips["trip_start_node"]), _f32(trips["trip_depart_s"]), _f32(trips["trip_dwell_s"]),
                   _f32(trips["trip_scale"]), _i32(trips["trip_mode"]), _i32(trips["agent_first_trip"]), _i32(trips["agent_home_node"]),
                   out_xy, out_mode)
    return out_xy, out_mode


def run_day(
    net: dict[str, np.ndarray], trips: dict[str, np.ndarray], *, t_start_s: float, dt_s: float, n_steps: int,
    n_links: int, n_stops: int, heat_c: np.ndarray | None = None, heat_origin_xy_m: tuple[float, float] = (0.0, 0.0),
    heat_cell_m: float = 1.0, heat_limit_c: float = 32.0,
) -> dict[str, np.ndarray]:
    """Step all agents through ``n_steps`` steps of ``dt_s`` from ``t_start_s``.

    ``heat_c`` is a UTCI field (H, rows, cols) °C by hour (H = 1 for one field for all hours), row 0 at
    the north edge, its north-west corner at ``heat_origin_xy_m`` (west, north) in local metres.

    Returns ``link_s`` (24, n_links) agent-seconds per road link and hour, ``stop_wait_s`` (n_stops,)
    waiting agent-seconds per stop, ``foot_s`` (K,) seconds on foot (walking or waiting) and
    ``heat_c_h`` (K,) degree-hours of UTCI above ``heat_limit_c`` on foot (32 °C: strong heat stress).
    """
    k = trips["agent_first_trip"].size - 1
    link_s = np.zeros((24, max(n_links, 1)), dtype=np.float32)
    stop_wait = np.zeros(max(n_stops, 1), dtype=np.float32)
    foot = np.zeros(k, dtype=np.float32)
    heat_acc = np.zeros(k, dtype=np.float32)
    field = np.full((1, 1, 1), -99.0, np.float32) if heat_c is None else _f32(heat_c)
    if field.ndim == 2:
        field = field[None]
    if k:
        _day(np.float32(t_start_s), np.float32(dt_s), int(n_steps), _f32(net["node_xy"]), _i32(net["up"]),
             _f32(net["time_to_root_s"]), _i32(net["edge_to_parent"]), _i32(net["edge_mode"]),
             _i32(net["edge_link"]), _i32(net["edge_stop"]), _i32(trips["trip_tree"]),
             _i32(trips["trip_start_node"]), _f32(trips["trip_depart_s"]), _f32(trips["trip_dwell_s"]),
             _f32(trips["trip_scale"]), _i32(trips["trip_mode"]), _i32(trips["agent_first_trip"]), _i32(trips["agent_home_node"]), field,
             _f32(np.asarray(heat_origin_xy_m)), np.float32(heat_cell_m), np.float32(heat_limit_c),
             link_s, stop_wait, foot, heat_acc)
    return {"link_s": link_s[:, :n_links], "stop_wait_s": stop_wait[:n_stops], "foot_s": foot, "heat_c_h": heat_acc}
