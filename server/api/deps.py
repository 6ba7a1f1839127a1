"""Shared route dependencies as ``Annotated`` aliases: the Twin and the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from server.app import Twin
from server.roles import User, authenticate

__all__ = ["TwinDep", "UserDep", "client_key"]


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
