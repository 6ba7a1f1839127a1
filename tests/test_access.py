"""Access kernels and engine: shortest paths against scipy.sparse.csgraph, networkx and the NumPy
reference; transit by frequency; ÖV-Güteklassen; deficits; interventions."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from access_world import grid_district
from scipy.sparse.csgraph import dijkstra
from scipy.spatial.distance import cdist
from shapely.geometry import box

from geodata.apply_transit import Line, TransitNetwork
from geodata.build import build_district, grid_for_bbox
from geodata.crs import LocalFrame
from geodata.district import (
    SURFACE,
    Buildings,
    DistrictFeatures,
    LandCover,
    Pois,
    Roads,
    Stops,
    age_bands,
    empty_points,
)
from geodata.interventions import decode_intervention
from models.people.access import AccessEngine, thresholds
from models.people.access_network import WALK_SPEED_M_S, snap
from models.people.quality import building_classes, stop_classes
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


@pytest.mark.parametrize("seed, method, device", [(0, "frontier", None), (1, "frontier", None), (2, "frontier", True),
                                                  (0, "sweep", None), (1, "sweep", None)])
def test_kernel_equals_scipy_and_reference(taichi_cpu, seed, method, device) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    src, dst, w = _random_graph(rng, n, 240)
    sets = [rng.choice(n, 3, replace=False), rng.choice(n, 1), rng.choice(n, 5, replace=False)]
    start = np.full((3, n), np.inf)
    for c, ix in enumerate(sets):
        start[c, ix] = 0.0
    got, sweeps = multi_source_times(src, dst, w, start, method=method, device_arrays=device)
    ref = dijkstra_times(src, dst, w, start)
    sci = _scipy_times(src, dst, w, n, sets)
    assert sweeps > 0
    np.testing.assert_array_equal(np.isinf(got), np.isinf(sci))
    fin = np.isfinite(sci)
    np.testing.assert_allclose(got[fin], sci[fin], rtol=1e-5)
    np.testing.assert_allclose(ref[fin], sci[fin], rtol=1e-12)


def test_frontier_and_sweeps_agree_on_a_large_grid(taichi_cpu) -> None:
    n = 60
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    v = ii * n + jj
    a = np.concatenate([v[:, :-1].ravel(), v[:-1, :].ravel()])
    b = np.concatenate([v[:, 1:].ravel(), v[1:, :].ravel()])
    w = np.random.default_rng(4).uniform(1, 100, a.size)
    src, dst, cost = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([w, w])
    start = np.full((2, n * n), np.inf)
    start[0, [0, 1234]] = 0.0
    start[1, n * n - 1] = 3.0
    f, rounds = multi_source_times(src, dst, cost, start)
    s_, _ = multi_source_times(src, dst, cost, start, method="sweep")
    np.testing.assert_array_equal(f, s_)
    assert rounds >= n  # the frontier needs at least the hop depth in rounds
    sci = _scipy_times(src, dst, cost, n * n, [np.array([0, 1234]), np.array([n * n - 1])])
    sci[1] += 3.0
    np.testing.assert_allclose(f, sci, rtol=1e-5)


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


# --- the engine ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_engine(taichi_cpu):
    return AccessEngine(grid_district(n=9, n_stops=4, seed=3), seed=1)


def test_walk_times_equal_independent_scipy_shortest_paths(grid_engine) -> None:
    d = grid_engine.district
    r = d.roads
    n = r.node_xy_local_m.shape[0]
    w = r.length_m / WALK_SPEED_M_S
    g = sp.coo_matrix((np.concatenate([w, w]), (np.concatenate([r.edge_from, r.edge_to]),
                                                np.concatenate([r.edge_to, r.edge_from]))), shape=(n, n)).tocsr()
    cent = np.array([[fp.centroid.x, fp.centroid.y] for fp in d.buildings.footprints])
    db = cdist(cent, r.node_xy_local_m)
    bnode, bacc = db.argmin(axis=1), db.min(axis=1) / WALK_SPEED_M_S
    res = grid_engine.compute([], with_agents=False)
    for cat in ("doctor", "pharmacy", "school"):
        pois = d.pois.xy_local_m[d.pois.category == cat]
        dp = cdist(pois, r.node_xy_local_m)
        pnode, pacc = dp.argmin(axis=1), dp.min(axis=1) / WALK_SPEED_M_S
        from_poi = dijkstra(g, indices=pnode) + pacc[:, None]  # (P, n)
        expect = (from_poi.min(axis=0)[bnode] + bacc) / 60.0
        np.testing.assert_allclose(res.time_by_mode_min["walk"][cat], expect, rtol=1e-5)
        # without lines, walk + public transport is walking
        np.testing.assert_allclose(res.building_time_min[cat], expect, rtol=1e-5)


def test_isochrones_match_networkx(grid_engine) -> None:
    d = grid_engine.district
    r = d.roads
    G = nx.Graph()
    for a, b, length in zip(r.edge_from.tolist(), r.edge_to.tolist(), r.length_m.tolist()):
        G.add_edge(a, b, weight=length / WALK_SPEED_M_S)
    res = grid_engine.travel_times(grid_engine.base_network, _services(d), 10)
    t_kernel = res["times_s"]["walk"][0]  # doctor
    pois = d.pois.xy_local_m[d.pois.category == "doctor"]
    dp = cdist(pois, r.node_xy_local_m)
    G.add_node("src")
    for k in range(pois.shape[0]):
        G.add_edge("src", int(dp[k].argmin()), weight=float(dp[k].min() / WALK_SPEED_M_S))
    for minutes in (2, 5, 8):
        ref = nx.single_source_dijkstra_path_length(G, "src", cutoff=minutes * 60.0)
        ref_nodes = {v for v in ref if v != "src"}
        got = set(np.nonzero(t_kernel <= minutes * 60.0)[0].tolist())
        assert got == ref_nodes


def _services(d):
    from geodata.apply_transit import ServicePoints

    return ServicePoints(d.pois.xy_local_m, d.pois.category, np.zeros((0, 2)), np.zeros(0, np.int64))


def _corridor_district(length_m: float = 5000.0, step_m: float = 100.0):
    """A straight street with a house at the west end and a doctor at the east end."""
    k = int(length_m / step_m) + 1
    xy = np.stack([50.0 + np.arange(k) * step_m, np.full(k, 50.0)], axis=1)
    ne = k - 1
    roads = Roads(xy, np.full(k, -1, np.int64), np.arange(ne, dtype=np.int32), np.arange(1, k, dtype=np.int32),
                  np.full(ne, step_m), np.full(ne, "secondary", dtype=object), np.ones(ne, np.int16),
                  np.full(ne, 50.0, np.float32), np.zeros(ne, np.int8), np.full(ne, "", dtype=object),
                  np.full(ne, "t", dtype=object), tuple(np.stack([xy[i], xy[i + 1]]) for i in range(ne)))
    fp = box(45, 55, 55, 65)
    nbands = len(age_bands())
    bld = Buildings(np.array([0]), (fp,), np.zeros(1, np.float32), np.array([8.0], np.float32),
                    np.array([6.0], np.float32), np.array(["flat"], dtype=object), np.array(["residential"], dtype=object),
                    np.array([2], np.int16), np.array([3], np.int32), np.array([6], np.int32),
                    np.zeros((1, nbands), np.int32), np.array(["b"], dtype=object), np.array(["sample"], dtype=object))
    pois = Pois(np.array([[xy[-1, 0], 50.0]]), np.array(["doctor"], dtype=object), np.array(["GP"], dtype=object),
                np.array(["p"], dtype=object))
    stops = Stops(np.array([[xy[0, 0], 50.0], [xy[-1, 0], 50.0]]), np.array(["West", "Ost"], dtype=object),
                  np.array(["bus", "bus"], dtype=object), np.array(["s0", "s1"], dtype=object))
    bbox = (0.0, 0.0, float(xy[-1, 0] + 50), 100.0)
    feats = DistrictFeatures(LocalFrame.for_lonlat(11.8, 51.1), bbox, bld, roads, empty_points("trees"), stops, pois,
                             LandCover((box(*bbox),), np.array([SURFACE["grass"]], np.uint8), np.array(["g"], dtype=object)))
    grid = grid_for_bbox(bbox, 10.0)
    return build_district(feats, name="corridor", grid=grid, terrain_m=np.zeros(grid.shape, np.float32)), xy


@pytest.mark.parametrize("headway_min", [10.0, 60.0])
def test_frequency_based_transit_time_is_analytic(taichi_cpu, headway_min) -> None:
    d, xy = _corridor_district()
    eng = AccessEngine(d, seed=0)
    line = decode_intervention({"kind": "bus_line", "id": "L", "stops_local_m": [xy[0].tolist(), xy[-1].tolist()],
                                "headway_min": headway_min})
    res = eng.compute([line], with_agents=False)
    access = np.hypot(50 - 50, 60 - 50) / WALK_SPEED_M_S  # building centroid to the first node
    walk_s = access + 5000.0 / WALK_SPEED_M_S
    ride_s = 5000.0 * 1.3 / (22.0 / 3.6)
    transit_s = access + headway_min * 60 / 2 + ride_s + 1.0
    assert res.time_by_mode_min["walk"]["doctor"][0] == pytest.approx(walk_s / 60, rel=1e-5)
    assert res.building_time_min["doctor"][0] == pytest.approx(min(walk_s, transit_s) / 60, rel=1e-5)


def test_oev_classes_from_interval_and_distance() -> None:
    stops = np.array([[0.0, 0.0], [5000.0, 0.0]])
    deps = np.zeros(24)
    deps[6:20] = 6.0  # every 10 min per direction
    net = TransitNetwork(stops, np.array(["a", "b"], object), np.array(["bus", "bus"], object), (
        Line("x@out", "x", "bus", np.array([0, 1], np.int32), np.array([600.0]), deps),
        Line("x@back", "x", "bus", np.array([1, 0], np.int32), np.array([600.0]), deps)))
    # bus every 10 min: category IV -> C, D, E, F by distance band
    assert list(stop_classes(net)) == ["C", "C"]
    pts = np.array([[100.0, 0.0], [400.0, 0.0], [600.0, 0.0], [900.0, 0.0], [2000.0, 0.0]])
    assert list(building_classes(net, pts)) == ["C", "D", "E", "F", "-"]
    rail = TransitNetwork(stops, np.array(["a", "b"], object), np.array(["rail", "rail"], object), net.lines)
    assert list(stop_classes(rail)) == ["B", "B"]  # rail every 10 min: category III


def test_deficits_are_counted_beyond_the_threshold(taichi_cpu) -> None:
    d, xy = _corridor_district()
    res = AccessEngine(d, seed=0).compute([], with_agents=False)
    assert res.building_time_min["doctor"][0] > thresholds()["threshold_min"]["doctor"]
    # one building of 6 persons: every group is below 5 persons and suppressed
    for area in res.deficit_areas:
        for g in area["groups"].values():
            assert g["suppressed"] and g["persons"] is None


def _iv(**kw):
    return decode_intervention(kw)


def test_interventions_change_access_and_leave_inputs_alone(grid_engine) -> None:
    from geodata.apply_transit import TransitError, apply_transit
    from geodata.interventions import InterventionError

    d = grid_engine.district
    base = grid_engine.compute([], with_agents=False)
    # closing every doctor makes the doctor unreachable and is reported
    closes = [_iv(kind="facility", id=f"c{i}", action="close", poi_index=int(i))
              for i in np.nonzero(d.pois.category == "doctor")[0]]
    closed = grid_engine.compute(closes, with_agents=False)
    assert not np.isfinite(closed.building_time_min["doctor"]).any()
    assert any("doctor" in line for line in closed.report)
    # opening a practice in a corner lowers times there
    opened = grid_engine.compute([_iv(kind="facility", id="o", category="doctor", xy_local_m=[60.0, 60.0])],
                                 with_agents=False)
    assert (opened.building_time_min["doctor"] <= base.building_time_min["doctor"] + 1e-4).all()
    assert (opened.building_time_min["doctor"] < base.building_time_min["doctor"] - 0.5).any()
    # housing adds persons
    housing = grid_engine.compute([_iv(kind="housing", id="h", polygon_local_m=[[100, 100], [180, 100], [180, 180]],
                                       dwellings=20, persons_per_dwelling=2.0)], with_agents=False)
    assert housing.kpis["persons"] == base.kpis["persons"] + 40
    # a new stop is served by the nearest line; a headway change alters the classes
    line = _iv(kind="bus_line", id="L1", stops_local_m=[[50, 50], [450, 450], [850, 850]], headway_min=30)
    net, _ = apply_transit(d, grid_engine.base_network, [line, _iv(kind="new_stop", id="s", xy_local_m=[250, 260])])
    assert net.n_stops == grid_engine.base_network.n_stops + 4
    assert all(net.n_stops - 1 in ln.stop_index for ln in net.lines)
    slow = grid_engine.compute([line], with_agents=False)
    fast = grid_engine.compute([line, _iv(kind="headway_change", id="hc", line_id="L1", headway_min=5)], with_agents=False)
    assert "ABCDEF".index(min(fast.stop_quality)) < "ABCDEF".index(min(slow.stop_quality))
    # bad input: clear errors, nothing changed
    before = grid_engine.base_network.stop_xy_local_m.copy()
    with pytest.raises(TransitError, match="existiert nicht"):
        grid_engine.compute([_iv(kind="headway_change", id="x", line_id="nope", headway_min=10)])
    with pytest.raises(TransitError, match="keine Straße"):
        grid_engine.compute([_iv(kind="on_demand_zone", id="z", polygon_local_m=[[1, 1], [20, 1], [20, 20]])])
    with pytest.raises(TransitError, match="existiert nicht"):
        grid_engine.compute([_iv(kind="move_stop", id="m", stop_index=99, xy_local_m=[10, 10])])
    with pytest.raises(TransitError, match="außerhalb"):
        grid_engine.compute([_iv(kind="move_stop", id="m", stop_index=0, xy_local_m=[-10, 10])])
    with pytest.raises(InterventionError):
        grid_engine.compute([_iv(kind="new_stop", id="n", xy_local_m=[5000, 10])])
    np.testing.assert_array_equal(grid_engine.base_network.stop_xy_local_m, before)


def test_on_demand_zone_helps_inside_its_window(taichi_cpu) -> None:
    d, xy = _corridor_district()
    eng = AccessEngine(d, seed=0)
    zone = _iv(kind="on_demand_zone", id="z", polygon_local_m=[[0, 0], [5100, 0], [5100, 100], [0, 100]],
               lead_time_min=30, first_hour=8, last_hour=12)
    inside = eng.compute([zone], hour=10, with_agents=False).building_time_min["doctor"][0]
    outside = eng.compute([zone], hour=14, with_agents=False).building_time_min["doctor"][0]
    walk = eng.compute([], with_agents=False).building_time_min["doctor"][0]
    assert outside == pytest.approx(walk)
    assert inside < walk


PANDANA_PEER = """
import sys, numpy as np, pandas as pd, pandana
z = np.load(sys.argv[1])
ix = pd.Index(np.arange(z["x"].size))
net = pandana.Network(pd.Series(z["x"], index=ix), pd.Series(z["y"], index=ix), pd.Series(z["a"]), pd.Series(z["b"]),
                      pd.DataFrame({"t": z["w"]}), twoway=True)
