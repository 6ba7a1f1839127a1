"""Generated test networks and demand for the traffic benchmarks (seeded): a square street grid with
zone centroids and connectors, and random trips between the zones."""

from __future__ import annotations

import numpy as np

from sim_kernels.assignment import LinkNetwork


def grid_network(
    n: int, *, spacing_m: float = 250.0, zones: int, rng: np.random.Generator
) -> tuple[LinkNetwork, np.ndarray, np.ndarray]:
    """An n x n street grid (two-way links, 50 km/h, 900-1,800 veh/h) plus ``zones`` centroids, each
    connected both ways to one grid node. Returns the network (free-flow times in s), the zone nodes'
    grid node (zones,) and node xy (N, 2) in metres."""
    ij = np.arange(n * n).reshape(n, n)
    a = np.concatenate([ij[:, :-1].ravel(), ij[:-1, :].ravel()])
    b = np.concatenate([ij[:, 1:].ravel(), ij[1:, :].ravel()])
    a, b = np.concatenate([a, b]), np.concatenate([b, a])
    attach = rng.choice(n * n, size=zones, replace=False)
    la = np.concatenate([a + zones, np.arange(zones), attach + zones]).astype(np.int32)
    lb = np.concatenate([b + zones, attach + zones, np.arange(zones)]).astype(np.int32)
    n_road = a.size
    speed_ms = 50 / 3.6
    fft = np.concatenate([np.full(n_road, spacing_m / speed_ms), np.full(2 * zones, 10.0)])
    cap = np.concatenate([rng.choice([900.0, 1800.0], n_road), np.full(2 * zones, 1e5)])
    alpha = np.concatenate([np.full(n_road, 0.15), np.zeros(2 * zones)])
    beta = np.full(la.size, 4.0)
    net = LinkNetwork(zones + n * n, zones, zones, la, lb, fft, cap, alpha, beta)
    yy, xx = np.divmod(np.arange(n * n), n)
    grid_xy = np.column_stack([xx, yy]).astype(float) * spacing_m
    xy = np.vstack([grid_xy[attach], grid_xy])
    return net, attach, xy


def random_od(zones: int, total_trips: float, rng: np.random.Generator) -> np.ndarray:
    """(zones, zones) float64 OD matrix with ``total_trips`` spread at random, no intrazonal trips."""
    od = rng.gamma(1.0, 1.0, (zones, zones))
    np.fill_diagonal(od, 0.0)
    return od * total_trips / od.sum()
