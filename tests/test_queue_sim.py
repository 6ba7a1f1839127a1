"""The queue-based dynamic simulation: reference equality, conservation, free flow, an analytic bottleneck."""

from __future__ import annotations

import numpy as np
import pytest

from sim_kernels import traffic_reference as ref


@pytest.fixture(scope="module")
def qs(taichi_cpu):
    import sim_kernels.queue_sim as mod  # imported at run time (see tests/test_assignment.py)

    return mod


def _csr(routes):
    off = np.concatenate([[0], np.cumsum([len(r) for r in routes])]).astype(np.int32)
    return off, np.concatenate(routes).astype(np.int32)


def _random_routes(rng, n_links, k, max_len=5):
    routes = []
    for _ in range(k):
        n = int(rng.integers(1, max_len + 1))
        routes.append(rng.choice(n_links, size=n, replace=False))
    return routes


@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_equals_reference_with_spillback(qs, seed) -> None:
    rng = np.random.default_rng(seed)
    n_links, k = 7, 120
    fft = rng.uniform(3.0, 20.0, n_links)
    cap = rng.uniform(0.2, 1.5, n_links)
    storage = rng.integers(2, 8, n_links)
    routes = _random_routes(rng, n_links, k)
    dep = np.sort(rng.uniform(0, 120, k))
    off, rl = _csr(routes)
    res = qs.simulate(fft, cap, storage, off, rl, dep, dt_s=1.0, horizon_s=900.0, stuck_s=60.0)
    enter, exit_ = ref.queue_sim(fft, cap, storage, routes, dep, 1.0, res.stats.shape[0], stuck_s=60.0)
    np.testing.assert_array_equal(np.isnan(res.enter_s), np.isnan(enter))
    np.testing.assert_allclose(res.enter_s, enter, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.exit_s, exit_, rtol=0, atol=1e-9)
    # congestion happened: some trips took longer than free flow
    ff = np.add.reduceat(fft[rl], off[:-1])
    assert (res.travel_time_s > ff + 5).any()


def test_conservation_and_no_nan(qs) -> None:
    rng = np.random.default_rng(3)
    n_links, k = 10, 400
    fft = rng.uniform(5.0, 30.0, n_links)
    cap = rng.uniform(0.1, 1.0, n_links)
    storage = rng.integers(3, 12, n_links)
    off, rl = _csr(_random_routes(rng, n_links, k))
    dep = rng.uniform(0, 300, k)
    res = qs.simulate(fft, cap, storage, off, rl, dep, dt_s=1.0, horizon_s=20000.0, stuck_s=120.0)
    st = res.stats
    assert (st >= 0).all()
    np.testing.assert_array_equal(st[:, 1] + st[:, 2] + st[:, 3], k)  # arrived + on links + waiting
    np.testing.assert_array_equal(st[:, 2], st[:, 0] - st[:, 1])
    assert st[-1, 1] == k
    assert np.isfinite(res.exit_s).all() and np.isfinite(res.enter_s).all()
    assert (res.enter_s >= res.depart_s - 1e-9).all()
    ent = res.link_entry_s()
    assert (res.exit_s - ent >= fft[rl] - 1e-9).all()  # never faster than free flow


def test_free_flow_times_on_empty_network(qs) -> None:
    length_m = np.array([120.0, 333.0, 57.5, 980.0])
    speed_ms = np.array([50, 30, 30, 70]) / 3.6
    fft = length_m / speed_ms
    routes = [np.array([0, 1, 2, 3]), np.array([2, 3]), np.array([1])]
    off, rl = _csr(routes)
    dep = np.array([0.3, 100.7, 250.0])  # far apart: nobody meets anybody
    res = qs.simulate(fft, np.full(4, 0.5), np.full(4, 50), off, rl, dep, horizon_s=1000.0)
    expect = np.array([fft.sum(), fft[2] + fft[3], fft[1]])
    np.testing.assert_allclose(res.travel_time_s, expect, rtol=0, atol=1e-9)


