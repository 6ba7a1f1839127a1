"""Regional access and proposals on a small synthetic region, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import shapely

from models.privacy import check_published
from models.region import AGE_COLUMNS, Region
from models.region.access import ExtraStop, region_access
from models.region.proposals import best_cover, coverage, propose
from models.region.service import assumptions, class_rank, classes_from_interval, estimate_interval
from models.region.views import access_json, gemeinden_geojson, grid_geojson, proposal_geojson, stops_geojson


def synthetic_region(seed: int = 1, n_cells: int = 120, n_stops: int = 12) -> Region:
    """Two Gemeinden side by side (4 x 4 km each) in EPSG:25832 near Naumburg; random cells and stops."""
    rng = np.random.default_rng(seed)
    x0, y0 = 690_000.0, 5_660_000.0
    shapes = {"15084001": shapely.box(x0, y0, x0 + 4000, y0 + 4000),
              "15084002": shapely.box(x0 + 4000, y0, x0 + 8000, y0 + 4000)}
    ix = rng.choice(80 * 40, n_cells, replace=False)
    cx = x0 + (ix % 80) * 100.0 + 50.0
    cy = y0 + (ix // 80) * 100.0 + 50.0
    cells = pd.DataFrame({"cell_id": [f"c{i}" for i in range(n_cells)], "x_m": cx, "y_m": cy,
                          "x_3035": (ix % 80) * 100.0, "y_3035": (ix // 80) * 100.0,
                          "ags": np.where(cx < x0 + 4000, "15084001", "15084002"),
                          "settlement": [f"S{i % 7}" for i in range(n_cells)]})
    for c in AGE_COLUMNS:
        cells[c] = rng.integers(0, 12, n_cells).astype(float)
    products = rng.choice(["bus", "bus;taxi", "regional", "tram", "taxi", "nationalExpress;regional"], n_stops)
    town = rng.random(n_stops) < 0.5
    est = [estimate_interval(str(p), bool(t)) for p, t in zip(products, town)]
    interval = np.array([e[0] for e in est])
    kind = np.array([e[1] for e in est], dtype=object)
    _, cls = classes_from_interval(interval, kind)
    stops = pd.DataFrame({"stop_id": [f"s{i}" for i in range(n_stops)], "name": [f"Halt {i}" for i in range(n_stops)],
                          "x_m": x0 + rng.random(n_stops) * 8000, "y_m": y0 + rng.random(n_stops) * 4000,
                          "lon": 11.8, "lat": 51.1, "products": products, "service_class": cls.astype(str),
                          "class_estimated": True, "interval_min": interval, "service_kind": kind.astype(str),
                          "in_kreis": True, "ags": "15084001", "is_station": False, "parent": "", "ifopt": ""})
    hospitals = pd.DataFrame({"id": ["h1", "h2"], "name": ["K1", "K2"], "site": "", "city": "",
                              "x_m": [x0 - 3000.0, x0 + 9000.0], "y_m": [y0 + 2000.0, y0 + 500.0], "lon": 11.8,
                              "lat": 51.1, "in_kreis": [False, True]})
    centres = pd.DataFrame({"name": ["Mitte"], "ags": ["15084001"], "level": ["Mittelzentrum"], "x_m": [x0 + 2000.0],
                            "y_m": [y0 + 2000.0]})
    g = pd.DataFrame({"ags": list(shapes), "name": ["Eins", "Zwei"], "kind": ["Stadt", "Gemeinde"],
                      "area_km2": [16.0, 16.0]})
    sums = cells.groupby("ags")[list(AGE_COLUMNS)].sum()
    for c in AGE_COLUMNS:
        g[c] = g["ags"].map(sums[c]).fillna(0.0)
    g["population_2019"] = g[list(AGE_COLUMNS)].sum(axis=1)
    s = cells.groupby("settlement").agg(ags=("ags", "first"), x_m=("x_m", "mean"), y_m=("y_m", "mean")).reset_index()
    s["persons"] = cells.groupby("settlement")[list(AGE_COLUMNS)].sum().sum(axis=1).to_numpy()
    s["cells"] = cells.groupby("settlement").size().to_numpy()
    return Region(name="syn", crs="EPSG:25832", kreis_ags="15084", kreis_name="Syn",
                  kreis_outline=shapely.union_all(list(shapes.values())), gemeinden=g, gemeinde_shapes=shapes,
                  cells=cells, settlements=s, stops=stops, hospitals=hospitals, centres=centres)


def brute_force(region: Region, extra: list[ExtraStop] = (), zones=()) -> pd.DataFrame:
    """Every cell against every stop, hospital and centre, in plain loops."""
    a = assumptions()
    dw, dr = a["detour_factor_walk"], a["detour_factor_road"]
    stops = [(r.x_m, r.y_m, r.service_class) for r in region.stops.itertuples()] + [(e.x_m, e.y_m, e.service_class) for e in extra]
    rows = []
    for c in region.cells.itertuples():
        d_all = min(np.hypot(c.x_m - x, c.y_m - y) for x, y, _ in stops) * dw
        good = [np.hypot(c.x_m - x, c.y_m - y) * dw for x, y, k in stops if class_rank(k) <= class_rank("D")]
        d_good = min(good) if good else np.inf
        in_zone = any(z.intersects(shapely.Point(c.x_m, c.y_m)) for z in zones)
        served = d_good <= a["deficit_max_walk_m"] or in_zone
        hosp = min(np.hypot(c.x_m - h.x_m, c.y_m - h.y_m) for h in region.hospitals.itertuples()) * dr / 1000
        cen = min(np.hypot(c.x_m - h.x_m, c.y_m - h.y_m) for h in region.centres.itertuples()) * dr / 1000
        rows.append({"walk_stop_m": d_all, "walk_good_stop_m": d_good, "served": served, "hospital_km": hosp,
                     "centre_km": cen, "deficit_65plus": 0.0 if served else c.age_65_79 + c.age_80_plus,
                     "deficit_under18": 0.0 if served else c.age_0_9 + c.age_10_17})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_access_equals_brute_force(seed):
    r = synthetic_region(seed)
    extra = [ExtraStop(r.cells.x_m.iloc[0] + 120, r.cells.y_m.iloc[0], "D")]
    zones = [shapely.box(690_000 + 5000, 5_660_000, 690_000 + 6500, 5_660_000 + 1500)]
    for kw in ({}, {"extra_stops": extra, "zones": zones}):
        got = region_access(r, **kw)
        ref = brute_force(r, kw.get("extra_stops", []), kw.get("zones", []))
        for col in ref.columns:
            np.testing.assert_allclose(got.cells[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-9, atol=1e-9,
                                       err_msg=col)
        for ags in r.gemeinden["ags"]:
            sel = (r.cells["ags"] == ags).to_numpy()
            row = got.gemeinden.set_index("ags").loc[ags]
            assert row["deficit_65plus"] == pytest.approx(ref["deficit_65plus"][sel].sum())
            assert row["deficit_under18"] == pytest.approx(ref["deficit_under18"][sel].sum())
        assert got.kreis["deficit_65plus"] == pytest.approx(ref["deficit_65plus"].sum())
        assert check_published(access_json(got)) == []


def test_area_class_by_bands():
    r = synthetic_region(4, n_stops=1)
    r.stops.loc[0, ["x_m", "y_m", "products", "service_class", "interval_min", "service_kind"]] = \
        [r.cells.x_m.iloc[0], r.cells.y_m.iloc[0], "tram", "D", 30.0, "bus"]
    acc = region_access(r)
    d = np.hypot(r.cells.x_m - r.stops.x_m[0], r.cells.y_m - r.stops.y_m[0]).to_numpy()
    want = np.where(d <= 300, "D", np.where(d <= 1000, "E", "-"))
    want[(d > 500) & (d <= 1000)] = "F"
    assert (acc.cells["area_class"].to_numpy() == want).all()  # category V: D, E, F, F by band


def test_service_class_assumptions():
    assert estimate_interval("taxi", True)[1] == "none"
    iv, kind = estimate_interval("bus;taxi", False)
    assert kind == "bus" and iv == 90
    assert estimate_interval("bus", True)[0] == 30
    _, cls = classes_from_interval(np.array([20.0, 30.0, 90.0, np.inf]), np.array(["rail_hub", "bus", "bus", "none"], object))
    assert list(cls) == ["B", "D", "E", "F"]


@pytest.mark.parametrize("seed,k", [(5, 2), (6, 3), (7, 3)])
def test_milp_at_least_greedy_and_equal_to_exhaustive(seed, k):
    rng = np.random.default_rng(seed)
    n_i, n_j = 30, 11
    cover = (rng.random((n_i, n_j)) < 0.18)
    w = rng.integers(1, 20, n_i).astype(float)
    import scipy.sparse as sp

    cs = sp.csr_matrix(cover)
    _, obj, g_obj, meth, _ = best_cover(w, cs, k, "milp")
    best = max(w[cover[:, list(c)].any(axis=1)].sum() for c in itertools.combinations(range(n_j), k))
    assert obj == pytest.approx(best)
    assert obj >= g_obj - 1e-9


def test_propose_stops_and_zones_on_synthetic_region():
    r = synthetic_region(8, n_cells=150, n_stops=4)
    for kind in ("stops", "zone"):
        p = propose(r, budget=2, kind=kind, method="milp")
        assert p.objective >= p.greedy_objective - 1e-9
        # the re-evaluated deficit drops by exactly what the model says it covers
        assert p.deficit_before - p.deficit_after == pytest.approx(p.objective)
        demand = (region_access(r).cells[["deficit_65plus", "deficit_under18"]].sum(axis=1)).to_numpy()
        cover, _, _ = coverage(r, kind, demand)
        w = demand[demand > 0]
        best = max(w[np.asarray(cover[:, list(c)].sum(axis=1)).ravel() > 0].sum()
                   for c in itertools.combinations(range(cover.shape[1]), 2)) if cover.shape[1] <= 40 else None
        if best is not None:
            assert p.objective == pytest.approx(best)
        gj = proposal_geojson(r, p)
        assert len(gj["features"]) == len(p.items) <= 2 and check_published(gj) == []
        assert all(i["kind"] in ("new_stop", "on_demand_zone") for i in p.interventions)


def test_views_publish_only_safe_counts():
    r = synthetic_region(9)
    acc = region_access(r)
    for doc in (gemeinden_geojson(r, acc), grid_geojson(r, "100m", acc), grid_geojson(r, "1km", acc), stops_geojson(r)):
        assert check_published(doc) == []
    grid = grid_geojson(r, "100m", acc)
    for f in grid["features"]:
        p = f["properties"]
        assert p["suppressed"] == any(p[c] is None for c in AGE_COLUMNS + ("population_2019",))
        for c in AGE_COLUMNS:
            assert p[c] is None or p[c] % 5 == 0


def test_region_scenario_edits():
    from geodata.interventions import InterventionError, decode_intervention
    from models.region.scenario import decode_region_interventions, evaluate, region_kpis

    r = synthetic_region(8, n_cells=150, n_stops=4)
    ox, oy = r.local_origin_m
    assert ox == 690_000 and oy == 5_660_000
    for kind in ("stops", "zone"):
        p = propose(r, budget=2, kind=kind, method="milp")
        objs = decode_region_interventions(p.interventions, r)  # the proposal is a valid scenario edit list
        after = evaluate(r, objs)
        assert after.kreis["deficit_65plus"] + after.kreis["deficit_under18"] == pytest.approx(p.deficit_after)
        kp = region_kpis(after)
        assert check_published(kp) == [] and kp["deficit_65plus"] is None or kp["deficit_65plus"] % 5 == 0
    bad = [
        {"kind": "tree", "id": "t", "xy_local_m": [10.0, 10.0]},
        {"kind": "new_stop", "id": "s", "xy_local_m": [-50_000.0, 10.0]},
        {"kind": "on_demand_zone", "id": "z", "polygon_local_m": [[0, 0], [10, 10], [0, 10], [10, 0]]},
        {"kind": "on_demand_zone", "id": "z", "polygon_local_m": [[-90000, -90000], [-80000, -90000], [-80000, -80000]]},
    ]
    for b in bad:
        with pytest.raises(InterventionError) as exc:
            decode_region_interventions([b], r)
        assert exc.value.de and exc.value.en
    dup = [{"kind": "new_stop", "id": "s", "xy_local_m": [100.0, 100.0]}] * 2
    with pytest.raises(InterventionError):
        decode_region_interventions(dup, r)
    assert decode_intervention(dup[0]).id == "s"


def _osm_file(path, points_xy, ways):
    """A small OSM XML file: nodes at working-CRS points (EPSG:25832), ways as (highway, [node index, ...])."""
    from geodata.crs import reproject_xy

    xy = np.asarray(points_xy, float)
    lon, lat = reproject_xy(xy[:, 0], xy[:, 1], 25832, 4326)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, (lo, la) in enumerate(zip(lon, lat), start=1):
        lines.append(f'<node id="{i}" version="1" lat="{la:.9f}" lon="{lo:.9f}"/>')
    for w, (hw, nodes) in enumerate(ways, start=1):
        lines.append(f'<way id="{w}" version="1">' + "".join(f'<nd ref="{n + 1}"/>' for n in nodes)
                     + f'<tag k="highway" v="{hw}"/></way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_walk_along_osm_network(tmp_path):
    """An L-shaped street from the stop, a motorway shortcut pedestrians may not use: walking distances
    follow the L; cells far from any street keep the straight-line estimate."""
    from models.region.network import read_walk_network

    r = synthetic_region(10, n_cells=3, n_stops=1)
    x0, y0 = 690_000.0, 5_660_000.0
    p0 = (x0 + 1000, y0 + 1000)
    r.stops.loc[0, ["x_m", "y_m", "service_class", "interval_min", "service_kind"]] = [p0[0], p0[1], "D", 30.0, "bus"]
    east = [(x0 + 1000 + 100 * k, y0 + 1000) for k in range(21)]           # 2 km east
    north = [(x0 + 3000, y0 + 1000 + 100 * k) for k in range(1, 21)]      # then 2 km north
    pts = east + north
    osm = _osm_file(tmp_path / "l.osm", pts, [("residential", list(range(len(pts)))),
                                               ("motorway", [0, len(pts) - 1])])
    net = read_walk_network(osm, 25832)
    cells = [(x0 + 3000 + 40, y0 + 3000), (x0 + 2000, y0 + 1000 + 30), (x0 + 7000, y0 + 3900)]
    r.cells.loc[:, ["x_m", "y_m"]] = np.asarray(cells)
    acc = region_access(r, network=net)
    detour = assumptions()["detour_factor_walk"]
    want = [40 + 4000, 30 + 1000, np.hypot(cells[2][0] - p0[0], cells[2][1] - p0[1]) * detour]
    np.testing.assert_allclose(acc.cells["walk_good_stop_m"].to_numpy(), want, atol=0.05)
    np.testing.assert_allclose(acc.cells["walk_stop_m"].to_numpy(), want, atol=0.05)
    assert acc.assumptions["walk_distances"].startswith("OSM")
    plain = region_access(r)
    assert plain.cells["walk_good_stop_m"].iloc[1] == pytest.approx(np.hypot(1000, 30) * detour)


def test_osm_without_walkable_roads_is_refused(tmp_path):
    from geodata.sources import DataError
    from models.region.network import read_walk_network

    osm = _osm_file(tmp_path / "m.osm", [(690_000.0, 5_660_000.0), (691_000.0, 5_660_000.0)], [("motorway", [0, 1])])
    with pytest.raises(DataError, match="walkable"):
        read_walk_network(osm, 25832)
    (tmp_path / "bad.osm").write_text("<osm><node", encoding="utf-8")
    with pytest.raises(DataError):
        read_walk_network(tmp_path / "bad.osm", 25832)


def _street_grid(tmp_path, x0: float, y0: float, n: int = 9, step: float = 500.0):
    """A street grid of n x n nodes ``step`` apart with every other east-west street missing, as an OSM file."""
    pts = [(x0 + step * i, y0 + step * j) for j in range(n) for i in range(n)]
    ways = [("residential", [j * n + i for j in range(n)]) for i in range(n)]  # north-south streets
    ways += [("residential", [j * n + i for i in range(n)]) for j in range(0, n, 2)]  # east-west, every other one
    return _osm_file(tmp_path / "grid.osm", pts, ways)


def test_network_cover_against_brute_force(tmp_path):
    """Candidate j covers point i along the streets: the ball-limited search equals full Dijkstra from every
    candidate over the whole network; points off the network keep the straight-line fallback."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    from models.region.network import MAX_JOIN_M, network_cover, read_walk_network

    x0, y0 = 690_000.0, 5_660_000.0
    net = read_walk_network(_street_grid(tmp_path, x0, y0), 25832)
    rng = np.random.default_rng(3)
    pts = np.column_stack([x0 - 200 + rng.random(150) * 4600, y0 - 200 + rng.random(150) * 4600])
    pts[:5] = [[x0 + 9000.0, y0 + k * 300.0] for k in range(5)]  # far off the network
    cand = pts[rng.choice(150, 25, replace=False)]
    limit = 900.0
    straight = np.hypot(*(pts[:, None, :] - cand[None, :, :]).transpose(2, 0, 1)) * 1.3 <= limit
    got = network_cover(net, pts, cand, limit, sp.csr_matrix(straight)).toarray()
    tree = cKDTree(net.node_xy)
    p_d, p_n = tree.query(pts)
    c_d, c_n = tree.query(cand)
    full = dijkstra(net.graph, directed=True, indices=c_n)  # (J, N) over the whole network
    want = np.zeros_like(straight)
    for i in range(len(pts)):
        for j in range(len(cand)):
            if p_d[i] > MAX_JOIN_M or c_d[j] > MAX_JOIN_M:
                want[i, j] = straight[i, j]
            else:
                want[i, j] = c_d[j] + full[j, p_n[i]] + p_d[i] <= limit
    assert want.sum() > 20 and (want != straight).any()  # the streets matter here
    np.testing.assert_array_equal(got, want)


