"""Department layers in the desktop viewer, as plain arrays: the style chosen at upload turned into
colours and a legend, GeoJSON points, lines and polygons turned into local points, segments and
triangles, and a raster's corners in the district's frame.

The server keeps the layers and decides who may see them (``GET /api/layers`` with the viewer's
token: a citizen sees the public ones only); data come as GeoJSON in WGS84 or as the uploaded GeoTIFF.
Styles are those of :func:`geodata.dept_layers.make_style`: ``single`` (one colour), ``categories``
(``value`` of a field) or ``classes`` (``lower`` < value <= ``upper``, the first class open below,
values above the last class in the last colour).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DeptLayerInfo", "DeptShapes", "dept_layers_from_json", "style_legend", "feature_colours",
           "shapes_from_geojson", "raster_corners", "NO_VALUE_RGB"]

NO_VALUE_RGB = (150, 150, 150)


@dataclass(frozen=True)
class DeptLayerInfo:
    """One department layer as listed by the server: its id, title, kind (vector, raster), department,
    visibility and style (``mode``, ``field``, ``entries``)."""

    layer_id: str
    title: str
    kind: str
    department: str
    visibility: str
    style: dict[str, Any]

    @property
    def key(self) -> str:
        """The viewer's overlay name of the layer."""
        return f"dept:{self.layer_id}"


@dataclass
class DeptShapes:
    """A vector layer in local metres with a colour (sRGB) per point, segment and triangle."""

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    point_rgb: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))
    segments: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 2)))
    segment_rgb: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))
    triangles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3, 2)))
    triangle_rgb: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))


def dept_layers_from_json(rows: Any) -> list[DeptLayerInfo]:
    """The layers of a ``GET /api/layers`` answer; ValueError (German / English) when it is malformed."""
    if not isinstance(rows, list):
        raise ValueError("Ebenenliste ist keine Liste / layer list is not a list")
    out = []
    for r in rows:
        try:
            style = dict(r["current"].get("style") or {})
            out.append(DeptLayerInfo(str(r["layer_id"]), str(r["title"]), str(r["kind"]), str(r.get("department", "")),
                                     str(r.get("visibility", "")), style))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"Ebene ohne {exc} / layer lacks {exc}") from None
    return out


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = str(hex_colour).lstrip("#")
    if len(h) != 6:
        return NO_VALUE_RGB
    try:
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    except ValueError:
        return NO_VALUE_RGB


def style_legend(style: dict[str, Any]) -> list[tuple[str, tuple[int, int, int]]]:
    """The legend of a style: (label, colour) per entry, in the order of the style."""
    return [(str(e.get("label", "")), _rgb(str(e.get("colour", "")))) for e in style.get("entries") or []]


def feature_colours(style: dict[str, Any], properties: list[dict[str, Any]]) -> np.ndarray:
    """Colours (N, 3) uint8 of features by their properties and the layer's style; features without
    the styled value in grey."""
    entries = list(style.get("entries") or [])
    mode = style.get("mode", "single")
    name = style.get("field", "")
    out = np.tile(np.array(NO_VALUE_RGB, np.uint8), (len(properties), 1))
    if not entries:
        return out
    if mode == "single":
        out[:] = _rgb(entries[0]["colour"])
        return out
    for i, props in enumerate(properties):
        v = (props or {}).get(name)
        if v is None:
            continue
        if mode == "categories":
            for e in entries:
                if str(e.get("value")) == str(v):
                    out[i] = _rgb(e["colour"])
                    break
        elif mode == "classes":
            try:
                x = float(v)
            except (TypeError, ValueError):
                continue
            if not np.isfinite(x):
                continue
            k = next((j for j, e in enumerate(entries) if x <= float(e["upper"])), len(entries) - 1)
            out[i] = _rgb(entries[k]["colour"])
    return out


def _to_local(lonlat: np.ndarray, epsg: int, origin_utm_m: tuple[float, float]) -> np.ndarray:
    from geodata.crs import lonlat_to_utm

    e, n = lonlat_to_utm(lonlat[:, 0], lonlat[:, 1], epsg)
    return np.stack([np.asarray(e) - origin_utm_m[0], np.asarray(n) - origin_utm_m[1]], axis=1)


