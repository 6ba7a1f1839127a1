"""Classification of OSM-style tags: land cover -> surface class, points of interest, stops, trees, water.

Shared by the OSM reader and the generic layer reader (GeoJSON layers that keep OSM tags).
"""

from __future__ import annotations

from collections.abc import Mapping

from geodata.district import SURFACE
from geodata.heights import parse_length_m

__all__ = [
    "surface_for",
    "poi_category",
    "stop_mode",
    "is_stop",
    "tree_size_m",
    "waterway_width_m",
    "LANDCOVER_PRIORITY",
    "TREE_ROW_SPACING_M",
    "DEFAULT_TREE_HEIGHT_M",
    "DEFAULT_CROWN_DIAMETER_M",
]

_S = SURFACE
_LANDUSE = {
    "forest": "forest", "grass": "grass", "meadow": "grass", "village_green": "grass", "recreation_ground": "grass",
    "cemetery": "grass", "farmland": "field", "greenhouse_horticulture": "field", "plant_nursery": "field",
    "allotments": "garden", "orchard": "garden", "vineyard": "garden", "residential": "garden",
    "commercial": "paving", "retail": "paving", "industrial": "paving", "garages": "asphalt",
    "railway": "gravel", "construction": "bare_soil", "brownfield": "bare_soil", "quarry": "bare_soil",
    "landfill": "bare_soil", "farmyard": "paving", "basin": "water", "reservoir": "water", "salt_pond": "water",
    "flowerbed": "garden", "military": "grass",
}
_NATURAL = {
    "wood": "forest", "scrub": "grass", "heath": "grass", "grassland": "grass", "wetland": "grass",
    "water": "water", "bare_rock": "bare_soil", "sand": "bare_soil", "beach": "bare_soil", "scree": "gravel",
    "shingle": "gravel", "mud": "bare_soil",
}
_LEISURE = {
    "park": "grass", "garden": "garden", "playground": "grass", "pitch": "grass", "golf_course": "grass",
    "dog_park": "grass", "sports_centre": "paving", "stadium": "grass", "track": "paving",
    "swimming_pool": "water", "common": "grass", "miniature_golf": "grass",
}
_AMENITY = {"parking": "asphalt", "grave_yard": "grass", "bicycle_parking": "paving", "marketplace": "paving"}
# ``surface=*`` of paved or unpaved areas overrides the class of pitches, parking and squares.
_SURFACE_TAG = {
    "asphalt": "asphalt", "paved": "paving", "concrete": "paving", "paving_stones": "paving", "sett": "paving",
    "cobblestone": "paving", "grass": "grass", "grass_paver": "grass", "gravel": "gravel", "fine_gravel": "gravel",
    "compacted": "gravel", "sand": "bare_soil", "dirt": "bare_soil", "ground": "bare_soil", "tartan": "paving",
    "artificial_turf": "paving", "clay": "bare_soil", "unpaved": "gravel", "pebblestone": "gravel",
}
# Later entries paint over earlier ones: broad land use first, then natural/leisure, then squares, water.
LANDCOVER_PRIORITY = {"landuse": 0, "natural": 1, "leisure": 2, "amenity": 3, "highway": 3, "water": 4}

TREE_ROW_SPACING_M = 8.0
# Typical mature urban street tree (lime, maple): 12 m tall, 8 m crown (assumption after the GALK
# Straßenbaumliste's mid-size class "Bäume 2. Ordnung", 12-20 m).
DEFAULT_TREE_HEIGHT_M = 12.0
DEFAULT_CROWN_DIAMETER_M = 8.0
_WATERWAY_WIDTH_M = {"river": 15.0, "canal": 10.0, "stream": 3.0, "ditch": 1.5, "drain": 1.5, "brook": 2.0}


