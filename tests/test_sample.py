"""The embedded sample district: place, terrain, typologies, road graph, stops, services, residents, golden."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import shapely

from geodata.district import DRIVABLE_CLASSES, ROAD_WIDTH_M, SURFACE, age_bands
from geodata.population import load_age_table
from geodata.sample import NAUMBURG_LONLAT, SampleError, build_sample_district
from geodata.sample_network import road_lines

GOLDEN = Path(__file__).parent / "golden" / "sample_district.json"


@pytest.fixture(scope="module")
def district():
    return build_sample_district()


def _kind(d) -> np.ndarray:
    return np.array([s.split(":")[1].split("/")[0] for s in d.buildings.source_id], dtype=object)


def test_place_and_frame(district):
    d = district
    assert d.frame.epsg == 25832
    assert d.grid.bbox_local_m == (0.0, 0.0, 2000.0, 2000.0)
    lon, lat = d.frame.local_to_lonlat(np.array([1000.0]), np.array([1000.0]))
    assert abs(lon[0] - NAUMBURG_LONLAT[0]) < 0.005 and abs(lat[0] - NAUMBURG_LONLAT[1]) < 0.005
    # the origin is the south-west corner: local (0, 0) is 1 km west and south of the centre
    lon0, lat0 = d.frame.origin_lonlat()
    assert lon0 < lon[0] and lat0 < lat[0]


def test_saale_valley_terrain(district):
    d = district
    wet = d.surface_class == SURFACE["water"]
    assert wet.mean() > 0.01, "the river must be on the land-cover raster"
    river_m = float(np.median(d.terrain_m[wet]))
    assert 98.0 < river_m < 102.0  # the Saale at Naumburg, ~100 m a.s.l.
    relief = float(d.terrain_m.max()) - river_m
    assert 60.0 <= relief <= 90.0, relief
    assert len(d.water_lines) == 1 and d.water_line_width_m[0] > 30
    # the west slope is steeper than the terrace the town stands on
    west = d.terrain_m[:, :150].mean() - river_m
    assert west > 50.0


def test_typologies(district):
    d = district
    b = d.buildings
    kind = _kind(d)
    assert len(b) > 3000
    platte = (kind == "platte") & (b.use == "residential")  # a few slabs are schools (GDR type schools)
    assert platte.sum() >= 20
    assert set(b.roof_shape[platte]) == {"flat"} and b.storeys[platte].min() >= 5 and b.storeys[platte].max() <= 11
    assert (b.storeys[platte] == 11).any()
    core = kind == "core"
    assert core.sum() > 200 and set(b.roof_shape[core]) <= {"gabled", "hipped"}
    # front houses of 2-4 storeys, lower rear buildings (Hinterhäuser) across the yards
    assert b.storeys[core].min() >= 1 and b.storeys[core].max() <= 4 and np.median(b.storeys[core]) >= 2
    gz = (kind == "gruenderzeit") & (b.use == "residential")  # some became shops, schools, kindergartens
    assert gz.sum() > 200 and b.storeys[gz].max() <= 5 and b.storeys[gz].min() >= 2
    sf = kind == "single_family"
    assert sf.sum() > 500 and b.storeys[sf].max() <= 2 and set(b.roof_shape[sf]) <= {"gabled", "hipped"}
    ind = kind == "industry"
    areas = shapely.area(np.array(b.footprints, dtype=object))
    assert ind.sum() >= 5 and areas[ind].min() > 800 and set(b.roof_shape[ind]) == {"flat"}
    church = b.use == "church"
    assert church.sum() >= 2 and b.height_m[church].max() > 50  # the tower
    assert (kind == "station").sum() == 1 and (kind == "hut").sum() > 100  # station, allotment huts
    assert np.all(b.height_m >= b.eave_height_m) and np.all(b.eave_height_m > 0)
    assert np.all(b.base_m > 95.0)


def test_buildings_do_not_overlap_each_other_or_the_roads(district):
    d = district
    fps = np.array(d.buildings.footprints, dtype=object)
    assert shapely.is_valid(fps).all()
    tree = shapely.STRtree(fps)
    a, b = tree.query(fps, predicate="intersects")
    pairs = a < b
    if pairs.any():
        inter = shapely.area(shapely.intersection(fps[a[pairs]], fps[b[pairs]]))
        assert inter.max() < 1e-6
    widths = np.array([ROAD_WIDTH_M.get(str(c), 4.0) for c in d.roads.road_class])
    carriageways = shapely.buffer(road_lines(d.roads.geometry), widths / 2, cap_style="flat")
    hit, _ = shapely.STRtree(carriageways).query(fps, predicate="intersects")
    assert hit.size == 0


def test_road_graph_shares_nodes_exactly_and_is_connected(district):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    r = district.roads
    nodes = r.node_xy_local_m
    assert np.unique(nodes, axis=0).shape[0] == nodes.shape[0]
    for g, i, j in zip(r.geometry, r.edge_from, r.edge_to):
        assert np.array_equal(g[0], nodes[i]) and np.array_equal(g[-1], nodes[j])
    lengths = np.array([np.hypot(*np.diff(g, axis=0).T).sum() for g in r.geometry])
    np.testing.assert_allclose(r.length_m, lengths)
    # any two edges meet only at a node they share (junctions are nodes, nothing else touches)
    lines = road_lines(r.geometry)
    a, b = shapely.STRtree(lines).query(lines, predicate="intersects")
    sel = a < b
    a, b = a[sel], b[sel]
    inter = shapely.intersection(lines[a], lines[b])
    assert set(shapely.get_type_id(inter)) <= {0, 4}  # points or multipoints, never overlaps
    shared = {(min(x, y), max(x, y)) for x, y in zip(a, b)}
    assert shared
    ends = {k: {int(r.edge_from[k]), int(r.edge_to[k])} for k in range(len(r))}
    for x, y, geom in zip(a, b, inter):
        common = ends[x] & ends[y]
        pts = shapely.get_coordinates(geom)
        for p in pts:
            assert any(np.allclose(p, nodes[n], atol=1e-6) for n in common), (x, y, p)
    drv = r.drivable
    n = nodes.shape[0]
    g = coo_matrix((np.ones(drv.sum()), (r.edge_from[drv], r.edge_to[drv])), shape=(n, n))
    used = np.unique(np.concatenate([r.edge_from[drv], r.edge_to[drv]]))
    ncomp, label = connected_components(g, directed=False)
    assert np.unique(label[used]).size == 1, "the drivable network is one component"
    gall = coo_matrix((np.ones(len(r)), (r.edge_from, r.edge_to)), shape=(n, n))
    assert connected_components(gall, directed=False)[0] == 1


def test_road_attributes_are_plausible(district):
    r = district.roads
    classes = set(r.road_class)
    assert {"primary", "secondary", "tertiary", "residential", "footway"} <= classes
    drv = r.drivable
    assert set(np.unique(r.maxspeed_kmh[drv])) <= {10.0, 20.0, 30.0, 50.0, 100.0}
    assert (r.maxspeed_kmh[r.road_class == "residential"] <= 30).all()
    assert (r.lanes[r.road_class == "primary"] == 2).all()
    assert (r.oneway[drv] != 0).any() and (r.oneway[~drv] == 0).all()
    assert set(np.unique(r.oneway)) <= {-1, 0, 1}
    assert all(c in DRIVABLE_CLASSES or c in ("footway", "path") for c in classes)


def test_stops_on_main_roads_and_services(district):
    d = district
    s = d.stops
    bus = s.mode == "bus"
    assert bus.sum() >= 6 and (s.mode == "rail").sum() == 1
    main = np.isin(d.roads.road_class, ["primary", "secondary", "tertiary"])
    dist = shapely.distance(shapely.points(s.xy_local_m[bus])[:, None], road_lines(d.roads.geometry)[main][None, :])
    assert dist.min(axis=1).max() < 10.0
    xy = s.xy_local_m[bus]
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + np.eye(len(xy)) * 1e9
    assert gaps.min() >= 400.0
    cats = set(d.pois.category)
    assert {"doctor", "pharmacy", "school", "kindergarten", "supermarket", "care_home"} <= cats
    kinds = set(d.landcover.kind)
    assert {"landuse=allotments", "leisure=park", "landuse=forest", "landuse=farmland"} <= kinds
    t = d.trees
    assert t.xy_local_m.shape[0] > 1000 and (t.height_m > 0).all()
    inside = shapely.STRtree(np.array(d.buildings.footprints, dtype=object)).query(
        shapely.points(t.xy_local_m), predicate="within")[0]
    assert inside.size == 0


def test_residents_match_the_real_age_structure(district):
    b = district.buildings
    assert b.residents_by_age.shape == (len(b), len(age_bands()))
    np.testing.assert_array_equal(b.residents_by_age.sum(axis=1), b.residents)
    assert (b.residents[b.use != "residential"] == 0).all()
    total = int(b.residents.sum())
    assert 15_000 < total < 40_000
    persons = np.asarray(load_age_table()["persons"], dtype=float)
    expected = total * persons / persons.sum()
    assert np.abs(b.residents_by_age.sum(axis=0) - expected).max() < 1.0
    # Plattenbau tenants are older on average than families in single-family houses
    mids = np.array([(lo + min(hi, 90)) / 2 for lo, hi in age_bands()])
    kind = _kind(district)

    def mean_age(sel: np.ndarray) -> float:
        return float((b.residents_by_age[sel] * mids).sum() / b.residents_by_age[sel].sum())

    assert mean_age(kind == "platte") > mean_age(kind == "single_family") + 5.0


def test_deterministic_and_seeded():
    a = build_sample_district(size_km=1.0, seed=3, cell_m=4.0)
    b = build_sample_district(size_km=1.0, seed=3, cell_m=4.0)
    c = build_sample_district(size_km=1.0, seed=4, cell_m=4.0)
    assert a.summary() == b.summary()
    np.testing.assert_array_equal(a.dsm_m, b.dsm_m)
    np.testing.assert_array_equal(a.buildings.residents_by_age, b.buildings.residents_by_age)
    assert a.summary() != c.summary()


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"size_km": 0.1}, "Größe"), ({"size_km": float("nan")}, "Größe"), ({"size_km": 25.0}, "size out of range"),
    ({"cell_m": 0.0}, "Zellgröße"), ({"seed": -1}, "Seed"), ({"seed": 1.5}, "seed must be"),
])
def test_bad_parameters_are_refused(kwargs, word):
    with pytest.raises(SampleError, match=word):
        build_sample_district(**kwargs)


def test_golden_summary(district):
    summary = district.summary()
    if os.environ.get("LANDTWIN_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert summary == golden, "sample district changed; regenerate deliberately with LANDTWIN_REGEN_GOLDEN=1"


def test_twin_sample_cli(tmp_path, capsys):
    from cli.main import main

    args = ["--data-dir", str(tmp_path), "sample", "--name", "s1", "--size-km", "1", "--cell", "4", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    bundle = tmp_path / "districts" / "s1"
    assert first["built"] is True and first["summary"]["buildings"] > 100
    assert (bundle / "manifest.json").is_file() and (bundle / "tiles" / "tileset.json").is_file()
    assert main(args) == 0  # the same options again: the bundle is current and reused
    assert json.loads(capsys.readouterr().out)["built"] is False
    for bad, word in ((["--size-km", "40"], "Größe"), (["--cell", "0.1"], "Zellgröße"),
                      (["--render", str(tmp_path / "x.jpg")], ".png"), (["--name", "../x"], "Name")):
        rc = main(["--data-dir", str(tmp_path), "sample", "--name", "s2", *bad])
        assert rc == 2 and word in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "districts").iterdir()) == ["s1"]  # nothing half-written


def test_snap_rounding_fallback_gives_the_same_graph(monkeypatch):
    """Large districts can defeat GEOS's floating-point noding; the snap-rounding fallback must give an
    equally valid network of the same streets (it may split closed rings at other points)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from geodata.sample_network import streets_to_roads
    from geodata.sample_plan import make_plan
    from geodata.sample_terrain import make_valley

    rng = np.random.default_rng(0)
    valley = make_valley(2000.0, rng)
    plan = make_plan(valley, rng)
    built = shapely.union_all([z.polygon for z in plan.zones])
    exact = streets_to_roads(plan.streets, size_m=2000.0, built_up=built)

    calls = []

    def fail(geom, **kwargs):  # what GEOS does on some large inputs
        calls.append(geom)
        raise shapely.errors.GEOSException("TopologyException: Iterated noding failed to converge")

    monkeypatch.setattr(shapely, "node", fail)
    snapped = streets_to_roads(plan.streets, size_m=2000.0, built_up=built)
    assert calls
    assert abs(len(snapped) - len(exact)) < 0.05 * len(exact)
    assert snapped.length_m.sum() == pytest.approx(exact.length_m.sum(), rel=0.03)  # links may differ
    nodes = snapped.node_xy_local_m
    for g, i, j in zip(snapped.geometry, snapped.edge_from, snapped.edge_to):
        assert np.array_equal(g[0], nodes[i]) and np.array_equal(g[-1], nodes[j])
    n = nodes.shape[0]
    graph = coo_matrix((np.ones(len(snapped)), (snapped.edge_from, snapped.edge_to)), shape=(n, n))
    assert connected_components(graph, directed=False)[0] == 1
