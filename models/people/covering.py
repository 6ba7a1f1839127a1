"""The maximal-covering location model (Church & ReVelle 1974), Taichi-free so that servers and the
region level can solve it without loading the people engine.

Demand ``w_i`` at point ``i``; candidate ``j`` covers ``i`` when ``cover[i, j]``. Maximise ``sum w_i y_i``
subject to ``y_i <= sum_{j covers i} x_j``, ``sum x_j <= k``, ``x`` binary, ``0 <= y <= 1``:
:func:`solve_milp` by ``scipy.optimize.milp`` (HiGHS), :func:`solve_greedy` by largest marginal coverage
first (the usual heuristic, and the floor every proposal is checked against).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = ["solve_greedy", "solve_milp"]


def solve_greedy(weights: np.ndarray, cover: sp.csr_matrix, k: int) -> tuple[np.ndarray, float]:
    """Largest marginal coverage first. Returns chosen candidate indices (<= k,) and covered demand."""
    w = np.asarray(weights, float).copy()
    cov = sp.csc_matrix(cover, dtype=float)
    chosen: list[int] = []
    total = 0.0
    for _ in range(min(k, cov.shape[1])):
        gain = cov.T @ w
        if chosen:
            gain[chosen] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        total += float(gain[j])
        w[cov[:, j].nonzero()[0]] = 0.0
    return np.asarray(chosen, np.int64), total


def solve_milp(weights: np.ndarray, cover: sp.csr_matrix, k: int, *, time_limit_s: float = 20.0) -> tuple[np.ndarray, float, str]:
    """Maximal covering by HiGHS. Returns chosen candidates, covered demand and the solver status."""
    w = np.asarray(weights, float)
    n_i, n_j = cover.shape
    if n_i == 0 or n_j == 0 or k <= 0:
        return np.zeros(0, np.int64), 0.0, "empty"
    c = np.concatenate([np.zeros(n_j), -w])
    a_cov = sp.hstack([-sp.csr_matrix(cover, dtype=float), sp.identity(n_i, format="csr")], format="csr")
    a_k = sp.csr_matrix(np.concatenate([np.ones(n_j), np.zeros(n_i)])[None, :])
    cons = [LinearConstraint(a_cov, -np.inf, 0.0), LinearConstraint(a_k, 0.0, float(k))]
    integrality = np.concatenate([np.ones(n_j), np.zeros(n_i)])
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0.0, 1.0),
               options={"time_limit": float(time_limit_s), "disp": False})
    if res.x is None:
        return np.zeros(0, np.int64), 0.0, str(res.message)
    x = res.x[:n_j] > 0.5
    chosen = np.nonzero(x)[0]
    covered = np.asarray(cover[:, chosen].sum(axis=1)).ravel() > 0
    return chosen.astype(np.int64), float(w[covered].sum()), "optimal" if res.status == 0 else str(res.message)
