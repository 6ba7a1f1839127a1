"""Department layers through the real API: an upload round trip for every format, every bad file refused
with a clear message and nothing stored, versions, search, and who sees what (checked against the
OpenAPI so that a new layer route cannot slip past the role table)."""

from __future__ import annotations

import io
import json
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest
import shapely
from conftest import shared_data
from fastapi.testclient import TestClient
from server_support import auth, make_app

from geodata.crs import lonlat_to_utm

GEMEINDEN = ("burgenlandkreis_admin_boundaries_vg5000", "burgenlandkreis_gemeinden.geojson")
NAUMBURG_LONLAT = (11.8096, 51.1520)
ZEITZ_LONLAT = (12.1386, 51.0480)


def _geojson_doctors() -> bytes:
    feats = [
        {"type": "Feature", "properties": {"name": "Praxis Dr. A", "fach": "Allgemeinmedizin", "aerzte": 2},
         "geometry": {"type": "Point", "coordinates": list(NAUMBURG_LONLAT)}},
        {"type": "Feature", "properties": {"name": "Praxis Dr. B", "fach": "Kinderheilkunde", "aerzte": 1},
         "geometry": {"type": "Point", "coordinates": list(ZEITZ_LONLAT)}},
        {"type": "Feature", "properties": {"name": "MVZ Weißenfels", "fach": "Allgemeinmedizin", "aerzte": 5},
         "geometry": {"type": "Point", "coordinates": [11.9700, 51.2000]}},
    ]
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def _gpkg_care_homes(path: Path, *, srs_id: int = 25832, coords: list[tuple[float, float]] | None = None) -> bytes:
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT, srs_id INTEGER PRIMARY KEY, organization TEXT,"
        " organization_coordsys_id INTEGER, definition TEXT);"
        "CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, identifier TEXT);"
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT,"
        " srs_id INTEGER, z INTEGER, m INTEGER);"
        "CREATE TABLE heime (fid INTEGER PRIMARY KEY, geom BLOB, name TEXT, betten INTEGER);")
    con.execute("INSERT INTO gpkg_spatial_ref_sys VALUES ('ETRS89 / UTM 32N', ?, 'EPSG', ?, '')", (srs_id, srs_id))
    con.execute("INSERT INTO gpkg_contents VALUES ('heime', 'features', 'heime')")
    con.execute("INSERT INTO gpkg_geometry_columns VALUES ('heime', 'geom', 'POINT', ?, 0, 0)", (srs_id,))
    if coords is None:
        e, n = lonlat_to_utm(np.array([NAUMBURG_LONLAT[0], ZEITZ_LONLAT[0]]), np.array([NAUMBURG_LONLAT[1], ZEITZ_LONLAT[1]]), 25832)
        coords = list(zip(e.tolist(), n.tolist()))
    for i, (x, y) in enumerate(coords):
        blob = b"GP" + bytes([0, 0b00000001]) + struct.pack("<i", srs_id) + shapely.to_wkb(shapely.Point(x, y))
        con.execute("INSERT INTO heime VALUES (?, ?, ?, ?)", (i + 1, blob, f"Pflegeheim {i + 1}", 80 + 20 * i))
    con.commit()
    con.close()
    return path.read_bytes()


def _geotiff(*, epsg: int = 25832, west: float = 690_000.0, north: float = 5_675_000.0) -> bytes:
    import rasterio
    from rasterio.transform import Affine

    arr = np.arange(40 * 50, dtype=np.float32).reshape(40, 50) / 10.0
    arr[0, 0] = -9999.0
    buf = io.BytesIO()
    with rasterio.MemoryFile() as mem:
        with mem.open(driver="GTiff", width=50, height=40, count=1, dtype="float32", crs=f"EPSG:{epsg}",
                      transform=Affine(100.0, 0.0, west, 0.0, -100.0, north), nodata=-9999.0) as ds:
            ds.write(arr, 1)
        buf.write(mem.read())
    return buf.getvalue()


CSV_KITAS = "ags;name;plaetze\n15084355;Kitas Naumburg;1450\n15084590;Kitas Zeitz;1210\n15084550;Kitas Weißenfels;1580\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    shared_data(*GEMEINDEN)
    tmp = Path(tmp_path_factory.mktemp("layers"))
    app, tokens = make_app(tmp)
    st = app.state.twin.storage
    st.add_token("soziales-token-123456", role="planner", department="Soziales", name="Sara")
    tokens["soziales"] = "soziales-token-123456"
    with TestClient(app) as c:
        yield c, tokens, tmp


