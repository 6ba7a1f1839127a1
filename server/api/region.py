"""Regions: the whole Kreis as a model (``<data>/regions/<name>/``, built by ``twin region build``).

Every person count in these responses is published through ``models.privacy`` (0, ``null`` for 1-4 with a
``suppressed`` flag, shown as "unter 5", otherwise rounded to 5). Geometry is WGS84 (lon/lat).
"""

from __future__ import annotations

import json
import pathlib
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from geodata.files import geotiff_bytes
from geodata.sources import DataError
from models.region import Region, load_region, region_dir, region_names
from models.region.access import RegionAccess, region_access
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
from server.api.deps import TwinDep
from server.api.errors import ERROR_RESPONSES
from server.scenarios import NotFound
from server.twin import Twin

router = APIRouter(prefix="/regions", tags=["regions"], responses=ERROR_RESPONSES)
RegionName = Annotated[str, Path(pattern=NAME_PATTERN, description="region name")]
_GEO = {200: {"content": {"application/geo+json": {}}}}
_JSON = {200: {"content": {"application/json": {}}}}


class _Loaded:
    """A loaded region with its access result and the encoded responses, valid while the bundle is unchanged."""

    def __init__(self, region: Region, stamp: int) -> None:
        self.region = region
        self.stamp = stamp
        self.access: RegionAccess = region_access(region)
        self.bodies: dict[Any, bytes] = {}
        self.lock = threading.Lock()


_cache: dict[str, _Loaded] = {}
_cache_lock = threading.Lock()


def _loaded(twin: Twin, name: str) -> _Loaded:
    data = pathlib.Path(twin.settings.data)
    try:
        folder = region_dir(data, name)
    except DataError:
        folder = None
    manifest = folder / "manifest.json" if folder is not None else None
    if manifest is None or not manifest.is_file():
        raise NotFound(f"Region {name!r} gibt es nicht (twin region build {name})", f"Region {name!r} does not exist")
    stamp = manifest.stat().st_mtime_ns
    key = str(folder.resolve())
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit.stamp == stamp:
            return hit
        try:
            loaded = _Loaded(load_region(name, data), stamp)
        except DataError as exc:
            raise NotFound(f"Region {name!r} ist beschädigt: {exc.de}", f"Region {name!r} is damaged: {exc.en}") from None
        _cache[key] = loaded
        return loaded


def _body(entry: _Loaded, key: Any, make: Any, media: str) -> Response:
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
        except NotFound:
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
def proposals(name: RegionName, twin: TwinDep,
              budget: Annotated[int, Query(ge=1, le=50, description="number of new stops or zones")] = 5,
              kind: Annotated[Literal["stops", "zone"], Query(description="stops or zone")] = "stops") -> Response:
    e = _loaded(twin, name)

    def make() -> dict[str, Any]:
        # the solver module pulls in the people engine (and with it Taichi): imported on first use only,
        # so that the server's main process does not load Taichi at start
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
def evaluate_edits(name: RegionName, body: RegionEdits, twin: TwinDep) -> Response:
    e = _loaded(twin, name)
    objs = decode_region_interventions(body.interventions, e.region)
    after = evaluate(e.region, objs)
    out = {"kpis_before": region_kpis(e.access), "kpis_after": region_kpis(after), "access": access_json(after),
           "interventions": len(objs)}
    return Response(json.dumps(out, ensure_ascii=False), media_type="application/json")
