"""The live protocol between the server and its viewers: every websocket message, typed and versioned.

This module is the only definition of the wire. The desktop viewer imports it directly, the web viewer
uses TypeScript types generated from it (``scripts/gen_protocol_ts.py`` writes
``viewer/web/src/protocol.gen.ts``; a test fails when that file is stale). It imports msgspec, numpy and
``geodata.interventions`` only, never FastAPI.

Wire format
-----------
- One websocket at ``/ws/scenarios/{scenario_id}``; every frame is a **binary** frame holding one
  msgpack map, a msgspec Struct tagged by the field ``t``.
- Arrays travel as :class:`NDArray`: raw little-endian bytes with ``dtype`` and ``shape`` (row-major);
  the value is ``raw * scale + offset``, cells equal to ``nodata`` are missing (NaN). Large arrays may
  come zlib-compressed (``codec``: complete fields; the server compresses each frame once for all). Temperatures are
  quantised to uint16 with ``scale = 0.01`` and ``offset = -100`` (0.01 K steps, -100 .. 555 °C).
- Coordinates are in the district's local frame: metres east/north/up from its origin.

Session
-------
1. The client opens the socket and sends :class:`Hello` within ``HELLO_TIMEOUT_S`` seconds. Planners,
   admins and kiosk devices put their token in ``Hello.token``; citizens leave it empty.
   (No token travels in the URL, so none ends up in access logs.)
2. The server answers :class:`Welcome` with the scenario's state (version, interventions with their
   revisions) and who else is present, or closes with one of the ``CLOSE_*`` codes.
3. The client sends :class:`Subscribe` to choose layers and the hour, then edits (:class:`AddIntervention`,
   :class:`UpdateIntervention`, :class:`RemoveIntervention`, :class:`Undo`, :class:`Redo`), its view
   (:class:`View`, for presence) and :class:`Ping`.
4. Every accepted edit is committed to storage first, then broadcast to everyone on the scenario as
   :class:`EditApplied` (the author recognises its own by ``session_id`` and ``request_id``: that is the
   acknowledgement). A refused edit gets :class:`EditRejected` with the reason in German and English and,
   for a version conflict, the object's current state.
5. Results arrive as :class:`FieldFrame`, :class:`EdgeFrame`, :class:`AgentFrame`, :class:`AccessFrame`
   and :class:`KpiFrame`, each naming the ``scenario_version`` it was computed for. Outgoing frames are
   latest-wins per key (:func:`frame_key`): a slow client receives the newest frame of each key, never
   a backlog. The UTCI of the key figures' hour and the instantaneous heat KPIs come first; a second
   heat :class:`KpiFrame` of the same version may complete them (the day's building cooling).

Kiosks are devices paired by an admin: their token (``Hello.token``, ``Authorization: Bearer``) says
so, never the role they name. A kiosk first asks for its sandbox copy (``POST
/api/scenarios/{id}/sandbox``) and connects to that copy's socket; it resets to the official scenario
after a few minutes without edits (:class:`Reset`) and expires after a few hours. Public clients
(citizens, kiosks) get the people of the agents layer as aggregated flows (:class:`AgentFrame` with
``aggregated``), never individual synthetic persons.

Concurrency: every intervention has a ``revision`` (1 when added, +1 per update). Updates and removals
name the ``base_revision`` they were made on; when another edit got there first the later one is rejected
(code ``conflict``) with the current state, and the client may retry on top of it.
"""

from __future__ import annotations

import zlib
from typing import Annotated, Any, Literal

import msgspec
import numpy as np

from geodata.interventions import Intervention

__all__ = [
    "PROTOCOL_VERSION",
    "MAX_CLIENT_MESSAGE_BYTES",
    "HELLO_TIMEOUT_S",
    "CLOSE_CODES",
    "ProtocolError",
    "NDArray",
    "encode_array",
    "decode_array",
    "compress_array",
    "COMPRESS_MIN_BYTES",
    "quantise_u16",
    "apply_field_frame",
    "raster_shape",
    "upsample_field",
    "field_on_grid",
    "apply_access_frame",
    "UserInfo",
    "InterventionEntry",
    "ScenarioState",
    "GridInfo",
    "Window",
    "Hello",
    "Subscribe",
    "AddIntervention",
    "UpdateIntervention",
    "RemoveIntervention",
    "Undo",
    "Redo",
    "View",
    "Ping",
    "Welcome",
    "DesignDay",
    "EditApplied",
    "EditRejected",
    "ErrorMessage",
    "PresenceEntry",
    "Presence",
    "Progress",
    "FieldFrame",
    "EdgeFrame",
    "AgentFrame",
    "DeficitArea",
    "AccessFrame",
    "KpiFrame",
    "CommentInfo",
    "CommentEvent",
    "ScenarioEvent",
    "Reset",
    "Pong",
    "ClientMessage",
    "ServerMessage",
    "CLIENT_MESSAGES",
    "SERVER_MESSAGES",
    "encode",
    "decode_client",
    "decode_server",
    "frame_key",
]