def test_region_bundle_keeps_the_osm_network(tmp_path):
    """A region with an OSM walking network: written and read back exactly; access and the proposals'
    coverage use it without being told."""
    from models.region import load_region, write_region
    from models.region.network import network_cover, read_walk_network

    r = synthetic_region(5, n_cells=150, n_stops=6)
    x0, y0 = 690_000.0, 5_660_000.0
    net = read_walk_network(_street_grid(tmp_path, x0, y0, n=17), 25832)
    r.network = net
    write_region(r, tmp_path / "data", "netz")
    back = load_region("netz", tmp_path / "data", verify=True)
    assert back.network is not None and back.network.source == net.source
    np.testing.assert_array_equal(back.network.node_xy, net.node_xy)
    assert (back.network.graph != net.graph).nnz == 0
    acc = region_access(back)
    assert acc.assumptions["walk_distances"].startswith("OSM")
    assert acc.kreis == region_access(r, network=net).kreis
    plain = r
    plain.network = None
    assert region_access(plain).kreis != acc.kreis
    w = back.cells[["age_65_79", "age_80_plus"]].to_numpy().sum(axis=1)
    cover, cxy, _ = coverage(back, "stops", w)
    straight, _, _ = coverage(plain, "stops", w)
    assert (cover != straight).nnz > 0
    expect = network_cover(net, cxy, cxy, float(assumptions()["deficit_max_walk_m"]), straight)
    assert (cover != expect).nnz == 0
    # a damaged network file is refused with a clear message
    from geodata.sources import DataError

    (tmp_path / "data" / "regions" / "netz" / "walk_network.npz").write_bytes(b"not a numpy archive")
    with pytest.raises(DataError) as exc:
        load_region("netz", tmp_path / "data")
    assert exc.value.de and exc.value.en