def test_bottleneck_queue_matches_analytic(qs) -> None:
    # 1 veh/s arrive for 600 s; link B discharges 0.5 veh/s: the queue on B grows at 0.5 veh/s
    n = 600
    fft = np.array([60.0, 30.0])
    cap = np.array([2.0, 0.5])
    off, rl = _csr([np.array([0, 1])] * n)
    dep = np.arange(n, dtype=float)
    res = qs.simulate(fft, cap, np.array([10_000, 10_000]), off, rl, dep, horizon_s=3000.0)
    t0 = 60.0 + 30.0  # first arrival at the end of B
    arr = np.sort(res.arrival_s)
    # discharge at capacity: the k-th vehicle leaves about 2 k s after the first
    np.testing.assert_allclose(arr - arr[0], 2.0 * np.arange(n), atol=1.0)
    assert arr[0] == pytest.approx(t0)
    for t in (t0 + 100.0, t0 + 400.0):
        ent = res.link_entry_s()[1::2]
        ready = ent + fft[1]
        queued = np.sum((ready <= t) & (res.arrival_s > t))
        assert queued == pytest.approx(0.5 * (t - t0), abs=2.0)


def test_spillback_respects_storage(qs) -> None:
    n = 300
    fft = np.array([60.0, 30.0])
    off, rl = _csr([np.array([0, 1])] * n)
    dep = np.arange(n, dtype=float)
    res = qs.simulate(
        fft, np.array([2.0, 0.5]), np.array([10_000, 20]), off, rl, dep, horizon_s=3000.0, stuck_s=1e9
    )
    ent_b = res.link_entry_s()[1::2]
    times = np.arange(0, 1000, 5.0)
    occ_b = [(np.sum((ent_b <= t) & (res.arrival_s > t))) for t in times]
    assert max(occ_b) == 20  # full, never over (20 >= 30 s x 0.5 veh/s keeps the bottleneck busy)
    # the queue spilled back: vehicles wait on A beyond their free-flow time
    time_on_a = res.exit_s[0::2] - res.enter_s
    assert time_on_a.max() > fft[0] + 100
    np.testing.assert_allclose(
        np.sort(res.arrival_s)[-1] - np.sort(res.arrival_s)[0], 2.0 * (n - 1), atol=1.0
    )


def test_positions_for_animation(qs) -> None:
    fft = np.array([10.0, 20.0])
    off, rl = _csr([np.array([0, 1])])
    res = qs.simulate(fft, np.ones(2), np.full(2, 5), off, rl, np.array([0.0]), horizon_s=100.0)
    veh, links, frac = qs.vehicles_on_links_at(res, fft, 5.0)
    assert veh.tolist() == [0] and links.tolist() == [0] and frac[0] == pytest.approx(0.5)
    veh, links, frac = qs.vehicles_on_links_at(res, fft, 20.0)
    assert links.tolist() == [1] and frac[0] == pytest.approx(0.5)
    assert qs.vehicles_on_links_at(res, fft, 31.0)[0].size == 0


def test_bad_input_rejected(qs) -> None:
    off, rl = _csr([np.array([0, 0])])
    with pytest.raises(ValueError, match="twice"):
        qs.simulate(np.ones(1), np.ones(1), np.ones(1), off, rl, np.zeros(1), horizon_s=10.0)
    off, rl = _csr([np.array([0])])
    with pytest.raises(ValueError, match="positive"):
        qs.simulate(np.ones(1), np.array([-1.0]), np.ones(1), off, rl, np.zeros(1), horizon_s=10.0)