def _upload(c, token: str, name: str, data: bytes, **form):
    form.setdefault("title", name)
    return c.post("/api/layers", files={"file": (name, data)}, data={k: str(v) for k, v in form.items()},
                  headers=auth(token) if token else {})


def _counts(c) -> tuple[int, int]:
    return c.app.state.layer_store.count() if getattr(c.app.state, "layer_store", None) else (0, 0)


def test_geojson_round_trip_with_categories_and_search(world) -> None:
    c, tokens, _ = world
    r = _upload(c, tokens["planner"], "aerzte.geojson", _geojson_doctors(), title="Arztpraxen", source="KV Sachsen-Anhalt",
                licence="dl-de/by-2.0", data_date="2024-06-30", update_cycle="jährlich", visibility="public",
                style_mode="categories", style_field="fach")
    assert r.status_code == 201, r.text
    lay = r.json()
    assert lay["department"] == "Umwelt" and lay["kind"] == "vector" and lay["head_version"] == 1
    cur = lay["current"]
    assert cur["format"] == "geojson" and cur["feature_count"] == 3 and cur["source"] == "KV Sachsen-Anhalt"
    assert {f["name"]: f["type"] for f in cur["fields"]} == {"name": "string", "fach": "string", "aerzte": "integer"}
    assert [e["value"] for e in cur["style"]["entries"]] == ["Allgemeinmedizin", "Kinderheilkunde"]
    w, s, e, n = cur["bbox_lonlat"]
    assert w == pytest.approx(11.8096) and n == pytest.approx(51.2)
    data = c.get(f"/api/layers/{lay['layer_id']}/data").json()
    assert [f["properties"]["name"] for f in data["features"]] == ["Praxis Dr. A", "Praxis Dr. B", "MVZ Weißenfels"]
    assert data["features"][1]["geometry"]["coordinates"] == list(ZEITZ_LONLAT)
    # search by title, source and attribute name, case-insensitive
    for q in ("arztpraxen", "kv sachsen", "aerzte"):
        assert lay["layer_id"] in [x["layer_id"] for x in c.get("/api/layers", params={"q": q}).json()], q
    assert lay["layer_id"] not in [x["layer_id"] for x in c.get("/api/layers", params={"q": "schulen"}).json()]


def test_geopackage_round_trip_reprojected_with_classes(world, tmp_path: Path) -> None:
    c, tokens, _ = world
    raw = _gpkg_care_homes(tmp_path / "heime.gpkg")
    r = _upload(c, tokens["soziales"], "heime.gpkg", raw, title="Pflegeheime", style_mode="classes",
                style_field="betten", style_classes=2)
    assert r.status_code == 201, r.text
    cur = r.json()["current"]
    assert cur["format"] == "gpkg" and cur["source_epsg"] == 25832 and cur["feature_count"] == 2
    assert [e["colour"] for e in cur["style"]["entries"]] == ["#440154", "#fde725"]
    assert cur["style"]["entries"][0]["lower"] == 80 and cur["style"]["entries"][-1]["upper"] == 100
    feats = c.get(f"/api/layers/{r.json()['layer_id']}/data", headers=auth(tokens["soziales"])).json()["features"]
    lon, lat = feats[1]["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx(ZEITZ_LONLAT, abs=1e-6)  # back to lon/lat within 0.1 m


def test_geotiff_round_trip_and_preview(world) -> None:
    c, tokens, _ = world
    raw = _geotiff()
    r = _upload(c, tokens["planner"], "laerm.tif", raw, title="Lärmkarte", visibility="public",
                style_mode="classes", style_field="band1", style_classes=4)
    assert r.status_code == 201, r.text
    lay = r.json()
    info = lay["current"]["raster_info"]
    assert lay["kind"] == "raster" and info["width"] == 50 and info["height"] == 40 and info["epsg"] == 25832
    assert info["minimum"] == pytest.approx(0.1) and info["maximum"] == pytest.approx(199.9, abs=1e-3)  # nodata left out
    got = c.get(f"/api/layers/{lay['layer_id']}/data")
    assert got.headers["content-type"] == "image/tiff" and got.content == raw
    png = c.get(f"/api/layers/{lay['layer_id']}/data", params={"preview": "true"})
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png.content)))
    assert img.shape == (40, 50, 4) and img[0, 0, 3] == 0 and img[20, 20, 3] > 0
    w, s, e, n = lay["current"]["bbox_lonlat"]
    assert 11.7 < w < e < 11.9 and 51.1 < s < n < 51.3


