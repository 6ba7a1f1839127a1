"""Generic vector layers (GeoJSON, GeoPackage) with a declared mapping onto district features.

A :class:`LayerMapping` says what a layer is (``target``: buildings, landcover, trees, stops, pois,
roads, water_lines), which features to take (``where``: property -> accepted values) and which property
holds what (``fields``: e.g. ``{"name": "stop_name"}``). Layers that keep OSM tags (the usual case for
extracts) need no field mapping: the OSM tag rules apply (``geodata.osmtags``, ``geodata.heights``).

GeoPackage is read with the standard library's sqlite3 (the GPKG binary header stripped, then WKB).
Coordinates are transformed to lon/lat with ``geodata.crs`` and added to a ``FeatureSet``.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, shape

from geodata.citymodel import epsg_from_srs
from geodata.crs import reproject_xy
from geodata.district import SURFACE
from geodata.featureset import FeatureSet
from geodata.osmtags import poi_category, stop_mode, surface_for, tree_size_m, waterway_width_m
from geodata.sources import DataError, check_file

__all__ = ["VectorLayer", "LayerMapping", "read_vector", "add_layer", "load_mappings", "TARGETS"]

TARGETS = ("buildings", "landcover", "trees", "stops", "pois", "roads", "water_lines")


@dataclass(frozen=True)
class VectorLayer:
    """Features of one layer: shapely geometries in ``epsg`` and their property dicts."""

    geometries: tuple[Any, ...]
    properties: tuple[dict, ...]
    epsg: int


@dataclass(frozen=True)
class LayerMapping:
    """How one layer becomes district features (see the module docstring)."""

    target: str
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    surface: str | None = None  # landcover: a fixed surface class name instead of the OSM tag rules
    category: str | None = None  # pois: a fixed category
    layer: str | None = None  # GeoPackage table

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; expected one of {TARGETS}")


def load_mappings(doc: str | Path | list[dict]) -> list[LayerMapping]:
    """Mappings from a JSON file or a list of dicts (keys as in :class:`LayerMapping`)."""
    items = json.loads(Path(doc).read_text(encoding="utf-8")) if isinstance(doc, str | Path) else doc
    out = []
    for it in items:
        where = {k: tuple(v) if isinstance(v, list) else (str(v),) for k, v in (it.get("where") or {}).items()}
        out.append(LayerMapping(it["target"], where, dict(it.get("fields") or {}), it.get("surface"),
                                it.get("category"), it.get("layer")))
    return out


def _geojson(path: Path) -> VectorLayer:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        feats = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
        geoms, props = [], []
        for f in feats:
            if not f.get("geometry"):
                continue
            geoms.append(shape(f["geometry"]))
            props.append(dict(f.get("properties") or {}))
    except (ValueError, KeyError, TypeError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise DataError(path, f"beschädigt oder abgeschnitten ({exc})", f"corrupt or truncated ({exc})") from exc
    name = str(((doc.get("crs") or {}).get("properties") or {}).get("name", "EPSG:4326"))
    epsg = 4326 if "CRS84" in name.upper() else (epsg_from_srs(name) or 4326)
    return VectorLayer(tuple(geoms), tuple(props), epsg)


def _gpkg_geometry(blob: bytes) -> Any:
    if blob[:2] != b"GP":
        raise ValueError("no GPKG geometry header")
    flags = blob[3]
    env = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0x07]
    return shapely.from_wkb(blob[8 + env:])


def _geopackage(path: Path, layer: str | None) -> VectorLayer:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT g.table_name, g.column_name, s.organization, s.organization_coordsys_id "
                "FROM gpkg_geometry_columns g JOIN gpkg_spatial_ref_sys s ON g.srs_id = s.srs_id").fetchall()
            if layer is not None:
                rows = [r for r in rows if r[0] == layer]
            if not rows:
                raise DataError(path, f"keine Geometrie-Tabelle {layer or ''}", f"no geometry table {layer or ''}")
            table, col, org, code = rows[0]
            cur = con.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cur.description]
            geoms, props = [], []
            for rec in cur:
                d = dict(zip(names, rec))
                blob = d.pop(col)
                if blob is None:
                    continue
                geoms.append(_gpkg_geometry(bytes(blob)))
                props.append(d)
        finally:
            con.close()
    except DataError:
        raise
    except (sqlite3.Error, ValueError, KeyError, IndexError, struct.error, zlib.error,
            shapely.errors.ShapelyError) as exc:
        raise DataError(path, f"beschädigt oder kein GeoPackage ({exc})", f"corrupt or not a GeoPackage ({exc})") from exc
    if str(org).upper() != "EPSG" or int(code) <= 0:
        raise DataError(path, "kein Koordinatenbezugssystem (EPSG)", "no CRS (EPSG)")
    return VectorLayer(tuple(geoms), tuple(props), int(code))


def read_vector(path: str | Path, *, layer: str | None = None) -> VectorLayer:
    """A GeoJSON (CRS84 unless it states a ``crs``) or GeoPackage layer."""
    p = check_file(path, suffixes=(".geojson", ".json", ".gpkg"))
    return _geopackage(p, layer) if p.name.lower().endswith(".gpkg") else _geojson(p)


def _to_lonlat(geom: Any, epsg: int) -> Any:
    if epsg == 4326:
        return geom
    return shapely.transform(geom, lambda a: np.column_stack(reproject_xy(a[:, 0], a[:, 1], epsg, 4326)))


def _polygons(geom: Any) -> list[Polygon]:
    """Polygon parts of any geometry, repaired when invalid."""
    if isinstance(geom, Polygon):
        if not geom.is_valid:
            return [p for p in _polygons(shapely.make_valid(geom)) if p.is_valid]
        return [geom] if geom.area > 0 else []
    return [p for g in getattr(geom, "geoms", []) for p in _polygons(g)]


def _lines(geom: Any) -> list[LineString]:
    if isinstance(geom, LineString):
        return [geom] if len(geom.coords) >= 2 else []
    return [q for g in getattr(geom, "geoms", []) for q in _lines(g)]


def _points(geom: Any) -> list[Point]:
    if isinstance(geom, Point):
        return [geom]
    return [q for g in getattr(geom, "geoms", []) for q in _points(g)]


def _rings(poly: Polygon) -> list[np.ndarray]:
    return [np.asarray(poly.exterior.coords)[:, :2]] + [np.asarray(r.coords)[:, :2] for r in poly.interiors]


def _matches(props: Mapping[str, Any], where: Mapping[str, tuple[str, ...]]) -> bool:
    return all(str(props.get(k)) in v or ("*" in v and props.get(k) not in (None, "")) for k, v in where.items())


def _mode_of(tags: Mapping[str, str]) -> str:
    """bus, tram or rail from OSM tags or a DB/HAFAS ``products`` list."""
    products = set(tags.get("products", "").split(";")) - {""}
    if products & {"regional", "regionalExpress", "suburban", "national", "nationalExpress"}:
        return "rail"
    if "tram" in products:
        return "tram"
    return "bus" if products else stop_mode(tags)


def _node_key(xy: np.ndarray) -> np.ndarray:
    """Synthetic negative node ids: vertices at the same coordinate (1e-7 degrees) share a node."""
    q = np.round(np.asarray(xy) * 1e7).astype(np.int64)
    return -((q[:, 0] * 4_000_000_000 + q[:, 1]) % (1 << 62)) - 1


def add_layer(fs: FeatureSet, path: str | Path, mapping: LayerMapping) -> int:
    """Add the features of a layer to ``fs`` (lon/lat); returns how many were added."""
    lay = read_vector(path, layer=mapping.layer)
    fmap = mapping.fields
    added = 0
    for i, (geom, props) in enumerate(zip(lay.geometries, lay.properties)):
        if geom is None or geom.is_empty or not _matches(props, mapping.where):
            continue
        geom = _to_lonlat(geom, lay.epsg)
        tags = {str(k): str(v) for k, v in props.items() if v is not None}
        for target_key, prop in fmap.items():
            if prop in props and props[prop] is not None:
                tags[target_key] = str(props[prop])
        src = str(props.get("@id") or props.get("id") or f"{Path(path).name}:{i}")
        name = tags.get("name", "")
        t = mapping.target
        if t == "buildings":
            tags.setdefault("building", "yes")
            polys = _polygons(geom)
            if polys:
                fs.buildings.append((src, tags, _rings(max(polys, key=lambda p: p.area))))
                added += 1
        elif t == "landcover":
            if mapping.surface is not None:
                cover = (f"layer={mapping.surface}", SURFACE[mapping.surface], 1)
            else:
                cover = surface_for(tags)
            if cover is None:
                continue
            for q in _polygons(geom):
                fs.landcover.append((src, cover[0], cover[1], cover[2], _rings(q)))
                added += 1
        elif t == "trees":
            for pt in _points(geom):
                h, d = tree_size_m(tags)
                fs.trees.append((pt.x, pt.y, h, d, tags.get("species", ""), src))
                added += 1
            for ln in _lines(geom):
                fs.tree_rows.append((np.asarray(ln.coords)[:, :2], tags, src))
                added += 1
        elif t in ("stops", "pois"):
            c = geom.representative_point() if not isinstance(geom, Point) else geom
            if t == "stops":
                fs.stops.append((c.x, c.y, name, tags.get("mode") or _mode_of(tags), src))
                added += 1
            elif t == "pois":
                cat = mapping.category or tags.get("category") or poi_category(tags)
                if cat:
                    fs.pois.append((c.x, c.y, cat, name, src))
                    added += 1
        elif t == "roads":
            tags.setdefault("highway", "road")
            for ln in _lines(geom):
                ll = np.asarray(ln.coords)[:, :2]
                way = int(src.rsplit("/", 1)[-1]) if src.rsplit("/", 1)[-1].isdigit() else -(i + 1)
                fs.roads.append((way, _node_key(ll), ll, tags))
                added += 1
        elif t == "water_lines":
            w = waterway_width_m(tags) or float(tags.get("width_m", 0) or 0) or 5.0
            for ln in _lines(geom):
                fs.water_lines.append((np.asarray(ln.coords)[:, :2], w))
                added += 1
    return added
