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

import numpy as np
from websockets.sync.client import connect

import protocol as p

__all__ = ["FieldState", "TwinClient", "ClientError", "http_json", "http_bytes", "official_scenario"]


class ClientError(RuntimeError):
    """The server could not be reached, refused the session or an edit, or did not answer in time."""


@dataclass
class FieldState:
    """The newest raster of one field and hour: ``values_c`` (rows, cols) float32 (NaN missing),
    row 0 north, computed for ``version`` of the scenario."""

    layer: str
    hour: int
    unit: str
    version: int
    grid: p.GridInfo
    values_c: np.ndarray


def http_bytes(url: str, *, timeout_s: float = 30.0) -> bytes:
    """GET ``url``; raises ClientError with the address on failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as res:
            return bytes(res.read())
    except OSError as exc:
        raise ClientError(f"Server nicht erreichbar: {url} ({exc}) / server not reachable") from None


def http_json(url: str, *, timeout_s: float = 30.0) -> Any:
    """GET ``url`` as JSON."""
    try:
        return json.loads(http_bytes(url, timeout_s=timeout_s))
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
        self.closed_reason = ""
        self._subscription: p.Subscribe | None = None
        self.on_message: Callable[[Any], None] | None = None

    # --- session -----------------------------------------------------------------------------------
    def start(self, timeout_s: float = 20.0) -> p.Welcome:
        """Open the socket, say Hello and wait for Welcome (raises ClientError when refused)."""
        try:
            self._cm = connect(self.ws_url, max_size=1 << 26, open_timeout=timeout_s)
            self._ws = self._cm.__enter__()  # the connection as a context, closed in close()
        except (OSError, TimeoutError) as exc:
            raise ClientError(f"Verbindung zu {self.ws_url} fehlgeschlagen ({exc}) / connection failed") from None
        self._ws.send(p.encode(self._hello))
        self._thread = threading.Thread(target=self._receive_loop, name="twin-client", daemon=True)
        self._thread.start()
        self.wait_for(lambda: self.welcome is not None, timeout_s, "Welcome")
        assert self.welcome is not None
        return self.welcome

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
        resubscribe = False
        with self._cond:
            if isinstance(msg, p.Welcome):
                self.welcome = msg
                self.version = msg.scenario.version
            elif isinstance(msg, p.FieldFrame):
                resubscribe = not self._apply_field(msg)
            elif isinstance(msg, p.KpiFrame):
                self.kpis[msg.engine] = dict(msg.values)
            elif isinstance(msg, p.EditApplied):
                self.version = max(self.version, msg.scenario_version)
                if self.welcome is not None and msg.session_id == self.welcome.session_id:
                    self.applied[msg.request_id] = msg
            elif isinstance(msg, p.EditRejected):
                self.rejected[msg.request_id] = msg
            elif isinstance(msg, p.ErrorMessage):
                self.errors.append(msg)
            self._cond.notify_all()
        if resubscribe and self._subscription is not None:
            self._send(self._subscription)
        if self.on_message is not None:
            self.on_message(msg)

    def _apply_field(self, msg: p.FieldFrame) -> bool:
        """Store a field frame; False when a partial frame lacks its base (the caller re-subscribes)."""
        vals = np.asarray(p.decode_array(msg.values), dtype=np.float32)
        key = (msg.layer, msg.hour)
        old = self.fields.get(key)
        if msg.full:
            full = vals.reshape(msg.grid.rows, msg.grid.cols).copy()
        elif old is not None and old.version == msg.base_version:
            full = old.values_c.copy()
            w = msg.window
            full[w.row0:w.row0 + w.rows, w.col0:w.col0 + w.cols] = vals
        else:
            return False
        if old is None or msg.scenario_version >= old.version:
            self.fields[key] = FieldState(msg.layer, msg.hour, msg.unit, msg.scenario_version, msg.grid, full)
        return True

    def _send(self, msg: Any) -> None:
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

    def wait_applied(self, request_id: int, timeout_s: float = 20.0) -> p.EditApplied:
        """The server's acknowledgement of an edit; ClientError with its reason when refused."""
        self.wait_for(lambda: request_id in self.applied or request_id in self.rejected, timeout_s, "EditApplied")
        if request_id in self.rejected:
            r = self.rejected[request_id]
            raise ClientError(f"{r.message_de} / {r.message_en}")
        return self.applied[request_id]

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
