"""Interventions: the edits a scenario applies to a District, as typed, validated structures.

All geometry is in the district's local frame (metres east/north). Each intervention is a msgspec
Struct tagged by ``kind``; ``decode_intervention`` accepts JSON or a Python dict and raises
``InterventionError`` with a German and English message when anything is off. ``validate_against``
checks an intervention against a District (inside the area, existing ids, plausible sizes).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
from shapely.geometry import Polygon

from geodata.district import District

__all__ = [
    "Intervention",
    "InterventionError",
    "decode_intervention",
    "encode_intervention",
    "validate_against",
    "intervention_cost_eur",
    "KINDS",
    "FORECAST_KINDS",
    "MAX_VERTICES",
]

MAX_VERTICES = 500

Coord = Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)]
Point = tuple[Coord, Coord]
Positive = Annotated[float, msgspec.Meta(gt=0)]


class InterventionError(ValueError):
    """A rejected intervention; ``de`` and ``en`` carry the message in both languages."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.de = de
        self.en = en


class _Base(msgspec.Struct, frozen=True, tag_field="kind", forbid_unknown_fields=True):
    """Common fields: ``id`` (client-chosen, unique within a scenario) and an optional label."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""


# --- heat and greening ---------------------------------------------------------------------------
class Tree(_Base, frozen=True, tag="tree"):
    """A single tree at ``xy_local_m``."""

    xy_local_m: Point = (0.0, 0.0)
    height_m: Annotated[float, msgspec.Meta(gt=0, le=50)] = 12.0
    crown_diameter_m: Annotated[float, msgspec.Meta(gt=0, le=30)] = 8.0
    species: Annotated[str, msgspec.Meta(max_length=64)] = "Tilia cordata"


class TreeRow(_Base, frozen=True, tag="tree_row"):
    """Trees planted along a polyline every ``spacing_m``."""

    line_local_m: list[Point] = []
    spacing_m: Annotated[float, msgspec.Meta(ge=3, le=50)] = 10.0
    height_m: Annotated[float, msgspec.Meta(gt=0, le=50)] = 12.0
    crown_diameter_m: Annotated[float, msgspec.Meta(gt=0, le=30)] = 8.0
    species: Annotated[str, msgspec.Meta(max_length=64)] = "Tilia cordata"


class Park(_Base, frozen=True, tag="park"):
    """Turn an area into a park: grass, with trees at ``tree_cover`` fraction of the area."""

    polygon_local_m: list[Point] = []
    tree_cover: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.3


class GreenRoof(_Base, frozen=True, tag="green_roof"):
    building_id: int = -1


class Unseal(_Base, frozen=True, tag="unseal"):
    """Replace sealed surfaces inside the polygon with grass (roofs are kept)."""

    polygon_local_m: list[Point] = []


class WaterSurface(_Base, frozen=True, tag="water"):
    polygon_local_m: list[Point] = []


class CoolSurface(_Base, frozen=True, tag="cool_surface"):
    """High-albedo coating of pavements and roofs inside the polygon."""

    polygon_local_m: list[Point] = []


# --- roads -----------------------------------------------------------------------------------------
class RoadClosure(_Base, frozen=True, tag="road_closure"):
    edge_index: Annotated[int, msgspec.Meta(ge=0)] = 0


class SpeedLimit(_Base, frozen=True, tag="speed_limit"):
    edge_index: Annotated[int, msgspec.Meta(ge=0)] = 0
    maxspeed_kmh: Annotated[float, msgspec.Meta(ge=5, le=130)] = 30.0


class LaneChange(_Base, frozen=True, tag="lane_change"):
    edge_index: Annotated[int, msgspec.Meta(ge=0)] = 0
    lanes: Annotated[int, msgspec.Meta(ge=1, le=8)] = 1


class NewLink(_Base, frozen=True, tag="new_link"):
    line_local_m: list[Point] = []
    road_class: Literal["primary", "secondary", "tertiary", "residential", "living_street"] = "residential"
    lanes: Annotated[int, msgspec.Meta(ge=1, le=8)] = 2
    maxspeed_kmh: Annotated[float, msgspec.Meta(ge=5, le=130)] = 50.0


class OneWayChange(_Base, frozen=True, tag="oneway_change"):
    edge_index: Annotated[int, msgspec.Meta(ge=0)] = 0
    oneway: Literal[-1, 0, 1] = 0


# --- transit and access ----------------------------------------------------------------------------
class NewStop(_Base, frozen=True, tag="new_stop"):
    xy_local_m: Point = (0.0, 0.0)
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class MoveStop(_Base, frozen=True, tag="move_stop"):
    stop_index: Annotated[int, msgspec.Meta(ge=0)] = 0
    xy_local_m: Point = (0.0, 0.0)


class BusLine(_Base, frozen=True, tag="bus_line"):
    """A bus line through ``stops_local_m`` (in order), every ``headway_min`` between the hours."""

    stops_local_m: list[Point] = []
    headway_min: Annotated[float, msgspec.Meta(ge=2, le=240)] = 30.0
    first_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 6
    last_hour: Annotated[int, msgspec.Meta(ge=1, le=24)] = 20
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class HeadwayChange(_Base, frozen=True, tag="headway_change"):
    line_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "x"
    headway_min: Annotated[float, msgspec.Meta(ge=2, le=240)] = 30.0


class OnDemandZone(_Base, frozen=True, tag="on_demand_zone"):
    """A Rufbus zone: bookable ``lead_time_min`` ahead within the service window."""

    polygon_local_m: list[Point] = []
    lead_time_min: Annotated[float, msgspec.Meta(ge=0, le=240)] = 60.0
    first_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 6
    last_hour: Annotated[int, msgspec.Meta(ge=1, le=24)] = 20


class Facility(_Base, frozen=True, tag="facility"):
    """Open a new facility at ``xy_local_m`` or close the POI ``poi_index``."""

    category: Literal[
        "doctor", "pharmacy", "school", "kindergarten", "supermarket", "care_home"
    ] = "doctor"
    action: Literal["open", "close"] = "open"
    xy_local_m: Point = (0.0, 0.0)
    poi_index: int = -1


class HousingDevelopment(_Base, frozen=True, tag="housing"):
    """New dwellings (and residents moving in) inside the polygon."""

    polygon_local_m: list[Point] = []
    dwellings: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 50
    persons_per_dwelling: Annotated[float, msgspec.Meta(gt=0, le=8)] = 2.0
    storeys: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3


# --- population forecast of the region (Gemeinden by AGS; read by models.forecast) ----------------
Ags = Annotated[str, msgspec.Meta(pattern=r"^\d{8}$")]
Year = Annotated[int, msgspec.Meta(ge=2020, le=2100)]


class RefugeeIntake(_Base, frozen=True, tag="refugee_intake"):
    """``persons_per_year`` persons moving in each year from ``first_year`` to ``last_year`` with an age
    profile, allocated to ``gemeinden`` (empty: all Gemeinden in proportion to their population)."""

    persons_per_year: Annotated[int, msgspec.Meta(ge=1, le=100000)] = 500
    first_year: Year = 2024
    last_year: Year = 2026
    gemeinden: Annotated[list[Ags], msgspec.Meta(max_length=500)] = []
    age_profile: Literal["asylum", "families", "kreis"] = "asylum"


class HousingEstate(_Base, frozen=True, tag="housing_estate"):
    """A new housing estate in Gemeinde ``ags``: ``dwellings`` occupied in ``year`` (spread over ``years``)
    by ``persons_per_dwelling`` movers each, with an age profile."""

    ags: Ags = "00000000"
    dwellings: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 50
    persons_per_dwelling: Annotated[float, msgspec.Meta(gt=0, le=8)] = 2.0
    year: Year = 2026
    years: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1
    age_profile: Literal["asylum", "families", "kreis"] = "families"


class OutMigrationFactor(_Base, frozen=True, tag="out_migration_factor"):
    """Out-migration of ages ``age_from``..``age_to`` times ``factor`` from ``first_year`` on, in ``gemeinden``
    (empty: the whole Kreis)."""

    factor: Annotated[float, msgspec.Meta(ge=0, le=5)] = 1.0
    age_from: Annotated[int, msgspec.Meta(ge=0, le=100)] = 18
    age_to: Annotated[int, msgspec.Meta(ge=0, le=100)] = 29
    first_year: Year = 2020
    gemeinden: Annotated[list[Ags], msgspec.Meta(max_length=500)] = []


class DemographicPath(_Base, frozen=True, tag="demographic_path"):
    """A different fertility or life-expectancy path: the TFR moves linearly to ``tfr_2040`` (``None``: as in
    the baseline) and life expectancy at birth to the baseline's plus ``e0_change_2040_*`` years, from
    ``first_year`` to 2040 (held after 2040)."""

    tfr_2040: Annotated[float, msgspec.Meta(ge=0.5, le=3.5)] | None = None
    e0_change_2040_male: Annotated[float, msgspec.Meta(ge=-15, le=15)] = 0.0
    e0_change_2040_female: Annotated[float, msgspec.Meta(ge=-15, le=15)] = 0.0
    first_year: Year = 2020


Intervention = (
    Tree | TreeRow | Park | GreenRoof | Unseal | WaterSurface | CoolSurface | RoadClosure | SpeedLimit
    | LaneChange | NewLink | OneWayChange | NewStop | MoveStop | BusLine | HeadwayChange | OnDemandZone
    | Facility | HousingDevelopment | RefugeeIntake | HousingEstate | OutMigrationFactor | DemographicPath
)

KINDS: dict[str, type] = {
    c.__struct_config__.tag: c  # type: ignore[attr-defined]
    for c in (
        Tree, TreeRow, Park, GreenRoof, Unseal, WaterSurface, CoolSurface, RoadClosure, SpeedLimit,
        LaneChange, NewLink, OneWayChange, NewStop, MoveStop, BusLine, HeadwayChange, OnDemandZone,
        Facility, HousingDevelopment, RefugeeIntake, HousingEstate, OutMigrationFactor, DemographicPath,
    )
}

HEAT_KINDS = frozenset({"tree", "tree_row", "park", "green_roof", "unseal", "water", "cool_surface"})
ROAD_KINDS = frozenset({"road_closure", "speed_limit", "lane_change", "new_link", "oneway_change"})
TRANSIT_KINDS = frozenset(
    {"new_stop", "move_stop", "bus_line", "headway_change", "on_demand_zone", "facility", "housing"}
)
FORECAST_KINDS = frozenset({"refugee_intake", "housing_estate", "out_migration_factor", "demographic_path"})

_decoder = msgspec.json.Decoder(Intervention)


def decode_intervention(data: bytes | str | dict[str, Any]) -> Intervention:
    """Decode and schema-check one intervention from JSON bytes/str or a dict."""
    try:
        if isinstance(data, dict):
            obj = msgspec.convert(data, Intervention)
        else:
            obj = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise InterventionError(f"Ungültige Maßnahme: {exc}", f"Invalid intervention: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InterventionError(f"Maßnahme ist kein gültiges JSON: {exc}", f"Intervention is not valid JSON: {exc}") from None
    _check_geometry(obj)
    return obj


def encode_intervention(obj: Intervention) -> dict[str, Any]:
    return msgspec.to_builtins(obj)


def _points_of(obj: Intervention) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for name in ("xy_local_m",):
        if hasattr(obj, name):
            pts.append(getattr(obj, name))
    for name in ("line_local_m", "polygon_local_m", "stops_local_m"):
        if hasattr(obj, name):
            pts.extend(getattr(obj, name))
    return pts


def _check_geometry(obj: Intervention) -> None:
    pts = _points_of(obj)
    if len(pts) > MAX_VERTICES:
        raise InterventionError(
            f"Zu viele Punkte ({len(pts)} > {MAX_VERTICES})", f"Too many vertices ({len(pts)} > {MAX_VERTICES})"
        )
    for p in pts:
        if not all(math.isfinite(v) for v in p):
            raise InterventionError("Koordinate ist keine endliche Zahl", "Coordinate is not a finite number")
    if hasattr(obj, "polygon_local_m"):
        poly = obj.polygon_local_m  # type: ignore[union-attr]
        if len(poly) < 3:
            raise InterventionError("Eine Fläche braucht mindestens 3 Punkte", "An area needs at least 3 vertices")
        shp = Polygon(poly)
        if not shp.is_valid or shp.area <= 0:
            raise InterventionError(
                "Die Fläche ist ungültig (überschneidet sich selbst oder ist leer)",
                "The area is invalid (self-intersecting or empty)",
            )
    if hasattr(obj, "line_local_m") and len(obj.line_local_m) < 2:  # type: ignore[union-attr]
        raise InterventionError("Eine Linie braucht mindestens 2 Punkte", "A line needs at least 2 vertices")
    if isinstance(obj, BusLine) and len(obj.stops_local_m) < 2:
        raise InterventionError("Eine Buslinie braucht mindestens 2 Haltestellen", "A bus line needs at least 2 stops")
    if isinstance(obj, (BusLine, OnDemandZone)) and obj.last_hour <= obj.first_hour:
        raise InterventionError(
            "Betriebsende muss nach Betriebsbeginn liegen", "Service must end after it starts"
        )
    if isinstance(obj, RefugeeIntake) and obj.last_year < obj.first_year:
        raise InterventionError("Das letzte Jahr liegt vor dem ersten", "The last year is before the first")
    if isinstance(obj, OutMigrationFactor) and obj.age_to < obj.age_from:
        raise InterventionError("Das Höchstalter liegt unter dem Mindestalter", "The upper age is below the lower age")


def validate_against(obj: Intervention, district: District) -> None:
    """Check that the intervention fits the district: inside its area, referring to existing objects."""
    pts = _points_of(obj)
    if pts:
        arr = np.asarray(pts, float)
        inside = district.grid.inside(arr[:, 0], arr[:, 1])
        if not inside.all():
            x, y = arr[int(np.argmin(inside))]
            raise InterventionError(
                f"Punkt ({x:.1f}, {y:.1f}) liegt außerhalb des Gebiets", f"Point ({x:.1f}, {y:.1f}) is outside the district"
            )
    if isinstance(obj, GreenRoof) and obj.building_id not in set(district.buildings.building_id.tolist()):
        raise InterventionError(f"Gebäude {obj.building_id} existiert nicht", f"Building {obj.building_id} does not exist")
    if isinstance(obj, (RoadClosure, SpeedLimit, LaneChange, OneWayChange)) and obj.edge_index >= len(district.roads):
        raise InterventionError(f"Straße {obj.edge_index} existiert nicht", f"Road {obj.edge_index} does not exist")
    if isinstance(obj, MoveStop) and obj.stop_index >= district.stops.xy_local_m.shape[0]:
        raise InterventionError(f"Haltestelle {obj.stop_index} existiert nicht", f"Stop {obj.stop_index} does not exist")
    if isinstance(obj, Facility) and obj.action == "close":
        if not (0 <= obj.poi_index < district.pois.xy_local_m.shape[0]):
            raise InterventionError(f"Einrichtung {obj.poi_index} existiert nicht", f"Facility {obj.poi_index} does not exist")


# Unit costs in EUR (2024 prices), with sources, used for scenario cost KPIs.
UNIT_COST_EUR: dict[str, tuple[float, str]] = {
    "tree": (3500.0, "per street tree incl. planting pit and 3 years care (GALK Strassenbaumliste / German municipal tenders 2023: 2,500-5,000 EUR)"),
    "park_m2": (60.0, "per m2 of new park (FLL / municipal park construction costs 40-80 EUR/m2)"),
    "green_roof_m2": (45.0, "per m2 extensive green roof (Bundesverband GebaeudeGruen 2023: 30-60 EUR/m2)"),
    "unseal_m2": (90.0, "per m2 unsealing incl. removal and new soil (Umweltbundesamt 2021 Entsiegelung: 60-120 EUR/m2)"),
    "water_m2": (150.0, "per m2 water feature (municipal tenders, 100-250 EUR/m2)"),
    "cool_surface_m2": (25.0, "per m2 high-albedo coating (Santamouris 2013: 15-35 EUR/m2)"),
}


def intervention_cost_eur(obj: Intervention, district: District | None = None) -> float:
    """Investment cost of a greening intervention in EUR (0 for kinds without a cost model here)."""
    if isinstance(obj, Tree):
        return UNIT_COST_EUR["tree"][0]
    if isinstance(obj, TreeRow):
        from shapely.geometry import LineString

        n = int(LineString(obj.line_local_m).length // obj.spacing_m) + 1
        return n * UNIT_COST_EUR["tree"][0]
    area = Polygon(obj.polygon_local_m).area if hasattr(obj, "polygon_local_m") else 0.0  # type: ignore[union-attr]
    if isinstance(obj, Park):
        return area * UNIT_COST_EUR["park_m2"][0]
    if isinstance(obj, Unseal):
        return area * UNIT_COST_EUR["unseal_m2"][0]
    if isinstance(obj, WaterSurface):
        return area * UNIT_COST_EUR["water_m2"][0]
    if isinstance(obj, CoolSurface):
        return area * UNIT_COST_EUR["cool_surface_m2"][0]
    if isinstance(obj, GreenRoof) and district is not None:
        i = district.buildings.index_of(obj.building_id)
        return district.buildings.footprints[i].area * UNIT_COST_EUR["green_roof_m2"][0]
    return 0.0
