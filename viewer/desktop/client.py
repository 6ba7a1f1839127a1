"""The desktop viewer's connection to a landtwin server: the websocket protocol of ``protocol``
in a background thread, with results decoded into plain numpy arrays.

A :class:`TwinClient` says Hello, waits for Welcome, subscribes to layers and an hour, then keeps the
newest field of each (layer, hour) — partial frames are applied on top of the frame they were made
for — and the newest key figures. Edits go out with :meth:`TwinClient.add` and are acknowledged by the
server's ``EditApplied`` (or refused by ``EditRejected``). Nothing is simulated here.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec
import numpy as np
from websockets.sync.client import connect

import protocol as p

__all__ = ["FieldState", "TwinClient", "ClientError", "apply_message", "apply_field", "http_json", "http_bytes",
           "official_scenario"]


class ClientError(RuntimeError):
    """The server could not be reached, refused the session or an edit, or did not answer in time."""


@dataclass
class FieldState:
    """The newest raster of one field and hour: ``values_c`` (rows, cols) float32 (NaN missing) on the
    grid, row 0 north, computed for ``version`` of the scenario. A field that travels on a coarse raster
    (``coarse`` district cells per raster cell, the air) keeps that ``raster`` too: partial frames apply
    on it, and ``values_c`` is its bilinear interpolation (:func:`protocol.upsample_field`)."""

    layer: str
    hour: int
    unit: str
    version: int
    grid: p.GridInfo
    values_c: np.ndarray
    coarse: int = 1
    raster: np.ndarray | None = None


def apply_message(state: Any, msg: Any) -> bool:
    """Apply one server message to a client's state (the attributes of :class:`TwinClient`); a plain
    function, so that the dispatch is tested without a socket. False when a partial field or access frame
    lacks the frame it was made for (the caller re-subscribes to get a full one)."""
    tag = type(msg).__struct_config__.tag
    state.counts[tag] = state.counts.get(tag, 0) + 1
    if isinstance(msg, p.Welcome):
        state.welcome = msg
        state.version = msg.scenario.version
        state.interventions = {e.intervention.id: (e.intervention, e.revision) for e in msg.scenario.interventions}
    elif isinstance(msg, p.FieldFrame):
        if not msg.full:
            state.counts["field_partial"] = state.counts.get("field_partial", 0) + 1
        return apply_field(state.fields, msg)
    elif isinstance(msg, p.EdgeFrame):
        if msg.scenario_version >= state.edges_version:
            if msg.base_version >= 0:  # the results of the base version hold for this one
                if not state.edges or state.edges_version != msg.base_version:
                    return False
            else:
                state.edges = {"flow_veh_h": np.asarray(p.decode_array(msg.flow_veh_h), np.float32),
                               "vc_ratio": np.asarray(p.decode_array(msg.vc_ratio), np.float32),
                               "speed_kmh": np.asarray(p.decode_array(msg.speed_kmh), np.float32)}
            state.edges_version = msg.scenario_version
    elif isinstance(msg, p.AgentFrame):
        old = state.agents.get(msg.kind)
        if old is None or msg.scenario_version >= old[0]:
            if msg.base_version >= 0:  # the frame of the base version holds for this one
                if old is None or old[0] != msg.base_version:
                    return False
                state.agents[msg.kind] = (msg.scenario_version, old[1], old[2])
            else:
                xy = np.asarray(p.decode_array(msg.xy_local_m), np.float32).reshape(-1, 2)
                state.agents[msg.kind] = (msg.scenario_version, float(msg.t_s), xy)
    elif isinstance(msg, p.AccessFrame):
        if state.access is None or msg.scenario_version >= state.access.scenario_version:
            merged = p.apply_access_frame(state.access, msg)  # a partial frame: the changed buildings only
            if merged is None:
                return False
            state.access = merged
    elif isinstance(msg, p.KpiFrame):
        state.kpis[msg.engine] = dict(msg.values)
    elif isinstance(msg, p.EditApplied):
        state.version = max(state.version, msg.scenario_version)
        if msg.intervention is None:
            state.interventions.pop(msg.object_id, None)
        else:
            state.interventions[msg.object_id] = (msg.intervention, msg.revision)
        if state.welcome is not None and msg.session_id == state.welcome.session_id:
            state.applied[msg.request_id] = msg
    elif isinstance(msg, p.EditRejected):
        state.rejected[msg.request_id] = msg
    elif isinstance(msg, p.ErrorMessage):
        state.errors.append(msg)
    elif isinstance(msg, p.CommentEvent):
        state.comments[msg.comment.comment_id] = msg.comment
    elif isinstance(msg, p.Progress):
        state.progress[msg.engine] = msg
    elif isinstance(msg, p.Reset):
        state.version = msg.scenario.version
        state.interventions = {e.intervention.id: (e.intervention, e.revision) for e in msg.scenario.interventions}
    return True


def apply_field(fields: dict[tuple[str, int], FieldState], msg: p.FieldFrame) -> bool:
    """Store a field frame in ``fields`` (by (layer, hour)); a partial frame is written over a copy of
    the frame of its ``base_version`` (on its coarse raster for a coarse field). False when that base is
    missing (nothing is stored)."""
    key = (msg.layer, msg.hour)
    old = fields.get(key)
    if msg.full:
        raster = p.apply_field_frame(None, msg)
    elif old is not None and old.version == msg.base_version and old.coarse == msg.coarse:
        # its window or its changed cells over a copy
        raster = p.apply_field_frame(old.raster if old.raster is not None else old.values_c, msg)
    else:
        return False
    if old is None or msg.scenario_version >= old.version:
        coarse = msg.coarse > 1
        fields[key] = FieldState(msg.layer, msg.hour, msg.unit, msg.scenario_version, msg.grid,
                                 p.field_on_grid(raster, msg), msg.coarse, raster if coarse else None)
    return True


def http_bytes(url: str, *, timeout_s: float = 30.0, token: str = "") -> bytes:
    """GET ``url`` (with the bearer ``token`` when given); raises ClientError with the address on failure."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as res:
            return bytes(res.read())
    except OSError as exc:
        raise ClientError(f"Server nicht erreichbar: {url} ({exc}) / server not reachable") from None