def test_random_networks_match_reference_and_conserve(qs) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(seed=st.integers(0, 10_000), n_links=st.integers(1, 6), k=st.integers(1, 40))
    def check(seed: int, n_links: int, k: int) -> None:
        rng = np.random.default_rng(seed)
        fft = rng.uniform(1.0, 15.0, n_links)
        cap = rng.uniform(0.1, 2.0, n_links)
        storage = rng.integers(1, 6, n_links)
        routes = _random_routes(rng, n_links, k, max_len=n_links)
        dep = rng.uniform(0, 60, k)
        off, rl = _csr(routes)
        res = qs.simulate(fft, cap, storage, off, rl, dep, horizon_s=5000.0, stuck_s=30.0)
        st_ = res.stats
        assert (st_ >= 0).all()
        assert (st_[:, 1] + st_[:, 2] + st_[:, 3] == k).all()
        assert st_[-1, 1] == k and np.isfinite(res.exit_s).all()
        assert (res.travel_time_s >= np.add.reduceat(fft[rl], off[:-1]) - 1e-9).all()
        enter, exit_ = ref.queue_sim(fft, cap, storage, routes, dep, 1.0, st_.shape[0], stuck_s=30.0)
        np.testing.assert_allclose(res.exit_s, exit_, rtol=0, atol=1e-9)
        np.testing.assert_allclose(res.enter_s, enter, rtol=0, atol=1e-9)

    check()


@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_equals_reference_with_junctions(qs, seed) -> None:
    rng = np.random.default_rng(10 + seed)
    n_links, k = 8, 150
    fft = rng.uniform(3.0, 20.0, n_links)
    cap = rng.uniform(0.2, 1.5, n_links)
    storage = rng.integers(2, 8, n_links)
    link_node = rng.integers(-1, 3, n_links)
    node_cap = rng.uniform(0.3, 1.2, 3)
    routes = _random_routes(rng, n_links, k)
    dep = np.sort(rng.uniform(0, 120, k))
    off, rl = _csr(routes)
    turns = np.where(rng.random(rl.size) < 0.4, rng.uniform(0.5, 4.0, rl.size), 0.0) if seed else None
    kw = dict(link_node=link_node, node_capacity_veh_s=node_cap, turn_delay_s=turns)
    res = qs.simulate(fft, cap, storage, off, rl, dep, dt_s=1.0, horizon_s=1500.0, stuck_s=60.0, **kw)
    enter, exit_ = ref.queue_sim(
        fft, cap, storage, routes, dep, 1.0, res.stats.shape[0], stuck_s=60.0, node_cap_veh_s=node_cap,
        link_node=link_node, turn_delay_s=turns,
    )  # fmt: skip
    np.testing.assert_allclose(res.enter_s, enter, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.exit_s, exit_, rtol=0, atol=1e-9)
    st = res.stats
    assert st[-1, 1] == k and (st[:, 1] + st[:, 2] + st[:, 3] == k).all()
    plain = qs.simulate(fft, cap, storage, off, rl, dep, dt_s=1.0, horizon_s=1500.0, stuck_s=60.0)
    assert res.travel_time_s.mean() > plain.travel_time_s.mean()  # the junctions added delay


def test_single_vehicle_not_delayed_by_junctions(qs) -> None:
    fft = np.array([12.0, 33.3, 7.25])
    off, rl = _csr([np.array([0, 1, 2])])
    res = qs.simulate(
        fft, np.full(3, 0.5), np.full(3, 50), off, rl, np.array([0.4]), horizon_s=200.0,
        link_node=np.array([0, 1, -1]), node_capacity_veh_s=np.array([0.5, 0.6]),
    )  # fmt: skip
    assert res.travel_time_s[0] == pytest.approx(fft.sum(), abs=1e-9)