def test_csv_with_ags_round_trip_and_new_version(world) -> None:
    c, tokens, _ = world
    r = _upload(c, tokens["soziales"], "kitas.csv", CSV_KITAS.encode(), title="Kita-Plätze", visibility="departments",
                shared_with="Verkehr", style_mode="classes", style_field="plaetze", style_classes=3)
    assert r.status_code == 201, r.text
    lid = r.json()["layer_id"]
    feats = c.get(f"/api/layers/{lid}/data", headers=auth(tokens["soziales"])).json()["features"]
    assert [f["properties"]["ags"] for f in feats] == ["15084355", "15084590", "15084550"]
    assert feats[0]["properties"]["plaetze"] == 1450 and feats[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # a re-upload is version 2; version 1 stays readable
    r2 = c.post(f"/api/layers/{lid}/versions", files={"file": ("kitas.csv", CSV_KITAS.replace("1450", "1500").encode())},
                data={"data_date": "2025-03-01"}, headers=auth(tokens["soziales"]))
    assert r2.status_code == 201, r2.text
    assert r2.json()["head_version"] == 2 and r2.json()["current"]["style"]["mode"] == "classes"
    v1 = c.get(f"/api/layers/{lid}/data", params={"version": 1}, headers=auth(tokens["soziales"])).json()
    v2 = c.get(f"/api/layers/{lid}/data", headers=auth(tokens["soziales"])).json()
    assert v1["features"][0]["properties"]["plaetze"] == 1450 and v2["features"][0]["properties"]["plaetze"] == 1500
    vs = c.get(f"/api/layers/{lid}/versions", headers=auth(tokens["soziales"])).json()
    assert [v["version"] for v in vs] == [1, 2] and vs[1]["data_date"] == "2025-03-01"
    # another department may not upload a version of it
    r3 = c.post(f"/api/layers/{lid}/versions", files={"file": ("kitas.csv", CSV_KITAS.encode())},
                headers=auth(tokens["planner2"]))
    assert r3.status_code == 403 and r3.json()["message_de"]


def _bad_files(tmp: Path) -> dict[str, tuple[str, bytes, dict, str]]:
    fc = json.loads(_geojson_doctors())
    utm_undeclared = json.loads(json.dumps(fc))
    for f, (x, y) in zip(utm_undeclared["features"], [(690_000, 5_670_000)] * 3):
        f["geometry"]["coordinates"] = [x, y]
    wrong_zone = json.loads(json.dumps(utm_undeclared))
    wrong_zone["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25833"}}
    bowtie = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"}, "geometry": {
        "type": "Polygon", "coordinates": [[[11.8, 51.1], [11.9, 51.2], [11.9, 51.1], [11.8, 51.2], [11.8, 51.1]]]}}]}
    mixed = json.loads(json.dumps(fc))
    mixed["features"][2]["properties"]["aerzte"] = "fünf"
    return {
        "wrong CRS (UTM without a crs member)": ("x.geojson", json.dumps(utm_undeclared).encode(), {}, "Koordinatensystem"),
        "wrong CRS (declared zone 33 for zone 32 data)": ("x.geojson", json.dumps(wrong_zone).encode(), {}, "nicht im Gebiet"),
        "wrong CRS in a GeoPackage": ("x.gpkg", _gpkg_care_homes(tmp / "far.gpkg", srs_id=25833), {}, "nicht im Gebiet"),
        "broken geometry": ("x.geojson", json.dumps(bowtie).encode(), {}, "ungültige Geometrie"),
        "truncated GeoJSON": ("x.geojson", _geojson_doctors()[:-40], {}, "kein gültiges JSON"),
        "mixed attribute types": ("x.geojson", json.dumps(mixed).encode(), {}, "gemischte Typen"),
        "unknown AGS": ("x.csv", b"ags;plaetze\n15084355;10\n15099999;5\n", {}, "15099999"),
        "CSV without a position": ("x.csv", b"name;plaetze\nA;10\n", {}, "Spalten"),
        "not a GeoTIFF": ("x.tif", b"%PDF-1.4 this is a pdf" * 10, {}, "keine GeoTIFF"),
        "a TIFF that is broken": ("x.tif", b"II*\x00" + b"\x00" * 64, {}, "GeoTIFF"),
        "a GeoTIFF far away": ("x.tif", _geotiff(epsg=25833), {}, "nicht im Gebiet"),
        "not a GeoPackage": ("x.gpkg", b"hello world", {}, "kein GeoPackage"),
        "unknown format": ("x.shp", b"\x00\x00\x27\x0a", {}, "unbekanntes Format"),
        "unknown style field": ("x.geojson", _geojson_doctors(), {"style_mode": "classes", "style_field": "nope"}, "nope"),
        "classes of a text field": ("x.geojson", _geojson_doctors(), {"style_mode": "classes", "style_field": "fach"}, "Zahlen"),
        "over the size limit": ("x.geojson", b" " * (20 * 1024 * 1024 + 10), {}, "zu groß"),
    }