def surface_for(tags: Mapping[str, str]) -> tuple[str, int, int] | None:
    """(kind, surface code, priority) of a land cover area, or None when it is not land cover.

    ``kind`` is the deciding tag, e.g. ``landuse=allotments``.
    """
    surface_override = _SURFACE_TAG.get(tags.get("surface", ""))
    if tags.get("water") or tags.get("waterway") == "riverbank":
        return ("water=" + (tags.get("water") or "riverbank"), _S["water"], LANDCOVER_PRIORITY["water"])
    if tags.get("natural") == "water":
        return ("natural=water", _S["water"], LANDCOVER_PRIORITY["water"])
    amenity = tags.get("amenity", "")
    if amenity in _AMENITY:
        name = surface_override if amenity != "grave_yard" and surface_override else _AMENITY[amenity]
        return (f"amenity={amenity}", _S[name], LANDCOVER_PRIORITY["amenity"])
    if tags.get("highway") == "pedestrian" or tags.get("place") == "square":
        return ("highway=pedestrian", _S[surface_override or "paving"], LANDCOVER_PRIORITY["highway"])
    leisure = tags.get("leisure", "")
    if leisure in _LEISURE:
        name = surface_override if leisure in ("pitch", "track", "playground") and surface_override else _LEISURE[leisure]
        return (f"leisure={leisure}", _S[name], LANDCOVER_PRIORITY["leisure"])
    natural = tags.get("natural", "")
    if natural in _NATURAL:
        return (f"natural={natural}", _S[_NATURAL[natural]], LANDCOVER_PRIORITY["natural"])
    landuse = tags.get("landuse", "")
    if landuse in _LANDUSE:
        return (f"landuse={landuse}", _S[_LANDUSE[landuse]], LANDCOVER_PRIORITY["landuse"])
    return None


def poi_category(tags: Mapping[str, str]) -> str | None:
    """Social-planning category of a feature: doctor, pharmacy, school, kindergarten, supermarket,
    care_home, hospital; None otherwise."""
    amenity = tags.get("amenity", "")
    if amenity in ("doctors", "clinic") or tags.get("healthcare") == "doctor":
        return "doctor"
    if amenity == "hospital":
        return "hospital"
    if amenity == "pharmacy" or tags.get("healthcare") == "pharmacy":
        return "pharmacy"
    if amenity == "school":
        return "school"
    if amenity in ("kindergarten", "childcare"):
        return "kindergarten"
    if tags.get("shop") in ("supermarket", "convenience"):
        return "supermarket"
    if amenity == "nursing_home" or tags.get("social_facility") in ("nursing_home", "assisted_living"):
        return "care_home"
    return None


def is_stop(tags: Mapping[str, str]) -> bool:
    """A public transport stop: bus stop, platform, stop position, station, halt or tram stop."""
    return (
        tags.get("highway") == "bus_stop"
        or tags.get("public_transport") in ("platform", "stop_position")
        or tags.get("railway") in ("station", "halt", "tram_stop")
    )


def stop_mode(tags: Mapping[str, str]) -> str:
    """bus, tram or rail."""
    if tags.get("railway") in ("station", "halt") or tags.get("train") == "yes":
        return "rail"
    if tags.get("railway") == "tram_stop" or (tags.get("tram") == "yes" and tags.get("bus") != "yes"):
        return "tram"
    return "bus"


def tree_size_m(tags: Mapping[str, str]) -> tuple[float, float]:
    """(height, crown diameter) of a tree from ``height`` and ``diameter_crown`` (defaults otherwise)."""
    h = parse_length_m(tags.get("height"))
    d = parse_length_m(tags.get("diameter_crown") or tags.get("crown_diameter"))
    h = h if h is not None and 1.0 <= h <= 60.0 else DEFAULT_TREE_HEIGHT_M
    d = d if d is not None and 0.5 <= d <= 40.0 else min(DEFAULT_CROWN_DIAMETER_M, 0.7 * h)
    return h, d


def waterway_width_m(tags: Mapping[str, str]) -> float | None:
    """Width of a waterway line (``width`` tag or a default by type); None when not a surface waterway."""
    kind = tags.get("waterway", "")
    if kind not in _WATERWAY_WIDTH_M or tags.get("tunnel") in ("yes", "culvert") or tags.get("location") == "underground":
        return None
    w = parse_length_m(tags.get("width"))
    return w if w is not None and 0.2 <= w <= 500 else _WATERWAY_WIDTH_M[kind]