PROTOCOL_VERSION = 1
MAX_CLIENT_MESSAGE_BYTES = 256 * 1024
HELLO_TIMEOUT_S = 10.0

# websocket close codes the server uses (4000-4999 are free for applications)
CLOSE_CODES: dict[str, int] = {
    "bad_hello": 4400,
    "unauthorised": 4401,
    "forbidden": 4403,
    "not_found": 4404,
    "hello_timeout": 4408,
    "too_large": 4413,
    "protocol_version": 4426,
    "rate_limited": 4429,
}

Role = Literal["admin", "planner", "citizen", "kiosk"]
Lang = Literal["de", "en"]
Layer = Literal["heat", "traffic", "agents", "access"]
Engine = Literal["costs", "heat", "traffic", "agents", "access", "compare"]
DType = Literal["<f4", "<f8", "<u2", "<i2", "<i4", "<u4", "<i8", "|u1", "|i1"]
EditOp = Literal["add", "update", "remove"]
EditCause = Literal["edit", "undo", "redo", "reset"]

Finite = Annotated[float, msgspec.Meta(ge=-1e7, le=1e7)]
XYZ = tuple[Finite, Finite, Finite]
ObjectId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
RequestId = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Revision = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Version = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]


class ProtocolError(ValueError):
    """A message that could not be decoded or is not allowed; ``code``, ``de`` and ``en`` say why."""

    def __init__(self, code: str, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.code = code
        self.de = de
        self.en = en


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=False):
    """Plain (untagged) structure nested inside messages."""


class _Msg(msgspec.Struct, frozen=True, tag_field="t", forbid_unknown_fields=True, omit_defaults=False):
    """A message on the wire, tagged by ``t``."""


# --- arrays ---------------------------------------------------------------------------------------
class NDArray(_Struct, frozen=True):
    """A numpy array as raw little-endian bytes (row-major). Value = ``raw * scale + offset``;
    raw values equal to ``nodata`` (when given) are missing. With ``codec`` "zlib", ``data`` holds those
    bytes zlib-compressed (RFC 1950; large arrays where it pays, see :func:`compress_array`)."""

    dtype: DType
    shape: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=2**31)]], msgspec.Meta(max_length=4)]
    data: bytes
    scale: float = 1.0
    offset: float = 0.0
    nodata: int | None = None
    codec: Literal["", "zlib"] = ""


_MAX_ARRAY_BYTES = 512 * 1024 * 1024


def encode_array(arr: np.ndarray, *, dtype: str | None = None) -> NDArray:
    """Pack an array as raw little-endian bytes (optionally converted to ``dtype`` first)."""
    a = np.asarray(arr)
    dt = np.dtype(dtype) if dtype else a.dtype
    dt = dt.newbyteorder("<")  # values are converted, not reinterpreted, by ascontiguousarray below
    a = np.ascontiguousarray(a, dtype=dt)
    return NDArray(dtype=a.dtype.str, shape=list(a.shape), data=a.tobytes())


def quantise_u16(arr: np.ndarray, *, scale: float = 0.01, offset: float = -100.0) -> NDArray:
    """Quantise floats to uint16 steps of ``scale`` above ``offset``; NaN becomes ``nodata`` 65535.

    The default suits temperatures in °C: -100 .. 555.34 in 0.01 K steps (values outside are clipped).
    """
    a = np.array(arr, dtype=np.float64)  # a copy, worked on in place (a live edit quantises 1 M cells)
    missing = ~np.isfinite(a)
    has_missing = bool(missing.any())
    if has_missing:
        a[missing] = offset
    np.subtract(a, offset, out=a)
    np.divide(a, scale, out=a)
    np.rint(a, out=a)
    np.clip(a, 0, 65534, out=a)
    raw = a.astype("<u2")
    if has_missing:
        raw[missing] = 65535
    return NDArray(dtype="<u2", shape=list(a.shape), data=raw.tobytes(), scale=scale, offset=offset, nodata=65535)


COMPRESS_MIN_BYTES = 64 * 1024  # smaller arrays travel raw: compressing them saves too little


