"""Shared route dependencies as ``Annotated`` aliases: the Twin, the current user and the visitor.

A visitor (anyone without a token) is known by a signed random cookie that the server issues
(``landtwin_visitor``; nothing personal, never stored in clear): rate limits and votes count per
visitor and IP address, so that visitors behind one router do not share one budget, and a client cannot
choose its own key. New visitor ids are themselves rate limited per IP address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Request, Response

from server.api.schemas import KpiTable
from server.roles import Denied, User, authenticate
from server.twin import Twin

__all__ = ["TwinDep", "UserDep", "VisitorDep", "Visitor", "ScenarioIdPath", "client_key", "kpi_table",
           "VISITOR_COOKIE", "set_visitor_cookie"]

VISITOR_COOKIE = "landtwin_visitor"


def get_twin(request: Request) -> Twin:
    return request.app.state.twin


def current_user(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <token> of an admin, planner or kiosk device")] = None,
) -> User:
    token = ""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
        if not token:
            raise Denied("Authorization muss 'Bearer <Schlüssel>' sein", "Authorization must be 'Bearer <token>'",
                         status=401, code="unauthorised")
    return authenticate(get_twin(request).storage, token)


def client_key(request: Request) -> str:
    """The client's IP address (in memory only, for rate limits; never stored)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Visitor:
    """Who is asking, for budgets: ``key`` is the visitor id (or the token's user id), ``ip`` the address."""

    key: str
    ip: str

    @property
    def budget_key(self) -> str:
        return f"{self.key}|{self.ip}"


def set_visitor_cookie(response: Response, cookie: str) -> None:
    response.set_cookie(VISITOR_COOKIE, cookie, max_age=30 * 86400, httponly=True, samesite="strict")


def current_visitor(request: Request, response: Response, user: Annotated[User, Depends(current_user)]) -> Visitor:
    twin = get_twin(request)
    ip = client_key(request)
    if user.user_id:
        return Visitor(f"u:{user.user_id}", ip)
    vid = twin.visitors.verify(request.cookies.get(VISITOR_COOKIE, ""))
    if vid is None:
        if not twin.new_visitors.allow(ip):
            raise Denied("Zu viele neue Besucher von dieser Adresse, bitte später erneut",
                         "Too many new visitors from this address, please retry later", status=429, code="rate_limited")
        vid, cookie = twin.visitors.issue()
        set_visitor_cookie(response, cookie)
        # a route that returns its own Response drops ``response``'s headers: the app's middleware adds it then
        request.state.visitor_cookie = cookie
    return Visitor(f"v:{vid}", ip)


TwinDep = Annotated[Twin, Depends(get_twin)]
UserDep = Annotated[User, Depends(current_user)]
VisitorDep = Annotated[Visitor, Depends(current_visitor)]
ScenarioIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$", description="scenario id")]


def kpi_table(twin: Twin, scenario_id: str, *, public: bool = False) -> KpiTable:
    """The published KPIs of the scenario's current version at the shown hour (15:00). Computed now
    when missing, unless ``public``: anonymous clients get stored results only (503 while missing)."""
    res = twin.shown_results(scenario_id, compute=not public)
    return KpiTable(scenario_id=scenario_id, scenario_version=res.version, kpis=res.kpis())