def http_json(url: str, *, timeout_s: float = 30.0, token: str = "") -> Any:
    """GET ``url`` as JSON."""
    try:
        return json.loads(http_bytes(url, timeout_s=timeout_s, token=token))
    except ValueError:
        raise ClientError(f"Antwort ist kein JSON: {url} / answer is not JSON") from None


def official_scenario(base_url: str, district: str) -> str:
    """Id of the official scenario of ``district`` on the server at ``base_url``."""
    rows = http_json(f"{base_url.rstrip('/')}/api/scenarios?district={district}")
    for s in rows:
        if s.get("kind") == "official" and s.get("status") == "active":
            return str(s["scenario_id"])
    raise ClientError(f"Kein offizielles Szenario für {district!r} / no official scenario for the district")


class TwinClient:
    """One protocol session on ``/ws/scenarios/{scenario_id}`` of the server at ``base_url``.

    Use :meth:`start` (blocks until Welcome), then :meth:`subscribe`, :meth:`add`, :meth:`wait_field`;
    :meth:`close` at the end. All state is guarded by one condition; the receive loop runs in a thread.
    """

    def __init__(self, base_url: str, scenario_id: str, *, token: str = "", role: str = "citizen",
                 name: str = "Desktop") -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ClientError(f"Ungültige Serveradresse {base_url!r} / invalid server address")
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.ws_url = f"{scheme}://{parts.netloc}/ws/scenarios/{scenario_id}"
        self.scenario_id = scenario_id
        self.token = token
        self.base_url = base_url.rstrip("/")
        self._hello = p.Hello(protocol=p.PROTOCOL_VERSION, role=role, token=token, name=name)  # type: ignore[arg-type]
        self._cond = threading.Condition()
        self._ws: Any = None
        self._cm: Any = None
        self._thread: threading.Thread | None = None
        self._rid = 0
        self.welcome: p.Welcome | None = None
        self.version = 0
        self.fields: dict[tuple[str, int], FieldState] = {}
        self.kpis: dict[str, dict[str, float]] = {}
        self.applied: dict[int, p.EditApplied] = {}
        self.rejected: dict[int, p.EditRejected] = {}
        self.errors: list[p.ErrorMessage] = []
        self.edges: dict[str, np.ndarray] = {}  # flow_veh_h, vc_ratio, speed_kmh per road edge (L,)
        self.edges_version = -1
        self.agents: dict[str, tuple[int, float, np.ndarray]] = {}  # kind -> (version, t_s, (N, 2) xy)
        self.access: p.AccessFrame | None = None
        self.comments: dict[int, p.CommentInfo] = {}
        self.progress: dict[str, p.Progress] = {}
        self.interventions: dict[str, Any] = {}  # object id -> (intervention, revision) as the server holds them
        self.counts: dict[str, int] = {}  # message tag -> messages received
        self.closed_reason = ""
        self._subscription: p.Subscribe | None = None
        self.on_message: Callable[[Any], None] | None = None

    # --- session -----------------------------------------------------------------------------------
    def start(self, timeout_s: float = 20.0) -> p.Welcome:
        """Open the socket, say Hello and wait for Welcome (raises ClientError when refused)."""
        try:
            # a busy server (a long computation on a loaded machine) may answer pings late: allow 2 minutes
            self._cm = connect(self.ws_url, max_size=1 << 26, open_timeout=timeout_s, ping_interval=30,
                               ping_timeout=120)
            self._ws = self._cm.__enter__()  # the connection as a context, closed in close()
        except (OSError, TimeoutError) as exc:
            raise ClientError(f"Verbindung zu {self.ws_url} fehlgeschlagen ({exc}) / connection failed") from None
        self._ws.send(p.encode(self._hello))
        self._thread = threading.Thread(target=self._receive_loop, name="twin-client", daemon=True)
        self._thread.start()
        self.wait_for(lambda: self.welcome is not None, timeout_s, "Welcome")
        assert self.welcome is not None
        return self.welcome

    def load_comments(self) -> int:
        """Fetch the comments made before this session (``GET /api/scenarios/{id}/comments``); those the
        socket delivered meanwhile are newer and stay. Returns how many were added."""
        rows = http_json(f"{self.base_url}/api/scenarios/{self.scenario_id}/comments", token=self.token)
        if not isinstance(rows, list):
            raise ClientError("Kommentarliste ist keine Liste / comment list is not a list")
        try:
            got = [msgspec.convert(r, p.CommentInfo) for r in rows]
        except msgspec.ValidationError as exc:
            raise ClientError(f"Kommentar ungültig ({exc}) / invalid comment") from None
        with self._cond:
            new = [c for c in got if c.comment_id not in self.comments]
            for c in new:
                self.comments[c.comment_id] = c
            self.counts["comment_loaded"] = self.counts.get("comment_loaded", 0) + len(new)
            self._cond.notify_all()
        return len(new)

    def close(self) -> None:
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _receive_loop(self) -> None:
        try:
            for data in self._ws:
                if isinstance(data, str):
                    continue
                try:
                    msg = p.decode_server(data)
                except p.ProtocolError as exc:
                    with self._cond:
                        self.errors.append(p.ErrorMessage("bad_server_message", exc.de, exc.en))
                    continue
                self._handle(msg)
        except Exception as exc:  # connection closed or broken: say why, wake every waiter
            reason = str(exc)
        else:
            reason = "closed"
        with self._cond:
            code = getattr(self._ws, "close_code", None)
            self.closed_reason = f"{reason} (code {code})" if code else reason
            self._cond.notify_all()

    def _handle(self, msg: Any) -> None:
        with self._cond:
            resubscribe = not apply_message(self, msg)
            self._cond.notify_all()
        if resubscribe and self._subscription is not None:
            self._send(self._subscription)
        if self.on_message is not None:
            self.on_message(msg)

    def _send(self, msg: Any) -> None:
        if self._ws is None:
            raise ClientError("Nicht verbunden / not connected")
        try:
            self._ws.send(p.encode(msg))
        except Exception as exc:
            raise ClientError(f"Senden fehlgeschlagen ({exc}) / sending failed") from None

    # --- requests ----------------------------------------------------------------------------------
    def subscribe(self, layers: tuple[str, ...] = ("heat",), hour: int = 15,
                  fields: tuple[str, ...] = ("utci_c",)) -> None:
        """Choose the result layers, the hour (0..23) and the heat fields to receive."""
        if not 0 <= int(hour) <= 23:
            raise ClientError(f"Stunde {hour} außerhalb 0..23 / hour out of range")
        self._subscription = p.Subscribe(layers=list(layers), hour=int(hour), fields=list(fields))  # type: ignore[arg-type]
        self._send(self._subscription)

    def add(self, intervention: Any) -> int:
        """Send an intervention (a ``geodata.interventions`` Struct); returns its request id."""
        with self._cond:
            self._rid += 1
            rid = self._rid
        self._send(p.AddIntervention(request_id=rid, intervention=intervention))
        return rid

    def undo(self) -> int:
        """Undo this user's last edit; returns the request id."""
        return self._request(p.Undo)

    def redo(self) -> int:
        """Redo this user's last undone edit; returns the request id."""
        return self._request(p.Redo)

    def remove(self, object_id: str) -> int:
        """Remove an intervention of the scenario (at the revision this client knows)."""
        with self._cond:
            entry = self.interventions.get(object_id)
        if entry is None:
            raise ClientError(f"Maßnahme {object_id!r} unbekannt / unknown intervention")
        with self._cond:
            self._rid += 1
            rid = self._rid
        self._send(p.RemoveIntervention(request_id=rid, object_id=object_id, base_revision=entry[1]))
        return rid

    def _request(self, kind: Any) -> int:
        with self._cond:
            self._rid += 1
            rid = self._rid
        self._send(kind(request_id=rid))
        return rid

    def wait_applied(self, request_id: int, timeout_s: float = 20.0) -> p.EditApplied:
        """The server's acknowledgement of an edit; ClientError with its reason when refused."""
        self.wait_for(lambda: request_id in self.applied or request_id in self.rejected, timeout_s, "EditApplied")
        if request_id in self.rejected:
            r = self.rejected[request_id]
            raise ClientError(f"{r.message_de} / {r.message_en}")
        return self.applied[request_id]

    def wait_version(self, version: int, timeout_s: float = 60.0, *, what: tuple[str, ...] = ("field",)) -> None:
        """Wait until the results named in ``what`` (``field``, ``edges``, ``access``) of at least
        ``version`` have arrived (fields: every (layer, hour) subscribed)."""
        def ready() -> bool:
            sub = self._subscription
            ok = True
            if "field" in what and sub is not None:
                ok &= all((f := self.fields.get((name, sub.hour))) is not None and f.version >= version
                          for name in sub.fields)
            if "edges" in what:
                ok &= self.edges_version >= version
            if "access" in what:
                ok &= self.access is not None and self.access.scenario_version >= version
            return ok
        self.wait_for(ready, timeout_s, f"v{version} {'/'.join(what)}")

    def field(self, layer: str = "utci_c", hour: int = 15) -> FieldState | None:
        with self._cond:
            return self.fields.get((layer, hour))

    def fields_by_hour(self, layer: str = "utci_c") -> dict[int, np.ndarray]:
        """The newest raster of ``layer`` for every hour received."""
        with self._cond:
            return {h: f.values_c for (name, h), f in self.fields.items() if name == layer}

    def wait_field(self, layer: str = "utci_c", hour: int = 15, *, min_version: int = 0,
                   timeout_s: float = 60.0) -> FieldState:
        """Wait until a field of at least ``min_version`` has arrived, and return it."""
        def ready() -> bool:
            f = self.fields.get((layer, hour))
            return f is not None and f.version >= min_version
        self.wait_for(ready, timeout_s, f"{layer} v{min_version}")
        return self.fields[(layer, hour)]

    def wait_for(self, pred: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not pred():
                if self.closed_reason:
                    raise ClientError(f"Verbindung beendet vor {what}: {self.closed_reason} / connection closed")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ClientError(f"Keine Antwort ({what}) in {timeout_s:.0f} s / no answer in time")
                self._cond.wait(left)
