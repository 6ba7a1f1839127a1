"""Generic layers: Hoyerswerda GeoJSON layers, Burgenlandkreis outlines and DB stops, Jena land cover and
greening layers, and a GeoPackage written here."""

from __future__ import annotations

import json
import sqlite3
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely
from conftest import shared_data
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import Polygon

from geodata.boundaries import area_km2, inside_any, locate, read_boundaries
from geodata.district import SURFACE
from geodata.featureset import FeatureSet, to_district_features
from geodata.layers import LayerMapping, add_layer, load_mappings, read_vector
from geodata.sources import DataError


def _components(roads, mask) -> np.ndarray:
    n = len(roads.node_xy_local_m)
    m = coo_matrix((np.ones(int(mask.sum())), (roads.edge_from[mask], roads.edge_to[mask])), shape=(n, n))
    return connected_components(m, directed=False)[1]


def test_hoyerswerda_geojson_layers_match_the_pbf() -> None:
    folder = shared_data("osm_hoyerswerda_centre")
    fs = FeatureSet()
    counts = {
        t: add_layer(fs, folder / f, LayerMapping(t))
        for f, t in (("buildings.geojson", "buildings"), ("highways.geojson", "roads"),
                     ("landcover.geojson", "landcover"), ("trees.geojson", "trees"), ("pt_stops.geojson", "stops"),
                     ("waterways.geojson", "water_lines"))
    }
    assert counts["buildings"] == 340 and counts["roads"] == 542 and counts["trees"] == 35 and counts["stops"] == 38
    feats, _ = to_district_features(fs)
    assert feats.frame.epsg == 25833 and len(feats.buildings) == 340 and len(feats.stops.name) == 38
    assert {"amenity=parking", "leisure=park", "natural=water"} <= set(feats.landcover.kind)
    # roads from GeoJSON join where coordinates coincide: the components equal those of the PBF graph (5)
    r = feats.roads
    lab = _components(r, np.ones(len(r), dtype=bool))
    assert len(np.unique(lab)) == 5
    d = r.drivable
    dl = _components(r, d)
    per = np.bincount(dl[r.edge_from[d]], weights=r.length_m[d])
    assert per.max() / per.sum() == pytest.approx(0.9235, abs=0.002)


def test_burgenlandkreis_outlines_and_db_stops(capsys) -> None:
    folder = shared_data("burgenlandkreis_admin_boundaries_vg5000")
    gem = read_boundaries(folder / "burgenlandkreis_gemeinden.geojson")
    kreis = read_boundaries(folder / "burgenlandkreis_kreis.geojson")
    assert len(gem) == 33 and len(kreis) == 1
    assert {"Naumburg (Saale)", "Weißenfels", "Zeitz"} <= set(gem.name)
    assert dict(zip(gem.name, gem.key))["Naumburg (Saale)"] == "15084355"
    assert area_km2(kreis)[0] == pytest.approx(1413.75, rel=0.01)  # official area; VG5000 is generalised
    assert area_km2(gem).sum() == pytest.approx(area_km2(kreis)[0], rel=0.01)

    stops_dir = shared_data("burgenlandkreis_transit_stops_db")
    lay = read_vector(stops_dir / "hafas_stops_burgenlandkreis.geojson")
    lon = np.array([g.x for g in lay.geometries])
    lat = np.array([g.y for g in lay.geometries])
    inside = inside_any(kreis, lon, lat)
    assert len(lon) == 1010 and int(inside.sum()) == 780
    np.testing.assert_array_equal(inside, [bool(p["in_district"]) for p in lay.properties])
    where = locate(gem, lon, lat)
    assert [gem.key[i] if i >= 0 else None for i in where] == [p["gemeinde_ags"] for p in lay.properties]
    stations = read_vector(stops_dir / "db_stations_burgenlandkreis.geojson")
    s_in = inside_any(kreis, np.array([g.x for g in stations.geometries]), np.array([g.y for g in stations.geometries]))
    assert len(s_in) == 28 and int(s_in.sum()) == 24
    with capsys.disabled():
        print(f"\nBurgenlandkreis: {inside.sum()} of {len(lon)} HAFAS stops inside the VG5000 outline; "
              f"{s_in.sum()} of {len(s_in)} DB stations")

    fs = FeatureSet()
    n = add_layer(fs, stops_dir / "hafas_stops_burgenlandkreis.geojson",
                  LayerMapping("stops", where={"in_district": ("True",)}))
    assert n == 780
    modes = Counter(m for *_, m, _ in fs.stops)
    assert modes["rail"] >= 20 and modes["bus"] > 600


