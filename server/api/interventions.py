"""Interventions of a scenario: list, add, update (with the base revision), remove, undo and redo.

Every response of a change is sent after the edit is durable; everyone on the scenario's websocket
sees it as an ``applied`` message.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Path, Query

import protocol as p
from geodata.interventions import decode_intervention
from server.api.deps import ScenarioIdPath, TwinDep, UserDep
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import EditOut, EntryOut, InterventionCreate, InterventionUpdate
from server.roles import Denied, edit_denied, may_edit
from server.scenarios import applied_message, entry_to_protocol

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["interventions"], responses=ERROR_RESPONSES)
ObjectIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


def _edit(twin, user, scenario_id: str, msg) -> EditOut:
    m, rec = twin.manager.edit(user, f"rest-{user.user_id or user.role}", scenario_id, msg)
    a = msgspec.to_builtins(applied_message(m, rec))  # the REST model is derived from EditApplied
    return EditOut.model_validate({k: v for k, v in a.items() if k in EditOut.model_fields})


@router.get("/interventions", response_model=list[EntryOut], summary="Interventions in order")
def list_interventions(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> list[EntryOut]:
    m = twin.manager.model(scenario_id)
    return [EntryOut(**msgspec.to_builtins(entry_to_protocol(e))) for e in m.objects.values()]


@router.post("/interventions", response_model=EditOut, status_code=201, summary="Add an intervention")
def add(scenario_id: ScenarioIdPath, body: InterventionCreate, twin: TwinDep, user: UserDep) -> EditOut:
    twin.manager.row(scenario_id)
    obj = decode_intervention(body.intervention)
    return _edit(twin, user, scenario_id, p.AddIntervention(request_id=0, intervention=obj))


@router.put("/interventions/{object_id}", response_model=EditOut, summary="Replace an intervention")
def update(scenario_id: ScenarioIdPath, object_id: ObjectIdPath, body: InterventionUpdate, twin: TwinDep,
           user: UserDep) -> EditOut:
    twin.manager.row(scenario_id)
    obj = decode_intervention(body.intervention)
    if obj.id != object_id:
        from geodata.interventions import InterventionError

        raise InterventionError("Kennung im Pfad und in der Maßnahme unterscheiden sich",
                                "The id in the path and in the intervention differ")
    return _edit(twin, user, scenario_id, p.UpdateIntervention(0, obj, body.base_revision))


@router.delete("/interventions/{object_id}", response_model=EditOut, summary="Remove an intervention")
def remove(scenario_id: ScenarioIdPath, object_id: ObjectIdPath, twin: TwinDep, user: UserDep,
           base_revision: Annotated[int, Query(ge=0, le=2**53)]) -> EditOut:
    return _edit(twin, user, scenario_id, p.RemoveIntervention(0, object_id, base_revision))


def _need_account(twin, user, scenario_id: str) -> None:
    row = twin.manager.row(scenario_id)
    if not may_edit(user, row):
        raise edit_denied(user, row)
    if not user.user_id:
        raise Denied("Rückgängig über REST nur mit Zugangsschlüssel", "Undo over REST needs an access token",
                     status=403 if user.role == "citizen" else 401)


@router.post("/undo", response_model=EditOut, summary="Undo your last edit")
def undo(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> EditOut:
    _need_account(twin, user, scenario_id)
    return _edit(twin, user, scenario_id, p.Undo(0))


@router.post("/redo", response_model=EditOut, summary="Redo your last undone edit")
def redo(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> EditOut:
    _need_account(twin, user, scenario_id)
    return _edit(twin, user, scenario_id, p.Redo(0))
