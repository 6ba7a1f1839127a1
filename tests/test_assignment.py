"""User-equilibrium assignment: Sioux Falls reference, kernels against scipy and the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_data
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra as sp_dijkstra

from geodata.tntp import read_flows, read_net, read_trips
from sim_kernels import traffic_reference as ref

# taichi is imported inside fixtures: pytest applies the project's warning filters only at run time
UNREACHABLE = 1e300


@pytest.fixture(scope="module")
def ta(taichi_cpu):
    import sim_kernels.assignment as mod

    return mod


SF_TSTT = 7_480_225.3


@pytest.fixture(scope="module")
def sioux_falls(ta):
    t = read_net(shared_data("tntp_siouxfalls", "SiouxFalls_net.tntp"))
    od = read_trips(shared_data("tntp_siouxfalls", "SiouxFalls_trips.tntp"), t.n_zones)
    net = ta.LinkNetwork(
        t.n_nodes,
        t.n_zones,
        t.first_thru_node,
        t.link_from,
        t.link_to,
        t.free_flow_time_min,
        t.capacity_veh_h,
        t.bpr_alpha,
        t.bpr_beta,
    )
    a, b, vol, _ = read_flows(shared_data("tntp_siouxfalls", "SiouxFalls_flow.tntp"))
    assert (a == t.link_from).all() and (b == t.link_to).all()
    return net, od, vol


def test_sioux_falls_total_travel_time_at_gap_1e4(ta, sioux_falls) -> None:
    net, od, _ = sioux_falls
    res = ta.assign(net, od, rgap=1e-4, max_iter=2000, method="bfw")
    assert res.relative_gap <= 1e-4
    assert res.total_travel_time == pytest.approx(SF_TSTT, rel=1e-3)
    assert res.unreachable.shape == (0, 3)


@pytest.mark.parametrize("method", ["bfw", "cfw"])
def test_sioux_falls_link_flows_at_gap_1e5(ta, sioux_falls, method) -> None:
    net, od, vol = sioux_falls
    res = ta.assign(net, od, rgap=1e-5, max_iter=5000, method=method)
    assert res.relative_gap <= 1e-5
    big = vol > 1000
    assert big.sum() > 60
    np.testing.assert_allclose(res.flow[big], vol[big], rtol=0.02)
    # conjugate directions pay: fewer iterations than plain Frank-Wolfe needs for 1e-4
    assert res.iterations < 2000


def _random_network(ta, rng, n=12, m=40, zones=4, first_thru=0):
    a = rng.integers(0, n, m)
    b = rng.integers(0, n, m)
    keep = a != b
    a, b = a[keep].astype(np.int32), b[keep].astype(np.int32)
    # a ring so that everything is reachable, plus the random chords (parallel links included)
    ring_a = np.arange(n, dtype=np.int32)
    ring_b = np.roll(ring_a, -1)
    a = np.concatenate([ring_a, ring_b, a])
    b = np.concatenate([ring_b, ring_a, b])
    L = a.size
    t0 = rng.uniform(1.0, 10.0, L)
    return ta.LinkNetwork(
        n, zones, first_thru, a, b, t0, rng.uniform(50, 200, L), np.full(L, 0.15), np.full(L, 4.0)
    )


@pytest.mark.parametrize("method", ["dijkstra", "spfa"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shortest_paths_match_scipy_and_reference(ta, seed, method) -> None:
    rng = np.random.default_rng(seed)
    net = _random_network(ta, rng)
    cost = net.free_flow_time
    origins = np.arange(net.n_nodes, dtype=np.int32)
    dist, pred = ta.shortest_paths(net, cost, origins, method=method)
    # scipy sums duplicate entries: give it the cheapest of parallel links
    best = {}
    for lk in range(len(cost)):
        key = (int(net.link_from[lk]), int(net.link_to[lk]))
        best[key] = min(best.get(key, np.inf), cost[lk])
    keys = np.array(list(best))
    g = csr_matrix((list(best.values()), (keys[:, 0], keys[:, 1])), shape=(net.n_nodes,) * 2)
    np.testing.assert_allclose(dist, sp_dijkstra(g, indices=origins), rtol=1e-12)
    for k, o in enumerate(origins):
        d_ref, _ = ref.dijkstra(net.n_nodes, 0, net.link_from, net.link_to, cost, int(o))
        np.testing.assert_allclose(dist[k], d_ref, rtol=1e-12)
        # the tree is consistent: dist[v] = dist[from(pred)] + cost(pred)
        v = np.nonzero(pred[k] >= 0)[0]
        lk = pred[k, v]
        np.testing.assert_allclose(dist[k, v], dist[k, net.link_from[lk]] + cost[lk], rtol=1e-12)


def test_first_thru_node_blocks_zones(ta) -> None:
    # 0 -> 1 -> 2 is short but node 1 is a zone (first_thru = 2); the path must use 0 -> 3 -> 2
    a = np.array([0, 1, 0, 3], np.int32)
    b = np.array([1, 2, 3, 2], np.int32)
    t0 = np.array([1.0, 1.0, 5.0, 5.0])
    net = ta.LinkNetwork(4, 2, 2, a, b, t0, np.ones(4), np.zeros(4), np.ones(4))
    dist, pred = ta.shortest_paths(net, t0, np.array([0], np.int32))
    assert dist[0, 1] == 1.0 and dist[0, 2] == 10.0 and pred[0, 2] == 3
    d_ref, _ = ref.dijkstra(4, 2, a, b, t0, 0)
    np.testing.assert_allclose(dist[0], d_ref)
    dist, _ = ta.shortest_paths(net, t0, np.array([1], np.int32))
    assert dist[0, 2] == 1.0 and dist[0, 0] >= UNREACHABLE


def test_all_or_nothing_matches_reference(ta) -> None:
    rng = np.random.default_rng(5)
    net = _random_network(ta, rng, zones=5)
    od = rng.uniform(0, 30, (5, 5))
    origins = np.arange(5, dtype=np.int32)
    _, pred = ta.shortest_paths(net, net.free_flow_time, origins)
    flow = ta.all_or_nothing(net, origins, np.where(np.eye(5, dtype=bool), 0, od), pred)
    np.testing.assert_allclose(flow, ref.all_or_nothing(net.link_from, od, origins, pred), rtol=1e-6)


def test_frank_wolfe_matches_reference(ta) -> None:
    rng = np.random.default_rng(7)
    net = _random_network(ta, rng, n=8, m=20, zones=4)
    od = rng.uniform(200, 400, (4, 4))
    np.fill_diagonal(od, 0.0)
    res = ta.assign(net, od, rgap=0.0, max_iter=5, method="fw")
    x_ref, gap_ref = ref.frank_wolfe(
        net.n_nodes,
        4,
        0,
        net.link_from,
        net.link_to,
        net.free_flow_time,
        net.capacity,
        net.alpha,
        net.beta,
        od,
        5,
    )
    np.testing.assert_allclose(res.flow, x_ref, rtol=1e-5, atol=1e-4)
    assert gap_ref > 1e-4 and res.gap_history[-1] == pytest.approx(gap_ref, rel=1e-3, abs=1e-7)


def test_warm_start_after_speed_change(ta, sioux_falls) -> None:
    net, od, _ = sioux_falls
    base = ta.assign(net, od, rgap=1e-5, max_iter=3000)
    t0 = net.free_flow_time.copy()
    t0[10] *= 1.6  # Tempo 30 on one link: the old flows stay feasible
    edited = ta.LinkNetwork(
        net.n_nodes,
        net.n_zones,
        net.first_thru_node,
        net.link_from,
        net.link_to,
        t0,
        net.capacity,
        net.alpha,
        net.beta,
    )
    cold = ta.assign(edited, od, rgap=1e-4, max_iter=3000)
    warm = ta.assign(edited, od, rgap=1e-4, max_iter=3000, warm_state=base.state)
    assert warm.iterations < cold.iterations
    assert warm.total_travel_time == pytest.approx(cold.total_travel_time, rel=1e-3)
    assert warm.flow[10] < base.flow[10]


def test_unreachable_pairs_are_reported(ta) -> None:
    # zone 2 has no links at all: its trips cannot be served, the others still are
    a = np.array([0, 1], np.int32)
    b = np.array([1, 0], np.int32)
    net = ta.LinkNetwork(3, 3, 0, a, b, np.ones(2), np.full(2, 10.0), np.full(2, 0.15), np.full(2, 4.0))
    od = np.array([[0, 5, 7], [3, 0, 0], [2, 0, 0]], float)
    res = ta.assign(net, od, rgap=1e-6)
    assert sorted(map(tuple, res.unreachable.tolist())) == [(0.0, 2.0, 7.0), (2.0, 0.0, 2.0)]
    np.testing.assert_allclose(res.flow, [5.0, 3.0])


def test_bad_network_and_demand_rejected(ta) -> None:
    with pytest.raises(ValueError, match="capacity"):
        ta.LinkNetwork(
            2,
            2,
            0,
            np.array([0], np.int32),
            np.array([1], np.int32),
            np.ones(1),
            np.array([-1.0]),
            np.zeros(1),
            np.ones(1),
        )
    net = ta.LinkNetwork(
        2,
        2,
        0,
        np.array([0], np.int32),
        np.array([1], np.int32),
        np.ones(1),
        np.ones(1),
        np.zeros(1),
        np.ones(1),
    )
    with pytest.raises(ValueError, match="od"):
        ta.assign(net, np.array([[0, -1.0], [0, 0]]))
