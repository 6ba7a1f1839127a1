"""Regions: the whole Kreis as a model (``<data>/regions/<name>/``, built by ``twin region build``).

Every person count in these responses is published through ``models.privacy`` (0, ``null`` for 1-4 with a
``suppressed`` flag, shown as "unter 5", otherwise rounded to 5). Geometry is WGS84 (lon/lat).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import protocol as p
from geodata.files import geotiff_bytes
from geodata.interventions import decode_intervention
from models.region import region_names
from models.region.bundle import NAME_PATTERN
from models.region.scenario import decode_region_interventions, evaluate, region_kpis
from models.region.views import (
    access_json,
    gemeinden_geojson,
    grid_geojson,
    grid_raster,
    hospitals_geojson,
    info_json,
    settlements_geojson,
    stops_geojson,
)
from server.api.deps import TwinDep, UserDep, VisitorDep
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import ScenarioOut
from server.region_subject import LoadedRegion, RegionMissing, subject_name
from server.roles import Denied, edit_denied, may_edit
from server.scenario import ScenarioModel
from server.scenarios import state_to_protocol
from server.twin import Twin

router = APIRouter(prefix="/regions", tags=["regions"], responses=ERROR_RESPONSES)
RegionName = Annotated[str, Path(pattern=NAME_PATTERN, description="region name")]
_GEO = {200: {"content": {"application/geo+json": {}}}}
_JSON = {200: {"content": {"application/json": {}}}}


def _loaded(twin: Twin, name: str) -> LoadedRegion:
    """The region (loaded once, reloaded when its bundle changes); 404 when absent or damaged."""
    return twin.manager.regions.get(name)


def _body(entry: LoadedRegion, key: Any, make: Any, media: str) -> Response:
    with entry.lock:
        body = entry.bodies.get(key)
        if body is None:
            body = json.dumps(make(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            entry.bodies[key] = body
    return Response(body, media_type=media)


@router.get("", summary="All regions / alle Regionen", responses=_JSON)
def list_regions(twin: TwinDep) -> Response:
    out = []
    for name in region_names(twin.settings.data):
        try:
            info = info_json(_loaded(twin, name).region)
        except RegionMissing:
            continue
        out.append({k: info[k] for k in ("name", "kreis", "ags", "gemeinden", "population_2019", "cells_100m_inhabited",
                                         "stops_in_district", "hospitals_in_district", "base_year")})
    return Response(json.dumps(out, ensure_ascii=False), media_type="application/json")


@router.get("/{name}", summary="One region: key figures, method, sources / Kennzahlen, Methode, Quellen", responses=_JSON)
def get_region(name: RegionName, twin: TwinDep) -> Response:
    e = _loaded(twin, name)
    return _body(e, "info", lambda: info_json(e.region), "application/json")


@router.get("/{name}/gemeinden.geojson", summary="Gemeinden with population by age and access indicators (WGS84)",
            responses=_GEO)
def gemeinden(name: RegionName, twin: TwinDep) -> Response:
    e = _loaded(twin, name)
    return _body(e, "gemeinden", lambda: gemeinden_geojson(e.region, e.access), "application/geo+json")


@router.get("/{name}/grid.geojson", summary="Inhabited grid cells (100 m or 1 km) with published counts (WGS84)",
            responses=_GEO)
def grid(name: RegionName, twin: TwinDep,
         res: Annotated[Literal["1km", "100m"], Query(description="cell size: 1km or 100m")] = "1km") -> Response:
    e = _loaded(twin, name)
    return _body(e, ("grid", res), lambda: grid_geojson(e.region, res, e.access), "application/geo+json")


@router.get("/{name}/settlements.geojson", summary="Settlements (named places) with published persons (WGS84)",
            responses=_GEO)
def settlements(name: RegionName, twin: TwinDep) -> Response:
    e = _loaded(twin, name)
    return _body(e, "settlements", lambda: settlements_geojson(e.region), "application/geo+json")


@router.get("/{name}/grid.tif", summary="One published count per grid cell as a GeoTIFF (EPSG:3035, NaN = none or "
            "under 5)", responses={200: {"content": {"image/tiff": {}}}})
def grid_tif(name: RegionName, twin: TwinDep,
             res: Annotated[Literal["1km", "100m"], Query(description="cell size")] = "100m",
             quantity: Annotated[Literal["population_2019", "under18", "age_65_plus", "age_0_9", "age_10_17",
                                         "age_18_29", "age_30_49", "age_50_64", "age_65_79", "age_80_plus"],
                                 Query(description="persons of this group")] = "population_2019") -> Response:
    e = _loaded(twin, name)

    def make() -> bytes:
        arr, (west, north, size), epsg = grid_raster(e.region, res, quantity)
        return geotiff_bytes(arr, crs=epsg, transform=(size, 0.0, west, 0.0, -size, north), nodata=float("nan"),
                             names=[quantity], tags={"quantity": quantity, "base_year": "2019", "unit": "persons",
                                                     "privacy": "0 or >= 5, rounded to 5; NaN = none or under 5"})

    with e.lock:
        key = ("tif", res, quantity)
        body = e.bodies.get(key)
        if body is None:
            body = make()
            e.bodies[key] = body
    return Response(body, media_type="image/tiff")


@router.get("/{name}/stops.geojson", summary="Stops with products and service classes (WGS84)", responses=_GEO)
def stops(name: RegionName, twin: TwinDep) -> Response:
    e = _loaded(twin, name)
    return _body(e, "stops", lambda: stops_geojson(e.region), "application/geo+json")


@router.get("/{name}/hospitals.geojson", summary="Hospital sites in and around the region (WGS84)", responses=_GEO)
def hospitals(name: RegionName, twin: TwinDep) -> Response:
    e = _loaded(twin, name)
    return _body(e, "hospitals", lambda: hospitals_geojson(e.region), "application/geo+json")


@router.get("/{name}/access", summary="Access and deficits per Gemeinde and for the Kreis / Erreichbarkeit und Defizite",
            responses=_JSON)
def access(name: RegionName, twin: TwinDep) -> Response:
    e = _loaded(twin, name)
    return _body(e, "access", lambda: access_json(e.access), "application/json")


@router.get("/{name}/proposals", summary="Optimised new stops or on-demand zones (max covering, HiGHS) as GeoJSON",
            responses=_GEO)
def proposals(name: RegionName, twin: TwinDep, user: UserDep, visitor: VisitorDep,
              budget: Annotated[int, Query(ge=1, le=50, description="number of new stops or zones")] = 5,
              kind: Annotated[Literal["stops", "zone"], Query(description="stops or zone")] = "stops") -> Response:
    if user.is_anonymous:  # a solve costs seconds: anonymous visitors within their budget of public reads
        twin.allow_read(visitor.budget_key, visitor.ip)
    return _proposal_response(_loaded(twin, name), budget, kind)


def _proposal_response(e: LoadedRegion, budget: int, kind: str) -> Response:
    def make() -> dict[str, Any]:
        # the solver module (models.people.covering) is Taichi-free; imported on first use all the same
        from models.region.proposals import propose
        from models.region.views import proposal_geojson

        return proposal_geojson(e.region, propose(e.region, budget=budget, kind=kind, base=e.access))

    return _body(e, ("proposals", budget, kind), make, "application/geo+json")


class RegionEdits(BaseModel):
    """Region edits to evaluate: ``new_stop`` and ``on_demand_zone`` interventions in the region's local frame
    (metres from ``interventions_frame`` of the proposals / the region info)."""

    interventions: list[dict[str, Any]] = Field(default_factory=list, max_length=200)


@router.post("/{name}/evaluate", summary="Access with new stops / on-demand zones applied (a scenario draft)",
             responses=_JSON)
def evaluate_edits(name: RegionName, body: RegionEdits, twin: TwinDep, user: UserDep, visitor: VisitorDep) -> Response:
    if user.is_anonymous:  # computed on request: anonymous visitors within their budget of public reads
        twin.allow_read(visitor.budget_key, visitor.ip)
    e = _loaded(twin, name)
    objs = decode_region_interventions(body.interventions, e.region)
    after = evaluate(e.region, objs)
    out = {"kpis_before": region_kpis(e.access), "kpis_after": region_kpis(after), "access": access_json(after),
           "interventions": len(objs)}
    return Response(json.dumps(out, ensure_ascii=False), media_type="application/json")


# --- the region as a scenario subject -----------------------------------------------------------------
class RegionScenarioCreate(BaseModel):
    """A scenario of the region (subject ``region:<name>``): new stops and on-demand zones, edited, forked,
    compared (``/api/scenarios/{id}/compare/{other}``), undone and commented like a town's scenario."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["official", "draft"] = "official"
    interventions: list[dict[str, Any]] = Field(default_factory=list, max_length=200)


