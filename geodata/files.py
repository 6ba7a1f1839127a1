"""Writing outputs so that a failure leaves nothing half-written, and the one GeoTIFF writer.

- ``atomic_dir(target, write)``: ``write(tmp)`` fills a temporary folder beside ``target``, which is then
  renamed into place (an older ``target`` is replaced; on any error it is left as it was).
- ``atomic_file(target, write)``: the same for one file.
- ``write_geotiff(path, bands, ...)`` / ``geotiff_bytes(bands, ...)``: float or integer bands on a grid
  given by CRS and affine transform, deflate-compressed, with band names and tags; ``nodata`` is always
  set (NaN for floating-point bands unless another value is given).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_dir", "atomic_file", "write_geotiff", "geotiff_bytes", "district_geo"]


def atomic_dir(target: str | Path, write: Callable[[Path], Any]) -> Path:
    """Run ``write(tmp)`` on a fresh temporary folder beside ``target``, then rename it to ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o755)
    old: Path | None = None
    try:
        write(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
                old = None
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return target


def atomic_file(target: str | Path, write: Callable[[Path], Any]) -> Path:
    """Run ``write(tmp)`` on a temporary path beside ``target`` (same suffix), then rename it to ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _profile(bands: Sequence[np.ndarray], crs: Any, transform: Any, nodata: float | int | None,
             dtype: str | None) -> tuple[list[np.ndarray], dict[str, Any]]:
    from rasterio.crs import CRS
    from rasterio.transform import Affine

    arrs = [np.asarray(b) for b in bands]
    if not arrs or any(a.ndim != 2 or a.shape != arrs[0].shape for a in arrs):
        raise ValueError("bands must be 2-D arrays of one shape")
    dt = np.dtype(dtype or arrs[0].dtype)
    if dt == np.float64 and dtype is None:
        dt = np.dtype(np.float32)
    if nodata is None:
        if dt.kind != "f":
            raise ValueError("integer GeoTIFFs need an explicit nodata value")
        nodata = float("nan")
    if not isinstance(transform, Affine):
        transform = Affine(*transform)
    if isinstance(crs, int):
        crs = CRS.from_epsg(crs)
    prof = {"driver": "GTiff", "height": arrs[0].shape[0], "width": arrs[0].shape[1], "count": len(arrs),
            "dtype": dt.name, "crs": crs, "transform": transform, "nodata": nodata, "compress": "deflate"}
    return [a.astype(dt, copy=False) for a in arrs], prof


def _fill(dst: Any, arrs: list[np.ndarray], names: Sequence[str] | None, tags: Mapping[str, str] | None) -> None:
    for i, a in enumerate(arrs, start=1):
        dst.write(a, i)
        if names is not None:
            dst.set_band_description(i, names[i - 1])
        if tags:
            dst.update_tags(i, **tags)


def write_geotiff(path: str | Path, bands: Sequence[np.ndarray] | np.ndarray, *, crs: Any, transform: Any,
                  names: Sequence[str] | None = None, tags: Mapping[str, str] | None = None,
                  nodata: float | int | None = None, dtype: str | None = None) -> Path:
    """Write ``bands`` (one 2-D array or a list of them) as a GeoTIFF at ``path`` (written directly:
    wrap in ``atomic_file``/``atomic_dir`` for outputs a user sees). ``crs``: an EPSG code or a rasterio
    CRS; ``transform``: an affine transform or its six coefficients. float64 bands are stored as float32."""
    import rasterio

    arrs, prof = _profile([bands] if isinstance(bands, np.ndarray) else list(bands), crs, transform, nodata, dtype)
    with rasterio.open(path, "w", **prof) as dst:
        _fill(dst, arrs, names, tags)
    return Path(path)


def geotiff_bytes(bands: Sequence[np.ndarray] | np.ndarray, *, crs: Any, transform: Any,
                  names: Sequence[str] | None = None, tags: Mapping[str, str] | None = None,
                  nodata: float | int | None = None, dtype: str | None = None) -> bytes:
    """The GeoTIFF ``write_geotiff`` would write, as bytes."""
    from rasterio.io import MemoryFile

    arrs, prof = _profile([bands] if isinstance(bands, np.ndarray) else list(bands), crs, transform, nodata, dtype)
    with MemoryFile() as mem:
        with mem.open(**prof) as dst:
            _fill(dst, arrs, names, tags)
        return bytes(mem.read())


def district_geo(district: Any) -> dict[str, Any]:
    """``crs`` and ``transform`` keyword arguments of the GeoTIFF writers for a District's grid (UTM)."""
    return {"crs": int(district.frame.epsg), "transform": tuple(district.grid.affine_utm(district.frame))}
