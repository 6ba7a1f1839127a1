"""Population forecast of a region: the baseline, a scenario's forecast (its forecast edits: refugee intake,
housing estate, out-migration factor, demographic path), pyramids, demand against capacities, charts.

Every person count in a response is published (:mod:`models.privacy`: rounded to 5, 1-4 as ``null``, shown
as "unter 5"); ratios are given as they are. The forecast is cheap (well under a second), so a scenario's
forecast is computed on request; the baseline is kept per target year.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from geodata.interventions import FORECAST_KINDS
from models.forecast.base import BasePopulation, ForecastInputError, gemeinde_shapes
from models.forecast.demand import SERVICES, HousingBasis, capacities_from_features
from models.forecast.scenario import decode_scenario
from models.forecast.service import (
    ForecastRun,
    base_from_shared,
    forecast,
    housing_for,
    published_demand,
    pyramid,
    summary,
)
from models.privacy import publish_count
from server.api.deps import ScenarioIdPath, TwinDep, UserDep, VisitorDep
from server.api.errors import ERROR_RESPONSES
from server.layer_store import LayerStore, may_see
from server.roles import Denied, User

__all__ = ["router"]

router = APIRouter(tags=["forecast"], responses=ERROR_RESPONSES)
RegionPath = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,64}$", description="region name, e.g. burgenlandkreis")]
ToQuery = Annotated[int, Query(ge=2020, le=2100, description="last forecast year")]
YearQuery = Annotated[int | None, Query(ge=2019, le=2100, description="year (default: the last)")]
AgsQuery = Annotated[str | None, Query(pattern=r"^\d{8}$", description="AGS of a Gemeinde; none for the Kreis")]
REGIONS = ("burgenlandkreis",)
_LOCK = threading.Lock()


def _shared_dir() -> str:
    return str(FsPath(os.environ.get("LANDTWIN_SHARED_DATA") or FsPath(__file__).resolve().parents[3] / "shared" / "data"))


@lru_cache(maxsize=2)
def _inputs(shared: str) -> tuple[BasePopulation, HousingBasis]:
    base = base_from_shared(shared)
    return base, housing_for(base, shared)


@lru_cache(maxsize=8)
def _baseline(shared: str, to_year: int) -> ForecastRun:
    base, housing = _inputs(shared)
    return forecast(base, [], to_year, housing=housing)


def _check_region(region: str) -> str:
    if region not in REGIONS:
        raise Denied(f"Region {region!r} unbekannt", f"unknown region {region!r}", status=404, code="not_found")
    return _shared_dir()


def _run(region: str, to_year: int, edits: list | None = None, capacities: pd.DataFrame | None = None) -> ForecastRun:
    shared = _check_region(region)
    try:
        with _LOCK:
            if not edits and capacities is None:
                return _baseline(shared, to_year)
            base, housing = _inputs(shared)
        return forecast(base, edits or [], to_year, housing=housing, capacities=capacities)
    except ForecastInputError as exc:
        raise Denied(exc.de, exc.en, status=422, code="invalid") from None
    except OSError as exc:
        raise Denied(f"Regionsdaten nicht verfügbar: {exc}", f"region data unavailable: {exc}", status=503,
                     code="unavailable") from None


def _year(run: ForecastRun, year: int | None) -> int:
    y = int(run.projection.years[-1]) if year is None else year
    if not int(run.projection.years[0]) <= y <= int(run.projection.years[-1]):
        raise Denied(f"Jahr {y} liegt außerhalb der Prognose", f"year {y} is outside the forecast", status=422,
                     code="invalid")
    return y


def _ags(run: ForecastRun, ags: str | None) -> None:
    if ags is not None and ags not in run.projection.ags:
        raise Denied(f"Gemeinde {ags} gibt es im Kreis nicht", f"Gemeinde {ags} is not in the Kreis", status=404,
                     code="not_found")


def _capacities(run_ags: tuple[str, ...], rows: list[dict[str, Any]] | None) -> pd.DataFrame | None:
    if not rows:
        return None
    if len(rows) > 10_000:
        raise Denied("Zu viele Kapazitäten (> 10.000)", "too many capacities (> 10,000)", status=413, code="too_large")
    df = pd.DataFrame(rows)
    if set(df.columns) != {"ags", "service", "capacity"}:
        raise Denied("Kapazitäten brauchen genau ags, service, capacity", "capacities need exactly ags, service, capacity",
                     status=422, code="invalid")
    bad_ags = [a for a in df["ags"].astype(str) if a not in run_ags]
    bad_service = [s for s in df["service"].astype(str) if s not in SERVICES]
    cap = pd.to_numeric(df["capacity"], errors="coerce")
    if bad_ags or bad_service or cap.isna().any() or (cap < 0).any():
        what = bad_ags[:1] or bad_service[:1] or ["capacity"]
        raise Denied(f"Ungültige Kapazität ({what[0]})", f"invalid capacity ({what[0]})", status=422, code="invalid")
    return pd.DataFrame({"ags": df["ags"].astype(str), "service": df["service"].astype(str), "capacity": cap.astype(float)})


def _budget(twin: Any, user: User, visitor: Any) -> None:
    """Computed on request (a scenario, a chart): anonymous visitors within their budget of public reads."""
    if user.is_anonymous:
        twin.allow_read(visitor.budget_key, visitor.ip)


def _with_baseline(run: ForecastRun, region: str) -> dict[str, Any]:
    out = summary(run)
    if run.edits:
        base = _run(region, int(run.projection.years[-1]))
        b = summary(base, with_demand=True)
        out["baseline"] = {k: b[k] for k in ("total_by_year", "age67plus_by_year", "old_age_ratio_by_year",
                                              "by_gemeinde", "demand_by_year")}
    return out


@router.get("/regions/{region}/forecast", summary="Baseline forecast / Basisprognose")
def baseline(region: RegionPath, to: ToQuery = 2040) -> dict[str, Any]:
    """Kreis and Gemeinden per year: persons, 67+, old-age ratio, components, demand, comparison with the
    official forecasts, and the assumptions."""
    return summary(_run(region, to))


@router.post("/regions/{region}/forecast", summary="Forecast of a draft scenario / Prognose eines Entwurfs")
def draft(region: RegionPath, twin: TwinDep, user: UserDep, visitor: VisitorDep,
          body: Annotated[dict[str, Any], Body(examples=[{"to": 2040, "interventions": [
              {"kind": "housing_estate", "id": "h1", "ags": "15084355", "dwellings": 120, "year": 2027}],
              "capacities": [{"ags": "15084355", "service": "kita", "capacity": 900}]}])]) -> dict[str, Any]:
    """Forecast edits (``interventions``) and optional ``capacities`` without storing anything; the baseline
    is returned beside the scenario."""
    _budget(twin, user, visitor)
    to = body.get("to", 2040)
    if not isinstance(to, int) or not 2020 <= to <= 2100:
        raise Denied("'to' muss ein Jahr 2020-2100 sein", "'to' must be a year 2020-2100", status=422, code="invalid")
    try:
        edits = decode_scenario({"interventions": body.get("interventions", [])})
    except ForecastInputError as exc:
        raise Denied(exc.de, exc.en, status=422, code="invalid") from None
    shared = _check_region(region)
    caps_rows = body.get("capacities")
    if caps_rows is not None and not isinstance(caps_rows, list):
        raise Denied("'capacities' muss eine Liste sein", "'capacities' must be a list", status=422, code="invalid")
    caps = None
    if caps_rows:
        with _LOCK:
            base, _ = _inputs(shared)
        caps = _capacities(base.ags, caps_rows)
    return _with_baseline(_run(region, to, edits, caps), region)


@router.get("/regions/{region}/forecast/scenarios/{scenario_id}",
            summary="Forecast of a stored scenario / Prognose eines Szenarios")
def of_scenario(region: RegionPath, scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep, visitor: VisitorDep,
                to: ToQuery = 2040) -> dict[str, Any]:
    """The forecast with the scenario's forecast edits (its other edits act on the town engines)."""
    _budget(twin, user, visitor)
    m = twin.manager.model(scenario_id)
    edits = [o for o in m.interventions() if o.__struct_config__.tag in FORECAST_KINDS]  # type: ignore[union-attr]
    return _with_baseline(_run(region, to, edits), region)  # type: ignore[arg-type]