def compress_array(nd: NDArray, *, level: int = 1, min_bytes: int = COMPRESS_MIN_BYTES) -> NDArray:
    """``nd`` with its bytes zlib-compressed at ``level`` where it pays (at least ``min_bytes`` raw and
    at least a tenth smaller), else ``nd`` unchanged."""
    if nd.codec or len(nd.data) < min_bytes:
        return nd
    packed = zlib.compress(nd.data, level)
    if len(packed) > 0.9 * len(nd.data):
        return nd
    return msgspec.structs.replace(nd, data=packed, codec="zlib")


def _raw_bytes(nd: NDArray, size: int) -> bytes:
    """The array's raw bytes (decompressed), refusing data that inflate beyond ``size`` bytes."""
    if not nd.codec:
        return nd.data
    try:
        z = zlib.decompressobj()
        raw = z.decompress(nd.data, size + 1)
        if len(raw) == size and not z.eof:
            raw += z.decompress(z.unconsumed_tail, 1)
        complete = z.eof and not z.unconsumed_tail and not z.unused_data
    except zlib.error:
        complete, raw = False, b""
    if not complete or len(raw) != size:
        raise ProtocolError("bad_array", f"Komprimiertes Feld passt nicht zu Typ und Form {nd.shape} × {nd.dtype}",
                            f"Compressed array does not match its dtype and shape {nd.shape} x {nd.dtype}")
    return raw


def decode_array(nd: NDArray, *, dequantise: bool = True) -> np.ndarray:
    """The numpy array of an :class:`NDArray` (float32 when scaled or with nodata and ``dequantise``).

    Raises ProtocolError when the byte length (decompressed, for a compressed array) does not match
    dtype and shape.
    """
    dt = np.dtype(nd.dtype)
    count = 1
    span = 1  # product of the non-zero extents: numpy refuses shapes whose span overflows, even when empty
    for n in nd.shape:
        count *= int(n)
        span *= max(int(n), 1)
    if (not nd.codec and count * dt.itemsize != len(nd.data)) or span * dt.itemsize > _MAX_ARRAY_BYTES:
        raise ProtocolError(
            "bad_array",
            f"Feld passt nicht zu Typ und Form ({len(nd.data)} Bytes für {nd.shape} × {nd.dtype})",
            f"Array does not match its dtype and shape ({len(nd.data)} bytes for {nd.shape} x {nd.dtype})",
        )
    raw = np.frombuffer(_raw_bytes(nd, count * dt.itemsize), dtype=dt).reshape(nd.shape)
    if not dequantise or (nd.scale == 1.0 and nd.offset == 0.0 and nd.nodata is None):
        return raw
    if not (np.isfinite(nd.scale) and np.isfinite(nd.offset)):
        raise ProtocolError("bad_array", "Skalierung und Versatz müssen endliche Zahlen sein",
                            "Scale and offset must be finite numbers")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(raw.astype(np.float64) * nd.scale + nd.offset).astype(np.float32)
    if nd.nodata is not None:
        out = np.where(raw == nd.nodata, np.float32(np.nan), out).astype(np.float32)
    return out


# --- shared structures ----------------------------------------------------------------------------
class UserInfo(_Struct, frozen=True):
    """Who did something: role, department (planners) and a display name (may be empty)."""

    role: Role
    department: ShortText = ""
    name: ShortText = ""
    user_id: ShortText = ""


class InterventionEntry(_Struct, frozen=True):
    """One intervention of a scenario with its revision and last author."""

    intervention: Intervention
    revision: Revision
    author: UserInfo


class ScenarioState(_Struct, frozen=True):
    """The scenario as it stands at ``version`` (interventions in application order)."""

    scenario_id: ShortText
    name: ShortText
    district: ShortText
    version: Version
    status: Literal["active", "archived"]
    kind: Literal["official", "draft", "sandbox"]
    interventions: list[InterventionEntry]
    parent_id: ShortText = ""


class GridInfo(_Struct, frozen=True):
    """The district raster: ``rows`` x ``cols`` cells of ``cell_m``; row 0 at the north edge."""

    rows: int
    cols: int
    cell_m: float
    west_m: float
    south_m: float


class Window(_Struct, frozen=True):
    """A rectangle of raster cells: rows ``row0 .. row0+rows``, columns ``col0 .. col0+cols``."""

    row0: int
    col0: int
    rows: int
    cols: int


# --- client -> server -----------------------------------------------------------------------------
class Hello(_Msg, frozen=True, tag="hello"):
    """First message of a session. ``token`` for planners and admins; empty for citizens and kiosks."""

    protocol: int
    role: Role = "citizen"
    token: Annotated[str, msgspec.Meta(max_length=256)] = ""
    name: Annotated[str, msgspec.Meta(max_length=60)] = ""
    lang: Lang = "de"


