"""Department layers: validate an uploaded file and turn it into a layer the viewers can draw.

Accepted formats (recognised by name and by content):

- GeoJSON (``.geojson``, ``.json``): CRS84 unless a ``crs`` member names an EPSG code.
- GeoPackage (``.gpkg``): the first (or the named) feature table, CRS from ``gpkg_spatial_ref_sys``.
- GeoTIFF (``.tif``, ``.tiff``): one or more bands with a CRS and a geotransform.
- CSV (``.csv``, ``,`` ``;`` or tab separated): either ``lon``/``lat`` columns (WGS84), or ``x``/``y``
  (``easting``/``northing``; EPSG:25832 unless ``csv_epsg`` says otherwise), or an ``ags`` column with the
  8-digit key of a Gemeinde of the region (the row then stands for the Gemeinde's outline).

Every check refuses the whole file with a :class:`geodata.sources.DataError` (German / English, naming the
file, the feature or row and the problem); nothing is returned half-checked:

- size: at most :attr:`Limits.max_bytes` bytes, :attr:`Limits.max_features` features, :attr:`Limits.max_fields`
  attributes, :attr:`Limits.max_pixels` raster cells;
- CRS: known (an EPSG code pyproj can use) and plausible: the data must lie on the region's area (its
  Gemeinden, buffered by :attr:`Limits.extent_buffer_deg`) after transforming to WGS84; data that lands
  elsewhere is almost always in another CRS than declared;
- geometry: present, finite, valid (shapely), not empty;
- attributes: scalar values (text, number, true/false, empty), one type per attribute across all features,
  finite numbers.

Vector results are a GeoJSON FeatureCollection in WGS84 (lon/lat, 7 decimals); rasters keep their bytes and
get lon/lat bounds, band statistics and a preview image.
"""

from __future__ import annotations

import io
import json
import math
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

from geodata.boundaries import Boundaries
from geodata.citymodel import epsg_from_srs
from geodata.crs import crs_from_any, reproject_xy, transformer
from geodata.layers import read_vector
from geodata.sources import DataError

__all__ = ["Limits", "LIMITS", "FieldInfo", "RasterInfo", "ParsedLayer", "Style", "parse_upload", "make_style",
           "detect_format", "FORMATS", "STYLE_MODES", "CATEGORY_COLOURS", "CLASS_COLOURS", "raster_preview_png"]

FORMATS = ("geojson", "gpkg", "geotiff", "csv")
STYLE_MODES = ("single", "categories", "classes")
# Okabe-Ito (colour-blind safe) followed by darker companions; categories beyond these are refused
CATEGORY_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
                    "#7F3C8D", "#11A579", "#3969AC", "#F2B701")
# viridis at 7 stops (perceptually even, readable in grey): classes take an evenly spaced subset
CLASS_COLOURS = ("#440154", "#443983", "#31688e", "#21918c", "#35b779", "#90d743", "#fde725")
_LON = ("lon", "lng", "longitude", "laenge", "länge")
_LAT = ("lat", "latitude", "breite")
_X = ("x", "easting", "rechtswert", "ostwert")
_Y = ("y", "northing", "hochwert", "nordwert")
_NAME_OK = re.compile(r"^[^\x00-\x1f]{1,80}$")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_features: int = 20_000
    max_fields: int = 60
    max_pixels: int = 16_000_000
    max_text_chars: int = 2_000
    extent_buffer_deg: float = 0.1  # about 7 km east-west, 11 km north-south at 51° N


LIMITS = Limits()


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str  # integer, number, string, boolean


@dataclass(frozen=True)
class RasterInfo:
    width: int
    height: int
    bands: int
    dtype: str
    nodata: float | None
    epsg: int
    minimum: float
    maximum: float


@dataclass(frozen=True)
class ParsedLayer:
    """A checked upload. ``geojson`` (vectors) is a FeatureCollection in WGS84; ``raster`` describes a
    GeoTIFF whose bytes the caller keeps. ``bbox_lonlat`` is (west, south, east, north)."""

    format: str
    kind: str  # vector | raster
    fields: tuple[FieldInfo, ...]
    feature_count: int
    geometry_types: tuple[str, ...]
    bbox_lonlat: tuple[float, float, float, float]
    source_epsg: int
    geojson: dict[str, Any] | None = None
    raster: RasterInfo | None = None
    values: dict[str, list[Any]] = field(default_factory=dict)  # attribute -> values (vectors), band1 sample (rasters)


