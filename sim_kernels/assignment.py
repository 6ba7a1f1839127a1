"""Static user-equilibrium traffic assignment: BPR link costs, Frank-Wolfe family (FW, conjugate FW,
bi-conjugate FW) over the shortest-path and loading kernels of ``sim_kernels.paths``.

Network conventions: N nodes, the first Z of them zones (centroids); nodes with an index below
``first_thru_node`` may start or end a path but are never passed through. L directed links with
free-flow time (any time unit, e.g. minutes), capacity (vehicles per the demand's period, e.g. veh/h)
and BPR parameters: ``t(x) = t0 * (1 + alpha * (x / c) ** beta)``.

Taichi must be initialised by the caller (``sim_kernels.runtime.ensure_init``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim_kernels.paths import UNREACHABLE, LinkNetwork, PathWorkspace, all_or_nothing, shortest_paths

__all__ = [
    "LinkNetwork",
    "AssignmentResult",
    "bpr_time",
    "bpr_derivative",
    "shortest_paths",
    "all_or_nothing",
    "assign",
    "UNREACHABLE",
]


def bpr_time(net: LinkNetwork, flow: np.ndarray) -> np.ndarray:
    """BPR link travel time (L,) float64 at link flows ``flow`` (L,)."""
    return net.free_flow_time * (1.0 + net.alpha * (np.maximum(flow, 0.0) / net.capacity) ** net.beta)


def bpr_derivative(net: LinkNetwork, flow: np.ndarray) -> np.ndarray:
    """d t / d x (L,) float64 of the BPR function."""
    x = np.maximum(flow, 0.0) / net.capacity
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (
            net.free_flow_time
            * net.alpha
            * net.beta
            * np.where(x > 0, x ** (net.beta - 1.0), 0.0)
            / net.capacity
        )
    return np.where(np.isfinite(d), d, 0.0)


ShortestPathFn = Callable[[LinkNetwork, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class AssignmentResult:
    """Equilibrium link flows and the convergence record.

    ``state`` holds what a warm start needs (flows and the last conjugate directions).
    """

    flow: np.ndarray  # (L,) float64, vehicles per period
    cost: np.ndarray  # (L,) float64, BPR time at ``flow``
    relative_gap: float
    iterations: int
    gap_history: list[float]
    total_travel_time: float  # sum flow * cost
    unreachable: np.ndarray  # (U, 3) float64 rows of (origin zone, destination zone, trips) not served
    state: dict[str, np.ndarray] = field(default_factory=dict)


def _line_search(net: LinkNetwork, x: np.ndarray, d: np.ndarray, iters: int = 48) -> float:
    """Step in [0, 1] minimising the Beckmann objective along x + step d (bisection on its derivative)."""
    nz = d != 0
    if not nz.any():
        return 0.0
    xs, ds = x[nz], d[nz]
    t0, a, b, c = net.free_flow_time[nz], net.alpha[nz], net.beta[nz], net.capacity[nz]

    def slope(lam: float) -> float:
        f = np.maximum(xs + lam * ds, 0.0)
        return float(np.dot(t0 * (1.0 + a * (f / c) ** b), ds))

    if slope(1.0) <= 0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if slope(mid) > 0:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-14:
            break
    return 0.5 * (lo + hi)


def _direction(method: str, x, y, h, s1, s2, tau) -> np.ndarray:
    """Target point s of the next step: y (FW), or a combination of y with the previous targets that
    makes s - x conjugate (under the Hessian diag h) to the previous one or two directions."""
    if method == "fw" or s1 is None:
        return y
    d1 = s1 - x
    if method == "bfw" and s2 is not None and 0.0 < tau < 1.0:
        d2 = tau * s1 - x + (1.0 - tau) * s2  # previous-but-one direction, seen from x
        g = y - x
        u1, u2 = s1 - y, s2 - y
        m = np.array([[np.dot(u1 * h, d1), np.dot(u2 * h, d1)], [np.dot(u1 * h, d2), np.dot(u2 * h, d2)]])
        r = -np.array([np.dot(g * h, d1), np.dot(g * h, d2)])
        det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
        if abs(det) > 1e-12 * (abs(m).max() ** 2 + 1e-300):
            b1, b2 = np.linalg.solve(m, r)
            if b1 >= 0 and b2 >= 0 and b1 + b2 <= 1.0 - 1e-6:
                return (1.0 - b1 - b2) * y + b1 * s1 + b2 * s2
    num = np.dot(d1 * h, y - x)
    den = np.dot(d1 * h, y - s1)
    a = num / den if den != 0 else 0.0
    a = float(min(max(a, 0.0), 1.0 - 1e-6))
    return a * s1 + (1.0 - a) * y


def _is_feasible(net: LinkNetwork, flow: np.ndarray | None, origins: np.ndarray, demand: np.ndarray) -> bool:
    """Whether ``flow`` (L,) satisfies flow conservation for ``demand`` (net inflow = attraction - production)."""
    if flow is None or flow.shape != net.link_from.shape or (flow < 0).any() or not np.isfinite(flow).all():
        return False
    balance = np.bincount(net.link_to, flow, net.n_nodes) - np.bincount(net.link_from, flow, net.n_nodes)
    want = np.zeros(net.n_nodes)
    want[: net.n_zones] += demand.sum(axis=0)
    np.subtract.at(want, origins, demand.sum(axis=1))
    return bool(np.allclose(balance, want, rtol=0.0, atol=1e-6 * max(1.0, float(demand.sum()))))


def assign(
    net: LinkNetwork,
    od: np.ndarray,
    *,
    rgap: float = 1e-4,
    max_iter: int = 500,
    method: str = "bfw",
    warm_state: dict[str, np.ndarray] | None = None,
    shortest_path_fn: ShortestPathFn | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
) -> AssignmentResult:
    """User-equilibrium assignment of the OD matrix ``od`` (Z, Z) onto ``net``.

    Parameters
    ----------
    method : "fw" (Frank-Wolfe), "cfw" (conjugate) or "bfw" (bi-conjugate, default).
    rgap : stop when the relative gap (TSTT - SPTT) / TSTT falls to or below it.
    warm_state : ``AssignmentResult.state`` of an earlier run (flow mapped onto this network's links); its
        flow starts the iteration when the OD matrix and the unreachable pairs are the same and the flow
        conserves at every node. The caller guarantees that every link that carried flow still exists
        (then the old path flows stay valid); otherwise it passes no warm state.
    shortest_path_fn : replaces the Taichi shortest-path kernel (same signature as ``shortest_paths``).
    """
    if method not in ("fw", "cfw", "bfw"):
        raise ValueError(f"unknown method {method!r}")
    od = np.asarray(od, dtype=np.float64)
    z = net.n_zones
    if od.shape != (z, z) or not np.isfinite(od).all() or (od < 0).any():
        raise ValueError(f"od must be a finite non-negative ({z}, {z}) matrix")
    origins = np.nonzero(od.sum(axis=1) > 0)[0].astype(np.int32)
    demand = od[origins].copy()
    ws = PathWorkspace(net, origins)

    def sp(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if shortest_path_fn is not None:
            return shortest_path_fn(net, cost, origins)
        return shortest_paths(net, cost, origins, _ws=ws)

    cost = bpr_time(net, np.zeros(net.link_from.shape[0]))
    dist, pred = sp(cost)
    unreach = (dist[:, :z] >= UNREACHABLE) & (demand > 0)
    unreach[np.arange(origins.size), origins] = False
    ko, kd = np.nonzero(unreach)
    unreachable = np.column_stack([origins[ko], kd, demand[ko, kd]]).astype(np.float64).reshape(-1, 3)
    demand[ko, kd] = 0.0
    demand[np.arange(origins.size), origins] = 0.0  # intrazonal trips use no link

    x = None
    s1 = s2 = None
    tau = 0.0
    if (
        warm_state is not None
        and np.array_equal(warm_state.get("od", np.empty(0)), od)
        and np.array_equal(warm_state.get("unreachable", np.empty(0)), unreachable)
        and _is_feasible(net, warm_state.get("flow"), origins, demand)
    ):
        x = np.asarray(warm_state["flow"], dtype=np.float64).copy()
    if x is None:
        x = all_or_nothing(net, origins, demand, pred)
    history: list[float] = []
    gap = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        cost = bpr_time(net, x)
        dist, pred = sp(cost)
        dz = dist[:, :z]
        sptt = float(np.sum(demand[demand > 0] * dz[demand > 0]))
        tstt = float(np.dot(x, cost))
        gap = (tstt - sptt) / tstt if tstt > 0 else 0.0
        history.append(gap)
        if on_iteration is not None:
            on_iteration(it, gap)
        if gap <= rgap:
            break
        y = all_or_nothing(net, origins, demand, pred)
        h = bpr_derivative(net, x)
        s = _direction(method, x, y, h, s1, s2, tau)
        tau = _line_search(net, x, s - x)
        x = x + tau * (s - x)
        s2, s1 = s1, s
    cost = bpr_time(net, x)
    return AssignmentResult(
        flow=x,
        cost=cost,
        relative_gap=float(gap),
        iterations=it,
        gap_history=history,
        total_travel_time=float(np.dot(x, cost)),
        unreachable=unreachable,
        state={"flow": x.copy(), "od": od.copy(), "unreachable": unreachable},
    )
