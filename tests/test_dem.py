"""DEM reading: SRTM .hgt.zip and GeoTIFF, void filling, reprojection onto the district grid, bad rasters."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import shared_data
from rasterio.transform import Affine

from geodata.build import grid_for_bbox
from geodata.crs import LocalFrame
from geodata.dem import dem_on_grid, read_dem
from geodata.sources import DataError

FRAME = LocalFrame(25832, 696000.0, 5669000.0)  # near Naumburg


def _plane_tif(path: Path, *, crs: str | None = "EPSG:25832", void: bool = True, nodata: float = -9999.0) -> Path:
    """A 60 x 80 GeoTIFF of z = 100 + 0.01 x + 0.02 y (UTM metres from the frame origin), 5 m cells."""
    rows, cols, cell = 60, 80, 5.0
    west, north = FRAME.origin_e_m - 50.0, FRAME.origin_n_m + 250.0
    x = west + (np.arange(cols) + 0.5) * cell - FRAME.origin_e_m
    y = north - (np.arange(rows) + 0.5) * cell - FRAME.origin_n_m
    z = (100.0 + 0.01 * x[None, :] + 0.02 * y[:, None]).astype(np.float32)
    if void:
        z[20:23, 30:33] = nodata
    kw = dict(driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
              transform=Affine(cell, 0.0, west, 0.0, -cell, north), nodata=nodata)
    if crs:
        kw["crs"] = crs
    with rasterio.open(path, "w", **kw) as dst:
        dst.write(z, 1)
    return path


def test_plane_is_reproduced_and_voids_filled(tmp_path: Path) -> None:
    p = _plane_tif(tmp_path / "plane.tif")
    d = read_dem(p)
    assert d.voids_filled == 9 and np.isfinite(d.heights_m).all()
    grid = grid_for_bbox((0.0, 0.0, 300.0, 200.0), 2.0)
    t = dem_on_grid(p, frame=FRAME, grid=grid)
    xs, ys = grid.cell_centres_local_m()
    expect = 100.0 + 0.01 * xs[None, :] + 0.02 * ys[:, None]
    assert t.shape == grid.shape and t.dtype == np.float32
    assert np.abs(t - expect).max() < 0.05  # bilinear is exact on a plane, the filled void nearly so


def test_srtm_zip_and_tif_read_without_voids() -> None:
    z = read_dem(shared_data("dem_srtm3_N50E011", "N50E011.hgt.zip"))
    t = read_dem(shared_data("dem_srtm3_N50E011", "N50E011_srtm3.tif"))
    for d in (z, t):
        assert d.heights_m.shape == (1201, 1201)
        assert d.voids_filled == 8
        assert np.isfinite(d.heights_m).all()
        assert 129.0 <= d.heights_m.min() and d.heights_m.max() <= 1044.0
    np.testing.assert_array_equal(z.heights_m, t.heights_m)
    # each filled void lies within the range of its valid neighbours
    with rasterio.open(shared_data("dem_srtm3_N50E011", "N50E011_srtm3.tif")) as src:
        raw = src.read(1)
    for r, c in zip(*np.nonzero(raw == -32768)):
        win = raw[max(r - 2, 0):r + 3, max(c - 2, 0):c + 3]
        ok = win[win != -32768]
        assert ok.min() - 1 <= z.heights_m[r, c] <= ok.max() + 1


def test_unzipped_hgt(tmp_path: Path) -> None:
    with zipfile.ZipFile(shared_data("dem_srtm3_N50E011", "N50E011.hgt.zip")) as z:
        z.extract("N50E011.hgt", tmp_path)
    d = read_dem(tmp_path / "N50E011.hgt")
    assert d.voids_filled == 8 and np.isfinite(d.heights_m).all() and d.heights_m.shape == (1201, 1201)


def test_srtm_on_a_jena_grid() -> None:
    frame = LocalFrame.for_lonlat(11.575, 50.915)  # Jena centre, EPSG:25832
    grid = grid_for_bbox((0.0, 0.0, 1000.0, 800.0), 10.0)
    t = dem_on_grid(shared_data("dem_srtm3_N50E011", "N50E011.hgt.zip"), frame=frame, grid=grid)
    assert frame.epsg == 25832 and np.isfinite(t).all()
    assert 130.0 < float(np.median(t)) < 260.0  # the Saale valley floor at Jena is about 150 m


def test_raster_without_crs(tmp_path: Path) -> None:
    p = _plane_tif(tmp_path / "nocrs.tif", crs=None)
    with pytest.raises(DataError, match="ohne Koordinatenbezugssystem.*no CRS") as e:
        dem_on_grid(p, frame=FRAME, grid=grid_for_bbox((0, 0, 100, 100), 2.0))
    assert "nocrs.tif" in str(e.value)


def test_area_not_covered(tmp_path: Path) -> None:
    p = _plane_tif(tmp_path / "small.tif")
    with pytest.raises(DataError, match="deckt das Gebiet nicht ab.*does not cover"):
        dem_on_grid(p, frame=FRAME, grid=grid_for_bbox((0, 0, 5000, 5000), 10.0))


def test_all_voids_and_corrupt_files(tmp_path: Path) -> None:
    p = _plane_tif(tmp_path / "void.tif", void=False)
    with rasterio.open(p, "r+") as dst:
        dst.write(np.full((60, 80), -9999.0, np.float32), 1)
    with pytest.raises(DataError, match="nur Lücken.*only voids"):
        read_dem(p)
    good = _plane_tif(tmp_path / "good.tif").read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good[: len(good) // 3])
    with pytest.raises(DataError, match="cut.tif"):
        dem_on_grid(cut, frame=FRAME, grid=grid_for_bbox((0, 0, 100, 100), 2.0))
    bad_zip = tmp_path / "N00E000.hgt.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="ZIP"):
        read_dem(bad_zip)
