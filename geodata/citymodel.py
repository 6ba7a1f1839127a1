"""3D city models: CityJSON (1.0/1.1/2.0) and LoD2 CityGML (1.0/2.0, the format of the German states'
LoD2 building models, e.g. Sachsen-Anhalt's).

Every building (or building part with its own surfaces) gives one row: footprint from its
GroundSurface polygons (else the projection of all its surfaces), base (lowest ground point, m a.s.l.),
eave (lowest roof point) and ridge (highest roof point) above the base, and the roof shape from the
AdV ``roofType`` code (1000 flat, 2100 skillion, 3100 gabled, 3200 hipped, 3300 half-hipped,
3400 mansard, 3500 pyramidal, ...) or, when absent, from the roof surfaces' slopes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from lxml import etree
from shapely.geometry import Polygon

from geodata.crs import LocalFrame, reproject_xy, utm_epsg_for_lonlat
from geodata.district import Buildings, age_bands
from geodata.featureset import largest_polygon
from geodata.sources import DataError, check_file

__all__ = ["CityModel", "read_citymodel", "read_cityjson", "read_citygml", "ROOF_TYPE_CODES", "epsg_from_srs"]

ROOF_TYPE_CODES = {
    "1000": "flat", "2100": "skillion", "2200": "skillion", "3100": "gabled", "3200": "hipped",
    "3300": "half-hipped", "3400": "mansard", "3500": "pyramidal", "3600": "cone", "3700": "dome",
    "3800": "sawtooth", "3900": "round", "4000": "pyramidal", "5000": "mixed", "9999": "mixed",
}


@dataclass(frozen=True)
class _Surface:
    kind: str  # GroundSurface, RoofSurface, WallSurface, or "" when unknown
    xyz: np.ndarray  # (k, 3) exterior ring in the source CRS


@dataclass(frozen=True)
class _Record:
    source_id: str
    surfaces: list[_Surface]
    attributes: dict


@dataclass(frozen=True)
class CityModel:
    """Buildings of a city model in a local frame (see ``Buildings``; ``base_m`` is m a.s.l.)."""

    buildings: Buildings
    frame: LocalFrame
    source_epsg: int


def epsg_from_srs(srs: str | None) -> int | None:
    """EPSG code from an srsName / referenceSystem (EPSG URN/URL, ``EPSG:xxxx``, AdV ``ETRS89_UTM32``)."""
    if not srs:
        return None
    m = re.search(r"EPSG(?:/0/|::|:)(\d{4,5})", srs, re.IGNORECASE)
    if m:
        return int(m.group(1))
    m = re.search(r"UTM[_-]?(\d{2})", srs, re.IGNORECASE)
    return 25800 + int(m.group(1)) if m else None


def _use_of(function: str | None) -> str:
    code = (function or "").split("_")[-1]
    if not code.isdigit():
        return "other"
    if code.startswith("1"):
        return "residential"
    if code.startswith("246"):
        return "garage"
    if code.startswith("21"):
        return "industrial"
    if code.startswith("2"):
        return "commercial"
    if code.startswith("304"):
        return "church"
    if code.startswith("3"):
        return "public"
    return "other"


def _infer_roof(roofs: list[np.ndarray], rise: float) -> str:
    if rise < 0.3 or not roofs:
        return "flat"
    sloped = 0
    for xyz in roofs:
        n = np.zeros(3)
        for a, b in zip(xyz[:-1], xyz[1:]):  # Newell's method
            n += (a[1] - b[1]) * (a[2] + b[2]), (a[2] - b[2]) * (a[0] + b[0]), (a[0] - b[0]) * (a[1] + b[1])
        norm = np.linalg.norm(n)
        if norm > 0 and abs(n[2]) / norm < math.cos(math.radians(5)):
            sloped += 1
    return {0: "flat", 1: "skillion", 2: "gabled"}.get(sloped, "hipped")


def _to_buildings(path: Path, records: list[_Record], src_epsg: int, frame: LocalFrame | None) -> CityModel:
    rows = []
    for rec in records:
        if not rec.surfaces:
            continue
        allpts = np.concatenate([s.xyz for s in rec.surfaces])
        if not np.isfinite(allpts).all():
            raise DataError(path, f"Gebäude {rec.source_id}: nicht-endliche Koordinaten oder Höhen",
                            f"building {rec.source_id}: non-finite coordinates or heights")
        rows.append((rec, allpts))
    if not rows:
        raise DataError(path, "leeres Gebiet: keine Gebäude mit Geometrie", "empty area: no buildings with geometry")
    if frame is None:
        pts = np.concatenate([p[:, :2] for _, p in rows])
        lon, lat = reproject_xy(pts[:, 0], pts[:, 1], src_epsg, 4326)
        epsg = src_epsg if 25828 <= src_epsg <= 25838 else utm_epsg_for_lonlat(float(lon.mean()), float(lat.mean()))
        e, n = reproject_xy(pts[:, 0], pts[:, 1], src_epsg, epsg)
        frame = LocalFrame(epsg, float(np.floor(e.min() - 30.0)), float(np.floor(n.min() - 30.0)))
    out: dict[str, list] = {k: [] for k in ("fp", "base", "h", "eave", "roof", "use", "st", "src")}
    for rec, allpts in rows:
        def local(xyz: np.ndarray) -> np.ndarray:
            x, y = reproject_xy(xyz[:, 0], xyz[:, 1], src_epsg, frame.epsg)
            return np.column_stack(frame.utm_to_local(x, y))

        ground = [s.xyz for s in rec.surfaces if s.kind == "GroundSurface"]
        roofs = [s.xyz for s in rec.surfaces if s.kind == "RoofSurface"]
        flat_parts = [Polygon(local(g)) for g in (ground or [s.xyz for s in rec.surfaces]) if len(g) >= 4]
        flat_parts = [p if p.is_valid else shapely.make_valid(p) for p in flat_parts]
        fp = largest_polygon(shapely.union_all(flat_parts)) if flat_parts else None
        if fp is None:
            hull = shapely.MultiPoint(local(allpts)).convex_hull
            fp = hull if isinstance(hull, Polygon) else None
        if fp is None:
            continue
        base = float(np.min(np.concatenate(ground)[:, 2])) if ground else float(allpts[:, 2].min())
        top_pts = np.concatenate(roofs)[:, 2] if roofs else allpts[:, 2]
        ridge = float(top_pts.max()) - base
        eave = float(top_pts.min()) - base if roofs else ridge
        mh = rec.attributes.get("measuredHeight")
        if mh is not None:
            try:
                mh_f = float(mh)
            except (TypeError, ValueError):
                mh_f = math.nan
            if not math.isfinite(mh_f):
                raise DataError(path, f"Gebäude {rec.source_id}: ungültige measuredHeight {mh!r}",
                                f"building {rec.source_id}: non-finite measuredHeight {mh!r}")
        if not (math.isfinite(ridge) and ridge > 0):
            raise DataError(path, f"Gebäude {rec.source_id}: Höhe {ridge:.2f} m ist nicht positiv",
                            f"building {rec.source_id}: non-positive height {ridge:.2f} m")
        eave = min(max(eave, 0.1 * ridge), ridge)
        code = str(rec.attributes.get("roofType") or "").strip()
        roof = ROOF_TYPE_CODES.get(code) or _infer_roof(roofs, ridge - eave)
        storeys = rec.attributes.get("storeysAboveGround")
        out["fp"].append(fp)
        out["base"].append(base)
        out["h"].append(ridge)
        out["eave"].append(eave)
        out["roof"].append(roof)
        out["use"].append(_use_of(rec.attributes.get("function")))
        out["st"].append(int(storeys) if str(storeys or "").isdigit() else max(1, int(round(eave / 3.0))))
        out["src"].append(rec.source_id)
    n = len(out["fp"])
    b = Buildings(
        building_id=np.arange(1, n + 1, dtype=np.int64), footprints=tuple(out["fp"]),
        base_m=np.asarray(out["base"], np.float32), height_m=np.asarray(out["h"], np.float32),
        eave_height_m=np.asarray(out["eave"], np.float32), roof_shape=np.asarray(out["roof"], dtype=object),
        use=np.asarray(out["use"], dtype=object), storeys=np.asarray(out["st"], np.int16),
        dwellings=np.zeros(n, np.int32), residents=np.zeros(n, np.int32),
        residents_by_age=np.zeros((n, len(age_bands())), np.int32),
        source_id=np.asarray(out["src"], dtype=object), height_source=np.full(n, "lod2", dtype=object),
    )
    return CityModel(b, frame, src_epsg)


def read_cityjson(path: str | Path, *, frame: LocalFrame | None = None) -> CityModel:
    """Buildings of a CityJSON file (vertices with or without ``transform``)."""
    p = check_file(path, suffixes=(".json", ".city.json", ".cityjson"))
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        if doc.get("type") != "CityJSON":
            raise DataError(p, "kein CityJSON (type fehlt)", "not CityJSON (no type CityJSON)")
        verts = np.asarray(doc["vertices"], dtype=np.float64).reshape(-1, 3)
        if "transform" in doc:
            verts = verts * np.asarray(doc["transform"]["scale"]) + np.asarray(doc["transform"]["translate"])
        objects = doc["CityObjects"]
    except DataError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(p, f"beschädigt oder abgeschnitten ({exc})", f"corrupt or truncated ({exc})") from exc
    epsg = epsg_from_srs(str((doc.get("metadata") or {}).get("referenceSystem", "")))
    if epsg is None:
        raise DataError(p, "kein Koordinatenbezugssystem (metadata.referenceSystem)", "no CRS (metadata.referenceSystem)")

    def rings_of(geom: dict) -> list[_Surface]:
        kinds = [s.get("type", "") for s in (geom.get("semantics") or {}).get("surfaces", [])]
        values = (geom.get("semantics") or {}).get("values")
        gtype, bnd = geom.get("type"), geom.get("boundaries", [])
        if gtype in ("MultiSurface", "CompositeSurface"):
            shells, vals = [bnd], [values]
        elif gtype == "Solid":
            shells, vals = bnd, values or [None] * len(bnd)
        elif gtype in ("MultiSolid", "CompositeSolid"):
            shells = [sh for solid in bnd for sh in solid]
            vals = [v for sv in (values or [[None] * len(s) for s in bnd]) for v in sv]
        else:
            return []
        out = []
        for shell, sv in zip(shells, vals):
            for i, surf in enumerate(shell):
                idx = sv[i] if sv is not None and i < len(sv) else None
                kind = kinds[idx] if idx is not None and idx < len(kinds) else ""
                ring = verts[np.asarray(surf[0], dtype=np.int64)]
                out.append(_Surface(kind, np.vstack([ring, ring[:1]])))
        return out

    records = []
    try:
        for oid, obj in objects.items():
            if obj.get("type") not in ("Building", "BuildingPart") or not obj.get("geometry"):
                continue
            geoms = sorted(obj["geometry"], key=lambda g: float(str(g.get("lod", 0)) or 0))
            records.append(_Record(f"cityjson:{oid}", rings_of(geoms[-1]), dict(obj.get("attributes") or {})))
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise DataError(p, f"ungültige Geometrie ({exc})", f"invalid geometry ({exc})") from exc
    return _to_buildings(p, records, epsg, frame)


def _poslist(el: etree._Element, path: Path) -> np.ndarray:
    pl = el.find(".//{*}exterior//{*}posList")
    if pl is not None:
        vals = (pl.text or "").split()
        dim = int(pl.get("srsDimension", "3"))
    else:
        vals = [v for pos in el.iterfind(".//{*}exterior//{*}pos") for v in (pos.text or "").split()]
        dim = 3
    try:
        arr = np.asarray([float(v) for v in vals], dtype=np.float64)
    except ValueError as exc:
        raise DataError(path, f"ungültige Koordinaten ({exc})", f"invalid coordinates ({exc})") from exc
    if dim != 3 or arr.size % 3 or arr.size < 12:
        raise DataError(path, "Polygon ohne 3D-Koordinaten", "polygon without 3D coordinates")
    return arr.reshape(-1, 3)


def read_citygml(path: str | Path, *, frame: LocalFrame | None = None) -> CityModel:
    """Buildings of a LoD2 CityGML file (CityGML 1.0 or 2.0, any gml namespace)."""
    p = check_file(path, suffixes=(".gml", ".xml", ".citygml"))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.parse(str(p), parser).getroot()
    except etree.XMLSyntaxError as exc:
        raise DataError(p, f"beschädigt oder abgeschnitten ({exc})", f"corrupt or truncated ({exc})") from exc
    srs = next((el.get("srsName") for el in root.iter() if el.get("srsName")), None)
    epsg = epsg_from_srs(srs)
    if epsg is None:
        raise DataError(p, "kein Koordinatenbezugssystem (srsName)", "no CRS (srsName)")
    owners = ("Building", "BuildingPart")

    def owner_of(el: etree._Element) -> etree._Element | None:
        a = el.getparent()
        while a is not None and etree.QName(a).localname not in owners:
            a = a.getparent()
        return a

    records = []
    for b in root.iter("{*}Building", "{*}BuildingPart"):
        surfaces = []
        for s in b.iter("{*}GroundSurface", "{*}RoofSurface", "{*}WallSurface"):
            if owner_of(s) is b:
                kind = etree.QName(s).localname
                surfaces += [_Surface(kind, _poslist(poly, p)) for poly in s.iter("{*}Polygon")]
        if not surfaces:  # a solid without thematic surfaces
            for geom in b.iter("{*}lod2Solid", "{*}lod2MultiSurface", "{*}lod1Solid"):
                if owner_of(geom) is b:
                    surfaces += [_Surface("", _poslist(poly, p)) for poly in geom.iter("{*}Polygon")]
        attrs = {}
        for key in ("measuredHeight", "roofType", "function", "storeysAboveGround"):
            for holder in (b, owner_of(b)):  # a part inherits its building's function
                el = next((c for c in holder if etree.QName(c).localname == key), None) if holder is not None else None
                if el is not None and el.text:
                    attrs[key] = el.text.strip()
                    break
                if key != "function":
                    break
        gid = next((v for k, v in b.attrib.items() if k.endswith("}id") or k == "id"), f"building{len(records)}")
        records.append(_Record(f"citygml:{gid}", surfaces, attrs))
    return _to_buildings(p, records, epsg, frame)


def read_citymodel(path: str | Path, *, frame: LocalFrame | None = None) -> CityModel:
    """CityJSON (``.json``) or CityGML (``.gml``/``.xml``) by suffix."""
    name = str(path).lower()
    if name.endswith((".json", ".cityjson")):
        return read_cityjson(path, frame=frame)
    if name.endswith((".gml", ".xml", ".citygml")):
        return read_citygml(path, frame=frame)
    raise DataError(path, "unbekanntes Gebäudeformat (erwartet CityJSON oder CityGML)",
                    "unknown building format (expected CityJSON or CityGML)")
