"""The traffic engine on a small synthetic District: results, edits, disconnection, vehicles, effects."""

from __future__ import annotations

import numpy as np
import pytest
from traffic_district import small_district

from geodata.apply_roads import RoadEditError
from geodata.interventions import decode_intervention


@pytest.fixture(scope="module")
def district():
    return small_district()


@pytest.fixture(scope="module")
def engine(taichi_cpu, district):
    from models.traffic.engine import TrafficEngine  # taichi is imported at run time (warning filters)

    return TrafficEngine(district, seed=0, rgap=1e-6)


@pytest.fixture(scope="module")
def base(engine):
    return engine.compute([])


def _iv(**kw):
    return decode_intervention(kw)


def test_base_results_shapes_and_kpis(district, base) -> None:
    n = len(district.roads)
    for arr in (base.edge_flow_veh_h, base.edge_vc, base.edge_speed_kmh, base.edge_delay_s):
        assert arr.shape == (n,) and arr.dtype == np.float32 and np.isfinite(arr).all() and (arr >= 0).all()
    assert base.kpis["relative_gap"] <= 1e-6 and base.kpis["unserved_trips"] == 0 and base.unserved == []
    vkm = float((base.edge_flow_veh_h.astype(float) * district.roads.length_m).sum() / 1000)
    assert base.kpis["vehicle_km"] == pytest.approx(vkm, rel=1e-5)
    for key in ("vehicle_hours", "mean_travel_time_min", "co2_t", "nox_kg", "iterations"):
        assert base.kpis[key] > 0
    # the primary corridor carries the through traffic: most loaded edges are primary
    top = np.argsort(base.edge_flow_veh_h)[-3:]
    assert all(district.roads.road_class[i] == "primary" for i in top)
    assert (base.edge_speed_kmh <= district.roads.maxspeed_kmh + 1e-3).all()


def test_closure_moves_traffic_and_changes_nothing_else(district, engine, base) -> None:
    before = district.roads.maxspeed_kmh.copy()
    res = engine.compute([_iv(kind="road_closure", id="c", edge_index=4)], dynamic=False)
    assert res.edge_flow_veh_h[4] == 0 and res.edge_closed[4]
    assert res.edge_flow_veh_h[[1, 7]].sum() > base.edge_flow_veh_h[[1, 7]].sum()  # parallel rows take it
    assert res.kpis["vehicle_hours"] > base.kpis["vehicle_hours"]
    assert (district.roads.maxspeed_kmh == before).all()


def test_tempo_30_warm_start(engine, base) -> None:
    engine.compute([], dynamic=False)
    res = engine.compute([_iv(kind="speed_limit", id="s", edge_index=4, maxspeed_kmh=30)], dynamic=False)
    assert res.edge_flow_veh_h[4] < base.edge_flow_veh_h[4]
    assert res.kpis["relative_gap"] <= 1e-6


def test_disconnected_zone_reports_unserved_trips(engine, base) -> None:
    res = engine.compute(
        [_iv(kind="road_closure", id="c", edge_index=24)], dynamic=False
    )  # the western access road
    west = int(np.nonzero(engine.zones.external)[0][0])
    assert res.unserved and all(west in (o, d) for o, d, _ in res.unserved)
    assert res.kpis["unserved_trips"] == pytest.approx(sum(q for *_, q in res.unserved))
    assert res.kpis["unserved_trips"] > 0 and res.kpis["relative_gap"] <= 1e-6


def test_bad_edit_raises_and_keeps_state(engine, base) -> None:
    engine.compute([], dynamic=False)
    with pytest.raises(RoadEditError, match="does not exist"):
        engine.compute([_iv(kind="road_closure", id="x", edge_index=999)])
    again = engine.compute([], dynamic=False)
    np.testing.assert_allclose(again.edge_flow_veh_h, base.edge_flow_veh_h, rtol=1e-3, atol=0.5)


def test_vehicles_move_on_the_roads(district, base) -> None:
    veh = base.vehicles
    assert veh is not None and veh.count > 100
    assert base.kpis["vehicles_arrived_share"] == 1.0
    st = veh.sim.stats
    np.testing.assert_array_equal(st[:, 1] + st[:, 2] + st[:, 3], veh.count)
    xy, heading = veh.positions_at(1800.0)
    assert xy.shape[0] == heading.shape[0] == veh.ids_at(1800.0).size > 0
    assert xy.dtype == np.float32 and np.isfinite(xy).all()
    # every vehicle on a road lies on a road axis (grid streets: x or y on the 200 m lattice) or a connector
    on_axis = (np.abs((xy[:, 0] - 100) % 200) < 1e-3) | (np.abs((xy[:, 1] - 100) % 200) < 1e-3)
    assert on_axis.mean() > 0.5
    assert base.kpis["dynamic_mean_travel_time_min"] == pytest.approx(
        base.kpis["mean_travel_time_min"], rel=0.5
    )
    # link speeds of the simulation: never above the limit, delays never negative
    used = np.isfinite(base.edge_dynamic_speed_kmh)
    assert used.sum() > 10
    assert (base.edge_dynamic_speed_kmh[used] <= district.roads.maxspeed_kmh[used] + 1e-3).all()
    assert (base.edge_dynamic_delay_s[used] >= -1e-6).all()