class Subscribe(_Msg, frozen=True, tag="subscribe"):
    """Which result layers to stream, for which hour of the design day (local time), and which heat
    fields (``utci_c``, ``tmrt_c``, ``air_temp_c``, ``surface_temp_c``; only these are sent)."""

    layers: Annotated[list[Layer], msgspec.Meta(max_length=8)]
    hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 15
    fields: Annotated[list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=8)] = msgspec.field(
        default_factory=lambda: ["utci_c"])


class AddIntervention(_Msg, frozen=True, tag="add"):
    """Add an intervention (its ``id`` must be new in the scenario)."""

    request_id: RequestId
    intervention: Intervention


class UpdateIntervention(_Msg, frozen=True, tag="update"):
    """Replace the intervention with the same ``id``, made on top of ``base_revision``."""

    request_id: RequestId
    intervention: Intervention
    base_revision: Revision


class RemoveIntervention(_Msg, frozen=True, tag="remove"):
    """Remove intervention ``object_id``, made on top of ``base_revision``."""

    request_id: RequestId
    object_id: ObjectId
    base_revision: Revision


class Undo(_Msg, frozen=True, tag="undo"):
    """Undo this user's last edit on the scenario."""

    request_id: RequestId


class Redo(_Msg, frozen=True, tag="redo"):
    """Redo this user's last undone edit."""

    request_id: RequestId


class View(_Msg, frozen=True, tag="view"):
    """Where this client looks (for presence): camera and target in local metres, selected object."""

    camera_local_m: XYZ
    target_local_m: XYZ
    selected: Annotated[str, msgspec.Meta(max_length=64)] = ""


class Ping(_Msg, frozen=True, tag="ping"):
    """Round-trip probe; answered by :class:`Pong` with the same ``ts_ms``."""

    ts_ms: Finite


ClientMessage = Hello | Subscribe | AddIntervention | UpdateIntervention | RemoveIntervention | Undo | Redo | View | Ping
CLIENT_MESSAGES: tuple[type, ...] = (
    Hello, Subscribe, AddIntervention, UpdateIntervention, RemoveIntervention, Undo, Redo, View, Ping,
)
# client messages that change a scenario (refused for citizens and kiosks on official scenarios)
EDIT_MESSAGES: tuple[type, ...] = (AddIntervention, UpdateIntervention, RemoveIntervention, Undo, Redo)
__all__ += ["EDIT_MESSAGES"]


# --- server -> client -----------------------------------------------------------------------------
_HOURS = msgspec.Meta(min_length=24, max_length=24)


class DesignDay(_Struct, frozen=True):
    """The day the heat model computes, so that viewers draw the sun that casts the model's shadows:
    ``date`` (ISO, local), ``timezone`` (IANA), ``utc_offset_h`` on that day, and per local hour 0..23 the
    sun at the full hour as the model places it (``sun_azimuth_deg`` clockwise from north,
    ``sun_elevation_deg`` apparent, negative below the horizon)."""

    date: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    timezone: Annotated[str, msgspec.Meta(max_length=64)]
    utc_offset_h: Annotated[float, msgspec.Meta(ge=-14.0, le=14.0)]
    sun_azimuth_deg: Annotated[list[Annotated[float, msgspec.Meta(ge=0.0, le=360.0)]], _HOURS]
    sun_elevation_deg: Annotated[list[Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]], _HOURS]


class Welcome(_Msg, frozen=True, tag="welcome"):
    """The server's first message. ``design_day`` is absent from servers that predate it."""

    protocol: int
    session_id: str
    user: UserInfo
    can_edit: bool
    scenario: ScenarioState
    grid: GridInfo
    presence: list[PresenceEntry]
    design_day: DesignDay | None = None


class EditApplied(_Msg, frozen=True, tag="applied"):
    """An edit committed to storage: the scenario is now at ``scenario_version``.

    ``intervention`` is the new state of ``object_id`` (None when removed).
    """

    scenario_id: str
    scenario_version: Version
    op: EditOp
    cause: EditCause
    object_id: str
    revision: Revision
    intervention: Intervention | None
    by: UserInfo
    session_id: str
    request_id: int
    at_utc: str


class EditRejected(_Msg, frozen=True, tag="rejected"):
    """An edit refused, nothing changed. ``current`` is the object's current state (conflicts)."""

    request_id: int
    code: str
    message_de: str
    message_en: str
    scenario_version: Version
    current: InterventionEntry | None = None