def _triangulate(rings: list[np.ndarray]) -> np.ndarray:
    """Triangles (T, 3, 2) of a polygon given as its outer ring and holes (closed or open rings)."""
    import mapbox_earcut as earcut

    rings = [r[:-1] if len(r) > 1 and np.allclose(r[0], r[-1]) else r for r in rings]
    rings = [r for r in rings if len(r) >= 3]
    if not rings:
        return np.zeros((0, 3, 2))
    verts = np.concatenate(rings).astype(np.float64)
    ends = np.cumsum([len(r) for r in rings]).astype(np.uint32)
    idx = np.asarray(earcut.triangulate_float64(verts, ends), np.int64).reshape(-1, 3)
    return verts[idx]


def shapes_from_geojson(doc: Any, style: dict[str, Any], epsg: int, origin_utm_m: tuple[float, float]) -> DeptShapes:
    """Points, line segments and polygon triangles of a GeoJSON FeatureCollection (WGS84) in local
    metres, each with its feature's colour. Features of other geometry types are skipped."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValueError("keine GeoJSON-FeatureCollection / not a GeoJSON FeatureCollection")
    feats = [f for f in doc.get("features") or [] if isinstance(f, dict) and isinstance(f.get("geometry"), dict)]
    rgb = feature_colours(style, [f.get("properties") or {} for f in feats])
    pts, prgb, segs, srgb, tris, trgb = [], [], [], [], [], []
    for f, colour in zip(feats, rgb, strict=True):
        g = f["geometry"]
        kind, coords = g.get("type"), g.get("coordinates")
        try:
            if kind in ("Point", "MultiPoint"):
                ll = np.asarray(coords, np.float64).reshape(-1, 2)
                pts.append(_to_local(ll, epsg, origin_utm_m))
                prgb += [colour] * len(ll)
            elif kind in ("LineString", "MultiLineString"):
                for line in ([coords] if kind == "LineString" else coords):
                    xy = _to_local(np.asarray(line, np.float64).reshape(-1, 2), epsg, origin_utm_m)
                    if len(xy) >= 2:
                        segs.append(np.stack([xy[:-1], xy[1:]], axis=1))
                        srgb += [colour] * (len(xy) - 1)
            elif kind in ("Polygon", "MultiPolygon"):
                for poly in ([coords] if kind == "Polygon" else coords):
                    rings = [_to_local(np.asarray(r, np.float64).reshape(-1, 2), epsg, origin_utm_m) for r in poly]
                    t = _triangulate(rings)
                    if len(t):
                        tris.append(t)
                        trgb += [colour] * len(t)
                        outline = rings[0]
                        segs.append(np.stack([outline, np.roll(outline, -1, axis=0)], axis=1))
                        srgb += [colour] * len(outline)
        except (ValueError, TypeError):
            continue  # a malformed geometry: the server checked the upload; skip rather than fail the view
    u8 = np.uint8
    return DeptShapes(
        np.concatenate(pts) if pts else np.zeros((0, 2)), np.asarray(prgb, u8).reshape(-1, 3),
        np.concatenate(segs) if segs else np.zeros((0, 2, 2)), np.asarray(srgb, u8).reshape(-1, 3),
        np.concatenate(tris) if tris else np.zeros((0, 3, 2)), np.asarray(trgb, u8).reshape(-1, 3))


def raster_corners(tif: bytes, epsg: int, origin_utm_m: tuple[float, float]) -> np.ndarray:
    """The corners (north-west, north-east, south-east, south-west) of a GeoTIFF in local metres (4, 2)."""
    import rasterio

    from geodata.crs import crs_from_any, reproject_xy

    with rasterio.MemoryFile(tif) as mem, mem.open() as ds:
        b = ds.bounds
        src = crs_from_any(ds.crs)
    if src is None:
        raise ValueError("Raster ohne Koordinatensystem / raster without a coordinate reference system")
    xs = np.array([b.left, b.right, b.right, b.left])
    ys = np.array([b.top, b.top, b.bottom, b.bottom])
    e, n = reproject_xy(xs, ys, int(src), int(epsg)) if int(src) != int(epsg) else (xs, ys)
    return np.stack([np.asarray(e) - origin_utm_m[0], np.asarray(n) - origin_utm_m[1]], axis=1)
