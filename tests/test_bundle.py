"""District bundles: exact round trip, georeferenced GeoTIFFs, atomic writes, checksums."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geodata.build import build_district, grid_for_bbox
from geodata.bundle import bundle_is_current, load_bundle, read_manifest, write_bundle
from geodata.district import District
from geodata.importer import with_residents
from geodata.osm import read_osm
from geodata.sources import DataError

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tiny() -> District:
    x = read_osm(FIX / "tiny_town.osm")
    f = x.features
    f = dataclasses.replace(f, buildings=with_residents(f.buildings, np.random.default_rng(3)))
    grid = grid_for_bbox(f.bbox_local_m, 2.0)
    xs, ys = grid.cell_centres_local_m()
    terrain = (100.0 + 0.02 * xs[None, :] - 0.01 * ys[:, None]).astype(np.float32)
    meta = {"note": "tiny", "turn_restrictions": x.road_extras.restrictions,
            "road_turn_lanes_forward": x.road_extras.turn_lanes_forward}
    return build_district(f, name="tiny", grid=grid, terrain_m=terrain, meta=meta)


def _assert_same(a: object, b: object, where: str) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        for fld in dataclasses.fields(a):
            _assert_same(getattr(a, fld.name), getattr(b, fld.name), f"{where}.{fld.name}")
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            _assert_same(u, v, f"{where}[{i}]")
    elif hasattr(a, "wkb"):
        assert a.wkb == b.wkb, where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k}]")
    else:
        assert a == b, where


def test_round_trip_is_exact(tiny: District, tmp_path: Path) -> None:
    assert tiny.residents_total > 0 and len(tiny.roads) == 6
    path = write_bundle(tiny, tmp_path / "districts" / "tiny", content_hash="abc", tiles=False)
    back = load_bundle(path, verify=True)
    _assert_same(tiny, back, "district")
    assert back.summary() == tiny.summary() == read_manifest(path)["summary"]
    assert bundle_is_current(path, "abc") and not bundle_is_current(path, "other")
    assert sorted(p.name for p in (tmp_path / "districts").iterdir()) == ["tiny"]  # no temporary folders left


def test_geotiffs_are_georeferenced(tiny: District, tmp_path: Path) -> None:
    path = write_bundle(tiny, tmp_path / "b", tiles=False)
    for name, dtype in (("terrain.tif", "float32"), ("dsm.tif", "float32"), ("surface.tif", "uint8")):
        with rasterio.open(path / name) as src:
            assert src.crs.to_epsg() == 25832 and src.dtypes[0] == dtype
            assert tuple(src.transform)[:6] == pytest.approx(tiny.grid.affine_utm(tiny.frame))
            assert (src.height, src.width) == tiny.grid.shape
    m = json.loads((path / "manifest.json").read_text())
    assert m["sources"][0]["kind"] == "osm" and "ODbL" in m["sources"][0]["licence"]
    assert len(m["sources"][0]["sha256"]) == 64 and m["format_version"] == 1


def test_failed_write_leaves_nothing_and_keeps_the_old_bundle(tiny: District, tmp_path: Path) -> None:
    root = tmp_path / "districts" / "tiny"
    write_bundle(tiny, root, content_hash="v1", tiles=False)
    broken = dataclasses.replace(tiny, canopy_m=np.full(tiny.grid.shape, None, dtype=object))
    with pytest.raises(Exception):  # noqa: B017 - whatever the GeoTIFF writer raises for an object array
        write_bundle(broken, root, content_hash="v2", tiles=False)
    assert sorted(p.name for p in root.parent.iterdir()) == ["tiny"]
    assert read_manifest(root)["content_hash"] == "v1"
    fresh = tmp_path / "districts" / "fresh"
    with pytest.raises(Exception):  # noqa: B017
        write_bundle(broken, fresh, tiles=False)
    assert not fresh.exists() and sorted(p.name for p in root.parent.iterdir()) == ["tiny"]


def test_tampered_bundle_is_detected(tiny: District, tmp_path: Path) -> None:
    path = write_bundle(tiny, tmp_path / "t", content_hash="h", tiles=False)
    with open(path / "dsm.tif", "ab") as f:
        f.write(b"\0")
    with pytest.raises(DataError, match="checksum mismatch"):
        load_bundle(path, verify=True)
    (path / "arrays.npz").unlink()
    assert not bundle_is_current(path, "h")
    with pytest.raises(DataError, match="not a landtwin bundle|missing or unreadable"):
        load_bundle(tmp_path)