class ErrorMessage(_Msg, frozen=True, tag="error"):
    """A message that could not be handled (bad format, not allowed, rate limit), or the computation of
    ``scenario_version`` failed (code ``simulation_failed``; -1 when the error is about no version)."""

    code: str
    message_de: str
    message_en: str
    request_id: int = -1
    scenario_version: int = -1


class PresenceEntry(_Struct, frozen=True):
    session_id: str
    user: UserInfo
    camera_local_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    target_local_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    selected: str = ""


class Presence(_Msg, frozen=True, tag="presence"):
    """Everyone on the scenario now (latest-wins)."""

    users: list[PresenceEntry]


class Progress(_Msg, frozen=True, tag="progress"):
    """How far the computation for ``scenario_version`` is (``fraction`` 0..1)."""

    scenario_version: Version
    engine: Engine
    stage: str
    fraction: float


class FieldFrame(_Msg, frozen=True, tag="field"):
    """A raster result (e.g. ``utci_c``) for ``hour``: the whole grid, or the ``window`` that changed.

    ``values`` has shape (window.rows, window.cols); when ``full`` the window is the whole grid. A
    partial frame applies on top of the frame of ``base_version``; clients that lack it re-subscribe.
    A sparse partial frame carries ``cells``: (n,) uint32 row-major indices inside ``window`` of the
    cells that changed, and ``values`` (n,) holds their new values; every other cell keeps its value.

    ``coarse`` = f > 1: the values lie on a coarser raster than ``grid`` (the air temperature model's own
    grid): ``ceil(grid.rows / f)`` x ``ceil(grid.cols / f)`` cells of ``f * grid.cell_m``, its north-west
    corner at the grid's (so it may reach past the grid's south and east edges); ``window`` and ``cells``
    count cells of that raster, and partial frames apply on top of the base's coarse raster. The field
    on ``grid`` is its bilinear interpolation between coarse cell centres (:func:`upsample_field`): grid
    cell (r, c) lies at coarse position ``y = (r + 0.5) / f - 0.5``, ``x = (c + 0.5) / f - 0.5``; with
    ``i = clamp(floor(y), 0, R - 1)``, ``i1 = min(i + 1, R - 1)``, ``wy = clamp(y - i, 0, 1)`` (the same
    for columns) the value is the lerp along the columns of the lerps along the rows of the four coarse
    cells, so that positions beyond the outer cell centres take the edge value (clamped). A texture
    with linear filtering and clamp-to-edge whose texel centres sit at the coarse cell centres samples the
    same field.
    """

    scenario_version: Version
    base_version: int
    layer: str
    unit: str
    hour: int
    full: bool
    grid: GridInfo
    window: Window
    values: NDArray
    cells: NDArray | None = None
    coarse: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 1


class EdgeFrame(_Msg, frozen=True, tag="edges"):
    """Per road edge (L,) results in the order of ``District.roads``.

    ``base_version`` >= 0: the results of that version hold unchanged for ``scenario_version`` (an
    edit that cannot change traffic, e.g. a tree) and the arrays are empty. The server sends such a
    frame only to a client it sent ``base_version``; others get the complete frame."""

    scenario_version: Version
    flow_veh_h: NDArray
    vc_ratio: NDArray
    speed_kmh: NDArray
    base_version: int = -1


class AgentFrame(_Msg, frozen=True, tag="agents"):
    """Positions (N, 2) float32 in local metres of vehicles or people at ``t_s`` seconds after midnight;
    optionally their heading (N,) float32 in radians counter-clockwise from east and mode codes (N,).

    ``aggregated`` (> 0, metres): the positions are not individuals but the people counted on square
    cells of that size, one point per 5 persons spread on a fixed pattern inside its cell (cells with
    1-4 persons are left out); public clients get only these.

    ``base_version`` >= 0: the frame of that version holds unchanged for ``scenario_version`` and
    ``xy_local_m`` is empty (sent, as for :class:`EdgeFrame`, only to a client that holds it)."""

    scenario_version: Version
    kind: Literal["vehicles", "people"]
    t_s: float
    xy_local_m: NDArray
    heading_rad: NDArray | None = None
    mode: NDArray | None = None
    aggregated: float = 0.0
    base_version: int = -1


class DeficitArea(_Struct, frozen=True):
    """A square area where people of ``group`` have poor access (counts below 5 are suppressed by the
    server: such groups and counts never appear). ``xy_local_m`` is the area's centre, ``time_min``
    the residents' mean public transport time to a doctor there, ``deficit_persons`` per service
    category the persons beyond the category's time threshold."""

    group: str
    xy_local_m: tuple[float, float]
    persons: int
    time_min: float
    area_id: str = ""
    bbox_local_m: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    deficit_persons: dict[str, int] = {}