@router.get("/regions/{region}/forecast/scenarios/{scenario_id}/chart.png",
            summary="Scenario and baseline side by side / Szenario und Basis nebeneinander",
            responses={200: {"content": {"image/png": {}}}})
def scenario_chart(region: RegionPath, scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep, visitor: VisitorDep,
                   to: ToQuery = 2040) -> Response:
    """Population, 65+ and under 18 of the Kreis over time, the scenario's forecast edits against the baseline."""
    from models.forecast import charts

    _budget(twin, user, visitor)
    m = twin.manager.model(scenario_id)
    edits = [o for o in m.interventions() if o.__struct_config__.tag in FORECAST_KINDS]  # type: ignore[union-attr]
    run = _run(region, to, edits)  # type: ignore[arg-type]
    base = _run(region, to)
    with _LOCK, tempfile.TemporaryDirectory() as tmp:  # pyplot is not thread-safe
        path = FsPath(tmp) / "chart.png"
        charts.scenario_chart(run, base, path)
        data = path.read_bytes()
    return Response(data, media_type="image/png")


@router.get("/regions/{region}/forecast/pyramid", summary="Population pyramid / Bevölkerungspyramide")
def pyramid_of(region: RegionPath, year: YearQuery = None, ags: AgsQuery = None, to: ToQuery = 2040) -> dict[str, Any]:
    """Persons by five-year age group and sex in the base year and in ``year``."""
    run = _run(region, to)
    _ags(run, ags)
    y = _year(run, year)
    pr = run.projection
    return {"base": pyramid(pr, int(pr.years[0]), ags), "forecast": pyramid(pr, y, ags)}