def test_merge_at_junction_matches_analytic(qs) -> None:
    # links A (0) and B (1), 1 veh/s each, merge at a junction of 1 veh/s into C (2): each approach gets
    # half the junction, so each queue grows at 1 - 0.5 = 0.5 veh/s and C discharges 1 veh/s in total
    n = 400
    fft = np.array([20.0, 20.0, 10.0])
    cap = np.array([1.0, 1.0, 5.0])
    routes = [np.array([0, 2])] * n + [np.array([1, 2])] * n
    off, rl = _csr(routes)
    dep = np.concatenate([np.arange(n), np.arange(n)]).astype(float)
    res = qs.simulate(
        fft, cap, np.full(3, 100_000), off, rl, dep, horizon_s=3000.0,
        link_node=np.array([0, 0, -1]), node_capacity_veh_s=np.array([1.0]),
    )  # fmt: skip
    t0 = 20.0  # first vehicles due at the junction
    leave = res.exit_s[0::2]  # leaving A or B through the junction
    ready = res.enter_s + 20.0
    for t in (t0 + 100.0, t0 + 300.0):
        for lo, hi in ((0, n), (n, 2 * n)):
            queued = np.sum((ready[lo:hi] <= t) & (leave[lo:hi] > t))
            assert queued == pytest.approx(0.5 * (t - t0), abs=2.0)
    through = np.sort(leave)
    np.testing.assert_allclose(through - through[0], np.arange(2 * n), atol=2.5)  # pairs every 2 s
    # without the junction both approaches discharge freely: no queue at all
    free = qs.simulate(fft, cap, np.full(3, 100_000), off, rl, dep, horizon_s=3000.0)
    np.testing.assert_allclose(free.travel_time_s, 30.0, atol=1.0)


def test_bad_junction_input_rejected(qs) -> None:
    off, rl = _csr([np.array([0])])
    args = (np.ones(1), np.ones(1), np.ones(1), off, rl, np.zeros(1))
    with pytest.raises(ValueError, match="together"):
        qs.simulate(*args, horizon_s=10.0, link_node=np.zeros(1))
    with pytest.raises(ValueError, match="junction index"):
        qs.simulate(*args, horizon_s=10.0, link_node=np.array([3]), node_capacity_veh_s=np.ones(1))
    with pytest.raises(ValueError, match="positive"):
        qs.simulate(*args, horizon_s=10.0, link_node=np.array([0]), node_capacity_veh_s=np.zeros(1))


def test_random_arrival_wait_below_capacity(qs) -> None:
    # steady 0.25 veh/s through a junction of 1 veh/s: once the smoothed throughput has settled, every
    # vehicle waits q / (C (C - q)) = 0.25 / 0.75 = 1/3 s on top of its free-flow time on A
    n = 600
    fft = np.array([10.0, 10.0])
    off, rl = _csr([np.array([0, 1])] * n)
    dep = 4.0 * np.arange(n)
    res = qs.simulate(
        fft, np.array([1.0, 1.0]), np.full(2, 1000), off, rl, dep, horizon_s=3000.0,
        link_node=np.array([0, -1]), node_capacity_veh_s=np.array([1.0]), tau_s=60.0,
    )  # fmt: skip
    time_on_a = res.exit_s[0::2] - res.enter_s
    assert time_on_a[0] == pytest.approx(10.0, abs=1e-9)  # nobody before it: no wait
    np.testing.assert_allclose(time_on_a[300:], 10.0 + 1.0 / 3.0, atol=0.05)
    assert np.diff(time_on_a[:100]).min() >= -0.05  # the wait grows as the throughput builds up


def test_turn_delays_add_exactly_on_an_empty_network(qs) -> None:
    fft = np.array([12.0, 33.3, 7.25])
    off, rl = _csr([np.array([0, 1, 2])])
    turns = np.array([2.5, 0.0, 1.25])
    res = qs.simulate(
        fft, np.full(3, 0.5), np.full(3, 50), off, rl, np.array([0.4]), horizon_s=200.0,
        link_node=np.array([0, 1, -1]), node_capacity_veh_s=np.array([0.5, 0.6]), turn_delay_s=turns,
    )  # fmt: skip
    assert res.travel_time_s[0] == pytest.approx(fft.sum() + turns.sum(), abs=1e-9)
    np.testing.assert_allclose(res.exit_s - res.link_entry_s(), fft + turns, atol=1e-9)
    with pytest.raises(ValueError, match="turn_delay_s"):
        qs.simulate(fft, np.ones(3), np.full(3, 5), off, rl, np.zeros(1), horizon_s=9.0, turn_delay_s=-turns)