@dataclass(frozen=True)
class Style:
    """How a layer is drawn and its legend: ``entries`` are dicts with ``label`` and ``colour``, plus
    ``value`` (categories) or ``lower``/``upper`` (classes, upper bound inclusive)."""

    mode: str
    field: str
    entries: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "field": self.field, "entries": list(self.entries)}


def _err(name: str, de: str, en: str) -> DataError:
    return DataError(name, de, en)


def detect_format(filename: str, data: bytes) -> str:
    """One of :data:`FORMATS` from the file name, checked against the first bytes."""
    low = filename.lower()
    if low.endswith((".tif", ".tiff")):
        if data[:4] not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            raise _err(filename, "ist keine GeoTIFF-Datei (TIFF-Kennung fehlt)", "is not a GeoTIFF (no TIFF signature)")
        return "geotiff"
    if low.endswith(".gpkg"):
        if not data.startswith(b"SQLite format 3\x00"):
            raise _err(filename, "ist kein GeoPackage (keine SQLite-Datei)", "is not a GeoPackage (not an SQLite file)")
        return "gpkg"
    if low.endswith((".geojson", ".json")):
        return "geojson"
    if low.endswith(".csv"):
        return "csv"
    raise _err(filename, f"unbekanntes Format (erwartet {', '.join(FORMATS)})",
               f"unknown format (expected {', '.join(FORMATS)})")


def _region_box(areas: Boundaries, buffer_deg: float) -> Any:
    return shapely.union_all(list(areas.polygons_lonlat)).envelope.buffer(buffer_deg, join_style="mitre")


def _check_epsg(name: str, epsg: int | None) -> int:
    if epsg is None:
        raise _err(name, "kein oder unbekanntes Koordinatensystem", "no or unknown coordinate reference system")
    try:
        transformer(int(epsg), 4326)
    except Exception:  # noqa: BLE001 - pyproj raises several kinds for an unknown code
        raise _err(name, f"unbekanntes Koordinatensystem EPSG:{epsg}", f"unknown coordinate reference system EPSG:{epsg}") from None
    return int(epsg)


def _to_lonlat(geom: Any, epsg: int) -> Any:
    if epsg == 4326:
        return geom
    return shapely.transform(geom, lambda a: np.column_stack(reproject_xy(a[:, 0], a[:, 1], epsg, 4326)))


def _scalar_type(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | np.integer):
        return "integer"
    if isinstance(v, float | np.floating):
        return "number"
    if isinstance(v, str):
        return "string"
    return "invalid"


def _field_types(name: str, props: Sequence[dict[str, Any]], limits: Limits, what: str = "Feature") -> tuple[FieldInfo, ...]:
    """One type per attribute (integer and number merge to number); refuses nested values, NaN, mixed types."""
    types: dict[str, str] = {}
    first: dict[str, int] = {}
    for i, p in enumerate(props):
        for k, v in p.items():
            if not _NAME_OK.match(str(k)):
                raise _err(name, f"Attributname {str(k)[:40]!r} ist leer, zu lang oder enthält Steuerzeichen",
                           f"attribute name {str(k)[:40]!r} is empty, too long or has control characters")
            t = _scalar_type(v)
            if t == "invalid":
                raise _err(name, f"{what} {i + 1}: Attribut {k!r} ist kein einfacher Wert (Text, Zahl, ja/nein)",
                           f"{what} {i + 1}: attribute {k!r} is not a plain value (text, number, true/false)")
            if t == "number" and not math.isfinite(float(v)):
                raise _err(name, f"{what} {i + 1}: Attribut {k!r} ist keine endliche Zahl",
                           f"{what} {i + 1}: attribute {k!r} is not a finite number")
            if t == "string" and len(v) > limits.max_text_chars:
                raise _err(name, f"{what} {i + 1}: Attribut {k!r} ist länger als {limits.max_text_chars} Zeichen",
                           f"{what} {i + 1}: attribute {k!r} is longer than {limits.max_text_chars} characters")
            if t is None:
                types.setdefault(k, "")
                continue
            have = types.get(k, "")
            if not have:
                types[k], first[k] = t, i
            elif have != t:
                if {have, t} == {"integer", "number"}:
                    types[k] = "number"
                else:
                    de = {"string": "Text", "integer": "Zahl", "number": "Zahl", "boolean": "ja/nein"}
                    raise _err(name, f"Attribut {k!r} hat gemischte Typen: {de[have]} ({what} {first[k] + 1}) und "
                                     f"{de[t]} ({what} {i + 1})",
                               f"attribute {k!r} has mixed types: {have} ({what} {first[k] + 1}) and {t} ({what} {i + 1})")
    if len(types) > limits.max_fields:
        raise _err(name, f"zu viele Attribute ({len(types)} > {limits.max_fields})",
                   f"too many attributes ({len(types)} > {limits.max_fields})")
    return tuple(FieldInfo(k, t or "string") for k, t in types.items())


