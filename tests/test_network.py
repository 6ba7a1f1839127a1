"""District roads -> directed assignment network, zones, and road interventions."""

from __future__ import annotations

import csv
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest
from traffic_district import small_district

from geodata.apply_roads import RoadEditError, apply_road_interventions
from geodata.interventions import decode_intervention


@pytest.fixture(scope="module")
def district():
    return small_district()


@pytest.fixture(scope="module")
def netmod(taichi_cpu):
    import models.traffic.network as mod  # taichi is imported at run time (warning filters)

    return mod


def test_capacity_table_has_sources(netmod) -> None:
    rows = list(
        csv.DictReader(resources.files("assets").joinpath("road_capacity.csv").read_text().splitlines())
    )
    assert all(r["source"].strip() for r in rows)
    t = netmod.road_class_table()
    assert t["primary"]["capacity_veh_h_per_lane"] > t["residential"]["capacity_veh_h_per_lane"] > 0


def test_links_zones_and_connectors(district, netmod) -> None:
    zones = netmod.define_zones(district)
    assert zones.external.sum() == 2  # both ends of the primary corridor
    assert (zones.building_zone >= 0).all() and zones.building_zone.max() < len(zones)
    net = netmod.build_network(district.roads, zones)
    n_edges = len(district.roads)
    n_con = 2 * zones.attach_nodes.size
    assert net.n_links == 2 * n_edges + n_con
    road = net.link_edge >= 0
    assert net.net.first_thru_node == len(zones) == net.net.n_zones
    # every road edge appears once per direction, capacity and free-flow time by class
    assert np.bincount(net.link_edge[road], minlength=n_edges).tolist() == [2] * n_edges
    prim = road & (net.road_class == "primary")
    assert np.allclose(net.capacity_veh_h[prim], 1100.0)  # 2 lanes, two-way: 1 lane per direction
    np.testing.assert_allclose(net.net.free_flow_time[road], net.length_m[road] / (net.speed_kmh[road] / 3.6))
    assert (
        net.storage_veh[road] == np.floor(net.length_m[road] * net.lanes[road] / netmod.JAM_SPACING_M)
    ).all()
    # connectors join zones to road nodes, never zone to zone
    con = ~road
    assert ((net.net.link_from[con] < len(zones)) ^ (net.net.link_to[con] < len(zones))).all()


def test_oneway_and_closure(district, netmod) -> None:
    zones = netmod.define_zones(district)
    roads = replace(
        district.roads, oneway=np.where(np.arange(len(district.roads)) == 3, -1, 0).astype(np.int8)
    )
    closed = np.zeros(len(roads), bool)
    closed[5] = True
    net = netmod.build_network(roads, zones, closed=closed)
    assert (net.link_edge == 5).sum() == 0
    one = np.nonzero(net.link_edge == 3)[0]
    assert one.size == 1 and net.link_dir[one[0]] == -1 and net.lanes[one[0]] == 2
    assert net.net.link_from[one[0]] == roads.edge_to[3] + len(zones)


def test_bad_road_data_clear_error(district, netmod) -> None:
    zones = netmod.define_zones(district)
    bad = replace(
        district.roads, length_m=np.where(np.arange(len(district.roads)) == 2, 0.0, district.roads.length_m)
    )
    with pytest.raises(netmod.NetworkError, match="road 2: length"):
        netmod.build_network(bad, zones)


def _iv(**kw):
    return decode_intervention(kw)


def test_road_interventions_edit_a_copy(district) -> None:
    roads = district.roads
    before = (roads.maxspeed_kmh.copy(), roads.lanes.copy(), roads.oneway.copy(), len(roads))
    edit = apply_road_interventions(
        roads,
        [
            _iv(kind="speed_limit", id="s", edge_index=4, maxspeed_kmh=30),
            _iv(kind="lane_change", id="l", edge_index=4, lanes=1),
            _iv(kind="oneway_change", id="o", edge_index=6, oneway=1),
            _iv(kind="road_closure", id="c", edge_index=7),
            _iv(kind="new_link", id="n", line_local_m=[(105.0, 98.0), (300.0, 300.0)], road_class="tertiary"),
            _iv(kind="tree", id="t", xy_local_m=(50.0, 50.0)),
        ],
        bbox_local_m=district.grid.bbox_local_m,
    )
    r = edit.roads
    assert r.maxspeed_kmh[4] == 30 and r.lanes[4] == 1 and r.oneway[6] == 1 and edit.closed[7]
    assert len(r) == len(roads) + 1 and edit.new_edges.tolist() == [len(roads)]
    assert r.edge_from[-1] == 0 and r.edge_to[-1] == 5  # snapped to the junctions (100,100), (300,300)
    assert r.length_m[-1] == pytest.approx(np.hypot(200, 200))
    # the District's own table is untouched
    assert (roads.maxspeed_kmh == before[0]).all() and (roads.lanes == before[1]).all()
    assert (roads.oneway == before[2]).all() and len(roads) == before[3]


@pytest.mark.parametrize(
    "iv, needle",
    [
        (dict(kind="road_closure", id="x", edge_index=999), "road 999 does not exist"),
        (dict(kind="new_link", id="x", line_local_m=[(100.0, 100.0), (400.0, 200.0)]), "more than 50 m"),
        (dict(kind="new_link", id="x", line_local_m=[(100.0, 100.0), (102.0, 101.0)]), "same junction"),
        (dict(kind="new_link", id="x", line_local_m=[(100.0, 100.0), (900.0, 300.0)]), "leaves the district"),
    ],
)
def test_bad_road_interventions(district, iv, needle) -> None:
    with pytest.raises(RoadEditError, match=needle):
        apply_road_interventions(district.roads, [_iv(**iv)], bbox_local_m=district.grid.bbox_local_m)


def test_double_closure_and_non_drivable(district) -> None:
    c = _iv(kind="road_closure", id="c", edge_index=3)
    with pytest.raises(RoadEditError, match="already closed"):
        apply_road_interventions(district.roads, [c, c])
    roads = replace(
        district.roads,
        road_class=np.where(np.arange(len(district.roads)) == 3, "footway", district.roads.road_class),
    )
    with pytest.raises(RoadEditError, match="does not carry motor traffic"):
        apply_road_interventions(roads, [c])


def test_zones_attach_to_the_main_network_only(district, netmod) -> None:
    r = district.roads
    # an isolated street next to the houses at (200, 200): closer to them than any junction of the grid
    xy = np.vstack([r.node_xy_local_m, [[190.0, 190.0], [210.0, 210.0]]])
    m = r.node_xy_local_m.shape[0]
    roads = replace(
        r,
        node_xy_local_m=xy,
        node_source_id=np.concatenate([r.node_source_id, [-1, -1]]),
        edge_from=np.append(r.edge_from, np.int32(m)),
        edge_to=np.append(r.edge_to, np.int32(m + 1)),
        length_m=np.append(r.length_m, 28.3),
        road_class=np.append(r.road_class, "residential"),
        lanes=np.append(r.lanes, np.int16(2)),
        maxspeed_kmh=np.append(r.maxspeed_kmh, np.float32(30)),
        oneway=np.append(r.oneway, np.int8(0)),
        name=np.append(r.name, ""),
        source_id=np.append(r.source_id, "test:isolated"),
        geometry=tuple(r.geometry) + (xy[[m, m + 1]],),
    )
    main = netmod.main_component_nodes(roads)
    assert not main[m] and not main[m + 1] and main[:m].all()
    zones = netmod.define_zones(replace(district, roads=roads))
    assert not np.isin(zones.attach_nodes, [m, m + 1]).any()
