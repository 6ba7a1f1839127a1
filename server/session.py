"""One websocket session at ``/ws/scenarios/{scenario_id}``: hello, welcome, then messages both ways.

The receive loop decodes each binary frame with :func:`protocol.decode_client` (size limit,
strict schema), checks the rate limit and the role (a token is checked again before every edit, so a
revoked kiosk or planner token stops working at once), and dispatches; database work runs in a worker
thread so the event loop never blocks. A separate sender task drains the connection's latest-wins
outbox. See the module docstring of :mod:`protocol` for the session sequence.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

import protocol as p
from geodata.interventions import InterventionError
from server.districts import DistrictMissing
from server.engines import design_day_info, grid_info
from server.hub import Connection, unwrap
from server.roles import Denied, RateLimiter, authenticate, may_edit
from server.scenario import EditRefused
from server.scenarios import NotFound, refused_message

if TYPE_CHECKING:
    from server.twin import Twin

__all__ = ["serve_websocket"]

_ANON_LIMIT = (10.0, 30.0)  # messages per second, burst
_TOKEN_LIMIT = (50.0, 200.0)


async def _close(ws: WebSocket, code: str, de: str, en: str) -> None:
    try:
        await ws.send_bytes(p.encode(p.ErrorMessage(code=code, message_de=de, message_en=en)))
        await ws.close(code=p.CLOSE_CODES.get(code, 1008), reason=en[:120])
    except (RuntimeError, WebSocketDisconnect, OSError):
        pass


async def _hello(ws: WebSocket) -> p.Hello | None:
    try:
        data = await asyncio.wait_for(ws.receive_bytes(), timeout=p.HELLO_TIMEOUT_S)
    except TimeoutError:
        await _close(ws, "hello_timeout", "Keine Anmeldung (hello) erhalten", "No hello received")
        return None
    except (KeyError, WebSocketDisconnect):  # a text frame or a disconnect
        await _close(ws, "bad_hello", "Erste Nachricht muss binär (msgpack) sein", "First message must be binary msgpack")
        return None
    try:
        msg = p.decode_client(data)
    except p.ProtocolError as exc:
        await _close(ws, "bad_hello", exc.de, exc.en)
        return None
    if not isinstance(msg, p.Hello):
        await _close(ws, "bad_hello", "Erste Nachricht muss 'hello' sein", "First message must be 'hello'")
        return None
    if msg.protocol != p.PROTOCOL_VERSION:
        await _close(ws, "protocol_version", f"Protokollversion {msg.protocol} wird nicht unterstützt (Server: {p.PROTOCOL_VERSION})",
                     f"Protocol version {msg.protocol} is not supported (server: {p.PROTOCOL_VERSION})")
        return None
    return msg


async def serve_websocket(twin: Twin, ws: WebSocket, scenario_id: str) -> None:
    await ws.accept()
    hello = await _hello(ws)
    if hello is None:
        return
    try:
        user = await asyncio.to_thread(authenticate, twin.storage, hello.token, requested_role=hello.role, name=hello.name)
        state = await asyncio.to_thread(twin.manager.state, scenario_id)
        district = await asyncio.to_thread(twin.districts.get, state.district)
    except Denied as exc:
        await _close(ws, exc.code, exc.de, exc.en)
        return
    except (NotFound, DistrictMissing) as exc:
        await _close(ws, "not_found", exc.de, exc.en)
        return
    conn = Connection(session_id=uuid.uuid4().hex[:12], user=user, scenario_id=scenario_id)
    row = twin.manager.model(scenario_id).row
    limit = RateLimiter(*(_ANON_LIMIT if user.is_anonymous else _TOKEN_LIMIT))
    await ws.send_bytes(p.encode(p.Welcome(
        protocol=p.PROTOCOL_VERSION, session_id=conn.session_id, user=conn.presence_entry().user,
        can_edit=may_edit(user, row), scenario=state, grid=grid_info(district), design_day=design_day_info(district),
        presence=twin.hub.presence(scenario_id) + [conn.presence_entry()],
    )))
    twin.hub.join(conn)
    sender = asyncio.create_task(_sender(ws, conn))
    try:
        while True:
            try:
                data = await ws.receive_bytes()
            except KeyError:  # a text frame
                twin.hub.send(conn, None, _err("bad_message", "Nachricht muss binär (msgpack) sein", "Message must be binary msgpack"))
                continue
            if conn.closed:
                break
            if not limit.allow(conn.session_id):
                twin.hub.send(conn, None, _err("rate_limited", "Zu viele Nachrichten, bitte langsamer", "Too many messages, please slow down"))
                continue
            try:
                msg = p.decode_client(data)
            except p.ProtocolError as exc:
                twin.hub.send(conn, None, _err(exc.code, exc.de, exc.en))
                continue
            if hello.token and isinstance(msg, p.EDIT_MESSAGES) and not await asyncio.to_thread(
                    twin.storage.lookup_token, hello.token):  # revoked or expired meanwhile: the session ends
                await _close(ws, "unauthorised", "Der Zugangsschlüssel wurde widerrufen oder ist abgelaufen",
                             "The access token was revoked or has expired")
                break
            await _dispatch(twin, conn, district, msg)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        twin.hub.leave(conn)
        sender.cancel()
        try:
            await sender
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the socket is gone either way
            pass


def _err(code: str, de: str, en: str, request_id: int = -1) -> Any:
    from server.hub import Outgoing

    return Outgoing(p.ErrorMessage(code=code, message_de=de, message_en=en, request_id=request_id))


async def _sender(ws: WebSocket, conn: Connection) -> None:
    while True:
        item = await conn.outbox.pop()
        if item is None:  # overflow: the client cannot keep up even with edits
            await ws.close(code=p.CLOSE_CODES["rate_limited"], reason="client too slow")
            return
        out = unwrap(conn, item)
        if ws.application_state != WebSocketState.CONNECTED:
            return
        await ws.send_bytes(out.data)


async def _dispatch(twin: Twin, conn: Connection, district: Any, msg: Any) -> None:
    from server.hub import Outgoing

    hub = twin.hub
    if isinstance(msg, p.Ping):
        hub.send(conn, None, Outgoing(p.Pong(ts_ms=msg.ts_ms, server_ms=time.time() * 1000.0)))
    elif isinstance(msg, p.Hello):
        hub.send(conn, None, _err("bad_message", "Bereits angemeldet", "Already said hello"))
    elif isinstance(msg, p.View):
        conn.camera_local_m, conn.target_local_m, conn.selected = msg.camera_local_m, msg.target_local_m, msg.selected
        hub.publish_presence(conn.scenario_id)
    elif isinstance(msg, p.Subscribe):
        conn.layers, conn.hour, conn.fields = frozenset(msg.layers), msg.hour, frozenset(msg.fields)
        conn.sent_versions.clear()
        await asyncio.to_thread(twin.send_results, conn, district)
    elif isinstance(msg, p.EDIT_MESSAGES):
        hub.touch(conn.scenario_id)
        try:
            await asyncio.to_thread(twin.manager.edit, conn.user, conn.session_id, conn.scenario_id, msg)
        except (Denied, EditRefused, InterventionError, NotFound) as exc:
            version = twin.manager.model(conn.scenario_id).version
            hub.send(conn, None, Outgoing(refused_message(msg.request_id, exc, version)))  # type: ignore[attr-defined]
