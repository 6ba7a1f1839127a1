"""One of each helper: the district loader, the scenario-file reader, the atomic writers, the GeoTIFF
writer, the links GeoJSON, the canopy rule and the district-name pattern, each used by the command line,
the engines and the server alike."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import Affine
from server_support import make_app, tiny_district

from cli.main import main
from geodata.bundle import bundle_dir, load_district, write_bundle
from geodata.canopy import canopy_on_ground, canopy_tops
from geodata.files import atomic_dir, atomic_file, geotiff_bytes, write_geotiff
from geodata.geojson import LINK_FIELDS, links_collection
from geodata.interventions import InterventionError
from geodata.names import NAME_PATTERN, is_district_name
from geodata.sample import SampleError
from geodata.scenario_file import read_scenario_file
from geodata.sources import DataError

# ---- names and the district loader ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["kreis.2024", "sample", "Naumburg", "a", "x-1.b_2"])
def test_plain_names_are_district_names(name: str) -> None:
    assert is_district_name(name)


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "a b", "a\n", "x" * 65, "-lead", None, 3])
def test_other_names_are_not(name: object) -> None:
    assert not is_district_name(name)
    if isinstance(name, str):
        with pytest.raises(DataError, match="ungültiger Name .* / .*invalid name"):
            bundle_dir("data", name)


def test_a_dotted_district_is_loaded_and_served(tmp_path: Path) -> None:
    d = tiny_district("kreis.2024")
    write_bundle(d, bundle_dir(tmp_path, "kreis.2024"), tiles=False)
    assert load_district(tmp_path, "kreis.2024").summary() == d.summary()
    app, tokens = make_app(tmp_path)  # the server's data folder holds the bundle
    with TestClient(app) as c:
        r = c.post("/api/scenarios", json={"name": "Plan", "district": "kreis.2024"},
                   headers={"Authorization": f"Bearer {tokens['planner']}"})
        assert r.status_code == 201 and r.json()["district"] == "kreis.2024", r.text
        r = c.get("/api/districts/kreis.2024")
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "kreis.2024"
        assert "kreis.2024" in [x["name"] for x in c.get("/api/districts").json()]
        assert c.get("/api/districts/kreis.2024/links.geojson").json()["features"]
        assert c.get("/api/districts/..kreis/links.geojson").status_code in (404, 422)
        assert c.get("/api/scenarios", params={"district": "kreis.2024"}).status_code != 422
    assert app.openapi()["components"]["schemas"]["ScenarioCreate"]["properties"]["district"]["pattern"] == NAME_PATTERN


def test_loader_builds_the_sample_of_the_asked_size_and_names_what_is_missing(tmp_path: Path) -> None:
    small = load_district(tmp_path, "sample", sample_size_km=0.5)
    assert small.grid.rows * small.grid.cell_m == pytest.approx(500.0)
    write_bundle(small, bundle_dir(tmp_path, "sample"), tiles=False)
    assert load_district(tmp_path, "sample", sample_size_km=0.5).summary() == small.summary()  # the bundle
    with pytest.raises(SampleError):
        load_district(tmp_path, "sample", sample_size_km=0.1)  # no bundle of that size: built, and refused
    with pytest.raises(DataError, match="nicht gefunden .* / .*not found"):
        load_district(tmp_path, "nowhere")


@pytest.mark.parametrize("command", ["heat", "traffic"])
def test_every_command_maps_loader_errors_to_exit_status_2(tmp_path: Path, command: str, capsys) -> None:
    base = ["--data-dir", str(tmp_path), command]
    out = tmp_path / "out"
    assert main([*base, "sample", "--sample-size-km", "0.1", "--out", str(out)]) == 2
    assert "0.5..20" in capsys.readouterr().err
    assert main([*base, "nowhere", "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main([*base, "../x", "--out", str(out)]) == 2
    assert "invalid name" in capsys.readouterr().err
    assert not out.exists()


# ---- the scenario file ---------------------------------------------------------------------------
TREE = {"kind": "tree", "id": "t1", "xy_local_m": [80.0, 80.0]}


@pytest.mark.parametrize("doc", [[TREE], {"interventions": [TREE]}])
def test_scenario_file_is_a_list_or_an_object_with_a_list(tmp_path: Path, doc: object) -> None:
    p = tmp_path / "s.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    (iv,) = read_scenario_file(p)
    assert iv.id == "t1"


@pytest.mark.parametrize(("text", "words"), [
    (None, "nicht gefunden"), ("{", "kein gültiges JSON"), ('{"x": 1}', "Liste von Maßnahmen"),
    ('[{"kind": "tree", "id": "a", "xy_local_m": [1, 2]}, {"kind": "nope"}]', "Maßnahme 2"),
])
def test_bad_scenario_files_are_refused_in_both_languages(tmp_path: Path, text: str | None, words: str, capsys) -> None:
    p = tmp_path / "s.json"
    if text is not None:
        p.write_text(text, encoding="utf-8")
    with pytest.raises(InterventionError) as err:
        read_scenario_file(p)
    assert words in err.value.de and err.value.en and " / " in str(err.value)
    out = tmp_path / "out"
    assert main(["--data-dir", str(tmp_path), "heat", "sample", "--scenario", str(p), "--out", str(out)]) == 2
    assert words in capsys.readouterr().err and not out.exists()


# ---- atomic writers and the GeoTIFF writer ----------------------------------------------------------
def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "out"
    atomic_dir(target, lambda d: (d / "a.txt").write_text("1"))

    def fail(d: Path) -> None:
        (d / "b.txt").write_text("2")
        raise RuntimeError("half way")

    with pytest.raises(RuntimeError):
        atomic_dir(target, fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and [p.name for p in target.iterdir()] == ["a.txt"]
    atomic_dir(target, lambda d: (d / "c.txt").write_text("3"))
    assert [p.name for p in target.iterdir()] == ["c.txt"] and sorted(os.listdir(tmp_path)) == ["out"]
    assert oct(target.stat().st_mode & 0o777) == "0o755"


def test_atomic_file_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_file(target, lambda p: p.write_text("old"))

    def fail(p: Path) -> None:
        p.write_text("new")
        raise ValueError("half way")

    with pytest.raises(ValueError):
        atomic_file(target, fail)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["f.json"]


def test_geotiff_writer_always_sets_nodata(tmp_path: Path) -> None:
    tr = (2.0, 0.0, 690000.0, 0.0, -2.0, 5670000.0)
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    a[0, 0] = np.nan
    write_geotiff(tmp_path / "a.tif", [a, a * 2], crs=25832, transform=tr, names=["x", "y"], tags={"unit": "K"})
    with rasterio.open(tmp_path / "a.tif") as src:
        assert np.isnan(src.nodata) and src.dtypes == ("float32", "float32") and src.descriptions == ("x", "y")
        assert src.crs.to_epsg() == 25832 and src.transform == Affine(*tr) and src.tags(1)["unit"] == "K"
        m = src.read(1, masked=True)
        assert m.mask[0, 0] and not m.mask[0, 1] and float(src.read(2)[2, 3]) == 22.0
    with pytest.raises(ValueError, match="nodata"):
        write_geotiff(tmp_path / "b.tif", np.zeros((2, 2), np.uint8), crs=25832, transform=tr)
    write_geotiff(tmp_path / "b.tif", np.zeros((2, 2), np.uint8), crs=25832, transform=tr, nodata=255)
    with rasterio.open(tmp_path / "b.tif") as src:
        assert src.nodata == 255 and src.dtypes[0] == "uint8"
    with rasterio.MemoryFile(geotiff_bytes(a, crs=25832, transform=tr)) as mem, mem.open() as src:
        assert np.isnan(src.nodata) and np.array_equal(src.read(1), a.astype(np.float32), equal_nan=True)


def test_every_geotiff_the_project_writes_has_nodata(tmp_path: Path) -> None:
    d = tiny_district()
    root = write_bundle(d, tmp_path / "b", tiles=False)
    for f in ("terrain.tif", "dsm.tif", "canopy.tif", "surface.tif"):
        with rasterio.open(root / f) as src:
            assert src.nodata is not None, f
    from server.exports import field_geotiff

    with rasterio.MemoryFile(field_geotiff(d, np.zeros(d.grid.shape), name="x", unit="K")) as mem, mem.open() as src:
        assert np.isnan(src.nodata)


# ---- links GeoJSON -----------------------------------------------------------------------------------
def test_links_geojson_has_one_set_of_field_names_in_the_cli_and_the_server() -> None:
    from server.exports import links_geojson

    d = tiny_district()
    n = len(d.roads)
    edges = {"flow_veh_h": np.arange(n, dtype=np.float32), "vc": np.full(n, 0.5, np.float32),
             "speed_kmh": np.full(n, 30.0, np.float32), "delay_s": np.zeros(n, np.float32),
             "noise_db": np.array([np.nan] + [60.0] * (n - 1), np.float32), "closed": np.eye(1, n, 0, bool)[0]}
    server = json.loads(links_geojson(d, edges))
    direct = links_collection(d, d.roads, edges)
    assert server == json.loads(json.dumps(direct))
    props = server["features"][0]["properties"]
    assert {f for f, _ in LINK_FIELDS.values()} <= set(props) and "edge_index" in props
    assert props["noise_lme_db"] is None and props["closed"] is True and server["features"][1]["properties"]["vc_ratio"] == 0.5
    assert not {"edge", "vc", "noise_db"} & set(props)


# ---- the canopy rule ---------------------------------------------------------------------------------
def _tif(path: Path, arr: np.ndarray) -> Path:
    write_geotiff(path, arr.astype(np.float32), crs=25832, transform=(2.0, 0.0, 690000.0, 0.0, -2.0, 5670000.0))
    return path


def test_canopy_rule_drops_crowns_on_roofs() -> None:
    ground = np.full((3, 3), 100.0, np.float32)
    dsm = ground.copy()
    dsm[1, 1] = 112.0
    cdsm = np.full((3, 3), 6.0, np.float32)
    cdsm[0, 0] = -1.0
    can = canopy_on_ground(dsm, ground, cdsm)
    assert can[1, 1] == 0.0 and can[0, 0] == 0.0 and can[2, 2] == 6.0
    top, trunk = canopy_tops(ground, can, 0.25)
    assert top[2, 2] == 106.0 and trunk[2, 2] == 101.5 and top[1, 1] == 100.0 == trunk[1, 1]
    assert np.array_equal(canopy_on_ground(dsm, None, None), np.zeros((3, 3), np.float32))


@pytest.mark.usefixtures("taichi_cpu")
def test_twin_svf_and_the_engine_agree_on_the_same_input(tmp_path: Path) -> None:
    from geodata.weather import design_hot_day
    from models.heat.engine import tmrt_on_rasters
    from sim_kernels.skyview import effective_svf, sky_view_factor

    ground = np.full((40, 40), 100.0, np.float32)
    dsm = ground.copy()
    dsm[12:26, 12:26] = 118.0  # a block
    cdsm = np.zeros_like(ground)
    cdsm[14:20, 14:20] = 25.0  # canopy raster covering part of the roof (above it): no crowns stand there
    cdsm[30:34, 6:10] = 9.0  # and trees on the ground
    files = [_tif(tmp_path / f"{n}.tif", a) for n, a in (("dsm", dsm), ("cdsm", cdsm), ("dem", ground))]
    assert main(["svf", "--dsm", str(files[0]), "--cdsm", str(files[1]), "--dem", str(files[2]),
                 "--out", str(tmp_path / "svf.tif")]) == 0
    with rasterio.open(tmp_path / "svf.tif") as src:
        cli_svf = src.read(1)
    fields, _ = tmrt_on_rasters(dsm, cell_m=2.0, lonlat=(11.81, 51.15), weather=design_hot_day(), hours=(12,),
                                canopy_m=cdsm, ground_m=ground, utci=False)
    np.testing.assert_array_equal(cli_svf, fields["svf"])
    # the rule matters on this input: with crowns left on the roof the sky view differs
    kept = np.where(cdsm > 0, ground + cdsm, ground).astype(np.float32)
    rule, _ = canopy_tops(ground, canopy_on_ground(dsm, ground, cdsm), 0.25)
    svf_kept, svf_rule = (effective_svf(*sky_view_factor(dsm, t, cell_m=2.0, n_azimuths=16, radius_m=60.0), 0.03)
                          for t in (kept, rule))
    assert np.abs(svf_kept - svf_rule).max() > 0.05


# ---- read-only districts -------------------------------------------------------------------------------
def _arrays(d) -> dict[str, np.ndarray]:
    return {"terrain_m": d.terrain_m, "dsm_m": d.dsm_m, "canopy_m": d.canopy_m, "surface_class": d.surface_class,
            "building_index": d.building_index, "residents": d.buildings.residents, "lanes": d.roads.lanes,
            "road_geometry": d.roads.geometry[0], "stops": d.stops.xy_local_m, "pois": d.pois.xy_local_m}


def test_district_arrays_are_read_only_when_built_and_when_loaded(tmp_path: Path) -> None:
    import dataclasses

    built = tiny_district()
    write_bundle(built, bundle_dir(tmp_path, "t"), tiles=False)
    loaded = load_district(tmp_path, "t")
    changed = dataclasses.replace(built, canopy_m=np.ones(built.grid.shape, np.float32))
    for d in (built, loaded, changed):
        for name, arr in _arrays(d).items():
            assert not arr.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            d.terrain_m[0, 0] = 1.0
        copy = d.canopy_m.copy()  # the way to a changed raster
        copy[0, 0] = 3.0
        assert copy.flags.writeable
