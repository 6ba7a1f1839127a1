"""Health and version, and access tokens (admins create tokens for planners and admins)."""

from __future__ import annotations

from fastapi import APIRouter

import protocol as p
from server.api.deps import TwinDep, UserDep
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import HealthOut, TokenCreate, TokenOut
from server.roles import Denied, new_token

router = APIRouter(tags=["health"], responses=ERROR_RESPONSES)


@router.get("/health", response_model=HealthOut, summary="Server status / Serverstatus")
def health(twin: TwinDep) -> HealthOut:
    return HealthOut(status="ok", protocol=p.PROTOCOL_VERSION, schema_version=twin.storage.schema_version(),
                     districts=twin.districts.names(), engines=list(twin.service.engine_names))


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Create an access token (admins)")
def create_token(body: TokenCreate, twin: TwinDep, user: UserDep) -> TokenOut:
    if user.role != "admin":
        raise Denied("Nur Admins vergeben Zugangsschlüssel", "Only admins create access tokens")
    token = new_token()
    uid = twin.storage.add_token(token, role=body.role, department=body.department, name=body.name)
    return TokenOut(token=token, user_id=uid, role=body.role, department=body.department)
