"""Agents: the Taichi positions equal the slow reference; every agent is somewhere at every time;
no agent moves farther in a step than its mode allows; day counts are consistent."""

from __future__ import annotations

import numpy as np
import pytest
from access_world import grid_district

from geodata.interventions import decode_intervention
from models.people.access import AccessEngine
from sim_kernels.access_reference import positions_reference
from sim_kernels.agents import MODE, ancestors, positions, run_day


def _toy():
    # a path tree 4 -> 3 -> 2 -> 1 -> 0 (root) along x, 10 s per edge, and a branch 5 -> 2
    node_xy = np.array([[0, 0], [10, 0], [20, 0], [30, 0], [40, 0], [20, 15]], np.float32)
    parent = np.array([[-1, 0, 1, 2, 3, 2]], np.int32)
    g = np.array([[0, 10, 20, 30, 40, 35]], np.float32)
    net = {"node_xy": node_xy, "up": ancestors(parent), "time_to_root_s": g,
           "edge_to_parent": np.array([[-1, 0, 1, 2, 3, 4]], np.int32), "edge_mode": np.zeros(5, np.int32),
           "edge_link": np.arange(5, dtype=np.int32), "edge_stop": np.full(5, -1, np.int32)}
    trips = {"trip_tree": np.zeros(3, np.int32), "trip_start_node": np.array([4, 5, 3], np.int32),
             "trip_depart_s": np.array([100, 100, 500], np.float32), "trip_dwell_s": np.array([50, 0, 20], np.float32),
             "trip_scale": np.array([1.0, 2.0, 1.0], np.float32), "trip_mode": np.array([1, 2, 1], np.int32),
             "agent_first_trip": np.array([0, 1, 2, 3], np.int32), "agent_home_node": np.array([4, 5, 3], np.int32)}
    return net, trips, parent, g


def test_ancestor_table() -> None:
    _, _, parent, _ = _toy()
    up = ancestors(parent)
    assert up[0, 1, 4] == 2 and up[0, 2, 4] == 0 and up[0, 1, 1] == -1
    with pytest.raises(ValueError):
        ancestors(np.array([[1, 0]], np.int32))


def test_positions_equal_reference_at_many_times(taichi_cpu) -> None:
    net, trips, parent, g = _toy()
    for t in np.arange(0, 700, 3.7):
        got, _ = positions(net, trips, float(t))
        ref = positions_reference(net["node_xy"], parent, g, trips["trip_tree"], trips["trip_start_node"],
                                  trips["trip_depart_s"], trips["trip_dwell_s"], trips["agent_first_trip"],
                                  trips["agent_home_node"], float(t))
        # the reference has no scaled trips: compare agents 0 and 2
        np.testing.assert_allclose(got[[0, 2]], ref[[0, 2]], atol=1e-4)


def test_analytic_positions(taichi_cpu) -> None:
    net, trips, _, _ = _toy()
    xy, mode = positions(net, trips, 115.0)  # agent 0: 15 s out of 40 -> x = 40 - 15
    assert xy[0, 0] == pytest.approx(25.0) and mode[0] == MODE["walk"]
    xy, mode = positions(net, trips, 160.0)  # at the root during the dwell
    assert xy[0, 0] == pytest.approx(0.0) and mode[0] == MODE["stay"]
    xy, _ = positions(net, trips, 195.0)  # back: 5 s after leaving the root
    assert xy[0, 0] == pytest.approx(5.0)
    xy, mode = positions(net, trips, 130.0)  # agent 1 cycles at scale 2: 30 s of 70 -> 15 tree-s done
    assert xy[1] == pytest.approx([20.0, 0.0]) and mode[1] == MODE["bike"]


@pytest.fixture(scope="module")
def day(taichi_cpu):
    eng = AccessEngine(grid_district(n=8, n_stops=3, seed=5), seed=2)
    line = decode_intervention({"kind": "bus_line", "id": "L", "stops_local_m": [[60, 60], [400, 420], [740, 740]],
                                "headway_min": 10})
    res = eng.compute([line])
    return eng, res


