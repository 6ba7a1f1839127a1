"""Shared route dependencies as ``Annotated`` aliases: the Twin and the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from server.api.schemas import KpiTable
from server.roles import User, authenticate
from server.twin import Twin

__all__ = ["TwinDep", "UserDep", "ScenarioIdPath", "client_key", "kpi_table"]


def get_twin(request: Request) -> Twin:
    return request.app.state.twin


def current_user(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <token> for planners and admins")] = None,
    x_landtwin_role: Annotated[str | None, Header(description="citizen (default) or kiosk for anonymous clients")] = None,
) -> User:
    token = ""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
        if not token:
            from server.roles import Denied

            raise Denied("Authorization muss 'Bearer <Schlüssel>' sein", "Authorization must be 'Bearer <token>'",
                         status=401, code="unauthorised")
    role = x_landtwin_role if x_landtwin_role in ("citizen", "kiosk") else "citizen"
    return authenticate(get_twin(request).storage, token, requested_role=role)


def client_key(request: Request) -> str:
    """In-memory rate-limit key of an anonymous client (never stored)."""
    return request.client.host if request.client else "unknown"


TwinDep = Annotated[Twin, Depends(get_twin)]
UserDep = Annotated[User, Depends(current_user)]
ScenarioIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$", description="scenario id")]


def kpi_table(twin: Twin, scenario_id: str) -> KpiTable:
    """The KPIs of the scenario's current version (computed now when missing; blocking)."""
    res = twin.results(scenario_id)
    return KpiTable(scenario_id=scenario_id, scenario_version=res.version, kpis=res.kpis())
