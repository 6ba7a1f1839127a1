"""Scenarios: list, create, read, fork, rename/archive, the kiosk sandbox, and A/B comparison."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from geodata.names import NAME_PATTERN
from server.api.deps import ScenarioIdPath, TwinDep, UserDep, VisitorDep, kpi_table
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import (
    CompareOut,
    ScenarioCreate,
    ScenarioFork,
    ScenarioListItem,
    ScenarioOut,
    ScenarioPatch,
)
from server.roles import Denied
from server.scenario import ScenarioModel
from server.scenarios import state_to_protocol

router = APIRouter(prefix="/scenarios", tags=["scenarios"], responses=ERROR_RESPONSES)


def list_item(m: ScenarioModel) -> ScenarioListItem:
    r = m.row
    return ScenarioListItem(scenario_id=r.scenario_id, name=r.name, district=r.district, kind=r.kind, status=r.status,
                            parent_id=r.parent_id, version=m.version, created_utc=r.created_utc)


def scenario_out(m: ScenarioModel) -> ScenarioOut:
    state = msgspec.to_builtins(state_to_protocol(m))
    return ScenarioOut(**list_item(m).model_dump(), interventions=state["interventions"])


@router.get("", response_model=list[ScenarioListItem], summary="List scenarios / Szenarien auflisten")
def list_scenarios(
    twin: TwinDep, user: UserDep,
    district: Annotated[str | None, Query(pattern="^(region:)?" + NAME_PATTERN[1:],
                                          description="a district, or region:<name>")] = None,
    include_archived: bool = False,
) -> list[ScenarioListItem]:
    rows = twin.storage.list_scenarios(district=district, include_archived=include_archived)
    return [list_item(twin.manager.model(r.scenario_id)) for r in rows if r.kind != "sandbox"]


@router.post("", response_model=ScenarioOut, status_code=201, summary="Create a scenario (planners, admins)")
def create_scenario(body: ScenarioCreate, twin: TwinDep, user: UserDep) -> ScenarioOut:
    m = twin.manager.create(user, name=body.name, district=body.district, kind=body.kind, interventions=body.interventions)
    return scenario_out(m)


@router.get("/{scenario_id}", response_model=ScenarioOut, summary="A scenario with its interventions")
def get_scenario(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> ScenarioOut:
    return scenario_out(twin.manager.model(scenario_id))


@router.post("/{scenario_id}/fork", response_model=ScenarioOut, status_code=201, summary="Fork into a draft")
def fork_scenario(scenario_id: ScenarioIdPath, body: ScenarioFork, twin: TwinDep, user: UserDep) -> ScenarioOut:
    if user.role not in ("admin", "planner"):
        raise Denied("Nur Planer und Admins legen Szenarien an", "Only planners and admins create scenarios")
    return scenario_out(twin.manager.fork(user, scenario_id, name=body.name))


@router.patch("/{scenario_id}", response_model=ScenarioOut, summary="Rename or archive")
def patch_scenario(scenario_id: ScenarioIdPath, body: ScenarioPatch, twin: TwinDep, user: UserDep) -> ScenarioOut:
    import protocol as p

    row = twin.manager.update_meta(user, scenario_id, name=body.name, status=body.status)
    m = twin.manager.model(scenario_id)
    twin.hub.publish_threadsafe(scenario_id, p.ScenarioEvent(scenario_id, row.name, row.status, m.version))  # type: ignore[arg-type]
    return scenario_out(m)


@router.post("/{scenario_id}/sandbox", response_model=ScenarioOut, status_code=201,
             summary="The kiosk device's sandbox copy (its open one, else a new one; resets after inactivity, expires)")
def sandbox(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep, visitor: VisitorDep,
            fresh: Annotated[bool, Query(description="replace the device's open sandbox by a new one")] = False,
            ) -> ScenarioOut:
    if user.is_anonymous:
        twin.allow_write(visitor.budget_key, visitor.ip, cost=2.0)
    return scenario_out(twin.sandbox(user, scenario_id, fresh=fresh))


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 6)


@router.get("/{scenario_id}/compare/{other_id}", response_model=CompareOut, summary="Compare A with B (KPIs)")
async def compare(scenario_id: ScenarioIdPath, other_id: ScenarioIdPath, twin: TwinDep, user: UserDep,
                  visitor: VisitorDep) -> CompareOut:
    public = user.is_anonymous
    if public:
        twin.allow_read(visitor.budget_key, visitor.ip)
    a = await run_in_threadpool(lambda: kpi_table(twin, scenario_id, public=public))
    b = await run_in_threadpool(lambda: kpi_table(twin, other_id, public=public))
    diff = {
        eng: {k: _difference(v, b.kpis[eng][k]) for k, v in vals.items() if k in b.kpis.get(eng, {})}
        for eng, vals in a.kpis.items()
    }
    return CompareOut(a=a, b=b, difference=diff)