def test_conservation_and_no_teleport(day) -> None:
    eng, res = day
    ag = res.agents
    assert len(ag) == len(eng.population)
    w, s, e, n = eng.district.grid.bbox_local_m
    tt = eng.travel_times(res.network, _services(eng), res.hour)
    graphs = [tt["graphs"][k] for k in ("walk", "car", "transit")]
    src, dst, cost = (np.concatenate([getattr(g, f) for g in graphs]) for f in ("src", "dst", "cost_s"))
    xy = ag.net["node_xy"]
    speed = np.hypot(*(xy[dst] - xy[src]).T) / cost
    nw, nc = graphs[0].src.size, graphs[1].src.size
    mode_e = ag.net["edge_mode"]
    vmax = np.zeros(6)
    vmax[MODE["walk"]] = speed[:nw].max()
    vmax[MODE["bike"]] = vmax[MODE["walk"]] * 4.2 / 1.25
    vmax[MODE["car"]] = speed[nw:nw + nc].max()
    vmax[MODE["ride"]] = speed[mode_e == MODE["ride"]].max()
    vmax[MODE["wait"]] = speed[mode_e == MODE["wait"]].max()
    fastest = vmax.max()
    dt = 30.0
    for t in np.arange(dt, 86400.0, dt * 13):
        a, m = ag.positions_at(float(t - dt)), ag.mode_at(float(t - dt))
        b, m2 = ag.positions_at(float(t)), ag.mode_at(float(t))
        assert np.isfinite(b).all() and b.shape == (len(ag), 2)
        assert ((b[:, 0] >= w) & (b[:, 0] <= e) & (b[:, 1] >= s) & (b[:, 1] <= n)).all()
        step = np.hypot(*(b - a).T)
        # one mode over the whole step: that mode's speed bounds it; across a change the fastest one
        one_mode = (m == m2) & (m > 0)
        lim = np.where(one_mode, vmax[m], fastest) * dt + 1e-2
        assert (step <= lim).all()


def _services(eng):
    from geodata.apply_transit import apply_transit

    return apply_transit(eng.district, eng.base_network, [])[1]


def test_day_counts_and_heat_on_foot(day) -> None:
    eng, res = day
    ag = res.agents
    out = ag.run_day(dt_s=60.0)
    # agent-seconds on links equal the time agents spend moving on streets (walk, bike, car)
    moving = 0.0
    for t in np.arange(0, 86400, 60.0):
        m = ag.mode_at(float(t))
        moving += float(np.isin(m, [MODE["walk"], MODE["bike"], MODE["car"]]).sum()) * 60.0
    assert out["link_s"].sum() == pytest.approx(moving, rel=0.02)
    assert out["foot_s"].sum() > 0
    hot = ag.heat_kpis(eng.district.grid, np.full(eng.district.grid.shape, 40.0, np.float32), eng.population)
    cold = ag.heat_kpis(eng.district.grid, np.full(eng.district.grid.shape, 20.0, np.float32), eng.population)
    assert hot["heat_on_foot_c_h_mean"] == pytest.approx(8.0 * hot["time_on_foot_min_mean"] / 60.0, rel=0.02)
    assert cold["heat_on_foot_c_h_mean"] == 0.0


def test_run_day_kernel_counts_waiting(taichi_cpu) -> None:
    net, trips, _, _ = _toy()
    net = dict(net)
    net["edge_mode"] = np.array([0, 0, MODE["wait"], 0, 0], np.int32)
    net["edge_stop"] = np.array([-1, -1, 0, -1, -1], np.int32)
    out = run_day(net, trips, t_start_s=0.0, dt_s=1.0, n_steps=800, n_links=5, n_stops=1)
    # agent 0 crosses edge 2 (node 3 -> 2) out and back: 10 s each way; agent 2 starts at node 3: same
    assert out["stop_wait_s"][0] == pytest.approx(40.0, abs=4.0)


