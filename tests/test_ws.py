"""The websocket protocol with real clients: the server runs in its own process (uvicorn), the clients
use the `websockets` library."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path

import httpx
import pytest
from server_support import PLANNER_TOKEN, auth, start_server_process
from websockets.exceptions import ConnectionClosed
from ws_client import WsClient

import protocol as p
from geodata.interventions import Tree
from server.hub import Outbox, Outgoing


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("ws")
    proc, port = start_server_process(data)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def _scenario(port: int) -> str:
    r = httpx.post(f"http://127.0.0.1:{port}/api/scenarios", json={"name": "WS", "district": "tiny"},
                   headers=auth(PLANNER_TOKEN), timeout=20)
    assert r.status_code == 201, r.text
    return r.json()["scenario_id"]


def test_hello_welcome_and_presence(server: int) -> None:
    sid = _scenario(server)
    a = WsClient(server, sid, token=PLANNER_TOKEN)
    w = a.welcome
    assert isinstance(w, p.Welcome) and w.protocol == p.PROTOCOL_VERSION and w.can_edit
    assert w.user.role == "planner" and w.user.department == "Umwelt"
    assert w.scenario.scenario_id == sid and w.scenario.version == 0 and w.grid.rows == 50
    b = WsClient(server, sid, name="Bürgerin")
    assert not b.welcome.can_edit and len(b.welcome.presence) == 2
    a.send(p.View(camera_local_m=(1, 2, 300), target_local_m=(100, 100, 150), selected=""))
    seen = b.until(lambda m: isinstance(m, p.Presence) and any(e.camera_local_m == (1, 2, 300) for e in m.users))
    assert {e.user.role for e in seen.users} == {"planner", "citizen"}
    b.close()
    a.until(lambda m: isinstance(m, p.Presence) and len(m.users) == 1)
    a.close()


def test_two_clients_see_each_others_edits_with_author(server: int) -> None:
    sid = _scenario(server)
    a = WsClient(server, sid, token=PLANNER_TOKEN)
    b = WsClient(server, sid, token=PLANNER_TOKEN + "-2")
    rid = a.next_id()
    a.send(p.AddIntervention(rid, Tree(id="t1", xy_local_m=(80.0, 80.0))))
    ack = a.until(lambda m: isinstance(m, p.EditApplied))
    assert ack.request_id == rid and ack.session_id == a.welcome.session_id and ack.scenario_version == 1
    got = b.until(lambda m: isinstance(m, p.EditApplied))
    assert got.object_id == "t1" and got.by.department == "Umwelt" and got.by.role == "planner"
    b.send(p.UpdateIntervention(b.next_id(), Tree(id="t1", xy_local_m=(90.0, 80.0)), base_revision=1))
    seen = a.until(lambda m: isinstance(m, p.EditApplied))
    assert seen.op == "update" and seen.by.department == "Verkehr" and seen.intervention.xy_local_m == (90.0, 80.0)
    a.close()
    b.close()


def test_stale_version_edit_is_rejected_with_current_state(server: int) -> None:
    sid = _scenario(server)
    a = WsClient(server, sid, token=PLANNER_TOKEN)
    b = WsClient(server, sid, token=PLANNER_TOKEN + "-2")
    a.send(p.AddIntervention(1, Tree(id="t1", xy_local_m=(80.0, 80.0))))
    b.until(lambda m: isinstance(m, p.EditApplied))
    # both edit revision 1 at once: exactly one wins, the other is told why and gets the current state
    a.send(p.UpdateIntervention(2, Tree(id="t1", height_m=20.0, xy_local_m=(80.0, 80.0)), base_revision=1))
    b.send(p.UpdateIntervention(2, Tree(id="t1", height_m=5.0, xy_local_m=(80.0, 80.0)), base_revision=1))
    out = []
    for c in (a, b):
        mine = c.welcome.session_id
        out.append(c.until(lambda m, mine=mine: isinstance(m, p.EditRejected)
                           or (isinstance(m, p.EditApplied) and m.op == "update" and m.session_id == mine)))
    rejected = [m for m in out if isinstance(m, p.EditRejected)]
    applied = [m for m in out if isinstance(m, p.EditApplied)]
    assert len(rejected) == 1 and len(applied) == 1
    r = rejected[0]
    assert r.code == "conflict" and r.current is not None and r.current.revision == 2
    assert r.current.intervention.height_m == applied[0].intervention.height_m
    assert "geändert" in r.message_de and "changed" in r.message_en
    a.close()
    b.close()


def test_results_stream_names_the_scenario_version(server: int) -> None:
    sid = _scenario(server)
    a = WsClient(server, sid, token=PLANNER_TOKEN)
    a.send(p.Subscribe(layers=["heat", "traffic"], hour=15))
    k0 = a.until(lambda m: isinstance(m, p.KpiFrame) and m.engine == "costs")
    assert k0.scenario_version == 0 and k0.values["investment_eur"] == 0.0
    a.send(p.AddIntervention(1, Tree(id="t1", xy_local_m=(80.0, 80.0))))
    k1 = a.until(lambda m: isinstance(m, p.KpiFrame) and m.scenario_version == 1)
    assert k1.values["investment_eur"] > 0
    assert any(isinstance(m, p.Progress) and m.scenario_version == 1 for m in a.seen)
    a.close()


def test_rest_edits_reach_websocket_clients(server: int) -> None:
    sid = _scenario(server)
    c = WsClient(server, sid)
    r = httpx.post(f"http://127.0.0.1:{server}/api/scenarios/{sid}/interventions",
                   json={"intervention": {"kind": "tree", "id": "r1", "xy_local_m": [20, 20]}},
                   headers=auth(PLANNER_TOKEN), timeout=20)
    assert r.status_code == 201
    got = c.until(lambda m: isinstance(m, p.EditApplied))
    assert got.object_id == "r1" and got.scenario_version == r.json()["scenario_version"]
    c.close()


def test_bad_frames_get_errors_and_the_session_lives_on(server: int) -> None:
    sid = _scenario(server)
    a = WsClient(server, sid, token=PLANNER_TOKEN)
    a.ws.send(b"\xc1\x00garbage")
    e = a.until(lambda m: isinstance(m, p.ErrorMessage))
    assert e.code == "bad_message" and e.message_de and e.message_en
    a.ws.send("text, not msgpack")
    assert a.until(lambda m: isinstance(m, p.ErrorMessage)).code == "bad_message"
    a.send(p.AddIntervention(1, Tree(id="far", xy_local_m=(9000.0, 80.0))))
    rej = a.until(lambda m: isinstance(m, p.EditRejected))
    assert rej.request_id == 1 and "außerhalb" in rej.message_de
    a.send(p.Ping(ts_ms=42.0))
    assert a.until(lambda m: isinstance(m, p.Pong)).ts_ms == 42.0
    a.close()


@pytest.mark.parametrize("hello,code", [
    (dict(protocol=p.PROTOCOL_VERSION + 1), "protocol_version"),
    (dict(protocol=p.PROTOCOL_VERSION, token="wrong"), "unauthorised"),
    (dict(protocol=p.PROTOCOL_VERSION, role="planner"), "unauthorised"),
])
def test_refused_hellos_close_with_a_code(server: int, hello: dict, code: str) -> None:
    sid = _scenario(server)
    with pytest.raises(ConnectionClosed) as exc:
        c = WsClient(server, sid, **hello)
        c.recv(timeout=5)
    # the server says why (ErrorMessage) and closes with the documented code
    assert exc.value.rcvd is not None and exc.value.rcvd.code == p.CLOSE_CODES[code]


def test_unknown_scenario_closes_with_not_found(server: int) -> None:
    with pytest.raises(ConnectionClosed) as exc:
        c = WsClient(server, "doesnotexist")
        c.recv(timeout=5)
    assert exc.value.rcvd.code == p.CLOSE_CODES["not_found"]


def test_outbox_is_latest_wins_per_key_and_keeps_edits() -> None:
    async def run() -> list:
        box = Outbox()
        grid = p.GridInfo(1, 1, 1.0, 0.0, 0.0)
        for v in range(50):
            box.push("kpis:heat", Outgoing(p.KpiFrame(v, "heat", {"x": float(v)})))
            box.push(None, Outgoing(p.ErrorMessage(str(v), "", "")))
        box.push("field:utci_c", Outgoing(p.FieldFrame(7, -1, "utci_c", "C", 15, True, grid, p.Window(0, 0, 1, 1),
                                                       p.quantise_u16([[1.0]]))))
        out = []
        while len(box):
            out.append((await box.pop()).msg)
        return out

    # a fresh loop in its own thread: a browser fixture of another module may hold this thread's loop
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        out = pool.submit(asyncio.run, run()).result(timeout=30)
    kpis = [m for m in out if isinstance(m, p.KpiFrame)]
    errors = [m.code for m in out if isinstance(m, p.ErrorMessage)]
    assert len(kpis) == 1 and kpis[0].scenario_version == 49  # the newest frame, once
    assert errors == [str(v) for v in range(50)]  # nothing unkeyed is dropped, order kept


def test_partial_field_frames_only_for_clients_holding_the_base() -> None:
    from server.hub import Connection, unwrap
    from server.roles import User

    grid = p.GridInfo(4, 4, 1.0, 0.0, 0.0)
    full = p.FieldFrame(2, -1, "utci_c", "C", 15, True, grid, p.Window(0, 0, 4, 4), p.quantise_u16([[1.0] * 4] * 4))
    part = p.FieldFrame(2, 1, "utci_c", "C", 15, False, grid, p.Window(1, 1, 1, 1), p.quantise_u16([[2.0]]))
    fresh = Connection("a", User("citizen"), "s")
    holder = Connection("b", User("citizen"), "s", sent_versions={"field:utci_c": 1})
    pair = (Outgoing(part), Outgoing(full))
    assert unwrap(fresh, pair).msg.full and fresh.sent_versions["field:utci_c"] == 2
    assert not unwrap(holder, pair).msg.full and holder.sent_versions["field:utci_c"] == 2


def test_websocket_frames_are_binary_msgpack(server: int, tmp_path: Path) -> None:
    sid = _scenario(server)
    c = WsClient(server, sid)
    c.send(p.Ping(ts_ms=1.0))
    raw = c.ws.recv(timeout=10)
    while not isinstance(raw, bytes) or p.decode_server(raw).__struct_config__.tag != "pong":
        assert isinstance(raw, bytes)
        raw = c.ws.recv(timeout=10)
    import msgspec

    assert msgspec.msgpack.decode(raw)["t"] == "pong"
    c.close()


def test_connections_get_only_the_fields_and_hour_they_subscribed() -> None:
    from server.hub import Connection
    from server.roles import User

    grid = p.GridInfo(1, 1, 1.0, 0.0, 0.0)

    def frame(layer: str, hour: int) -> p.FieldFrame:
        return p.FieldFrame(1, -1, layer, "C", hour, True, grid, p.Window(0, 0, 1, 1), p.quantise_u16([[1.0]]))

    c = Connection("a", User("citizen"), "s", layers=frozenset({"heat"}), hour=15, fields=frozenset({"utci_c", "air_temp_c"}))
    assert c.wants(frame("utci_c", 15)) and c.wants(frame("air_temp_c", 15))
    assert not c.wants(frame("tmrt_c", 15)) and not c.wants(frame("utci_c", 14))
    assert not Connection("b", User("citizen"), "s").wants(frame("utci_c", 15))  # no heat layer subscribed