def _vector(name: str, fmt: str, geoms: Sequence[Any], props: Sequence[dict[str, Any]], epsg: int,
            areas: Boundaries, limits: Limits, what: str = "Feature") -> ParsedLayer:
    if not geoms:
        raise _err(name, "enthält keine Objekte mit Geometrie", "holds no features with a geometry")
    if len(geoms) > limits.max_features:
        raise _err(name, f"zu viele Objekte ({len(geoms)} > {limits.max_features})",
                   f"too many features ({len(geoms)} > {limits.max_features})")
    epsg = _check_epsg(name, epsg)
    fields = _field_types(name, props, limits, what)
    box = _region_box(areas, limits.extent_buffer_deg)
    feats: list[dict[str, Any]] = []
    cleaned: list[dict[str, Any]] = []
    kinds: set[str] = set()
    for i, (g, p) in enumerate(zip(geoms, props)):
        if g is None or g.is_empty:
            raise _err(name, f"{what} {i + 1}: leere Geometrie", f"{what} {i + 1}: empty geometry")
        xy = shapely.get_coordinates(g)
        if not np.isfinite(xy).all():
            raise _err(name, f"{what} {i + 1}: Koordinaten nicht endlich", f"{what} {i + 1}: coordinates are not finite")
        if not g.is_valid:
            why = shapely.is_valid_reason(g)
            raise _err(name, f"{what} {i + 1}: ungültige Geometrie ({why})", f"{what} {i + 1}: invalid geometry ({why})")
        if epsg == 4326 and (np.abs(xy[:, 0]) > 180).any() | (np.abs(xy[:, 1]) > 90).any():
            raise _err(name, f"{what} {i + 1}: Koordinaten sind keine Längen/Breiten (x={xy[0, 0]:.0f}, "
                             f"y={xy[0, 1]:.0f}); ist das Koordinatensystem angegeben?",
                       f"{what} {i + 1}: coordinates are not longitudes/latitudes (x={xy[0, 0]:.0f}, y={xy[0, 1]:.0f}); "
                       "is the coordinate reference system declared?")
        ll = _to_lonlat(g, epsg)
        if not box.intersects(ll):
            c = ll.representative_point()
            raise _err(name, f"{what} {i + 1} liegt nicht im Gebiet (bei {c.x:.4f}, {c.y:.4f}); falsches "
                             f"Koordinatensystem (angegeben EPSG:{epsg})?",
                       f"{what} {i + 1} lies outside the region (at {c.x:.4f}, {c.y:.4f}); wrong coordinate "
                       f"reference system (declared EPSG:{epsg})?")
        kinds.add(ll.geom_type)
        clean = {k: (float(v) if isinstance(v, np.floating) else int(v) if isinstance(v, np.integer) and not isinstance(v, bool) else v)
                 for k, v in p.items()}
        cleaned.append(clean)
        feats.append({"type": "Feature", "id": i + 1, "properties": clean, "geometry": _rounded(mapping(ll))})
    allg = shapely.GeometryCollection([shape(f["geometry"]) for f in feats])
    w, s, e, n = (float(v) for v in allg.bounds)
    values = {f.name: [c.get(f.name) for c in cleaned] for f in fields}
    return ParsedLayer(fmt, "vector", fields, len(feats), tuple(sorted(kinds)), (w, s, e, n), epsg,
                       geojson={"type": "FeatureCollection", "features": feats}, values=values)