def test_heat_raster_conserves_energy_and_follows_flow(district, base, engine) -> None:
    grid = district.grid
    heat = base.anthropogenic_heat_w_m2(grid)
    assert heat.shape == grid.shape and heat.dtype == np.float32 and (heat >= 0).all()
    assert float(heat.sum()) * grid.cell_m**2 == pytest.approx(base.kpis["heat_mw"] * 1e6, rel=0.02)
    r, c = grid.xy_to_rowcol(np.array([400.0, 400.0]), np.array([300.0, 700.0]))
    assert heat[r[0], c[0]] > heat[r[1], c[1]]  # the primary corridor is warmer than a quiet street
    night = base.anthropogenic_heat_w_m2(grid, hour=3)
    assert night.sum() < 0.05 * heat.sum()
    closed = engine.compute(
        [_iv(kind="road_closure", id="c", edge_index=4)], dynamic=False
    ).anthropogenic_heat_w_m2(grid)
    assert closed[r[0], c[0]] == 0.0


def test_noise_and_emission_factors(taichi_cpu) -> None:
    from models.traffic.effects import emission_table, link_emissions, noise_level_db

    # RLS-90: 1,000 veh/h at 50 km/h with 10 % heavy vehicles gives L_m,E of about 65.8 dB(A)
    lme = noise_level_db(
        np.array([1000.0, 2000.0, 0.0]), np.array([50.0, 50.0, 50.0]), np.array([10.0, 10.0, 10.0])
    )
    assert lme[0] == pytest.approx(65.76, abs=0.05)
    assert lme[1] - lme[0] == pytest.approx(10 * np.log10(2), abs=1e-9) and np.isnan(lme[2])
    co2, nox = link_emissions(np.array([100.0]), np.array([1000.0]), np.array([50.0]), np.array([0.0]))
    assert co2[0] == pytest.approx(100 * emission_table()["urban_50"]["co2_g_km"])
    co2_sg, _ = link_emissions(np.array([100.0]), np.array([1000.0]), np.array([50.0]), np.array([1.0]))
    assert co2_sg[0] > co2[0]


def test_new_link_results_follow_the_district_edges(district, engine) -> None:
    iv = _iv(
        kind="new_link",
        id="n",
        line_local_m=[(100.0, 100.0), (300.0, 300.0)],
        road_class="tertiary",
        maxspeed_kmh=50,
    )
    res = engine.compute([iv], dynamic=False)
    n = len(district.roads)
    assert res.edge_flow_veh_h.shape == (n,)
    assert res.edited_edges["flow_veh_h"].shape == (n + 1,)
    assert res.edited_edges["flow_veh_h"][n] > 0  # the diagonal short cut is used


def test_junctions_of_the_network(district, base) -> None:
    from models.traffic.network import junction_capacity_table

    net = base.network
    z = net.net.n_zones
    road = net.link_edge >= 0
    assert (net.link_node[~road] == -1).all()  # connectors never queue at a junction
    assert net.node_capacity_veh_h.size > 0 and (net.node_capacity_veh_h > 0).all()
    assert net.link_node.max() == net.node_capacity_veh_h.size - 1
    caps = {c for _, c, _ in junction_capacity_table().values()}
    assert set(net.node_capacity_veh_h.tolist()) <= caps
    # a junction is a road node with three or more neighbouring road nodes
    to = net.net.link_to[road]
    frm = net.net.link_from[road]
    for lk in np.nonzero(road)[0]:
        v = int(net.net.link_to[lk])
        nb = set(frm[to == v].tolist()) | set(to[frm == v].tolist())
        assert (net.link_node[lk] >= 0) == (len(nb) >= 3 and v >= z)
    # links into the same junction share its index
    for j in range(net.node_capacity_veh_h.size):
        assert np.unique(net.net.link_to[net.link_node == j]).size == 1
    assert base.kpis["vehicles_arrived_share"] == 1.0


def test_turn_delays_only_where_routes_turn() -> None:
    from models.traffic.network import turn_delays_s

    # nodes: 0 (0,0), 1 (100,0), 2 (200,0), 3 (100,100); links 0: 0->1, 1: 1->2 (straight), 2: 1->3 (left)
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0], [100.0, 100.0]])
    frm, to = np.array([0, 1, 1]), np.array([1, 2, 3])
    off, links = np.array([0, 2, 4, 5]), np.array([0, 1, 0, 2, 2])
    out = turn_delays_s(xy, frm, to, off, links, np.array([2.5, 9.0, 7.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 2.5, 0.0, 0.0])  # straight, last, left turn, last, last
