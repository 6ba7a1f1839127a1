"""Participation: comments and ideas pinned to a 3D point and a scenario version; votes; moderation.

Citizens need no account. Nothing personal is stored: no IP address, a vote only as a hash of the
visitor id the server issued (signed cookie, so one visitor has one vote per comment whatever it
sends), an e-mail address only when given for a reply (never shown publicly). A hidden comment's text
never leaves the server again: its event carries only its id and the hidden flag.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Path

import protocol as p
from server.api.deps import ScenarioIdPath, TwinDep, UserDep, Visitor, VisitorDep
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import CommentCreate, CommentOut, ModerationIn, VoteIn
from server.roles import Denied, may_moderate
from server.scenarios import NotFound
from server.storage import CommentRow

router = APIRouter(tags=["comments"], responses=ERROR_RESPONSES)
CommentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="comment id")]


def _info(c: CommentRow) -> p.CommentInfo:
    return p.CommentInfo(c.comment_id, c.scenario_id, c.scenario_version, c.xyz_local_m, c.kind, c.text,  # type: ignore[arg-type]
                         c.author_name, c.votes, c.hidden, c.answer, c.created_utc)


def _out(c: CommentRow) -> CommentOut:
    return CommentOut.model_validate(msgspec.to_builtins(_info(c)))  # the REST model is derived from CommentInfo


def _broadcast(twin, c: CommentRow) -> None:
    if c.hidden:  # only that it is gone: the text, name and answer never leave the server again
        info = p.CommentInfo(c.comment_id, c.scenario_id, c.scenario_version, (0.0, 0.0, 0.0), c.kind, "", "", 0,  # type: ignore[arg-type]
                             True, "", c.created_utc)
    else:
        info = _info(c)
    twin.hub.publish_threadsafe(c.scenario_id, p.CommentEvent(info))


def _limit(twin, visitor: Visitor, user) -> None:
    if user.is_anonymous:
        twin.allow_write(visitor.budget_key, visitor.ip)


@router.get("/scenarios/{scenario_id}/comments", response_model=list[CommentOut], summary="Comments and ideas")
def list_comments(scenario_id: ScenarioIdPath, twin: TwinDep, user: UserDep) -> list[CommentOut]:
    twin.manager.row(scenario_id)
    return [_out(c) for c in twin.storage.list_comments(scenario_id, include_hidden=may_moderate(user))]


@router.post("/scenarios/{scenario_id}/comments", response_model=CommentOut, status_code=201,
             summary="Pin a comment or idea (anyone)")
def add_comment(scenario_id: ScenarioIdPath, body: CommentCreate, visitor: VisitorDep, twin: TwinDep, user: UserDep) -> CommentOut:
    m = twin.manager.model(scenario_id)
    if body.scenario_version > m.version:
        raise Denied(f"Version {body.scenario_version} gibt es noch nicht (aktuell {m.version})",
                     f"Version {body.scenario_version} does not exist yet (current {m.version})", status=422, code="invalid")
    d = twin.manager.subject(m.row.district)  # a town, or a region (its grid: the Kreis)
    if not bool(d.grid.inside([body.xyz_local_m[0]], [body.xyz_local_m[1]])[0]):
        raise Denied("Der Punkt liegt außerhalb des Gebiets", "The point is outside the district", status=422, code="invalid")
    _limit(twin, visitor, user)
    c = twin.storage.add_comment(scenario_id=scenario_id, scenario_version=body.scenario_version,
                                 xyz_local_m=body.xyz_local_m, kind=body.kind, text=body.text,
                                 author_name=body.author_name, email=body.email)
    _broadcast(twin, c)
    return _out(c)


def _comment(twin, comment_id: int) -> CommentRow:
    c = twin.storage.get_comment(comment_id)
    if c is None:
        raise NotFound(f"Beitrag {comment_id} gibt es nicht", f"Comment {comment_id} does not exist")
    return c


@router.post("/comments/{comment_id}/vote", response_model=CommentOut, summary="Vote (+1, -1, 0 withdraws)")
def vote(comment_id: CommentId, body: VoteIn, visitor: VisitorDep, twin: TwinDep, user: UserDep,
         ) -> CommentOut:
    c = _comment(twin, comment_id)
    if c.hidden:
        raise NotFound(f"Beitrag {comment_id} gibt es nicht", f"Comment {comment_id} does not exist")
    _limit(twin, visitor, user)
    twin.storage.vote(comment_id, visitor.key, body.value)
    c = _comment(twin, comment_id)
    _broadcast(twin, c)
    return _out(c)


@router.patch("/comments/{comment_id}", response_model=CommentOut, summary="Moderate: hide or answer (planners)")
def moderate(comment_id: CommentId, body: ModerationIn, twin: TwinDep, user: UserDep) -> CommentOut:
    if not may_moderate(user):
        raise Denied("Nur Planer und Admins moderieren", "Only planners and admins moderate")
    _comment(twin, comment_id)
    twin.storage.moderate_comment(comment_id, hidden=body.hidden, answer=body.answer)
    c = _comment(twin, comment_id)
    _broadcast(twin, c)
    return _out(c)


__all__ = ["router"]