def _layer_capacities(request: Request, user: User, layer_id: str, service: str | None, field: str | None,
                      ags: tuple[str, ...]) -> pd.DataFrame:
    if not service or not field:
        raise Denied("Mit capacity_layer auch capacity_service und capacity_field angeben",
                     "with capacity_layer give capacity_service and capacity_field too", status=422, code="invalid")
    store = getattr(request.app.state, "layer_store", None) or LayerStore(request.app.state.twin.storage)
    row = store.get(layer_id)
    if row is None or not may_see(user, row):
        raise Denied(f"Ebene {layer_id} nicht gefunden", f"layer {layer_id} not found", status=404, code="not_found")
    text, _ = store.data(layer_id, row.head_version)
    if text is None:
        raise Denied("Die Ebene hat keine Objekte (Rasterebene)", "the layer has no features (a raster layer)",
                     status=422, code="invalid")
    try:
        feats = json.loads(text).get("features", [])
        return capacities_from_features(feats, service, field, ags, gemeinde_shapes(_shared_dir()))
    except ForecastInputError as exc:
        raise Denied(exc.de, exc.en, status=422, code="invalid") from None


@router.get("/regions/{region}/forecast/demand", summary="Demand against capacity / Bedarf und Kapazität")
def demand(region: RegionPath, request: Request, user: UserDep, year: YearQuery = None, ags: AgsQuery = None,
           to: ToQuery = 2040,
           capacity_layer: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                                       description="department layer with capacities")] = None,
           capacity_service: Annotated[str | None, Query(description="service the layer's capacities are for, "
                                                                     "e.g. kita")] = None,
           capacity_field: Annotated[str | None, Query(max_length=100, description="numeric field of the "
                                                                                    "capacities")] = None,
           ) -> dict[str, Any]:
    """Demand per service (published), with capacity and gap where known, for one year; per Gemeinde or summed
    for the Kreis. Capacities come from a department layer the user may see (features with an ``ags``
    property, or points inside a Gemeinde) and a numeric field; dwellings are set against the stock."""
    run = _run(region, to)
    if capacity_layer is not None:
        caps = _layer_capacities(request, user, capacity_layer, capacity_service, capacity_field, run.projection.ags)
        run = _run(region, to, [], caps)
    _ags(run, ags)
    y = _year(run, year)
    d = run.demand[run.demand.year == y]
    if ags is not None:
        d = d[d.ags == ags]
    agg = d.groupby("service", sort=False)[["demand", "capacity"]].sum(min_count=1).reset_index()
    agg["year"] = y
    pub = published_demand(agg)
    rows = [{"service": r.service, "demand": None if pd.isna(r.demand) else float(r.demand),
             "capacity": None if pd.isna(r.capacity) else float(r.capacity),
             "gap": None if pd.isna(r.gap) else float(r.gap)} for r in pub.itertuples()]
    return {"year": y, "ags": ags, "services": rows, "housing_basis": run.housing.source}


@router.get("/regions/{region}/forecast/gemeinden/{ags}", summary="One Gemeinde's forecast / Prognose einer Gemeinde")
def gemeinde(region: RegionPath, ags: Annotated[str, Path(pattern=r"^\d{8}$")], to: ToQuery = 2040) -> dict[str, Any]:
    run = _run(region, to)
    _ags(run, ags)
    pr = run.projection
    g = pr.ags.index(ags)
    years = [int(y) for y in pr.years]
    p = pr.persons[:, g]
    s = summary(run, with_demand=False)
    return {
        "ags": ags, "name": pr.names[g],
        "total_by_year": s["by_gemeinde"][ags],
        "age65plus_by_year": {str(y): publish_count(p[i][:, 65:].sum()) for i, y in enumerate(years)},
        "under18_by_year": {str(y): publish_count(p[i][:, :18].sum()) for i, y in enumerate(years)},
        "old_age_ratio_by_year": s["old_age_ratio_by_gemeinde"][ags],
        "assumptions": s["assumptions"],
    }


@router.get("/regions/{region}/forecast/charts/{chart}.png", summary="Forecast chart / Prognosediagramm",
            responses={200: {"content": {"image/png": {}}}})
def chart(region: RegionPath, chart: Literal["pyramid", "old_age_ratio", "demand"], twin: TwinDep, user: UserDep,
          visitor: VisitorDep, year: YearQuery = None, ags: AgsQuery = None, to: ToQuery = 2040) -> Response:
    from models.forecast import charts

    _budget(twin, user, visitor)
    run = _run(region, to)
    _ags(run, ags)
    y = _year(run, year)
    with _LOCK, tempfile.TemporaryDirectory() as tmp:  # pyplot is not thread-safe
        path = FsPath(tmp) / "chart.png"
        if chart == "pyramid":
            charts.pyramid_chart(run, y, path, ags)
        elif chart == "old_age_ratio":
            charts.old_age_ratio_chart(run, path)
        else:
            charts.demand_chart(run, path)
        data = path.read_bytes()
    return Response(data, media_type="image/png")