class AccessFrame(_Msg, frozen=True, tag="access"):
    """Access results per building (N,) and stop (S,): ``building_time_min`` minutes to the nearest
    doctor by walk and public transport (inf: unreachable); ``stop_quality`` class codes 0=A .. 5=F;
    with ``categories`` (C,), ``building_time_by_category_min`` (C, N); ``building_class`` (N,) the
    ÖV-Güteklasse code of each building (0=A .. 5=F, 6 none); and deficit areas.

    A partial frame (``buildings`` given) applies on top of the frame of ``base_version``: ``buildings``
    (n,) uint32 are the indices of the buildings whose values changed, and the per-building arrays hold
    only theirs ((n,), (C, n)); stops, categories and deficit areas are always complete. Clients that
    lack the base version re-subscribe (:func:`apply_access_frame`)."""

    scenario_version: Version
    building_time_min: NDArray
    stop_quality: NDArray
    deficits: list[DeficitArea]
    categories: list[str] = []
    building_time_by_category_min: NDArray | None = None
    building_class: NDArray | None = None
    base_version: int = -1
    buildings: NDArray | None = None


class KpiFrame(_Msg, frozen=True, tag="kpis"):
    """Key figures of one engine for ``scenario_version`` (names carry units, e.g. ``mean_utci_c``).
    Person counts are published figures (``models.privacy``): None where 1-4 persons are suppressed."""

    scenario_version: Version
    engine: Engine
    values: dict[str, float | None]


class CommentInfo(_Struct, frozen=True):
    """A comment or idea pinned to a 3D point (local metres) and the scenario version it refers to."""

    comment_id: int
    scenario_id: str
    scenario_version: int
    xyz_local_m: tuple[float, float, float]
    kind: Literal["comment", "idea"]
    text: str
    author_name: str
    votes: int
    hidden: bool
    answer: str
    created_utc: str


class CommentEvent(_Msg, frozen=True, tag="comment"):
    comment: CommentInfo


class ScenarioEvent(_Msg, frozen=True, tag="scenario"):
    """The scenario's name or status changed (rename, archive)."""

    scenario_id: str
    name: str
    status: Literal["active", "archived"]
    version: int


class Reset(_Msg, frozen=True, tag="reset"):
    """The scenario was reset (a kiosk sandbox after inactivity): here is its state now."""

    scenario: ScenarioState


class Pong(_Msg, frozen=True, tag="pong"):
    ts_ms: float
    server_ms: float


ServerMessage = (
    Welcome | EditApplied | EditRejected | ErrorMessage | Presence | Progress | FieldFrame | EdgeFrame
    | AgentFrame | AccessFrame | KpiFrame | CommentEvent | ScenarioEvent | Reset | Pong
)
SERVER_MESSAGES: tuple[type, ...] = (
    Welcome, EditApplied, EditRejected, ErrorMessage, Presence, Progress, FieldFrame, EdgeFrame,
    AgentFrame, AccessFrame, KpiFrame, CommentEvent, ScenarioEvent, Reset, Pong,
)


# --- coding ---------------------------------------------------------------------------------------
_encoder = msgspec.msgpack.Encoder()
_client_decoder = msgspec.msgpack.Decoder(ClientMessage)
_server_decoder = msgspec.msgpack.Decoder(ServerMessage)


def encode(msg: Any) -> bytes:
    """msgpack bytes of one message."""
    return _encoder.encode(msg)


