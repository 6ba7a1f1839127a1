"""The web viewer's generated REST types match the server's OpenAPI, and the REST models of types the
websocket protocol defines too are derived from the protocol (one schema source)."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
import pytest
from pydantic import ValidationError

import protocol as p
from server.api.schemas import CommentOut, EditOut, EntryOut, UserOut, from_protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_api_ts  # noqa: E402


@pytest.fixture(scope="module")
def generated() -> str:
    return gen_api_ts.render_ts()


def test_generated_typescript_is_current(generated: str) -> None:
    committed = gen_api_ts.TARGET.read_text(encoding="utf-8")
    assert committed == generated, "viewer/web/src/api.gen.ts is stale: run .venv/bin/python scripts/gen_api_ts.py"


def test_every_json_route_and_body_has_a_type(generated: str) -> None:
    doc = gen_api_ts.openapi()
    for path, ops in doc["paths"].items():
        for method in ops:
            if method in gen_api_ts.METHODS:
                assert f'"{method.upper()} {path}": {{' in generated, (method, path)
    assert 'import type { CommentInfo, Intervention, InterventionEntry } from "./protocol.gen";' in generated
    for shared in ("CommentInfo", "InterventionEntry", "UserInfo", "Tree"):  # defined once, in protocol.gen.ts
        assert f"export interface {shared} " not in generated
    assert '"GET /api/scenarios/{scenario_id}/comments": { response: Array<CommentInfo> };' in generated
    assert "export interface ScenarioCreate {" in generated


@pytest.mark.parametrize(("model", "struct"), [(UserOut, p.UserInfo), (EntryOut, p.InterventionEntry),
                                               (CommentOut, p.CommentInfo)])
def test_rest_models_are_derived_from_the_protocol_types(model, struct) -> None:
    assert model is from_protocol(struct) and model.__name__ == struct.__name__
    assert list(model.model_fields) == [f.name for f in msgspec.structs.fields(struct)]


def test_the_rest_edit_is_part_of_the_protocols_edit_applied() -> None:
    fields = [f.name for f in msgspec.structs.fields(p.EditApplied)]
    assert list(EditOut.model_fields) == fields[:7] and {"by", "session_id", "request_id"} <= set(fields[7:])
    assert EditOut is from_protocol(p.EditApplied, only=tuple(EditOut.model_fields), name="EditOut")


def test_derived_models_keep_types_constraints_and_strictness() -> None:
    user = p.UserInfo(role="planner", department="Umwelt", name="A", user_id="u1")
    entry = p.InterventionEntry(intervention=msgspec.convert({"kind": "tree", "id": "t1"}, p.Intervention), revision=2,
                                author=user)
    back = EntryOut.model_validate(msgspec.to_builtins(entry))
    assert back.revision == 2 and back.author.name == "A" and back.intervention["kind"] == "tree"
    with pytest.raises(ValidationError):  # revision >= 0, from the protocol's msgspec.Meta
        EntryOut.model_validate({**msgspec.to_builtins(entry), "revision": -1})
    with pytest.raises(ValidationError):  # no fields the protocol type does not have
        UserOut.model_validate({**msgspec.to_builtins(user), "email": "a@b.de"})
    info = p.CommentInfo(1, "s1", 3, (1.0, 2.0, 3.0), "idea", "mehr Bäume", "Ana", 2, False, "", "2026-07-01T10:00:00Z")
    assert CommentOut.model_validate(msgspec.to_builtins(info)).model_dump() == msgspec.to_builtins(info) | {
        "xyz_local_m": (1.0, 2.0, 3.0)}
    with pytest.raises(ValidationError):
        CommentOut.model_validate({**msgspec.to_builtins(info), "kind": "rant"})
