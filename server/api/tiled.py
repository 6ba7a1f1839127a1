"""Tiled heat runs for the viewers: the runs under ``<data>/tiled``, and windows of their COGs as float32
GeoTIFF (exact cells) or PNG (rules in :mod:`server.tiled_runs`).

Heat fields hold no person counts: every role reads them; anonymous clients (citizens, kiosks) within their
read budget per visitor and address, like the other exports. A window larger than 1024 points a side,
outside the raster, an hour not computed or an unknown run or layer is refused (422 or 404) with the reason
in German and English.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server.api.deps import TwinDep, UserDep, VisitorDep
from server.api.errors import ERROR_RESPONSES
from server.roles import Denied
from server.tiled_runs import RUN_PATTERN, TiledReadError, TiledRuns, Window

__all__ = ["router"]

router = APIRouter(prefix="/tiled", tags=["tiled"], responses=ERROR_RESPONSES)
RunPath = Annotated[str, Path(pattern=RUN_PATTERN, description="tiled run (folder under <data>/tiled)")]
LayerPath = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,40}$", description="layer, e.g. utci_c, tmrt_c, svf")]
_TIFF = {200: {"content": {"image/tiff": {}}, "description": "GeoTIFF (float32, the run's UTM CRS)"}}
_PNG = {200: {"content": {"image/png": {}}, "description": "PNG"}}


def _runs(twin: Any) -> TiledRuns:
    return TiledRuns(twin.settings.data / "tiled")


def _allow(twin: Any, user: Any, visitor: Any) -> None:
    if user.is_anonymous:
        twin.allow_read(visitor.budget_key, visitor.ip)


def _window(row: int, col: int, rows: int, cols: int, step: int) -> Window:
    return Window(row=row, col=col, rows=rows, cols=cols, step=step)


async def _call(fn: Any, *args: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args)
    except TiledReadError as exc:
        raise Denied(exc.de, exc.en, status=exc.status, code="not_found" if exc.status == 404 else "invalid") from None


Row = Annotated[int, Query(ge=0, le=10_000_000, description="first row (0 = north edge)")]
Col = Annotated[int, Query(ge=0, le=10_000_000, description="first column (0 = west edge)")]
Rows = Annotated[int, Query(ge=1, le=262_144, description="rows of the window, in cells")]
Cols = Annotated[int, Query(ge=1, le=262_144, description="columns of the window, in cells")]
Step = Annotated[int, Query(ge=1, le=256, description="every step-th cell (averaged); answer at most 1024 a side")]
Hour = Annotated[int | None, Query(ge=0, le=23, description="local hour (not for svf)")]


@router.get("", summary="Tiled heat runs with their layers and hours")
async def list_runs(twin: TwinDep, user: UserDep, visitor: VisitorDep) -> list[dict[str, Any]]:
    _allow(twin, user, visitor)
    return await _call(_runs(twin).list)


@router.get("/{run}", summary="One tiled run: district, grid, hours, layers")
async def run_info(run: RunPath, twin: TwinDep, user: UserDep, visitor: VisitorDep) -> dict[str, Any]:
    _allow(twin, user, visitor)
    return await _call(_runs(twin).manifest, run)


@router.get("/{run}/{layer}/window.tif", summary="A window of a layer as float32 GeoTIFF", responses=_TIFF)
async def window_tif(run: RunPath, layer: LayerPath, twin: TwinDep, user: UserDep, visitor: VisitorDep, row: Row = 0,
                     col: Col = 0, rows: Rows = 256, cols: Cols = 256, step: Step = 1, hour: Hour = None) -> Response:
    _allow(twin, user, visitor)
    data = await _call(_runs(twin).geotiff, run, layer, hour, _window(row, col, rows, cols, step))
    return Response(data, media_type="image/tiff")


@router.get("/{run}/{layer}/window.png", summary="A window of a layer as a coloured PNG", responses=_PNG)
async def window_png(run: RunPath, layer: LayerPath, twin: TwinDep, user: UserDep, visitor: VisitorDep, row: Row = 0,
                     col: Col = 0, rows: Rows = 256, cols: Cols = 256, step: Step = 1, hour: Hour = None,
                     vmin: Annotated[float | None, Query(ge=-1e6, le=1e6)] = None,
                     vmax: Annotated[float | None, Query(ge=-1e6, le=1e6)] = None) -> Response:
    _allow(twin, user, visitor)
    data = await _call(_runs(twin).png, run, layer, hour, _window(row, col, rows, cols, step), vmin, vmax)
    return Response(data, media_type="image/png")
