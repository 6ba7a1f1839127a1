"""The region as a scenario subject: which edits it takes, how they are checked, and what they change.

A region scenario is the region plus an ordered list of interventions of the kinds in
:data:`REGION_KINDS` (the same ``geodata.interventions`` structs as the town level): ``new_stop`` (served
at the assumed class of a new stop) and ``on_demand_zone`` (a Rufbus zone; everyone inside counts as
served). Coordinates ``xy_local_m`` / ``polygon_local_m`` are metres in the region's local frame
(working CRS minus :attr:`Region.local_origin_m`). :func:`evaluate` gives the access result with the
edits applied; :func:`region_kpis` the published key figures for comparing scenarios.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely

from geodata.interventions import Intervention, InterventionError, NewStop, OnDemandZone, decode_intervention
from models.privacy import publish_kpis
from models.region.access import ExtraStop, RegionAccess, region_access
from models.region.model import Region
from models.region.service import assumptions

__all__ = ["REGION_KINDS", "validate_region_intervention", "decode_region_interventions", "evaluate", "region_kpis",
           "MAX_ZONE_KM2"]

REGION_KINDS = frozenset({"new_stop", "on_demand_zone"})
MAX_ZONE_KM2 = 400.0  # a zone larger than a big Gemeinde is a typing error, not a Rufbus area


def _kind(obj: Any) -> str:
    return str(obj.__struct_config__.tag)


def validate_region_intervention(obj: Intervention, region: Region) -> None:
    """InterventionError (German / English) unless ``obj`` is a region edit inside the Kreis."""
    kind = _kind(obj)
    if kind not in REGION_KINDS:
        raise InterventionError(f"Maßnahme {kind!r} gibt es auf Kreisebene nicht (nur neue Haltestelle, Rufbus-Zone)",
                                f"Intervention {kind!r} is not available for the region (only new stop, on-demand zone)")
    ox, oy = region.local_origin_m
    outline = region.kreis_outline
    if isinstance(obj, NewStop):
        x, y = obj.xy_local_m
        if not outline.intersects(shapely.Point(x + ox, y + oy)):
            raise InterventionError("Die Haltestelle liegt außerhalb des Kreises", "The stop lies outside the Kreis")
    elif isinstance(obj, OnDemandZone):
        poly = shapely.Polygon([(x + ox, y + oy) for x, y in obj.polygon_local_m])
        if not poly.is_valid or poly.area <= 0:
            raise InterventionError("Die Zone ist ungültig", "The zone is invalid")
        if not outline.intersects(poly):
            raise InterventionError("Die Zone liegt außerhalb des Kreises", "The zone lies outside the Kreis")
        if poly.area / 1e6 > MAX_ZONE_KM2:
            raise InterventionError(f"Die Zone ist größer als {MAX_ZONE_KM2:.0f} km²",
                                    f"The zone is larger than {MAX_ZONE_KM2:.0f} km²")


def decode_region_interventions(items: Sequence[dict[str, Any] | Intervention], region: Region) -> list[Intervention]:
    """Decode (schema) and validate a list of region edits; ids must be unique."""
    out = [decode_intervention(i) if isinstance(i, dict) else i for i in items]
    ids = [o.id for o in out]
    if len(set(ids)) != len(ids):
        raise InterventionError("Kennungen der Maßnahmen sind nicht eindeutig", "Intervention ids are not unique")
    for o in out:
        validate_region_intervention(o, region)
    return out


def evaluate(region: Region, interventions: Sequence[Intervention]) -> RegionAccess:
    """The region's access with the edits applied (validated first)."""
    for o in interventions:
        validate_region_intervention(o, region)
    ox, oy = region.local_origin_m
    cls = str(assumptions()["new_stop_class"])
    stops = [ExtraStop(o.xy_local_m[0] + ox, o.xy_local_m[1] + oy, cls, o.name) for o in interventions
             if isinstance(o, NewStop)]
    zones = [shapely.Polygon([(x + ox, y + oy) for x, y in o.polygon_local_m]) for o in interventions
             if isinstance(o, OnDemandZone)]
    return region_access(region, extra_stops=stops, zones=zones)


def region_kpis(access: RegionAccess) -> dict[str, Any]:
    """Key figures of a region scenario (Kreis level), person counts published."""
    k = access.kreis
    keys = ("deficit_65plus", "deficit_under18", "share_deficit_65plus", "share_deficit_under18", "share_served",
            "share_class_a_to_d", "mean_walk_stop_m", "mean_walk_good_stop_m", "mean_hospital_km", "mean_centre_km")
    return publish_kpis({key: k[key] for key in keys})
