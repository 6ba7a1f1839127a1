"""Reports and chart panels of the region: key figures and chart specs as JSON (drawn by the web viewer),
and the printable report per Gemeinde or for the Kreis as PDF, PNG or CSV (German). Public: every figure
is published data (person counts rounded to 5, "unter 5" below)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from server.api.deps import UserDep
from server.api.errors import ERROR_RESPONSES
from server.layer_store import LayerStore, may_see
from server.reports import (
    SERVICES,
    RegionView,
    ReportError,
    capacity_vs_demand,
    default_shared_data,
    load_forecast,
    load_region_view,
    report_content,
    report_csv,
    report_pdf,
    report_png,
)
from server.roles import Denied

__all__ = ["router"]

router = APIRouter(tags=["reports"], responses=ERROR_RESPONSES)
RegionPath = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,64}$", description="region name, e.g. burgenlandkreis")]
AgsQuery = Annotated[str | None, Query(pattern=r"^\d{8}$", description="AGS of a Gemeinde; none for the Kreis")]
REGIONS = ("burgenlandkreis",)


def _view(region: str, request: Request) -> RegionView:
    """The region's published view: from its bundle in the data folder (what /api/regions serves) or,
    without one, built from the open data."""
    if region not in REGIONS:
        raise Denied(f"Region {region!r} unbekannt", f"unknown region {region!r}", status=404, code="not_found")
    try:
        return load_region_view(default_shared_data(), str(request.app.state.twin.settings.data), region)
    except (OSError, ValueError) as exc:  # DataError is a ValueError
        raise Denied(f"Regionsdaten nicht verfügbar: {exc}", f"region data unavailable: {exc}", status=503,
                     code="unavailable") from None


def _run(region: str) -> Any:
    """The baseline forecast for the trend charts (None where it cannot be computed: charts without trend)."""
    try:
        return load_forecast(default_shared_data())
    except (OSError, ValueError):
        return None


def _checked(view: RegionView, ags: str | None) -> None:
    if ags is not None:
        try:
            view.feature(ags)
        except ReportError as exc:
            raise Denied(exc.de, exc.en, status=404, code="not_found") from None


def _name(view: RegionView, ags: str | None) -> str:
    return view.name if ags is None else f"{view.name}-{ags}"


@router.get("/reports/{region}/content", summary="Key figures and chart specs / Kennzahlen und Diagramme")
def content(region: RegionPath, request: Request, ags: AgsQuery = None) -> dict[str, Any]:
    view = _view(region, request)
    _checked(view, ags)
    return report_content(view, ags, _run(region))


@router.get("/reports/{region}/map", summary="The region view's map / Karte der Regionsansicht")
def region_map(region: RegionPath, request: Request, res: Annotated[str, Query(pattern="^(1km|100m)$")] = "1km") -> Response:
    """Gemeinden (GeoJSON, lon/lat, published indicators), the inhabited grid at ``res`` (published persons
    and persons 80+), stops with their service class and hospitals, in one document."""
    view = _view(region, request)
    body = {"region": view.name, "kreis": view.kreis, "data_date": view.data_date,
            "gemeinden": {"type": "FeatureCollection", "features": view.features},
            "grid": view.extra["grid"][res], "stops": view.extra["stops"], "hospitals": view.extra["hospitals"],
            "places": view.extra["places"]}
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type="application/json",
                    headers={"Cache-Control": "max-age=300"})


@router.get("/reports/{region}/report.pdf", summary="Report as PDF / Bericht als PDF",
            responses={200: {"content": {"application/pdf": {}}}})
def pdf(region: RegionPath, request: Request, ags: AgsQuery = None) -> Response:
    view = _view(region, request)
    _checked(view, ags)
    return Response(report_pdf(view, ags, run=_run(region)), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="bericht-{_name(view, ags)}.pdf"'})


@router.get("/reports/{region}/report.png", summary="Report's first page as PNG / erste Seite als PNG",
            responses={200: {"content": {"image/png": {}}}})
def png(region: RegionPath, request: Request, ags: AgsQuery = None) -> Response:
    view = _view(region, request)
    _checked(view, ags)
    return Response(report_png(view, ags), media_type="image/png")


@router.get("/reports/{region}/report.csv", summary="Key figures as CSV / Kennzahlen als CSV",
            responses={200: {"content": {"text/csv": {}}}})
def csv(region: RegionPath, request: Request, ags: AgsQuery = None) -> Response:
    view = _view(region, request)
    _checked(view, ags)
    return Response(report_csv(view, ags), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="kennzahlen-{_name(view, ags)}.csv"'})


@router.get("/reports/{region}/capacity", summary="Capacity against demand per Gemeinde / Kapazität und Bedarf")
def capacity(region: RegionPath, request: Request, user: UserDep,
             layer: Annotated[str, Query(pattern=r"^[A-Za-z0-9]{1,32}$", description="department layer id")],
             service: Annotated[str, Query(pattern=r"^[a-z_]{1,40}$", description=f"one of {', '.join(SERVICES)}")],
             field: Annotated[str, Query(min_length=1, max_length=100, description="numeric field of the capacities")],
             year: Annotated[int, Query(ge=2019, le=2040)] = 2030) -> dict[str, Any]:
    """A department layer's capacities (``field`` summed per Gemeinde) against the forecast demand of
    ``service`` in ``year``: rows per Gemeinde with the gap (capacity - demand; negative: places missing),
    the Kreis' sums over the Gemeinden with a capacity, and the chart spec."""
    view = _view(region, request)
    if service not in SERVICES:
        raise Denied(f"Leistung {service!r} unbekannt ({', '.join(SERVICES)})", f"unknown service {service!r}",
                     status=422, code="invalid")
    store = getattr(request.app.state, "layer_store", None) or LayerStore(request.app.state.twin.storage)
    row = store.get(layer)
    if row is None or not may_see(user, row):
        raise Denied("Ebene nicht gefunden", "Layer not found", status=404, code="not_found")
    text, _ = store.data(layer, row.head_version)
    if text is None:
        raise Denied("Rasterebenen haben keine Kapazitäten", "raster layers carry no capacities", status=422, code="invalid")
    try:
        return capacity_vs_demand(view, default_shared_data(), json.loads(text)["features"], service=service,
                                  field=field, year=year)
    except ReportError as exc:
        raise Denied(exc.de, exc.en, status=422, code="invalid") from None
    except ValueError as exc:  # ForecastInputError: a field that is not a number, a negative capacity
        de, en = getattr(exc, "de", str(exc)), getattr(exc, "en", str(exc))
        raise Denied(de, en, status=422, code="invalid") from None
