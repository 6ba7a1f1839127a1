"""Health and version, and access tokens (admins issue, list and revoke tokens of admins, planners and
kiosk devices; every token expires)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

import protocol as p
from server.api.deps import TwinDep, UserDep
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import HealthOut, TokenCreate, TokenInfo, TokenOut
from server.roles import Denied, User, new_token
from server.scenarios import NotFound
from server.storage import utc_in

router = APIRouter(tags=["health"], responses=ERROR_RESPONSES)


@router.get("/health", response_model=HealthOut, summary="Server status / Serverstatus")
def health(twin: TwinDep) -> HealthOut:
    return HealthOut(status="ok", protocol=p.PROTOCOL_VERSION, schema_version=twin.storage.schema_version(),
                     districts=twin.districts.names(), engines=list(twin.service.engine_names))


def _admin(user: User) -> None:
    if user.role != "admin":
        raise Denied("Nur Admins verwalten Zugangsschlüssel", "Only admins manage access tokens")


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Issue an access token (admins)")
def create_token(body: TokenCreate, twin: TwinDep, user: UserDep) -> TokenOut:
    _admin(user)
    token = new_token()
    expires = utc_in(body.days * 86400.0)
    uid = twin.storage.add_token(token, role=body.role, department=body.department, name=body.name, expires_utc=expires)
    return TokenOut(token=token, user_id=uid, role=body.role, department=body.department, expires_utc=expires)


@router.get("/tokens", response_model=list[TokenInfo], summary="List access tokens (admins; never the tokens)")
def list_tokens(twin: TwinDep, user: UserDep) -> list[TokenInfo]:
    _admin(user)
    return [TokenInfo(**t) for t in twin.storage.list_tokens()]


@router.delete("/tokens/{user_id}", response_model=TokenInfo, summary="Revoke an access token (admins)")
def revoke_token(user_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$")], twin: TwinDep, user: UserDep) -> TokenInfo:
    _admin(user)
    if not twin.storage.revoke_token(user_id):
        raise NotFound(f"Kein gültiger Zugangsschlüssel für {user_id!r}", f"No valid access token for {user_id!r}")
    return next(TokenInfo(**t) for t in twin.storage.list_tokens() if t["user_id"] == user_id)
