"""The websocket hub: who is on which scenario, and latest-wins outgoing queues per connection.

Every connection has an :class:`Outbox`. Messages without a key (edits, rejections, comments) are
delivered in order, all of them, ahead of result frames; messages with a key (:func:`protocol.frame_key`: fields,
edges, agents, KPIs, progress, presence) replace an unsent older message of the same key, so a slow
client gets the newest frame, never a backlog. A published message is encoded once and shared by all
connections. A field published twice for the same version and hour (ahead of its engine's output, then
with it) goes to each connection once. All methods run on the event loop; :meth:`Hub.publish_threadsafe`
is for other threads.

Public connections (citizens, kiosks) never receive individual synthetic persons: the people of an
:class:`protocol.AgentFrame` reach them aggregated on cells (:func:`aggregate_people`, counts published
through :mod:`models.privacy`), computed once per frame.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import protocol as p
from models.privacy import ROUND_TO, publish_counts
from server.roles import User

__all__ = ["Hub", "Outbox", "Outgoing", "Connection", "OutboxOverflow", "aggregate_people", "FLOW_CELL_M"]

FLOW_CELL_M = 50.0  # cell size of the people flows public clients see


def aggregate_people(frame: p.AgentFrame, cell_m: float = FLOW_CELL_M) -> p.AgentFrame:
    """The people of ``frame`` counted on ``cell_m`` squares: each cell's published count (1-4
    suppressed, else rounded to 5) as one point per 5 persons on a fixed pattern inside the cell."""
    xy = p.decode_array(frame.xy_local_m).reshape(-1, 2).astype(np.float64)
    xy = xy[np.isfinite(xy).all(axis=1)]
    pts = np.zeros((0, 2), np.float32)
    if len(xy):
        ij = np.floor(xy / cell_m).astype(np.int64)
        cells, counts = np.unique(ij, axis=0, return_counts=True)
        published = publish_counts(counts)
        out = []
        for (i, j), n in zip(cells, published):
            if not np.isfinite(n) or n <= 0:
                continue
            k = int(n) // ROUND_TO
            side = int(np.ceil(np.sqrt(k)))
            a = (np.arange(k) % side + 0.5) / side
            b = (np.arange(k) // side + 0.5) / side
            out.append(np.stack([(i + a) * cell_m, (j + b) * cell_m], axis=1))
        if out:
            pts = np.concatenate(out).astype(np.float32)
    return p.AgentFrame(frame.scenario_version, frame.kind, frame.t_s, p.encode_array(pts), aggregated=float(cell_m))


def _is_people(msg: Any) -> bool:
    return isinstance(msg, p.AgentFrame) and msg.kind == "people" and not msg.aggregated


class OutboxOverflow(Exception):
    """The client is too slow even for the messages that cannot be dropped."""


class Outgoing:
    """A message with its msgpack bytes, encoded at most once."""

    __slots__ = ("msg", "_data")

    def __init__(self, msg: Any) -> None:
        self.msg = msg
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = p.encode(self.msg)
        return self._data


class Outbox:
    """Two queues: messages without a key (edits, rejections, comments) are all delivered, in order, and
    before any keyed frame; keyed frames are latest-wins. ``limit`` bounds the unkeyed backlog."""

    def __init__(self, limit: int = 5000) -> None:
        self._urgent: collections.deque[Any] = collections.deque()
        self._order: collections.deque[str] = collections.deque()
        self._keyed: dict[str, Any] = {}
        self._event = asyncio.Event()
        self.limit = limit
        self.replaced = 0

    def push(self, key: str | None, item: Any) -> None:
        if key is None:
            if len(self._urgent) >= self.limit:
                raise OutboxOverflow()
            self._urgent.append(item)
        elif key in self._keyed:
            self._keyed[key] = item  # the newer frame takes the older one's place in the queue
            self.replaced += 1
            return
        else:
            self._keyed[key] = item
            self._order.append(key)
        self._event.set()

    def holds(self, key: str) -> bool:
        """Is a frame of ``key`` queued (not sent yet)?"""
        return key in self._keyed

    def close(self) -> None:
        """Queue the end marker (None), past the limit."""
        self._urgent.append(None)
        self._event.set()

    async def pop(self) -> Any:
        while not self._urgent and not self._order:
            self._event.clear()
            await self._event.wait()
        if self._urgent:
            return self._urgent.popleft()
        return self._keyed.pop(self._order.popleft())

    def __len__(self) -> int:
        return len(self._urgent) + len(self._order)


@dataclass(eq=False)
class Connection:
    """One websocket session on one scenario."""

    session_id: str
    user: User
    scenario_id: str
    outbox: Outbox = field(default_factory=Outbox)
    layers: frozenset[str] = frozenset()
    hour: int = 15
    fields: frozenset[str] = frozenset({"utci_c"})
    camera_local_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    target_local_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    selected: str = ""
    sent_versions: dict[str, int] = field(default_factory=dict)  # frame key -> version last sent
    fields_queued: dict[str, tuple[int, int]] = field(default_factory=dict)  # field key -> (version, hour) queued
    closed: bool = False

    def wants(self, msg: Any) -> bool:
        if isinstance(msg, p.FieldFrame):
            return "heat" in self.layers and msg.hour == self.hour and msg.layer in self.fields
        if isinstance(msg, p.EdgeFrame):
            return "traffic" in self.layers
        if isinstance(msg, p.AgentFrame):
            return ("traffic" if msg.kind == "vehicles" else "agents") in self.layers or "agents" in self.layers
        if isinstance(msg, p.AccessFrame):
            return "access" in self.layers
        return True

    def presence_entry(self) -> p.PresenceEntry:
        u = self.user
        return p.PresenceEntry(self.session_id, p.UserInfo(role=u.role, department=u.department, name=u.name,  # type: ignore[arg-type]
                                                           user_id=u.user_id),
                               self.camera_local_m, self.target_local_m, self.selected)


class Hub:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, Connection]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.last_activity: dict[str, float] = {}
        self.overflows = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def join(self, conn: Connection) -> None:
        self.rooms.setdefault(conn.scenario_id, {})[conn.session_id] = conn
        self.touch(conn.scenario_id)
        self.publish_presence(conn.scenario_id)

    def leave(self, conn: Connection) -> None:
        conn.closed = True
        room = self.rooms.get(conn.scenario_id, {})
        room.pop(conn.session_id, None)
        if not room:
            self.rooms.pop(conn.scenario_id, None)
        else:
            self.publish_presence(conn.scenario_id)

    def touch(self, scenario_id: str) -> None:
        self.last_activity[scenario_id] = time.monotonic()

    def presence(self, scenario_id: str) -> list[p.PresenceEntry]:
        return [c.presence_entry() for c in self.rooms.get(scenario_id, {}).values()]

    def publish_presence(self, scenario_id: str) -> None:
        self.publish(scenario_id, p.Presence(self.presence(scenario_id)))

    def count(self, scenario_id: str | None = None) -> int:
        if scenario_id is not None:
            return len(self.rooms.get(scenario_id, {}))
        return sum(len(r) for r in self.rooms.values())

    def publish(self, scenario_id: str, msg: Any) -> None:
        """Queue ``msg`` (or a (partial, full) field pair) for everyone on the scenario who wants it."""
        room = self.rooms.get(scenario_id)
        if not room:
            return
        head = msg[1] if isinstance(msg, tuple) else msg
        key = p.frame_key(head)
        item = (Outgoing(msg[0]), Outgoing(msg[1])) if isinstance(msg, tuple) else Outgoing(msg)
        public_item: Any = None
        ident = (head.scenario_version, head.hour) if isinstance(head, p.FieldFrame) else None
        for conn in list(room.values()):
            if conn.wants(head):
                if ident is not None and key is not None:
                    if conn.fields_queued.get(key) == ident and (
                            conn.outbox.holds(key) or conn.sent_versions.get(key) == ident[0]):
                        continue  # sent (or queued) ahead of its engine's output already: each field once
                    conn.fields_queued[key] = ident
                if conn.user.is_anonymous and _is_people(head):
                    public_item = public_item or Outgoing(aggregate_people(head))
                    self.send(conn, key, public_item)
                else:
                    self.send(conn, key, item)

    def send_frame(self, conn: Connection, msg: Any) -> None:
        """Queue one result frame (or field pair) for one connection, aggregated for public ones."""
        head = msg[1] if isinstance(msg, tuple) else msg
        if isinstance(head, p.FieldFrame):
            conn.fields_queued[p.frame_key(head) or ""] = (head.scenario_version, head.hour)
        if conn.user.is_anonymous and _is_people(head):
            self.send(conn, p.frame_key(head), Outgoing(aggregate_people(head)))
        else:
            self.send(conn, p.frame_key(head), (Outgoing(msg[0]), Outgoing(msg[1])) if isinstance(msg, tuple) else Outgoing(msg))

    def send(self, conn: Connection, key: str | None, item: Any) -> None:
        if conn.closed:
            return
        try:
            conn.outbox.push(key, item)
        except OutboxOverflow:
            self.overflows += 1
            conn.closed = True
            conn.outbox.close()  # wakes the sender, which closes the socket

    def publish_threadsafe(self, scenario_id: str, msg: Any) -> None:
        if self.loop is None or self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.publish, scenario_id, msg)
        except RuntimeError:  # loop shut down meanwhile
            pass


def unwrap(conn: Connection, item: Any) -> Outgoing:
    """The Outgoing to send for a queued item (resolving field pairs) and note what was sent."""
    if isinstance(item, tuple):
        partial, full = item
        key = p.frame_key(full.msg)
        out = partial if conn.sent_versions.get(key) == partial.msg.base_version else full
    else:
        out = item
        key = p.frame_key(out.msg)
    if key is not None and hasattr(out.msg, "scenario_version"):
        conn.sent_versions[key] = out.msg.scenario_version
    return out


__all__ += ["unwrap"]