def test_every_bad_file_is_refused_with_a_clear_message_and_nothing_stored(world, tmp_path: Path) -> None:
    c, tokens, _ = world
    _upload(c, tokens["planner"], "ok.geojson", _geojson_doctors())  # the store exists
    for case, (name, data, form, needle) in _bad_files(tmp_path).items():
        before = _counts(c)
        r = _upload(c, tokens["planner"], name, data, **form)
        assert r.status_code in (413, 422), (case, r.status_code, r.text[:300])
        err = r.json()
        assert needle in err["message_de"], (case, err)
        assert err["message_en"] and err["message_en"] != err["message_de"], case
        assert _counts(c) == before, case
    assert _upload(c, tokens["planner"], "x.geojson", b" " * (20 * 1024 * 1024 + 10)).status_code == 413


def test_visibility_per_role(world) -> None:
    c, tokens, _ = world
    made = {}
    for vis, shared in (("private", ""), ("departments", "Verkehr"), ("public", "")):
        r = _upload(c, tokens["soziales"], f"{vis}.csv", CSV_KITAS.encode(), title=f"Sicht {vis}", visibility=vis,
                    shared_with=shared)
        assert r.status_code == 201, r.text
        made[vis] = r.json()["layer_id"]
    who = {"citizen": {}, "owner": auth(tokens["soziales"]), "shared": auth(tokens["planner2"]),
           "other": auth(tokens["planner"]), "admin": auth(tokens["admin"])}
    expect = {
        "citizen": {"public"}, "owner": {"private", "departments", "public"}, "shared": {"departments", "public"},
        "other": {"public"}, "admin": {"private", "departments", "public"},
    }
    for name, headers in who.items():
        listed = {x["layer_id"] for x in c.get("/api/layers", params={"q": "Sicht"}, headers=headers).json()}
        assert listed == {made[v] for v in expect[name]}, name
        for vis, lid in made.items():
            for path in (f"/api/layers/{lid}", f"/api/layers/{lid}/data", f"/api/layers/{lid}/versions"):
                code = c.get(path, headers=headers).status_code
                assert code == (200 if vis in expect[name] else 404), (name, vis, path, code)
    # visibility changes: only the owner (or an admin); then a citizen sees it
    assert c.patch(f"/api/layers/{made['private']}", json={"visibility": "public"}, headers=who["other"]).status_code == 404
    assert c.patch(f"/api/layers/{made['public']}", json={"title": "x"}, headers=who["other"]).status_code == 403
    assert c.patch(f"/api/layers/{made['public']}", json={"title": "x"}).status_code == 403
    r = c.patch(f"/api/layers/{made['private']}", json={"visibility": "public"}, headers=who["owner"])
    assert r.status_code == 200 and r.json()["visibility"] == "public"
    assert c.get(f"/api/layers/{made['private']}").status_code == 200


def test_anonymous_roles_cannot_change_layers_on_any_route(world) -> None:
    """Every state-changing layer route in the OpenAPI refuses citizens and stores nothing."""
    c, tokens, _ = world
    lid = _upload(c, tokens["planner"], "a.geojson", _geojson_doctors(), visibility="public").json()["layer_id"]
    spec = c.get("/api/openapi.json").json()
    routes = [(m.upper(), p) for p, ops in spec["paths"].items() if p.startswith("/api/layers")
              for m in ops if m.upper() in ("POST", "PUT", "PATCH", "DELETE")]
    assert set(routes) == {("POST", "/api/layers"), ("POST", "/api/layers/{layer_id}/versions"),
                           ("PATCH", "/api/layers/{layer_id}")}
    for method, path in routes:
        before = (_counts(c), c.get(f"/api/layers/{lid}").json())
        url = path.format(layer_id=lid)
        kw = {"json": {"title": "gekapert"}} if method == "PATCH" else {"files": {"file": ("a.geojson", _geojson_doctors())},
                                                                       "data": {"title": "x"}}
        r = c.request(method, url, **kw)
        assert r.status_code in (401, 403), (method, path, r.status_code)
        assert r.json()["message_de"] and r.json()["message_en"]
        assert (_counts(c), c.get(f"/api/layers/{lid}").json()) == before
