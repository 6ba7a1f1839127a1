"""Elevation models: GeoTIFF and SRTM ``.hgt`` / ``.hgt.zip`` (rasterio), voids filled, resampled onto
the district grid.

``read_dem`` returns the raster in its own CRS with voids filled; ``dem_on_grid`` reprojects it
(bilinear) onto a district ``GridSpec`` in the frame's ETRS89/UTM CRS. Heights are metres above the
raster's vertical datum (SRTM: EGM96 geoid), float32.

Voids (the raster's nodata, e.g. SRTM's -32768, non-finite values and values below -1000 m) are filled
by inverse-distance interpolation from the void's rim (GDAL's FillNodata via ``rasterio.fill``).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.fill import fillnodata
from rasterio.transform import Affine
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from geodata.crs import LocalFrame
from geodata.district import GridSpec
from geodata.sources import DataError, check_file

__all__ = ["DemRaster", "dem_path_for_gdal", "read_dem", "dem_on_grid", "DEM_SUFFIXES"]

DEM_SUFFIXES = (".tif", ".tiff", ".hgt", ".hgt.zip", ".zip")
_MIN_VALID_M = -1000.0
_FILL_SEARCH_PX = 200


@dataclass(frozen=True)
class DemRaster:
    """Elevation on its native grid.

    heights_m : (rows, cols) float32, voids filled, metres.
    transform : rasterio Affine coefficients (a, b, c, d, e, f) of the (window of the) raster.
    crs_wkt : the raster's CRS.
    voids_filled : how many void cells were filled.
    """

    heights_m: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    crs_wkt: str
    voids_filled: int


def dem_path_for_gdal(path: str | Path) -> str:
    """The path GDAL opens: ``/vsizip/<zip>/<member.hgt>`` for a zipped SRTM tile, else the path."""
    p = check_file(path, suffixes=DEM_SUFFIXES)
    if p.name.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(p) as z:
                members = [n for n in z.namelist() if n.lower().endswith((".hgt", ".tif", ".tiff"))]
                if not members:
                    raise DataError(p, "ZIP enthält keine .hgt/.tif-Datei", "zip holds no .hgt/.tif file")
                if z.testzip() is not None:
                    raise DataError(p, "ZIP ist beschädigt", "zip is corrupt")
        except zipfile.BadZipFile as exc:
            raise DataError(p, "beschädigte oder abgeschnittene ZIP-Datei", "corrupt or truncated zip file") from exc
        return f"/vsizip/{p.resolve()}/{members[0]}"
    return str(p)


def _fill_voids(path: str | Path, values: np.ndarray, nodata: float | None) -> tuple[np.ndarray, int]:
    arr = np.asarray(values, dtype=np.float32)
    void = ~np.isfinite(arr) | (arr < _MIN_VALID_M)
    if nodata is not None and np.isfinite(nodata):
        void |= arr == np.float32(nodata)
    n = int(void.sum())
    if n == arr.size:
        raise DataError(path, "enthält nur Lücken (nodata) im Gebiet", "holds only voids (nodata) in the area")
    if n:
        # voids as NaN: cells the fill cannot reach stay NaN and are caught below
        arr = np.where(void, np.nan, arr).astype(np.float32)
        arr = fillnodata(arr, mask=(~void).astype(np.uint8), max_search_distance=_FILL_SEARCH_PX,
                         smoothing_iterations=0)
        if not np.isfinite(arr).all():
            raise DataError(path, "Lücken ließen sich nicht füllen", "voids could not be filled")
    return arr.astype(np.float32), n


def _window_transform(tr: tuple, window: Window | None) -> tuple[float, float, float, float, float, float]:
    a, b, c, d, e, f = tr
    if window is None:
        return (a, b, c, d, e, f)
    col, row = float(window.col_off), float(window.row_off)
    return (a, b, c + col * a + row * b, d, e, f + col * d + row * e)


def read_dem(path: str | Path, *, window: Window | None = None) -> DemRaster:
    """Read a DEM (or a window of it) with voids filled.

    Raises DataError for missing/corrupt files, rasters without CRS and rasters that are all voids.
    """
    gdal_path = dem_path_for_gdal(path)
    try:
        with rasterio.open(gdal_path) as src:
            if src.crs is None:
                raise DataError(path, "Raster ohne Koordinatenbezugssystem (CRS)", "raster has no CRS")
            if src.count < 1 or src.width < 2 or src.height < 2:
                raise DataError(path, "Raster ist leer", "raster is empty")
            data = src.read(1, window=window, out_dtype="float32")
            tr = _window_transform(tuple(src.transform)[:6], window)
            filled, n = _fill_voids(path, data, src.nodata)
            return DemRaster(filled, tuple(tr)[:6], src.crs.to_wkt(), n)
    except RasterioError as exc:
        raise DataError(path, f"nicht lesbar oder beschädigt ({exc})", f"unreadable or corrupt ({exc})") from exc


def dem_on_grid(path: str | Path, *, frame: LocalFrame, grid: GridSpec) -> np.ndarray:
    """Terrain (rows, cols) float32 in m on ``grid``: the DEM reprojected bilinearly to the frame's UTM.

    Raises DataError when the DEM has no CRS, does not cover the grid, or leaves non-finite cells.
    """
    gdal_path = dem_path_for_gdal(path)
    dst_crs = f"EPSG:{frame.epsg}"
    w, s, e, n = grid.bbox_local_m
    utm_bounds = (w + frame.origin_e_m, s + frame.origin_n_m, e + frame.origin_e_m, n + frame.origin_n_m)
    try:
        with rasterio.open(gdal_path) as src:
            if src.crs is None:
                raise DataError(path, "Raster ohne Koordinatenbezugssystem (CRS)", "raster has no CRS")
            left, bottom, right, top = transform_bounds(dst_crs, src.crs, *utm_bounds, densify_pts=21)
            b = src.bounds
            if left < b.left or right > b.right or bottom < b.bottom or top > b.top:
                raise DataError(
                    path,
                    f"deckt das Gebiet nicht ab (Raster {tuple(round(v, 4) for v in b)}, "
                    f"Gebiet {tuple(round(v, 4) for v in (left, bottom, right, top))})",
                    "does not cover the district area",
                )
            a, rb, c, rd, e_, f = tuple(src.transform)[:6]
            if rb != 0 or rd != 0:
                raise DataError(path, "gedrehte Raster werden nicht unterstützt", "rotated rasters are not supported")
            pad = 3
            col0 = max(int(np.floor((left - c) / a)) - pad, 0)
            col1 = min(int(np.ceil((right - c) / a)) + pad, src.width)
            row0 = max(int(np.floor((top - f) / e_)) - pad, 0)
            row1 = min(int(np.ceil((bottom - f) / e_)) + pad, src.height)
            window = Window(col0, row0, col1 - col0, row1 - row0)
            src_crs = src.crs
    except RasterioError as exc:
        raise DataError(path, f"nicht lesbar oder beschädigt ({exc})", f"unreadable or corrupt ({exc})") from exc
    dem = read_dem(path, window=window)
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    reproject(
        source=dem.heights_m, destination=out, src_transform=Affine(*dem.transform), src_crs=src_crs,
        dst_transform=Affine(*grid.affine_utm(frame)), dst_crs=dst_crs, resampling=Resampling.bilinear,
        src_nodata=np.nan, dst_nodata=np.nan,
    )
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).sum())
        raise DataError(path, f"{bad} Zellen ohne gültige Höhe nach dem Umprojizieren",
                        f"{bad} cells without a valid height after reprojection")
    return out
