"""The FastAPI application: ``create_app(settings)`` wires storage, scenarios, the hub and the
simulation service together and serves, on one port,

- the REST API under ``/api`` (one router per resource in ``server/api/``; OpenAPI at ``/api/openapi.json``),
- the websocket at ``/ws/scenarios/{scenario_id}`` (protocol: :mod:`protocol`),
- the built web viewer from ``viewer/web/dist`` at ``/`` when it exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI, Request, WebSocket
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from geodata.interventions import Intervention
from server.api import comments, districts, health, interventions, results, scenarios
from server.api import forecast as forecast_api
from server.api import layers as layers_api
from server.api import region as region_api
from server.api import reports as reports_api
from server.api import tiled as tiled_api
from server.api.deps import VISITOR_COOKIE, set_visitor_cookie
from server.api.errors import install_error_handlers
from server.session import serve_websocket
from server.settings import Settings
from server.twin import Twin

__all__ = ["create_app", "Twin", "VIEWER_DIST"]

log = logging.getLogger("landtwin.app")
VIEWER_DIST = Path(__file__).resolve().parents[1] / "viewer" / "web" / "dist"


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    (top,), comps = msgspec.json.schema_components([Intervention], ref_template="#/components/schemas/{name}")
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(comps)
    schemas["Intervention"] = top
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings, **twin_options: Any) -> FastAPI:
    """The application for ``settings``; ``twin_options`` go to :class:`Twin` (districts, engines,
    debounce_s, kiosk_idle_s)."""
    twin = Twin(settings, **twin_options)
    # a short interpreter switch interval lets the event loop answer sockets promptly while the
    # coordinating thread unpacks and stores results
    sys.setswitchinterval(0.001)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        twin.hub.bind(asyncio.get_running_loop())
        twin.service.start()
        kiosk = asyncio.create_task(twin.kiosk_reset_loop())
        try:
            yield
        finally:
            kiosk.cancel()
            await asyncio.to_thread(twin.close)

    app = FastAPI(
        title="landtwin",
        version="0.1.0",
        description="3D-Zwilling für Hitze, Verkehr und Erreichbarkeit / a 3D twin for heat, traffic and access. "
        "Live protocol: websocket /ws/scenarios/{scenario_id}, msgpack frames (protocol/__init__.py).",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.twin = twin
    install_error_handlers(app)

    @app.middleware("http")
    async def visitor_cookie(request: Request, call_next: Any) -> Any:
        """A new visitor's signed id reaches the browser also from routes that return their own Response."""
        response = await call_next(request)
        cookie = getattr(request.state, "visitor_cookie", None)
        if cookie and not any(h == b"set-cookie" and VISITOR_COOKIE.encode() in v for h, v in response.raw_headers):
            set_visitor_cookie(response, cookie)
        return response

    for mod in (health, districts, scenarios, interventions, results, comments):
        app.include_router(mod.router, prefix="/api")
    app.include_router(layers_api.router, prefix="/api")
    app.include_router(forecast_api.router, prefix="/api")
    app.include_router(reports_api.router, prefix="/api")
    app.include_router(region_api.router, prefix="/api")
    app.include_router(tiled_api.router, prefix="/api")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.websocket("/ws/scenarios/{scenario_id}")
    async def scenario_socket(websocket: WebSocket, scenario_id: str) -> None:
        await serve_websocket(twin, websocket, scenario_id)

    if VIEWER_DIST.is_dir() and (VIEWER_DIST / "index.html").exists():
        app.mount("/", StaticFiles(directory=VIEWER_DIST, html=True), name="viewer")
    return app
