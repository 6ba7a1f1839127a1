"""REST request and response bodies (pydantic, for a complete OpenAPI).

Interventions inside bodies are validated by ``geodata.interventions`` (msgspec) in the scenario
manager; their OpenAPI schema is the msgspec-generated one, registered as the ``Intervention``
component (see ``server.app._openapi``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

import protocol as p
from geodata.interventions import Intervention
from geodata.names import NAME_PATTERN

__all__ = [
    "InterventionBody", "ErrorOut", "HealthOut", "DistrictOut", "ScenarioCreate", "ScenarioFork", "ScenarioPatch",
    "UserOut", "EntryOut", "ScenarioOut", "ScenarioListItem", "InterventionCreate", "InterventionUpdate",
    "EditOut", "CommentCreate", "CommentOut", "VoteIn", "ModerationIn", "TokenCreate", "TokenOut", "TokenInfo",
    "KpiTable", "CompareOut",
]

InterventionBody = Annotated[dict[str, Any], WithJsonSchema({"allOf": [{"$ref": "#/components/schemas/Intervention"}]})]
Name = Annotated[str, Field(min_length=1, max_length=200)]
ScenarioId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- REST models derived from the websocket protocol's types (one schema source) -------------------------
_META_KEYS = ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern")
_DERIVED: dict[tuple[type, tuple[str, ...] | None], type[BaseModel]] = {}


def _rest_type(t: Any) -> Any:
    """The pydantic type of a protocol field type: nested protocol Structs become derived models, the
    intervention union ``InterventionBody``, msgspec constraints pydantic ones."""
    if isinstance(t, type) and issubclass(t, msgspec.Struct):
        return from_protocol(t)
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is Annotated:
        kw = {k: getattr(m, k) for m in args[1:] if isinstance(m, msgspec.Meta) for k in _META_KEYS
              if getattr(m, k) is not None}
        base = _rest_type(args[0])
        return Annotated[base, Field(**kw)] if kw else base
    if origin in (typing.Union, types.UnionType):
        some = tuple(a for a in args if a is not type(None))
        if set(some) == set(typing.get_args(Intervention)):
            return InterventionBody if len(some) == len(args) else InterventionBody | None
        return typing.Union[tuple(_rest_type(a) for a in args)]  # noqa: UP007 - built from a tuple
    if origin is list:
        return list[_rest_type(args[0])]
    if origin in (tuple, dict):
        return origin[tuple(_rest_type(a) for a in args)]
    return t


def from_protocol(struct: type[msgspec.Struct], *, only: tuple[str, ...] | None = None, name: str | None = None,
                  doc: str | None = None) -> type[BaseModel]:
    """The REST model of a protocol type (same name, fields, defaults, constraints and docstring), derived
    from the msgspec Struct instead of written out a second time; ``only`` some of its fields (then under
    its own ``name``)."""
    key = (struct, only)
    if key not in _DERIVED:
        fields: dict[str, Any] = {}
        for f in msgspec.structs.fields(struct):
            if only is not None and f.name not in only:
                continue
            if f.default is not msgspec.NODEFAULT:
                default: Any = f.default
            elif f.default_factory is not msgspec.NODEFAULT:
                default = Field(default_factory=f.default_factory)
            else:
                default = ...
            fields[f.name] = (_rest_type(f.type), default)
        model = create_model(name or struct.__name__, __base__=_Strict, __module__=__name__, **fields)
        model.__doc__ = doc or struct.__doc__
        _DERIVED[key] = model
    return _DERIVED[key]


def from_record(cls: type, *, exclude: tuple[str, ...] = (), name: str | None = None,
                doc: str | None = None) -> type[BaseModel]:
    """The REST model of a stored record (a dataclass of the server): same fields and types, derived
    instead of written out a second time; ``exclude`` fields the route shows elsewhere."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {f.name: (hints[f.name], ...) for f in dataclasses.fields(cls) if f.name not in exclude}
    model = create_model(name or cls.__name__, __base__=_Strict, __module__=__name__, **fields)
    model.__doc__ = doc or cls.__doc__
    return model