def decode_client(data: bytes) -> ClientMessage:
    """Decode one client message; raises :class:`ProtocolError` (never anything else) when invalid.

    Interventions are schema-checked here; their geometry (ring validity, vertex count) is checked by
    the server with ``geodata.interventions`` before anything is stored.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("bad_message", "Nachricht muss binär sein (msgpack)", "Message must be binary (msgpack)")
    if len(data) > MAX_CLIENT_MESSAGE_BYTES:
        raise ProtocolError(
            "too_large",
            f"Nachricht zu groß ({len(data)} > {MAX_CLIENT_MESSAGE_BYTES} Bytes)",
            f"Message too large ({len(data)} > {MAX_CLIENT_MESSAGE_BYTES} bytes)",
        )
    try:
        return _client_decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise ProtocolError("invalid", f"Ungültige Nachricht: {exc}", f"Invalid message: {exc}") from None
    except (msgspec.DecodeError, RecursionError, ValueError, OverflowError) as exc:
        raise ProtocolError("bad_message", f"Nachricht ist kein gültiges msgpack: {exc}", f"Message is not valid msgpack: {exc}") from None


def decode_server(data: bytes) -> ServerMessage:
    """Decode one server message (for viewers and tests); raises :class:`ProtocolError` when invalid."""
    try:
        msg = _server_decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise ProtocolError("invalid", f"Ungültige Nachricht: {exc}", f"Invalid message: {exc}") from None
    except (msgspec.DecodeError, RecursionError, ValueError, OverflowError) as exc:
        raise ProtocolError("bad_message", f"Nachricht ist kein gültiges msgpack: {exc}", f"Message is not valid msgpack: {exc}") from None
    for nd in _arrays_of(msg):
        decode_array(nd, dequantise=False)  # checks byte length against dtype and shape
    if isinstance(msg, FieldFrame) and msg.cells is not None:
        _check_sparse(msg)
    if isinstance(msg, AccessFrame) and msg.buildings is not None:
        _check_access_partial(msg)
    return msg


def _check_sparse(fr: FieldFrame) -> None:
    cells = decode_array(fr.cells, dequantise=False) if fr.cells is not None else None
    n_win = fr.window.rows * fr.window.cols
    if (cells is None or fr.full or cells.ndim != 1 or cells.dtype.kind != "u" or list(fr.values.shape) != [len(cells)]
            or (len(cells) and int(cells.max()) >= n_win)):
        raise ProtocolError("bad_array", "Geänderte Zellen passen nicht zu Fenster und Werten",
                            "Changed cells do not match the window and the values")


def raster_shape(fr: FieldFrame) -> tuple[int, int]:
    """(rows, cols) of the raster ``fr``'s values lie on: ``fr.grid``'s, or the coarse raster's."""
    f = max(1, int(fr.coarse))
    return -(-fr.grid.rows // f), -(-fr.grid.cols // f)


def upsample_field(values: np.ndarray, grid: GridInfo, coarse: int) -> np.ndarray:
    """The (grid.rows, grid.cols) float32 field of a coarse raster (see :class:`FieldFrame`): bilinear
    between coarse cell centres, clamped at the edges; ``values`` itself when ``coarse`` is 1."""
    v = np.asarray(values, np.float32)
    f = int(coarse)
    if f <= 1:
        return v
    rc, cc = v.shape

    def axis(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(n) + 0.5) / f - 0.5
        i0 = np.clip(np.floor(pos).astype(np.int64), 0, m - 1)
        return i0, np.minimum(i0 + 1, m - 1), np.clip(pos - i0, 0.0, 1.0).astype(np.float32)

    r0, r1, wr = axis(grid.rows, rc)
    c0, c1, wc = axis(grid.cols, cc)
    rows_i = v[r0] * (1 - wr[:, None]) + v[r1] * wr[:, None]
    return np.asarray(rows_i[:, c0] * (1 - wc) + rows_i[:, c1] * wc, np.float32)


def field_on_grid(values: np.ndarray, fr: FieldFrame) -> np.ndarray:
    """The field on ``fr.grid`` of a raster (of ``fr``'s resolution, e.g. from :func:`apply_field_frame`)."""
    return upsample_field(values, fr.grid, fr.coarse)


def apply_field_frame(base: np.ndarray | None, fr: FieldFrame) -> np.ndarray:
    """The float32 raster (:func:`raster_shape`: the grid's, or the coarse raster's) after ``fr``: a full
    frame's values, or ``base`` (the raster of ``fr.base_version``, left unchanged) with the frame's
    window or sparse cells written over a copy. :func:`field_on_grid` turns it into the field on the grid."""
    vals = decode_array(fr.values)
    shape = raster_shape(fr)
    if fr.full:
        if vals.size != shape[0] * shape[1]:
            raise ProtocolError("bad_array", "Feld passt nicht zu seinem Raster", "Field does not match its raster")
        return np.asarray(vals, np.float32).reshape(shape).copy()
    if base is None:
        raise ValueError("a partial frame needs the field of its base version")
    w = fr.window
    if (np.shape(base) != shape or w.row0 < 0 or w.col0 < 0 or w.row0 + w.rows > shape[0]
            or w.col0 + w.cols > shape[1]):
        raise ProtocolError("bad_array", "Teilbild passt nicht zum Basisbild", "Partial frame does not match its base")
    out = np.array(base, dtype=np.float32, copy=True)
    if fr.cells is not None:
        _check_sparse(fr)
        idx = decode_array(fr.cells, dequantise=False).astype(np.int64)
        out[w.row0 + idx // w.cols, w.col0 + idx % w.cols] = vals
    else:
        out[w.row0:w.row0 + w.rows, w.col0:w.col0 + w.cols] = vals.reshape(w.rows, w.cols)
    return out


def _check_access_partial(fr: AccessFrame) -> int:
    """The number of buildings a partial access frame changes; ProtocolError when its arrays disagree."""
    idx = decode_array(fr.buildings, dequantise=False) if fr.buildings is not None else None
    n = -1 if idx is None or idx.ndim != 1 or idx.dtype.kind != "u" else len(idx)
    ok = (n >= 0 and list(fr.building_time_min.shape) == [n]
          and (fr.building_class is None or list(fr.building_class.shape) == [n])
          and (fr.building_time_by_category_min is None
               or list(fr.building_time_by_category_min.shape) == [len(fr.categories), n]))
    if not ok:
        raise ProtocolError("bad_array", "Geänderte Gebäude passen nicht zu den Werten",
                            "Changed buildings do not match the values")
    return n


def apply_access_frame(base: AccessFrame | None, fr: AccessFrame) -> AccessFrame | None:
    """The complete access frame after ``fr``: ``fr`` itself when complete, else ``base`` (the complete
    frame of ``fr.base_version``) with the changed buildings' values written over copies; None when
    ``base`` is not that version or does not fit (the client re-subscribes for a complete frame)."""
    if fr.buildings is None:
        return fr
    n = _check_access_partial(fr)
    if (base is None or base.buildings is not None or base.scenario_version != fr.base_version
            or base.categories != fr.categories):
        return None
    idx = decode_array(fr.buildings, dequantise=False).astype(np.int64)
    total = int(base.building_time_min.shape[0]) if base.building_time_min.shape else 0
    if (n and int(idx.max()) >= total) or any(
            (getattr(base, k) is None) != (getattr(fr, k) is None)
            for k in ("building_time_by_category_min", "building_class")):
        return None

    def merged(old: NDArray | None, new: NDArray | None, axis_cols: bool) -> NDArray | None:
        if old is None or new is None:
            return None
        if (old.dtype, old.scale, old.offset, old.nodata) != (new.dtype, new.scale, new.offset, new.nodata):
            raise ProtocolError("bad_array", "Teilbild passt nicht zum Basisbild", "Partial frame does not match its base")
        a = decode_array(old, dequantise=False).copy()
        v = decode_array(new, dequantise=False)
        if axis_cols:
            if a.ndim != 2 or a.shape[0] != v.shape[0]:
                raise ProtocolError("bad_array", "Teilbild passt nicht zum Basisbild", "Partial frame does not match its base")
            a[:, idx] = v
        else:
            a[idx] = v
        return NDArray(old.dtype, list(a.shape), a.tobytes(), old.scale, old.offset, old.nodata)

    bt = merged(base.building_time_min, fr.building_time_min, False)
    assert bt is not None
    return AccessFrame(fr.scenario_version, bt, fr.stop_quality, fr.deficits, fr.categories,
                       merged(base.building_time_by_category_min, fr.building_time_by_category_min, True),
                       merged(base.building_class, fr.building_class, False))


def _arrays_of(msg: Any) -> list[NDArray]:
    if isinstance(msg, FieldFrame):
        return [msg.values] + ([msg.cells] if msg.cells is not None else [])
    if isinstance(msg, EdgeFrame):
        return [msg.flow_veh_h, msg.vc_ratio, msg.speed_kmh]
    if isinstance(msg, AgentFrame):
        return [a for a in (msg.xy_local_m, msg.heading_rad, msg.mode) if a is not None]
    if isinstance(msg, AccessFrame):
        return [a for a in (msg.building_time_min, msg.stop_quality, msg.building_time_by_category_min,
                            msg.building_class, msg.buildings) if a is not None]
    return []


def frame_key(msg: Any) -> str | None:
    """The latest-wins key of an outgoing message: a newer message with the same key replaces an unsent
    older one. None for messages that must all be delivered in order (edits, errors, comments)."""
    if isinstance(msg, FieldFrame):
        return f"field:{msg.layer}"
    if isinstance(msg, EdgeFrame):
        return "edges"
    if isinstance(msg, AgentFrame):
        return f"agents:{msg.kind}"
    if isinstance(msg, AccessFrame):
        return "access"
    if isinstance(msg, KpiFrame):
        return f"kpis:{msg.engine}"
    if isinstance(msg, Progress):
        return f"progress:{msg.engine}"
    if isinstance(msg, Presence):
        return "presence"
    return None