def _rounded(geo: dict[str, Any]) -> dict[str, Any]:
    def r(c: Any) -> Any:
        if isinstance(c, list | tuple) and c and isinstance(c[0], int | float):
            return [round(float(v), 7) for v in c]
        return [r(x) for x in c]

    if geo["type"] == "GeometryCollection":
        return {"type": "GeometryCollection", "geometries": [_rounded(g) for g in geo["geometries"]]}
    return {"type": geo["type"], "coordinates": r(geo["coordinates"])}


def _geojson(name: str, data: bytes, areas: Boundaries, limits: Limits) -> ParsedLayer:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _err(name, f"kein gültiges JSON ({exc})", f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise _err(name, "ist kein GeoJSON (FeatureCollection oder Feature erwartet)",
                   "is not GeoJSON (a FeatureCollection or Feature expected)")
    feats = doc.get("features") if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(feats, list):
        raise _err(name, "'features' ist keine Liste", "'features' is not a list")
    crs: Any = doc.get("crs") or {}
    crs_props: Any = (crs.get("properties") if isinstance(crs, dict) else None) or {}
    crs_name = str(crs_props.get("name", "EPSG:4326")) if isinstance(crs_props, dict) else "EPSG:4326"
    epsg = 4326 if "CRS84" in crs_name.upper() else epsg_from_srs(crs_name)
    geoms, props = [], []
    for i, f in enumerate(feats):
        if not isinstance(f, dict) or not isinstance(f.get("geometry"), dict):
            raise _err(name, f"Feature {i + 1}: keine Geometrie", f"feature {i + 1}: no geometry")
        try:
            g = shape(f["geometry"])
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
            raise _err(name, f"Feature {i + 1}: Geometrie nicht lesbar ({exc})",
                       f"feature {i + 1}: geometry cannot be read ({exc})") from None
        p = f.get("properties") or {}
        if not isinstance(p, dict):
            raise _err(name, f"Feature {i + 1}: 'properties' ist kein Objekt", f"feature {i + 1}: 'properties' is not an object")
        geoms.append(g)
        props.append(p)
    return _vector(name, "geojson", geoms, props, epsg, areas, limits)


def _gpkg(name: str, data: bytes, areas: Boundaries, limits: Limits, table: str | None) -> ParsedLayer:
    with tempfile.TemporaryDirectory(prefix="landtwin-upload-") as tmp:
        path = Path(tmp) / "upload.gpkg"
        path.write_bytes(data)
        try:
            lay = read_vector(path, layer=table)
        except DataError as exc:
            raise _err(name, exc.de, exc.en) from None
    props = [{k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in p.items()
              if k.lower() not in ("fid", "ogc_fid")} for p in lay.properties]
    return _vector(name, "gpkg", list(lay.geometries), props, lay.epsg, areas, limits)


def _csv_value_types(name: str, df: pd.DataFrame, decimal_comma: bool) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for col in df.columns:
        raw = df[col].astype("string").str.strip()
        s = raw.where(raw.notna() & (raw != ""), None)
        present = s.dropna()
        low = present.str.lower()
        if len(present) and low.isin(["true", "false", "ja", "nein"]).all():
            out[col] = [None if v is None or v is pd.NA else str(v).lower() in ("true", "ja") for v in s]
            continue
        txt = present.str.replace(",", ".", regex=False) if decimal_comma else present
        num = pd.to_numeric(txt, errors="coerce")
        if len(present) and num.notna().all():
            full = pd.Series([None] * len(s), dtype=object)
            full[present.index] = [int(v) if float(v).is_integer() and "." not in t and "e" not in t.lower() else float(v)
                                   for v, t in zip(num, txt)]
            out[col] = list(full)
        else:
            out[col] = [None if v is None or v is pd.NA else str(v) for v in s]
    return out


def _csv(name: str, data: bytes, areas: Boundaries, limits: Limits, csv_epsg: int) -> ParsedLayer:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    head = text.split("\n", 1)[0]
    sep = max((";", ",", "\t"), key=head.count)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise _err(name, f"CSV nicht lesbar ({exc})", f"CSV cannot be read ({exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise _err(name, "enthält keine Zeilen", "holds no rows")
    if len(df) > limits.max_features:
        raise _err(name, f"zu viele Zeilen ({len(df)} > {limits.max_features})",
                   f"too many rows ({len(df)} > {limits.max_features})")
    lower = {c.lower(): c for c in df.columns}
    values = _csv_value_types(name, df, decimal_comma=sep == ";")

    def pick(names: tuple[str, ...]) -> str | None:
        return next((lower[n] for n in names if n in lower), None)

    ags_col = pick(("ags", "gemeindeschluessel", "gemeindeschlüssel"))
    lon, lat, x, y = pick(_LON), pick(_LAT), pick(_X), pick(_Y)
    if ags_col is not None:
        keys = [re.sub(r"\.0$", "", str(v or "").strip()) for v in df[ags_col]]
        keys = [k.zfill(8) if k.isdigit() else k for k in keys]
        known = {str(k): i for i, k in enumerate(areas.key)}
        unknown = [f"{k or '(leer)'} (Zeile {i + 2})" for i, k in enumerate(keys) if k not in known]
        if unknown:
            more = f" und {len(unknown) - 5} weitere" if len(unknown) > 5 else ""
            more_en = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise _err(name, f"unbekannter Gemeindeschlüssel (AGS): {', '.join(unknown[:5])}{more}",
                       f"unknown municipality key (AGS): {', '.join(unknown[:5]).replace('Zeile', 'row')}{more_en}")
        seen: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k in seen:
                raise _err(name, f"Gemeindeschlüssel {k} doppelt (Zeilen {seen[k] + 2} und {i + 2})",
                           f"municipality key {k} appears twice (rows {seen[k] + 2} and {i + 2})")
            seen[k] = i
        geoms = [areas.polygons_lonlat[known[k]] for k in keys]
        props = [{c: (keys[i] if c == ags_col else values[c][i]) for c in df.columns} for i in range(len(df))]
        for i, k in enumerate(keys):
            props[i].setdefault("name", str(areas.name[known[k]]))
        return _vector(name, "csv", geoms, props, 4326, areas, limits, what="Zeile")
    if lon and lat:
        cx, cy, epsg = lon, lat, 4326
    elif x and y:
        cx, cy, epsg = x, y, csv_epsg
    else:
        raise _err(name, "Spalten für die Lage fehlen: lon/lat, x/y (EPSG:25832) oder ags",
                   "columns for the position are missing: lon/lat, x/y (EPSG:25832) or ags")
    xs, ys = values[cx], values[cy]
    geoms = []
    for i, (a, b) in enumerate(zip(xs, ys)):
        if not isinstance(a, int | float) or isinstance(a, bool) or not isinstance(b, int | float) or isinstance(b, bool):
            raise _err(name, f"Zeile {i + 2}: Koordinate fehlt oder ist keine Zahl ({a!r}, {b!r})",
                       f"row {i + 2}: coordinate missing or not a number ({a!r}, {b!r})")
        geoms.append(shapely.Point(float(a), float(b)))
    props = [{c: values[c][i] for c in df.columns if c not in (cx, cy)} for i in range(len(df))]
    return _vector(name, "csv", geoms, props, epsg, areas, limits, what="Zeile")


def _geotiff(name: str, data: bytes, areas: Boundaries, limits: Limits) -> ParsedLayer:
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.MemoryFile(data) as mem, mem.open() as ds:
            if ds.driver != "GTiff":
                raise _err(name, f"ist keine GeoTIFF-Datei ({ds.driver})", f"is not a GeoTIFF ({ds.driver})")
            if ds.width * ds.height > limits.max_pixels:
                raise _err(name, f"zu groß ({ds.width} × {ds.height} Zellen > {limits.max_pixels})",
                           f"too large ({ds.width} × {ds.height} cells > {limits.max_pixels})")
            if ds.crs is None or ds.transform.is_identity:
                raise _err(name, "ohne Koordinatensystem oder Georeferenz", "without a coordinate reference system or georeference")
            epsg = _check_epsg(name, crs_from_any(ds.crs))
            b = ds.bounds
            band = ds.read(1, masked=True)
            info_nodata = None if ds.nodata is None else float(ds.nodata)
            bands, dtype, w, h = ds.count, str(ds.dtypes[0]), ds.width, ds.height
    except DataError:
        raise
    except (RasterioError, ValueError) as exc:
        raise _err(name, f"ist keine lesbare GeoTIFF-Datei ({exc})", f"is not a readable GeoTIFF ({exc})") from None
    xs = np.array([b.left, b.right, b.right, b.left, (b.left + b.right) / 2])
    ys = np.array([b.bottom, b.bottom, b.top, b.top, (b.bottom + b.top) / 2])
    lon, lat = reproject_xy(xs, ys, epsg, 4326)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise _err(name, "Koordinaten passen nicht zum Koordinatensystem", "coordinates do not fit the coordinate reference system")
    bbox = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    if not _region_box(areas, limits.extent_buffer_deg).intersects(shapely.box(*bbox)):
        raise _err(name, f"liegt nicht im Gebiet (bei {lon[4]:.4f}, {lat[4]:.4f}); falsches Koordinatensystem "
                         f"(angegeben EPSG:{epsg})?",
                   f"lies outside the region (at {lon[4]:.4f}, {lat[4]:.4f}); wrong coordinate reference system "
                   f"(declared EPSG:{epsg})?")
    vals = np.asarray(band.compressed(), dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        raise _err(name, "enthält keine gültigen Werte (nur Leerwerte)", "holds no valid values (nodata only)")
    raster = RasterInfo(w, h, bands, dtype, info_nodata, epsg, float(vals.min()), float(vals.max()))
    sample = vals[:: max(1, vals.size // 20_000)]
    return ParsedLayer("geotiff", "raster", (FieldInfo("band1", "number"),), 1, ("Raster",), bbox, epsg,
                       raster=raster, values={"band1": sample.tolist()})


def parse_upload(data: bytes, filename: str, *, areas: Boundaries, limits: Limits = LIMITS,
                 gpkg_table: str | None = None, csv_epsg: int = 25832) -> ParsedLayer:
    """Check an uploaded file against ``areas`` (the region's Gemeinden, lon/lat) and ``limits``.

    Raises DataError (German / English) on the first problem; returns the checked layer otherwise.
    """
    name = Path(filename or "upload").name[:120] or "upload"
    if len(data) == 0:
        raise _err(name, "ist leer", "is empty")
    if len(data) > limits.max_bytes:
        raise _err(name, f"zu groß ({len(data) / 1e6:.1f} MB > {limits.max_bytes / 1e6:.0f} MB)",
                   f"too large ({len(data) / 1e6:.1f} MB > {limits.max_bytes / 1e6:.0f} MB)")
    fmt = detect_format(name, data)
    if fmt == "geojson":
        return _geojson(name, data, areas, limits)
    if fmt == "gpkg":
        return _gpkg(name, data, areas, limits, gpkg_table)
    if fmt == "csv":
        return _csv(name, data, areas, limits, csv_epsg)
    return _geotiff(name, data, areas, limits)


def _spread(colours: Sequence[str], n: int) -> list[str]:
    if n <= 1:
        return [colours[len(colours) // 2]]
    return [colours[round(i * (len(colours) - 1) / (n - 1))] for i in range(n)]


def _fmt(v: float) -> str:
    return f"{v:,.0f}".replace(",", ".") if abs(v) >= 100 or float(v).is_integer() else f"{v:.2f}".replace(".", ",")


def make_style(layer: ParsedLayer, *, mode: str = "single", field_name: str = "", n_classes: int = 5) -> Style:
    """The style chosen at upload: one colour, categories of a field (at most 12 values) or ``n_classes``
    (2..7) quantile classes of a numeric field. Raises DataError for an unknown field or unfit choice."""
    name = "style"
    if mode not in STYLE_MODES:
        raise _err(name, f"unbekannte Darstellung {mode!r} (erwartet {', '.join(STYLE_MODES)})",
                   f"unknown style {mode!r} (expected {', '.join(STYLE_MODES)})")
    if mode == "single":
        return Style("single", "", ({"label": "alle Objekte", "colour": CATEGORY_COLOURS[0]},))
    types = {f.name: f.type for f in layer.fields}
    if field_name not in types:
        raise _err(name, f"Attribut {field_name!r} gibt es nicht (vorhanden: {', '.join(types) or 'keine'})",
                   f"attribute {field_name!r} does not exist (present: {', '.join(types) or 'none'})")
    vals = [v for v in layer.values.get(field_name, []) if v is not None]
    if mode == "categories":
        cats = sorted({str(v) for v in vals}, key=lambda s: (len(s), s) if s.isdigit() else (0, s))
        if not cats or len(cats) > len(CATEGORY_COLOURS):
            raise _err(name, f"Attribut {field_name!r} hat {len(cats)} Werte; Kategorien brauchen 1 bis "
                             f"{len(CATEGORY_COLOURS)} (Klassen wählen?)",
                       f"attribute {field_name!r} has {len(cats)} values; categories need 1 to {len(CATEGORY_COLOURS)} "
                       "(choose classes?)")
        return Style("categories", field_name, tuple({"label": c, "value": c, "colour": CATEGORY_COLOURS[i]}
                                                      for i, c in enumerate(cats)))
    if types[field_name] not in ("integer", "number"):
        raise _err(name, f"Klassen brauchen ein Zahlen-Attribut; {field_name!r} ist {types[field_name]}",
                   f"classes need a numeric attribute; {field_name!r} is {types[field_name]}")
    if not 2 <= int(n_classes) <= len(CLASS_COLOURS):
        raise _err(name, f"Klassenzahl {n_classes} außerhalb 2..{len(CLASS_COLOURS)}",
                   f"number of classes {n_classes} outside 2..{len(CLASS_COLOURS)}")
    arr = np.asarray(vals, dtype=np.float64)
    if arr.size == 0:
        raise _err(name, f"Attribut {field_name!r} hat keine Werte", f"attribute {field_name!r} has no values")
    edges = np.unique(np.quantile(arr, np.linspace(0, 1, int(n_classes) + 1)))
    if edges.size < 2:
        edges = np.array([arr.min(), arr.max()])
    colours = _spread(CLASS_COLOURS, edges.size - 1)
    entries = tuple({"label": f"{_fmt(lo)} – {_fmt(hi)}", "lower": float(lo), "upper": float(hi), "colour": colours[i]}
                    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])))
    return Style("classes", field_name, entries)


def raster_preview_png(data: bytes, style: dict[str, Any], *, max_px: int = 1024) -> bytes:
    """A PNG of band 1 coloured by ``style`` (classes or one ramp), nodata transparent, at most ``max_px``
    on its longer side. Drawn in the raster's own grid (north up); the viewer stretches it over the
    lon/lat bounds, which is close enough for a preview at the scale of a Kreis."""
    import rasterio
    from PIL import Image

    with rasterio.MemoryFile(data) as mem, mem.open() as ds:
        f = min(1.0, max_px / max(ds.width, ds.height))
        shape_ = (max(1, int(ds.height * f)), max(1, int(ds.width * f)))
        band = ds.read(1, out_shape=shape_, masked=True).astype(np.float64)
    rgba = np.zeros(shape_ + (4,), dtype=np.uint8)
    valid = ~np.ma.getmaskarray(band) & np.isfinite(band.filled(np.nan))
    v = band.filled(np.nan)
    entries = style.get("entries") or []
    if style.get("mode") == "classes" and entries:
        for k, e in enumerate(entries):
            lo = -np.inf if k == 0 else e["lower"]
            m = valid & (v > lo) & (v <= e["upper"]) if k else valid & (v <= e["upper"])
            rgba[m] = [*_rgb(e["colour"]), 210]
        rgba[valid & (v > entries[-1]["upper"])] = [*_rgb(entries[-1]["colour"]), 210]
    else:
        rgba[valid] = [*_rgb(CATEGORY_COLOURS[0]), 210]
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