class ErrorOut(_Strict):
    """Every error: a code and the message in German and English."""

    error: str
    message_de: str
    message_en: str
    current: dict[str, Any] | None = None


class HealthOut(_Strict):
    status: Literal["ok"]
    protocol: int
    schema_version: int
    districts: list[str]
    engines: list[str]


class DistrictOut(_Strict):
    name: str
    summary: dict[str, Any]
    has_tiles: bool


UserOut = from_protocol(p.UserInfo)
EntryOut = from_protocol(p.InterventionEntry)


class ScenarioListItem(_Strict):
    scenario_id: str
    name: str
    district: str
    kind: Literal["official", "draft", "sandbox"]
    status: Literal["active", "archived"]
    parent_id: str
    version: int
    created_utc: str


class ScenarioOut(ScenarioListItem):
    interventions: list[EntryOut]


class ScenarioCreate(_Strict):
    name: Name
    district: Annotated[str, Field(pattern=NAME_PATTERN)]
    kind: Literal["official", "draft"] = "official"
    interventions: Annotated[list[InterventionBody], Field(max_length=2000)] = []


class ScenarioFork(_Strict):
    name: Name


class ScenarioPatch(_Strict):
    name: Name | None = None
    status: Literal["active", "archived"] | None = None


class InterventionCreate(_Strict):
    intervention: InterventionBody


class InterventionUpdate(_Strict):
    intervention: InterventionBody
    base_revision: Annotated[int, Field(ge=0, le=2**53)]


EditOut = from_protocol(p.EditApplied, name="EditOut", doc="A committed edit (durable when this response is sent).",
                        only=("scenario_id", "scenario_version", "op", "cause", "object_id", "revision", "intervention"))


class CommentCreate(_Strict):
    scenario_version: Annotated[int, Field(ge=0, le=2**53)]
    xyz_local_m: tuple[
        Annotated[float, Field(ge=-1e6, le=1e6)], Annotated[float, Field(ge=-1e6, le=1e6)],
        Annotated[float, Field(ge=-1e4, le=1e4)],
    ]
    kind: Literal["comment", "idea"] = "comment"
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    author_name: Annotated[str, Field(max_length=60)] = ""
    email: Annotated[str, Field(max_length=200, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")] = ""


CommentOut = from_protocol(p.CommentInfo)  # as the public sees it: the protocol's CommentInfo has no e-mail


class VoteIn(_Strict):
    """A vote; the voter is the visitor the server knows by its cookie (``voter_key`` is ignored)."""

    value: Literal[-1, 0, 1]
    voter_key: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = ""


class ModerationIn(_Strict):
    hidden: bool | None = None
    answer: Annotated[str, Field(max_length=2000)] | None = None


class TokenCreate(_Strict):
    """A token for an admin, a planner (of a department) or a kiosk device; it expires after ``days``."""

    role: Literal["admin", "planner", "kiosk"]
    department: Annotated[str, Field(max_length=200)] = ""
    name: Annotated[str, Field(max_length=200)] = ""
    days: Annotated[int, Field(ge=1, le=3650)] = 90


class TokenOut(_Strict):
    token: str
    user_id: str
    role: str
    department: str
    expires_utc: str = ""


class TokenInfo(_Strict):
    """A token's holder (never the token itself)."""

    user_id: str
    role: str
    department: str
    name: str
    created_utc: str
    expires_utc: str
    revoked_utc: str


class KpiTable(_Strict):
    """Key figures by engine for one scenario version; person counts are published figures (None: 1-4
    persons, suppressed)."""

    scenario_id: str
    scenario_version: int
    kpis: dict[str, dict[str, float | None]]


class CompareOut(_Strict):
    """Scenario A vs B: both KPI tables and B - A per figure."""

    a: KpiTable
    b: KpiTable
    difference: dict[str, dict[str, float | None]]