def test_jena_land_cover_and_greening_layers() -> None:
    folder = shared_data("osm_jena_layers_2014")
    fs = FeatureSet()
    n_forest = add_layer(fs, folder / "landuse.forest.geojson", LayerMapping("landcover"))
    n_poly = sum(g.geom_type == "Polygon" for g in read_vector(folder / "landuse.forest.geojson").geometries)
    assert n_poly == 377  # 380 features, 3 of them unclosed ways (LineString), skipped
    assert n_forest >= n_poly  # the 7 invalid polygons are repaired (some split into parts)
    for name in ("leisure.park", "natural.water", "landuse.allotments", "natural.scrub", "landuse.meadow"):
        add_layer(fs, folder / f"{name}.geojson", LayerMapping("landcover"))
    kinds = Counter(k for _, k, *_ in fs.landcover)
    assert kinds["landuse=forest"] == n_forest and kinds["leisure=park"] >= 37 and kinds["natural=water"] >= 40
    codes = {k: c for _, k, c, *_ in fs.landcover}
    assert codes["landuse=forest"] == SURFACE["forest"] and codes["landuse=allotments"] == SURFACE["garden"]
    assert codes["natural=water"] == SURFACE["water"] and codes["natural=scrub"] == SURFACE["grass"]
    assert all(Polygon(r[0], r[1:]).is_valid for *_, r in fs.landcover)
    assert add_layer(fs, folder / "natural.tree.geojson", LayerMapping("trees")) == 655
    assert add_layer(fs, folder / "natural.tree_row.geojson", LayerMapping("trees")) >= 41
    n30 = add_layer(fs, folder / "Tempo30.geojson", LayerMapping("roads", where={"maxspeed": ("30",)}))
    add_layer(fs, folder / "waterway.river.geojson", LayerMapping("water_lines", where={"waterway": ("river",)}))
    feats, _ = to_district_features(fs)
    assert feats.frame.epsg == 25832
    assert n30 >= 500 and set(feats.roads.maxspeed_kmh.tolist()) == {30.0}
    assert feats.trees.xy_local_m.shape[0] > 655 and len(feats.water_lines) >= 1
    w, s, e, n = feats.bbox_local_m
    for line in feats.water_lines:  # the Saale relation (50.1-52.0 N) is clipped to the district box
        assert line[:, 1].min() >= s - 1e-6 and line[:, 1].max() <= n + 1e-6


def _write_gpkg(path: Path, polys: list[tuple[Polygon, dict]], srs_id: int = 25832) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT, srs_id INTEGER PRIMARY KEY, organization TEXT,"
        " organization_coordsys_id INTEGER, definition TEXT);"
        "CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, identifier TEXT);"
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT,"
        " srs_id INTEGER, z INTEGER, m INTEGER);"
        "CREATE TABLE parks (fid INTEGER PRIMARY KEY, geom BLOB, name TEXT, leisure TEXT);"
    )
    con.execute("INSERT INTO gpkg_spatial_ref_sys VALUES ('ETRS89 / UTM 32N', ?, 'EPSG', ?, '')", (srs_id, srs_id))
    con.execute("INSERT INTO gpkg_contents VALUES ('parks', 'features', 'parks')")
    con.execute("INSERT INTO gpkg_geometry_columns VALUES ('parks', 'geom', 'POLYGON', ?, 0, 0)", (srs_id,))
    for i, (p, props) in enumerate(polys):
        blob = b"GP" + bytes([0, 0b00000001]) + struct.pack("<i", srs_id) + shapely.to_wkb(p)
        con.execute("INSERT INTO parks VALUES (?, ?, ?, ?)", (i + 1, blob, props["name"], props["leisure"]))
    con.commit()
    con.close()


def test_geopackage_with_declared_mapping(tmp_path: Path) -> None:
    e0, n0 = 696500.0, 5670300.0
    park = Polygon([(e0, n0), (e0 + 100, n0), (e0 + 100, n0 + 80), (e0, n0 + 80)])
    _write_gpkg(tmp_path / "green.gpkg", [(park, {"name": "Bürgergarten", "leisure": "park"}),
                                          (park.buffer(-20), {"name": "Spielplatz", "leisure": "playground"})])
    lay = read_vector(tmp_path / "green.gpkg")
    assert lay.epsg == 25832 and len(lay.geometries) == 2 and lay.geometries[0].area == pytest.approx(8000.0)
    mappings = load_mappings([{"target": "landcover", "where": {"leisure": ["park"]}, "surface": "garden"}])
    fs = FeatureSet()
    assert add_layer(fs, tmp_path / "green.gpkg", mappings[0]) == 1
    _, kind, code, _, rings = fs.landcover[0]
    assert (kind, code) == ("layer=garden", SURFACE["garden"])
    assert 11.8 < rings[0][:, 0].mean() < 11.82 and 51.14 < rings[0][:, 1].mean() < 51.16  # now lon/lat
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    with pytest.raises(DataError, match="bad.gpkg"):
        read_vector(bad)
    broken = tmp_path / "broken.geojson"
    broken.write_text(json.dumps({"type": "FeatureCollection", "features": []})[:20])
    with pytest.raises(DataError, match="beschädigt oder abgeschnitten.*corrupt or truncated"):
        read_vector(broken)
    with pytest.raises(ValueError, match="unknown target"):
        LayerMapping("houses")