net.set_pois(category="doctor", maxdist=3600.0, maxitems=1, x_col=pd.Series(z["x"][z["poi"]]),
             y_col=pd.Series(z["y"][z["poi"]]))
np.save(sys.argv[2], net.nearest_pois(3600.0, "doctor", num_pois=1)[1].reindex(ix).to_numpy())
"""


@pytest.mark.peer
def test_isochrones_match_pandana(grid_engine, tmp_path) -> None:
    import subprocess
    from pathlib import Path

    py = Path(__file__).resolve().parents[1] / ".peers" / "pandana" / "bin" / "python"
    if not py.exists():
        pytest.skip("pandana peer not installed (benchmarks/peers/setup.sh pandana)")
    g = grid_engine.walk
    node, _ = snap(grid_engine.district.pois.xy_local_m[grid_engine.district.pois.category == "doctor"], g.node_xy)
    start = np.full((1, g.n_nodes), np.inf)
    start[0, node] = 0.0
    ours, _ = multi_source_times(*g.reversed(), start)
    half = g.src.size // 2
    np.savez(tmp_path / "in.npz", x=g.node_xy[:, 0], y=g.node_xy[:, 1], a=g.src[:half], b=g.dst[:half],
             w=g.cost_s[:half], poi=np.unique(node))
    (tmp_path / "peer.py").write_text(PANDANA_PEER)
    subprocess.run([str(py), str(tmp_path / "peer.py"), str(tmp_path / "in.npz"), str(tmp_path / "out.npy")],
                   check=True, capture_output=True, timeout=120)
    theirs = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(ours[0], theirs, atol=0.05)
    for minutes in (2, 5, 8):
        assert set(np.nonzero(ours[0] <= minutes * 60)[0]) == set(np.nonzero(theirs <= minutes * 60)[0])


def test_same_seed_same_numbers(taichi_cpu) -> None:
    d = grid_district(n=7, n_stops=2, seed=9)
    line = decode_intervention({"kind": "bus_line", "id": "L", "stops_local_m": [[60, 60], [640, 640]], "headway_min": 15})
    a = AccessEngine(d, seed=5).compute([line])
    b = AccessEngine(d, seed=5).compute([line])
    assert a.kpis == b.kpis and a.deficit_areas == b.deficit_areas
    for t in (7.5 * 3600, 12 * 3600, 17 * 3600):
        np.testing.assert_array_equal(a.agents.positions_at(t), b.agents.positions_at(t))
    c = AccessEngine(d, seed=6).compute([line])
    assert c.kpis != a.kpis
