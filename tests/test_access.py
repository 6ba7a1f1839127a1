"""Access kernels and engine: shortest paths against scipy.sparse.csgraph, networkx and the NumPy
reference; transit by frequency; ÖV-Güteklassen; deficits; interventions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from sim_kernels.access import multi_source_times, tree_parents
from sim_kernels.access_reference import dijkstra_times


def _random_graph(rng: np.random.Generator, n: int, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = rng.integers(0, n, e)
    dst = rng.integers(0, n, e)
    keep = src != dst
    return src[keep], dst[keep], rng.uniform(1.0, 100.0, keep.sum())


def _scipy_times(src, dst, w, n, sources_per_set):
    # duplicate edges: keep the cheapest, as a shortest path would
    order = np.lexsort((w, dst, src))
    s, d, c = src[order], dst[order], w[order]
    first = np.ones(s.size, bool)
    first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
    g = sp.csr_matrix((c[first], (s[first], d[first])), shape=(n, n))
    return np.stack([dijkstra(g, indices=ix, min_only=True) for ix in sources_per_set])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_equals_scipy_and_reference(taichi_cpu, seed) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    src, dst, w = _random_graph(rng, n, 240)
    sets = [rng.choice(n, 3, replace=False), rng.choice(n, 1), rng.choice(n, 5, replace=False)]
    start = np.full((3, n), np.inf)
    for c, ix in enumerate(sets):
        start[c, ix] = 0.0
    got, sweeps = multi_source_times(src, dst, w, start)
    ref = dijkstra_times(src, dst, w, start)
    sci = _scipy_times(src, dst, w, n, sets)
    assert sweeps > 0
    np.testing.assert_array_equal(np.isinf(got), np.isinf(sci))
    fin = np.isfinite(sci)
    np.testing.assert_allclose(got[fin], sci[fin], rtol=1e-5)
    np.testing.assert_allclose(ref[fin], sci[fin], rtol=1e-12)


def test_kernel_start_offsets_and_unreachable(taichi_cpu) -> None:
    # path 0 -> 1 -> 2, node 3 isolated; a source set starting 5 s away from node 0
    src = np.array([0, 1])
    dst = np.array([1, 2])
    w = np.array([10.0, 20.0])
    start = np.array([[5.0, np.inf, np.inf, np.inf]])
    got, _ = multi_source_times(src, dst, w, start)
    np.testing.assert_allclose(got[0, :3], [5.0, 15.0, 35.0])
    assert np.isinf(got[0, 3])


def test_kernel_rejects_bad_graphs(taichi_cpu) -> None:
    start = np.zeros((1, 2))
    with pytest.raises(ValueError):
        multi_source_times(np.array([0]), np.array([5]), np.array([1.0]), start)
    with pytest.raises(ValueError):
        multi_source_times(np.array([0]), np.array([1]), np.array([-1.0]), start)
    with pytest.raises(ValueError):
        multi_source_times(np.array([0]), np.array([1]), np.array([np.nan]), start)


def test_tree_parents_form_shortest_path_trees(taichi_cpu) -> None:
    rng = np.random.default_rng(5)
    n = 80
    src, dst, w = _random_graph(rng, n, 400)
    start = np.full((2, n), np.inf)
    start[0, [0, 7]] = 0.0
    start[1, 3] = 0.0
    t, _ = multi_source_times(src, dst, w, start)
    par = tree_parents(src, dst, w, t)
    for c in range(2):
        for v in range(n):
            e = par[c, v]
            if np.isinf(t[c, v]) or start[c, v] == 0.0:
                assert e == -1
                continue
            assert dst[e] == v
            assert t[c, src[e]] + np.float32(w[e]) == t[c, v]
            # following parents ends at a source within n steps (no cycles)
            u, steps = v, 0
            while par[c, u] >= 0:
                u = src[par[c, u]]
                steps += 1
                assert steps <= n
            assert start[c, u] == 0.0
