"""Results and exports: KPIs (JSON, CSV), GeoTIFF of any field and hour, GeoJSON of links, stops,
interventions and comments. Results are computed on demand when the current version has none yet."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

import protocol as p
from server.api.deps import ScenarioIdPath, TwinDep, UserDep, kpi_table
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import KpiTable
from server.exports import (
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


@router.get("/results/kpis", response_model=KpiTable, summary="Key figures of the current version")
def kpis(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> KpiTable:
    return kpi_table(twin, scenario_id)


@router.get("/exports/kpis.csv", summary="Key figures as CSV", responses=_CSV)
def kpis_as_csv(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> Response:
    t = kpi_table(twin, scenario_id)
    return Response(kpis_csv([(t.scenario_id, t.scenario_version, t.kpis)]), media_type="text/csv")


def _field(twin, scenario_id: str, layer: str, hour: int) -> np.ndarray:
    res = twin.results(scenario_id)
    for out in res.outputs.values():
        if layer in out.fields:
            hours, arr = out.fields[layer]
            if hour in hours:
                return np.asarray(arr[hours.index(hour)])
    for f in res.frames():  # results read back from storage keep their (quantised) frames
        f = f[1] if isinstance(f, tuple) else f
        if isinstance(f, p.FieldFrame) and f.layer == layer and f.hour == hour and f.full:
            return p.decode_array(f.values)
    m = twin.manager.model(scenario_id)
    more = twin.service.request(scenario_id, m.version, twin.districts.get(m.row.district), m.interventions(),
                                (hour,), wait=True) if hour not in res.hours else None
    if more is not None:
        for out in more.outputs.values():
            if layer in out.fields and hour in out.fields[layer][0]:
                hours, arr = out.fields[layer]
                return np.asarray(arr[hours.index(hour)])
    raise NotFound(f"Feld {layer!r} zur Stunde {hour} gibt es nicht", f"Field {layer!r} at hour {hour} does not exist")


@router.get("/exports/fields/{layer}.tif", summary="GeoTIFF of a field at an hour (district UTM CRS)", responses=_TIFF)
def field_tif(scenario_id: ScenarioIdPath, layer: Layer, twin: TwinDep, user: UserDep,
              hour: Annotated[int, Query(ge=0, le=23)] = 15) -> Response:
    arr = _field(twin, scenario_id, layer, hour)
    d = twin.districts.get(twin.manager.model(scenario_id).row.district)
    return Response(field_geotiff(d, arr, name=layer, unit="degC" if layer.endswith("_c") else ""), media_type="image/tiff")


@router.get("/compare/{other_id}/fields/{layer}.tif", summary="GeoTIFF of B - A for a field at an hour", responses=_TIFF)
def compare_field_tif(scenario_id: ScenarioIdPath, other_id: ScenarioIdPath, layer: Layer, twin: TwinDep, user: UserDep,
                      hour: Annotated[int, Query(ge=0, le=23)] = 15) -> Response:
    a = _field(twin, scenario_id, layer, hour)
    b = _field(twin, other_id, layer, hour)
    d = twin.districts.get(twin.manager.model(scenario_id).row.district)
    return Response(field_geotiff(d, b - a, name=f"{layer}_difference", unit="K" if layer.endswith("_c") else ""),
                    media_type="image/tiff")


@router.get("/exports/links.geojson", summary="Links with traffic results", responses=_GEOJSON)
def links(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> Response:
    m = twin.manager.model(scenario_id)
    res = twin.results(scenario_id)
    edges = res.outputs["traffic"].edges if "traffic" in res.outputs else None
    return Response(links_geojson(twin.districts.get(m.row.district), edges), media_type="application/geo+json")


@router.get("/exports/stops.geojson", summary="Stops with public transport quality classes", responses=_GEOJSON)
def stops(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> Response:
    m = twin.manager.model(scenario_id)
    res = twin.results(scenario_id)
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
