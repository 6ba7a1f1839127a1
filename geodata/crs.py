"""All coordinate reference system work of landtwin lives here.

Frames
------
- ``lonlat``: WGS84 / ETRS89 geographic degrees (EPSG:4326 axis order lon, lat).
- ``utm``: ETRS89 / UTM of the district (EPSG:258zz), metres east/north.
- ``local``: metres east/north/up from the district origin (a UTM point), +Z up.

No other module imports pyproj.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer

__all__ = ["LocalFrame", "utm_epsg_for_lonlat", "transformer", "lonlat_to_utm", "utm_to_lonlat", "crs_from_any"]


def utm_epsg_for_lonlat(lon: float, lat: float) -> int:
    """ETRS89 / UTM zone EPSG code (25828..25838) for a position in Europe.

    EPSG:25832 for the Burgenlandkreis (~11.8 E), EPSG:25833 for eastern Saxony (~14.2 E).
    """
    if not (np.isfinite(lon) and np.isfinite(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"Ungültige Koordinate lon={lon}, lat={lat} / invalid coordinate")
    zone = int((lon + 180.0) // 6.0) + 1
    zone = min(max(zone, 28), 38)
    return 25800 + zone


@lru_cache(maxsize=32)
def transformer(src_epsg: int, dst_epsg: int) -> Transformer:
    """A cached, always-xy transformer between two EPSG codes."""
    return Transformer.from_crs(CRS.from_epsg(src_epsg), CRS.from_epsg(dst_epsg), always_xy=True)


def crs_from_any(crs: object) -> int | None:
    """EPSG code of a CRS-like object (rasterio CRS, WKT, 'EPSG:xxxx'), or None when it has none."""
    if crs is None:
        return None
    try:
        c = CRS.from_user_input(crs)
    except Exception:  # noqa: BLE001 - any unparsable CRS counts as missing
        return None
    return c.to_epsg()


def lonlat_to_utm(lon: np.ndarray, lat: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Transform lon/lat degrees (arrays of equal shape) to UTM metres (easting, northing)."""
    e, n = transformer(4326, epsg).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(e, float), np.asarray(n, float)


def utm_to_lonlat(e: np.ndarray, n: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Transform UTM metres to lon/lat degrees."""
    lon, lat = transformer(epsg, 4326).transform(np.asarray(e, float), np.asarray(n, float))
    return np.asarray(lon, float), np.asarray(lat, float)


def reproject_xy(x: np.ndarray, y: np.ndarray, src_epsg: int, dst_epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinates between any two EPSG codes (xy order)."""
    if src_epsg == dst_epsg:
        return np.asarray(x, float), np.asarray(y, float)
    a, b = transformer(src_epsg, dst_epsg).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(a, float), np.asarray(b, float)


@dataclass(frozen=True)
class LocalFrame:
    """The district's local frame: metres east/north from ``(origin_e_m, origin_n_m)`` in ``epsg``.

    The origin is the south-west corner of the district's bounding box, so local coordinates of the
    district are non-negative.
    """

    epsg: int
    origin_e_m: float
    origin_n_m: float

    @classmethod
    def for_lonlat(cls, lon: float, lat: float, *, epsg: int | None = None) -> LocalFrame:
        """A frame whose origin is the given lon/lat point, in its UTM zone (or ``epsg``)."""
        code = epsg or utm_epsg_for_lonlat(lon, lat)
        e, n = lonlat_to_utm(np.array([lon]), np.array([lat]), code)
        return cls(code, float(e[0]), float(n[0]))

    def utm_to_local(self, e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(e, float) - self.origin_e_m, np.asarray(n, float) - self.origin_n_m

    def local_to_utm(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(x, float) + self.origin_e_m, np.asarray(y, float) + self.origin_n_m

    def lonlat_to_local(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, n = lonlat_to_utm(lon, lat, self.epsg)
        return self.utm_to_local(e, n)

    def local_to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, n = self.local_to_utm(x, y)
        return utm_to_lonlat(e, n, self.epsg)

    def origin_lonlat(self) -> tuple[float, float]:
        lon, lat = utm_to_lonlat(np.array([self.origin_e_m]), np.array([self.origin_n_m]), self.epsg)
        return float(lon[0]), float(lat[0])
