"""Results and exports: KPIs (JSON, CSV), GeoTIFF of any field and hour, GeoJSON of links, stops,
interventions, comments and the buildings' cooling demand.

Token holders get results computed on demand when the current version has none yet (a field at
another hour is computed for that hour alone and never replaces what the scenario's viewers see).
Public clients (citizens, kiosks) get stored results only (503 ``not_ready`` while they are being
computed), within a read budget per visitor and address. Person counts are published figures."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server.api.deps import ScenarioIdPath, TwinDep, UserDep, VisitorDep, kpi_table
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import KpiTable
from server.engines import HEAT_ENERGY_LIVE_MAX_CELLS
from server.exports import (
    buildings_cooling_geojson,
    comments_geojson,
    field_geotiff,
    interventions_geojson,
    kpis_csv,
    links_geojson,
    stops_geojson,
)
from server.scenarios import NotFound

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=ERROR_RESPONSES)
Layer = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,40}$", description="field layer, e.g. utci_c")]
_TIFF = {200: {"content": {"image/tiff": {}}, "description": "GeoTIFF"}}
_GEOJSON = {200: {"content": {"application/geo+json": {}}, "description": "GeoJSON (WGS84)"}}
_CSV = {200: {"content": {"text/csv": {}}, "description": "CSV"}}


def _public(twin, user, visitor) -> bool:
    if user.is_anonymous:
        twin.allow_read(visitor.budget_key, visitor.ip)
    return user.is_anonymous


@router.get("/results/kpis", response_model=KpiTable, summary="Key figures of the current version")
def kpis(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep, visitor: VisitorDep) -> KpiTable:
    return kpi_table(twin, scenario_id, public=_public(twin, user, visitor))


@router.get("/exports/kpis.csv", summary="Key figures as CSV", responses=_CSV)
def kpis_as_csv(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep, visitor: VisitorDep) -> Response:
    t = kpi_table(twin, scenario_id, public=_public(twin, user, visitor))
    return Response(kpis_csv([(t.scenario_id, t.scenario_version, t.kpis)]), media_type="text/csv")


@router.get("/exports/fields/{layer}.tif", summary="GeoTIFF of a field at an hour (district UTM CRS)", responses=_TIFF)
async def field_tif(scenario_id: ScenarioIdPath, layer: Layer, request: Request, twin: TwinDep, user: UserDep,
                    visitor: VisitorDep, hour: Annotated[int, Query(ge=0, le=23)] = 15) -> Response:
    public = _public(twin, user, visitor)
    cancel = threading.Event()  # set when the client goes away: a computation for it stops
    task = asyncio.ensure_future(run_in_threadpool(lambda: twin.field(scenario_id, layer, hour, public=public, cancel=cancel)))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if not task.done() and await request.is_disconnected():
                cancel.set()
        arr = task.result()
    finally:
        if not task.done():  # this request was cancelled itself
            cancel.set()

    def tif() -> bytes:
        d = twin.districts.get(twin.manager.model(scenario_id).row.district)
        return field_geotiff(d, arr, name=layer, unit="degC" if layer.endswith("_c") else "")

    return Response(await run_in_threadpool(tif), media_type="image/tiff")


@router.get("/compare/{other_id}/fields/{layer}.tif", summary="GeoTIFF of B - A for a field at an hour", responses=_TIFF)
def compare_field_tif(scenario_id: ScenarioIdPath, other_id: ScenarioIdPath, layer: Layer, twin: TwinDep, user: UserDep,
                      visitor: VisitorDep, hour: Annotated[int, Query(ge=0, le=23)] = 15) -> Response:
    public = _public(twin, user, visitor)
    a = twin.field(scenario_id, layer, hour, public=public)
    b = twin.field(other_id, layer, hour, public=public)
    d = twin.districts.get(twin.manager.model(scenario_id).row.district)
    return Response(field_geotiff(d, b - a, name=f"{layer}_difference", unit="K" if layer.endswith("_c") else ""),
                    media_type="image/tiff")


@router.get("/exports/links.geojson", summary="Links with traffic results", responses=_GEOJSON)
def links(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep, visitor: VisitorDep) -> Response:
    m = twin.manager.model(scenario_id)
    res = twin.shown_results(scenario_id, compute=not _public(twin, user, visitor))
    edges = res.outputs["traffic"].edges if "traffic" in res.outputs else None
    return Response(links_geojson(twin.districts.get(m.row.district), edges), media_type="application/geo+json")


@router.get("/exports/stops.geojson", summary="Stops with public transport quality classes", responses=_GEOJSON)
def stops(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep, visitor: VisitorDep) -> Response:
    m = twin.manager.model(scenario_id)
    res = twin.shown_results(scenario_id, compute=not _public(twin, user, visitor))
    q = res.outputs["access"].stops_quality if "access" in res.outputs else None
    return Response(stops_geojson(twin.districts.get(m.row.district), q), media_type="application/geo+json")


@router.get("/exports/interventions.geojson", summary="Interventions as GeoJSON", responses=_GEOJSON)
def interventions(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> Response:
    m = twin.manager.model(scenario_id)
    return Response(interventions_geojson(twin.districts.get(m.row.district), m.interventions()),
                    media_type="application/geo+json")


@router.get("/exports/comments.geojson", summary="Visible comments as GeoJSON", responses=_GEOJSON)
def comments(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> Response:
    m = twin.manager.model(scenario_id)
    return Response(comments_geojson(twin.districts.get(m.row.district), twin.storage.list_comments(scenario_id)),
                    media_type="application/geo+json")


@router.get("/exports/buildings_cooling.geojson", responses=_GEOJSON,
            summary="Buildings with their cooling demand (kWh/day) in the scenario and the baseline")
def buildings_cooling(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep, visitor: VisitorDep) -> Response:
    """Footprints with ``cooling_kwh_day`` (5R1C over the design day, driven by the twin's air and
    shading), ``cooling_kwh_day_baseline`` (the district without interventions) and their change.
    Computed with every edit on districts up to 1,000,000 cells; elsewhere 404 with the reason."""
    m = twin.manager.model(scenario_id)
    d = twin.districts.get(m.row.district)
    if d.grid.rows * d.grid.cols > HEAT_ENERGY_LIVE_MAX_CELLS:
        raise NotFound(f"Der Kühlbedarf je Gebäude wird nur für Gebiete bis {HEAT_ENERGY_LIVE_MAX_CELLS:_} Rasterzellen "
                       f"berechnet (dieses: {d.grid.rows * d.grid.cols:_})".replace("_", "."),
                       f"The cooling demand per building is computed only for districts up to "
                       f"{HEAT_ENERGY_LIVE_MAX_CELLS:,} cells (this one: {d.grid.rows * d.grid.cols:,})")
    b = _cooling_arrays(twin, scenario_id, _public(twin, user, visitor))
    if "cooling_kwh_day" not in b:
        raise NotFound("Für diese Fassung gibt es keinen Kühlbedarf je Gebäude (kein Wärmemodell, oder öffentlich nur "
                       "gespeicherte Ergebnisse ohne ihn)",
                       "This version has no cooling demand per building (no heat model, or the public reads stored "
                       "results without it)")
    return Response(buildings_cooling_geojson(d, b["cooling_kwh_day"], b["cooling_kwh_day_baseline"], b.get("cooled")),
                    media_type="application/geo+json")


def _cooling_arrays(twin, scenario_id: str, public: bool) -> dict:
    """The per-building arrays of the current version's heat result: from the shown results, else (results
    read back from storage keep none) for token holders computed once as an export at an hour whose heat
    result is not kept already (the day's cooling demand does not depend on the hour)."""
    res = twin.shown_results(scenario_id, compute=not public)
    heat = res.outputs.get("heat")
    if heat is not None and "cooling_kwh_day" in heat.buildings:
        return heat.buildings
    if public or "heat" not in twin.service.engine_names:
        return {}
    m = twin.manager.model(scenario_id)
    d = twin.districts.get(m.row.district)
    for hour in sorted(range(24), key=lambda h: abs(h - 15)):
        found = twin.service.stored_export(scenario_id, m.version, hour, "heat")
        computed = found is None
        if computed:
            found = twin.service.export(scenario_id, m.version, d, list(m.interventions()), hour, "heat", timeout=120.0)
        out = found.outputs.get("heat")
        if out is not None and "cooling_kwh_day" in out.buildings:
            return out.buildings
        if computed:
            break
    return {}