def test_car_legs_for_traffic_models(day) -> None:
    eng, res = day
    legs = res.agents.car_trips()
    n_car = int((res.agents.trips["trip_mode"] == MODE["car"]).sum())
    assert legs["origin_node"].size == 2 * n_car
    assert (legs["origin_node"] != legs["destination_node"]).any()
    # every destination is a root of its tree: the car network reaches a facility there
    up = res.agents.net["up"]
    trees = np.concatenate([res.agents.trips["trip_tree"][res.agents.trips["trip_mode"] == MODE["car"]]] * 2)
    assert (up[trees[:n_car], 0, legs["destination_node"][:n_car]] == -1).all()
    assert (legs["depart_s"][n_car:] > legs["depart_s"][:n_car]).all()


def test_heat_on_a_coarser_grid(day) -> None:
    eng, res = day
    coarse = np.full((5, 5), 40.0, np.float32)
    fine = np.full(eng.district.grid.shape, 40.0, np.float32)
    a = res.agents.heat_kpis(eng.district.grid, coarse, eng.population)
    b = res.agents.heat_kpis(eng.district.grid, fine, eng.population)
    assert a["heat_on_foot_c_h_mean"] == pytest.approx(b["heat_on_foot_c_h_mean"], rel=1e-5)


def test_logit_mode_choice_matches_hand_computation() -> None:
    from models.people.activities import choose_modes, mode_params

    par = mode_params()
    t = np.array([[10.0, 5.0, 4.0, 12.0], [10.0, 5.0, 4.0, np.inf], [np.inf] * 4])
    choice, prob = choose_modes(t, np.array([True, False, True]), np.random.default_rng(0))
    km = 4.0 * par["car_speed_km_per_min"]
    v = [par["asc"][m] + par["beta_time_per_min"][m] * t[0, j] for j, m in enumerate(("walk", "bike", "car", "transit"))]
    v[2] += par["beta_cost_per_eur"] * par["cost_eur_per_km"]["car"] * km
    v[3] += par["beta_cost_per_eur"] * par["transit_fare_eur"]
    expect = np.exp(v) / np.exp(v).sum()
    np.testing.assert_allclose(prob[0], expect, rtol=1e-12)
    assert prob[1, 2] == 0.0 and prob[1, 3] == 0.0 and prob[1].sum() == pytest.approx(1.0)  # no car, no transit path
    assert choice[2] == -1 and choice[1] in (0, 1)
    # sampled shares follow the probabilities
    many = np.repeat(t[:1], 20_000, axis=0)
    c, _ = choose_modes(many, np.ones(20_000, bool), np.random.default_rng(1))
    np.testing.assert_allclose(np.bincount(c, minlength=4) / 20_000, expect, atol=0.015)


def test_activity_chains_follow_the_table() -> None:
    from models.people.activities import activity_chains, activity_table
    from models.people.population import synthesise_population

    pop = synthesise_population(grid_district(n=10, residents_per_building=8), np.random.default_rng(0))
    ch = activity_chains(pop, np.random.default_rng(1))
    acts = {a["category"]: a for a in activity_table()["activities"]}
    age = pop.age_y[ch["person"]]
    for cat, a in acts.items():
        sel = ch["category"] == cat
        assert ((age[sel] >= a["age"][0]) & (age[sel] < a["age"][1])).all()
        dep_h = ch["depart_s"][sel] / 3600
        assert ((dep_h >= a["depart_h"][0]) & (dep_h <= a["depart_h"][1])).all()
    assert not (ch["category"][age < 18] == "work").any()
    # one tour of a kind per person, sorted by person then departure
    assert (np.diff(ch["person"]) >= 0).all()


def test_waiting_per_transit_tour_is_half_the_headway_each_way(taichi_cpu) -> None:
    from test_access import _corridor_district

    d, xy = _corridor_district()
    eng = AccessEngine(d, seed=2)  # this seed sends one person by bus
    line = decode_intervention({"kind": "bus_line", "id": "L", "stops_local_m": [xy[0].tolist(), xy[-1].tolist()],
                                "headway_min": 10})
    res = eng.compute([line])
    k = res.agents.heat_kpis(d.grid, np.full((4, 4), 20.0, np.float32), eng.population)
    assert res.agents.mode_shares["transit"] > 0
    # the stop lies on the street node: boarding costs exactly headway / 2 = 5 min, out and back
    assert k["wait_min_per_transit_tour"] == pytest.approx(10.0, abs=2.0)
