"""OSM reader: tag rules on a hand-made town, and the real Hoyerswerda and Bautzen extracts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import osmium
import pytest
from conftest import shared_data
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geodata.district import SURFACE
from geodata.heights import estimate_height, parse_length_m, parse_levels
from geodata.osm import read_osm
from geodata.roadgraph import parse_lanes, parse_maxspeed, parse_oneway, parse_turn_lanes

FIX = Path(__file__).parent / "fixtures"

# Written out here on purpose (not imported from the reader): the highway values that make the graph.
ROAD_VALUES = {
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
    "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "service", "road", "pedestrian",
    "footway", "cycleway", "path", "track", "steps", "bridleway", "busway", "bus_guideway",
}
DRIVABLE_VALUES = {
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
    "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "service", "road",
}


def test_maxspeed_oneway_lanes_rules() -> None:
    assert parse_maxspeed("50") == 50.0
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("DE:urban") == 50.0
    assert parse_maxspeed("DE:rural") == 100.0
    assert parse_maxspeed("DE:living_street") == 7.0
    assert parse_maxspeed("DE:zone30") == 30.0 and parse_maxspeed("DE:zone:30") == 30.0
    assert parse_maxspeed("walk") == 7.0
    assert parse_maxspeed("signals") is None and parse_maxspeed(None) is None and parse_maxspeed("nan") is None
    assert parse_maxspeed("30;50") == 30.0
    assert parse_oneway({"oneway": "yes"}, "residential") == 1
    assert parse_oneway({"oneway": "-1"}, "residential") == -1
    assert parse_oneway({"junction": "roundabout"}, "tertiary") == 1
    assert parse_oneway({}, "motorway") == 1 and parse_oneway({}, "primary") == 0
    assert parse_lanes({"lanes": "4"}, 0) == 4
    assert parse_lanes({"lanes:forward": "2", "lanes:backward": "1"}, 0) == 3
    assert parse_lanes({}, 1) == 1 and parse_lanes({}, 0) == 2
    assert parse_turn_lanes("left|through;right|") == (("left",), ("through", "right"), ("none",))


def test_height_rules() -> None:
    assert parse_length_m("12,5") == 12.5 and parse_length_m("40 ft") == pytest.approx(12.192)
    assert parse_length_m("nan") is None and parse_length_m("-3") is None and parse_length_m("inf") is None
    assert parse_levels("4;5") == 5.0 and parse_levels("x") is None
    h = estimate_height({"building": "yes", "height": "20"})
    assert (h.height_m, h.height_source) == (20.0, "height")
    h = estimate_height({"building": "apartments", "building:levels": "5"})
    assert h.height_source == "levels" and h.height_m == pytest.approx(14.0) and h.storeys == 5
    h = estimate_height({"building": "house", "building:levels": "2", "roof:levels": "1", "roof:shape": "gabled"})
    assert h.eave_height_m == pytest.approx(6.0) and h.height_m == pytest.approx(9.0)
    h = estimate_height({"building": "garage"})
    assert h.height_source == "default" and h.use == "garage" and h.height_m == pytest.approx(2.8)
    h = estimate_height({"building": "yes", "height": "nan", "building:levels": "3"})
    assert h.height_source == "levels"


def test_tiny_town_reads_every_rule() -> None:
    x = read_osm(FIX / "tiny_town.osm")
    f = x.features
    assert f.frame.epsg == 25832
    b = f.buildings
    by_src = {s: i for i, s in enumerate(b.source_id)}
    i = by_src["osm:way/200"]
    assert b.height_m[i] == pytest.approx(16.5) and b.height_source[i] == "height"
    i = by_src["osm:way/201"]
    assert (b.eave_height_m[i], b.height_m[i], b.roof_shape[i]) == (6.0, 10.0, "gabled")
    i = by_src["osm:way/202"]
    assert b.height_source[i] == "default" and b.use[i] == "garage"
    assert b.use[by_src["osm:way/203"]] == "public"
    assert all(p.is_valid and p.area > 0 for p in b.footprints)

    r = f.roads
    n = len(r.node_xy_local_m)
    k, lab = connected_components(coo_matrix((np.ones(len(r)), (r.edge_from, r.edge_to)), shape=(n, n)), directed=False)
    node = {int(s): j for j, s in enumerate(r.node_source_id)}
    assert lab[node[1]] == lab[node[4]] == lab[node[8]]  # joined at the shared node 2 (and 3)
    assert lab[node[6]] != lab[node[1]]  # the footbridge crosses but shares no node
    assert k == 2
    assert len(r) == 2 + 2 + 1 + 1  # ways 100 and 101 split at node 2
    e = {s: j for j, s in enumerate(r.source_id)}
    assert r.maxspeed_kmh[e["osm:way/100"]] == 50.0 and r.maxspeed_kmh[e["osm:way/103"]] == 30.0
    assert r.oneway[e["osm:way/103"]] == -1 and r.lanes[e["osm:way/100"]] == 2
    assert x.road_extras.turn_lanes_forward[e["osm:way/100"]] == "left|through"
    assert list(x.road_extras.restriction_kind) == ["no_left_turn"]

    assert len(f.stops.name) == 2 and sorted(f.stops.name) == ["Markt", "Schule"]  # Markt tagged twice, 2 m apart
    assert sorted(f.pois.category) == ["doctor", "pharmacy", "school"]
    assert f.trees.xy_local_m.shape[0] == 1 + 5  # one tree and a 40 m row every 8 m
    assert set(f.landcover.kind) == {"leisure=park", "amenity=parking"}
    assert SURFACE["asphalt"] in f.landcover.surface_code
    assert len(f.water_lines) == 1 and f.water_line_width_m[0] == 3.0  # stream default


class _WayNodes(osmium.SimpleHandler):
    """Plain pyosmium handler: node id lists of road ways (the independent count)."""

    def __init__(self) -> None:
        super().__init__()
        self.ways: list[tuple[str, list[int]]] = []

    def way(self, w) -> None:
        hw = w.tags.get("highway")
        if hw in ROAD_VALUES and w.tags.get("area") != "yes":
            self.ways.append((hw, [n.ref for n in w.nodes]))


def _union_find_roots(ways: list[list[int]]) -> dict[int, int]:
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for ids in ways:
        for a, b in zip(ids[:-1], ids[1:]):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
    return {a: find(a) for a in list(parent)}


def _components(roads, mask) -> tuple[int, np.ndarray]:
    n = len(roads.node_xy_local_m)
    m = coo_matrix((np.ones(int(mask.sum())), (roads.edge_from[mask], roads.edge_to[mask])), shape=(n, n))
    return connected_components(m, directed=False)


def test_hoyerswerda_buildings_and_layers() -> None:
    x = read_osm(shared_data("osm_hoyerswerda_centre", "Hoyerswerda.osm.pbf"))
    f = x.features
    b = f.buildings
    assert f.frame.epsg == 25833
    assert len(b) == 340
    assert np.isfinite(b.height_m).all() and (b.height_m > 0).all() and (b.eave_height_m <= b.height_m).all()
    assert all(p.is_valid and p.area > 1.0 for p in b.footprints)
    assert Counter(b.height_source) == {"default": 274, "levels": 66}
    assert len(f.stops.name) == 38
    assert f.trees.xy_local_m.shape[0] > 35  # 23 trees + 12 rows sampled every 8 m
    kinds = set(f.landcover.kind)
    assert {"amenity=parking", "landuse=grass", "leisure=playground", "natural=water"} <= kinds
    assert len(f.landcover.polygons) >= 145
    assert {"school", "kindergarten", "supermarket", "doctor", "care_home"} <= set(f.pois.category)


def test_hoyerswerda_road_graph_matches_independent_count(capsys) -> None:
    path = shared_data("osm_hoyerswerda_centre", "Hoyerswerda.osm.pbf")
    h = _WayNodes()
    h.apply_file(str(path))
    roots = _union_find_roots([ids for _, ids in h.ways])
    roads = read_osm(path).features.roads
    k, lab = _components(roads, np.ones(len(roads), dtype=bool))
    # every graph node is an OSM node; the two partitions must be the same (a bijection of labels)
    pairs = {(int(lab[j]), roots[int(s)]) for j, s in enumerate(roads.node_source_id)}
    assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs}) == k
    assert k == len(set(roots.values()))
    # junction nodes (shared by two ways or used twice) and way ends are all graph nodes
    uses = Counter(i for _, ids in h.ways for i in ids)
    ends = {ids[0] for _, ids in h.ways} | {ids[-1] for _, ids in h.ways}
    assert ({i for i, c in uses.items() if c >= 2} | ends) <= set(int(s) for s in roads.node_source_id)

    # edge geometry is kept: it runs from its from-node to its to-node and its length is the polyline's
    for j in range(len(roads)):
        g = roads.geometry[j]
        np.testing.assert_array_equal(g[0], roads.node_xy_local_m[roads.edge_from[j]])
        np.testing.assert_array_equal(g[-1], roads.node_xy_local_m[roads.edge_to[j]])
        assert roads.length_m[j] == pytest.approx(np.hypot(*np.diff(g, axis=0).T).sum())
    assert sum(len(g) for g in roads.geometry) - len(roads) == sum(len(ids) - 1 for _, ids in h.ways)

    # share of the drivable length in the largest drivable component, against the same independent count
    drv_roots = _union_find_roots([ids for hw, ids in h.ways if hw in DRIVABLE_VALUES])
    d = roads.drivable
    _, dlab = _components(roads, d)
    per = np.bincount(dlab[roads.edge_from[d]], weights=roads.length_m[d])
    share = per.max() / per.sum()
    assert len(set(drv_roots.values())) == int((np.bincount(dlab[roads.edge_from[d]]) > 0).sum())
    with capsys.disabled():
        print(f"\nHoyerswerda: {k} road components, largest drivable component holds {share:.1%} "
              f"of {per.sum() / 1000:.2f} km drivable")
    assert 0.90 <= share <= 0.95


def test_bautzen_lanes_turns_speeds() -> None:
    x = read_osm(shared_data("osm_bautzen_snippet", "bautzen.osm"))
    r, e = x.features.roads, x.road_extras
    assert x.features.frame.epsg == 25833
    assert {120.0, 80.0, 50.0} <= set(r.maxspeed_kmh[r.road_class != "service"].tolist())
    assert (r.oneway[r.road_class == "motorway"] == 1).all()
    checked = 0
    for i in range(len(r)):
        for turns, n in ((e.turn_lanes_forward[i], e.lanes_forward[i]), (e.turn_lanes_backward[i], e.lanes_backward[i])):
            if turns:
                assert len(parse_turn_lanes(turns)) == n, (r.source_id[i], turns, n)
                checked += 1
    assert checked >= 20
    assert (e.lanes_forward + e.lanes_backward == r.lanes)[r.lanes > 0].mean() > 0.9
    assert len(x.features.buildings) == 17


def test_building_parts_replace_their_outline_and_rails_are_kept(tmp_path: Path) -> None:
    nodes = {1: (51.1500, 11.8100), 2: (51.1500, 11.8104), 3: (51.1503, 11.8104), 4: (51.1503, 11.8100),
             5: (51.1500, 11.8102), 6: (51.1503, 11.8102), 7: (51.1510, 11.8090), 8: (51.1510, 11.8120),
             9: (51.1506, 11.8110)}
    xml = ['<?xml version="1.0"?>', '<osm version="0.6">']
    xml += [f'<node id="{k}" lat="{la}" lon="{lo}"/>' for k, (la, lo) in nodes.items() if k != 9]
    xml.append('<node id="9" lat="51.1506" lon="11.8110"><tag k="amenity" v="hospital"/><tag k="name" v="Klinikum"/></node>')
    ways = {
        10: ([1, 2, 3, 4, 1], {"building": "church"}),
        11: ([1, 5, 6, 4, 1], {"building:part": "yes", "building:levels": "3"}),
        12: ([5, 2, 3, 6, 5], {"building:part": "yes", "height": "35", "roof:shape": "pyramidal"}),
        13: ([7, 8], {"railway": "rail"}),
    }
    for wid, (refs, tags) in ways.items():
        xml.append(f'<way id="{wid}">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                   + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()) + "</way>")
    xml.append("</osm>")
    path = tmp_path / "parts.osm"
    path.write_text("\n".join(xml))
    f = read_osm(path).features
    b = f.buildings
    assert list(b.source_id) == ["osm:way/11", "osm:way/12"]  # the outline 10 is drawn by its parts
    assert b.height_m[1] == 35.0 and b.roof_shape[1] == "pyramidal" and b.height_source[0] == "levels"
    assert len(f.railways) == 1 and list(f.pois.category) == ["hospital"]