class ProposalAccept(BaseModel):
    """Accept the optimised proposal of ``budget`` and ``kind`` (as ``GET /proposals`` shows it) into a
    region scenario: each stop or zone becomes one edit (undone one by one)."""

    model_config = ConfigDict(extra="forbid")
    scenario_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    budget: int = Field(5, ge=1, le=50)
    kind: Literal["stops", "zone"] = "stops"


def _scenario_out(m: ScenarioModel) -> ScenarioOut:
    r = m.row
    state = msgspec.to_builtins(state_to_protocol(m))
    return ScenarioOut(scenario_id=r.scenario_id, name=r.name, district=r.district, kind=r.kind,  # type: ignore[arg-type]
                       status=r.status, parent_id=r.parent_id, version=m.version,  # type: ignore[arg-type]
                       created_utc=r.created_utc, interventions=state["interventions"])


@router.post("/{name}/scenarios", response_model=ScenarioOut, status_code=201,
             summary="Create a region scenario (planners, admins) / Kreis-Szenario anlegen")
def create_region_scenario(name: RegionName, body: RegionScenarioCreate, twin: TwinDep, user: UserDep) -> ScenarioOut:
    m = twin.manager.create(user, name=body.name, district=subject_name(name), kind=body.kind,
                            interventions=body.interventions)  # the role first, then the region (404)
    return _scenario_out(m)


