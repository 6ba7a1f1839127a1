"""Building heights from tags: the rules shared by the OSM reader and the generic layer reader.

Order of evidence (kept in ``height_source``):

1. ``height`` (total height above ground, to the ridge), with the eave from ``roof:height`` or the roof shape;
2. ``building:levels`` x storey height, plus a roof from ``roof:height``, ``roof:levels`` or ``roof:shape``;
3. a default by building type from ``assets/building_defaults.csv`` (each row states its source).

All heights are metres above ground; storey heights are floor-to-floor.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from shapely.geometry import Polygon

__all__ = [
    "BuildingDefault",
    "BuildingHeight",
    "building_defaults",
    "parse_length_m",
    "parse_levels",
    "roof_rise_m",
    "estimate_height",
    "ROOF_SHAPES",
]

ROOF_SHAPES = frozenset(
    {"flat", "gabled", "hipped", "half-hipped", "pyramidal", "mansard", "gambrel", "saltbox", "skillion",
     "dome", "round", "onion", "cone", "sawtooth", "mixed"}
)
_ROOF_ALIASES = {
    "gable": "gabled", "hip": "hipped", "halfhipped": "half-hipped", "half_hipped": "half-hipped",
    "pyramid": "pyramidal", "shed": "skillion", "lean_to": "skillion", "monopitch": "skillion",
    "conical": "cone", "crosspitched": "gabled", "double_saltbox": "saltbox", "quadruple_saltbox": "saltbox",
}
_MAX_HEIGHT_M = 400.0
_MAX_ROOF_RISE_M = 12.0


@dataclass(frozen=True)
class BuildingDefault:
    """One row of ``assets/building_defaults.csv``."""

    building: str
    use: str
    levels: int
    storey_height_m: float
    roof_shape: str
    roof_pitch_deg: float
    source: str


@dataclass(frozen=True)
class BuildingHeight:
    """Estimated height of one building, metres above ground."""

    height_m: float  # ridge / top
    eave_height_m: float  # wall top
    roof_shape: str
    storeys: int
    use: str
    height_source: str  # height, levels, default


@lru_cache(maxsize=1)
def building_defaults() -> dict[str, BuildingDefault]:
    """The default table by OSM ``building=*`` value; key ``default`` for anything not listed."""
    text = resources.files("assets").joinpath("building_defaults.csv").read_text(encoding="utf-8")
    out: dict[str, BuildingDefault] = {}
    for r in csv.DictReader(text.splitlines()):
        out[r["building"]] = BuildingDefault(
            building=r["building"], use=r["use"], levels=int(r["levels"]),
            storey_height_m=float(r["storey_height_m"]), roof_shape=r["roof_shape"],
            roof_pitch_deg=float(r["roof_pitch_deg"]), source=r["source"],
        )
    return out


_NUM = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(m|meter|metre|meters|metres|ft|feet|')?\s*$", re.IGNORECASE)
_FEET_INCH = re.compile(r"^\s*([0-9]+)\s*'\s*([0-9]+(?:\.[0-9]+)?)\s*\"\s*$")


def parse_length_m(value: str | None) -> float | None:
    """A length tag (``12``, ``12.5 m``, ``12,5``, ``40 ft``, ``3'6"``) in metres; None when unusable.

    Non-finite, negative or absurd values (> 400 m) count as unusable.
    """
    if value is None:
        return None
    v = value.strip()
    m = _FEET_INCH.match(v)
    if m:
        out = (float(m.group(1)) * 12 + float(m.group(2))) * 0.0254
    else:
        m = _NUM.match(v)
        if not m:
            return None
        out = float(m.group(1).replace(",", "."))
        if (m.group(2) or "").lower() in ("ft", "feet", "'"):
            out *= 0.3048
    if not math.isfinite(out) or out < 0 or out > _MAX_HEIGHT_M:
        return None
    return out


def parse_levels(value: str | None) -> float | None:
    """``building:levels`` style value (``4``, ``2.5``, ``4;5`` -> 5); None when unusable."""
    if value is None:
        return None
    best = None
    for part in re.split(r"[;,]", value):
        try:
            f = float(part.strip())
        except ValueError:
            continue
        if math.isfinite(f) and 0 <= f <= 200:
            best = f if best is None else max(best, f)
    return best


def _roof_shape(tags: Mapping[str, str], fallback: str) -> str:
    raw = (tags.get("roof:shape") or "").strip().lower()
    raw = _ROOF_ALIASES.get(raw, raw)
    return raw if raw in ROOF_SHAPES else fallback


def roof_rise_m(shape: str, footprint: Polygon | None, pitch_deg: float) -> float:
    """Height of a pitched roof above the eave, from the footprint's short side and the pitch.

    The short side is that of the minimum rotated rectangle; the rise is half of it times tan(pitch)
    (one side for skillion roofs), capped at 12 m. Flat and unknown footprints give 0.
    """
    if shape == "flat" or footprint is None or footprint.is_empty or pitch_deg <= 0:
        return 0.0
    rect = footprint.minimum_rotated_rectangle
    if not isinstance(rect, Polygon):
        return 0.0
    xy = list(rect.exterior.coords)[:4]
    a = math.dist(xy[0], xy[1])
    b = math.dist(xy[1], xy[2])
    span = min(a, b) if shape != "skillion" else 2 * min(a, b)
    return float(min(span / 2.0 * math.tan(math.radians(pitch_deg)), _MAX_ROOF_RISE_M))


_USE_BY_AMENITY = {
    "school": "public", "kindergarten": "public", "hospital": "public", "townhall": "public",
    "library": "public", "college": "public", "university": "public", "clinic": "public",
    "place_of_worship": "church", "community_centre": "public", "police": "public", "fire_station": "public",
    "theatre": "public", "cinema": "commercial", "restaurant": "commercial", "bank": "commercial",
}


def estimate_height(tags: Mapping[str, str], footprint: Polygon | None = None) -> BuildingHeight:
    """Height, eave, roof shape, storeys and use of a building (or building part) from its tags.

    Parameters
    ----------
    tags : OSM-style tags (``building``, ``building:part``, ``height``, ``building:levels``,
        ``roof:shape``, ``roof:height``, ``roof:levels``, ``amenity``, ...).
    footprint : footprint in metres (any projected frame), used for the roof rise of pitched roofs.
    """
    table = building_defaults()
    kind = (tags.get("building") or tags.get("building:part") or "yes").strip().lower()
    d = table.get(kind, table["default"])
    use = d.use
    amenity = tags.get("amenity", "")
    if amenity in _USE_BY_AMENITY:
        use = _USE_BY_AMENITY[amenity]
    elif use == "other" and tags.get("shop"):
        use = "commercial"
    shape = _roof_shape(tags, d.roof_shape)
    pitch = d.roof_pitch_deg if d.roof_pitch_deg > 0 else 35.0
    storey = d.storey_height_m

    height = parse_length_m(tags.get("height"))
    roof_h = parse_length_m(tags.get("roof:height"))
    levels = parse_levels(tags.get("building:levels"))
    roof_levels = parse_levels(tags.get("roof:levels"))

    def rise() -> float:
        if roof_h is not None:
            return roof_h
        if roof_levels is not None and roof_levels > 0 and shape != "flat":
            return roof_levels * storey
        return roof_rise_m(shape, footprint, pitch)

    if height is not None and height > 0:
        r = min(rise(), 0.6 * height)
        storeys = int(levels) if levels else max(1, round((height - r) / storey))
        return BuildingHeight(height, max(height - r, 0.1 * height), shape, storeys, use, "height")
    if levels is not None and levels > 0:
        eave = levels * storey
        if roof_levels is not None and shape == "flat":
            eave += roof_levels * storey
        return BuildingHeight(eave + rise(), eave, shape, max(1, int(round(levels))), use, "levels")
    eave = d.levels * storey
    return BuildingHeight(eave + rise(), eave, shape, d.levels, use, "default")
