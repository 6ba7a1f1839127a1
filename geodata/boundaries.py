"""Administrative boundaries (e.g. the BKG VG5000 district and municipality outlines): which area a
point lies in.

Polygons are kept in lon/lat (WGS84, as published); point-in-polygon tests use shapely's vectorised
``contains_xy``. Areas are computed in a stated ETRS89/UTM CRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geodata.crs import reproject_xy
from geodata.layers import read_vector
from geodata.sources import DataError

__all__ = ["Boundaries", "read_boundaries", "locate", "inside_any", "area_km2"]


@dataclass(frozen=True)
class Boundaries:
    """N areas: official key (e.g. AGS), name, kind (e.g. Stadt/Gemeinde), and (Multi)Polygon in lon/lat."""

    key: np.ndarray  # (N,) object
    name: np.ndarray  # (N,) object
    kind: np.ndarray  # (N,) object
    polygons_lonlat: tuple[Any, ...]

    def __len__(self) -> int:
        return len(self.polygons_lonlat)


def read_boundaries(path: str | Path, *, key_field: str = "AGS", name_field: str = "GEN",
                    kind_field: str = "BEZ", layer: str | None = None) -> Boundaries:
    """Read area outlines from a GeoJSON / GeoPackage layer, reprojected to lon/lat.

    Raises DataError when the file holds no (Multi)Polygon or a polygon is invalid beyond repair.
    """
    lay = read_vector(path, layer=layer)
    keys, names, kinds, polys = [], [], [], []
    for g, props in zip(lay.geometries, lay.properties):
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        if lay.epsg != 4326:
            g = shapely.transform(g, lambda a: np.column_stack(reproject_xy(a[:, 0], a[:, 1], lay.epsg, 4326)))
        if not g.is_valid:
            g = shapely.make_valid(g)
        if g.is_empty or g.area <= 0:
            raise DataError(path, f"Fläche {props.get(name_field)} ist ungültig", f"area {props.get(name_field)} is invalid")
        keys.append(str(props.get(key_field, "")))
        names.append(str(props.get(name_field, "")))
        kinds.append(str(props.get(kind_field, "")))
        polys.append(g)
    if not polys:
        raise DataError(path, "leeres Gebiet: keine Flächen", "empty area: no polygons")
    return Boundaries(np.asarray(keys, dtype=object), np.asarray(names, dtype=object),
                      np.asarray(kinds, dtype=object), tuple(polys))


def locate(b: Boundaries, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(n,) int64: index of the area containing each lon/lat point, -1 outside all (first match wins)."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    out = np.full(lon.shape, -1, dtype=np.int64)
    for i, poly in enumerate(b.polygons_lonlat):
        hit = (out < 0) & shapely.contains_xy(poly, lon, lat)
        out[hit] = i
    return out


def inside_any(b: Boundaries, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(n,) bool: the point lies inside one of the areas."""
    return locate(b, lon, lat) >= 0


def area_km2(b: Boundaries, epsg: int = 25832) -> np.ndarray:
    """(N,) float64: area of each outline in km², computed in ``epsg`` (ETRS89/UTM 32 N by default)."""
    out = []
    for g in b.polygons_lonlat:
        gp = shapely.transform(g, lambda a: np.column_stack(reproject_xy(a[:, 0], a[:, 1], 4326, epsg)))
        out.append(gp.area / 1e6)
    return np.asarray(out, dtype=np.float64)