@router.post("/{name}/proposals/accept", response_model=ScenarioOut,
             summary="Accept an optimised proposal into a region scenario / Vorschlag ins Szenario übernehmen")
def accept_proposal(name: RegionName, body: ProposalAccept, twin: TwinDep, user: UserDep) -> ScenarioOut:
    if user.role not in ("admin", "planner"):
        raise Denied("Nur Planer und Admins übernehmen Vorschläge in Szenarien",
                     "Only planners and admins accept proposals into scenarios")
    e = _loaded(twin, name)
    row = twin.manager.row(body.scenario_id)
    if row.district != subject_name(e.name):
        raise Denied(f"Szenario {body.scenario_id!r} gehört nicht zur Region {e.name!r}",
                     f"Scenario {body.scenario_id!r} does not belong to region {e.name!r}", status=422, code="invalid")
    if not may_edit(user, row):
        raise edit_denied(user, row)
    doc = json.loads(_proposal_response(e, body.budget, body.kind).body)
    session = f"rest-{user.user_id or user.role}"
    for item in doc["interventions"]:
        obj = decode_intervention(item)
        taken = set(twin.manager.model(body.scenario_id).objects)
        k = 2
        base_id = obj.id
        while obj.id in taken:  # accepted twice: the same place again under a new id
            obj = msgspec.structs.replace(obj, id=f"{base_id}_{k}")
            k += 1
        twin.manager.edit(user, session, body.scenario_id, p.AddIntervention(request_id=0, intervention=obj))
    return _scenario_out(twin.manager.model(body.scenario_id))
