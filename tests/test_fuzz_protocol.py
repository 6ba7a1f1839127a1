"""Property-based fuzzing of every websocket message decoder and of a live session: arbitrary bytes,
arbitrary msgpack values and mutated valid messages give either a valid message or one ProtocolError
(never a crash), and a refused message changes nothing."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import msgspec
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import auth, make_app

import protocol as p
from geodata.interventions import KINDS, InterventionError, Tree, decode_intervention

json_leaf = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=True) | st.text(max_size=20) | st.binary(max_size=40)
values = st.recursive(json_leaf, lambda ch: st.lists(ch, max_size=5) | st.dictionaries(st.text(max_size=12), ch, max_size=6), max_leaves=25)
tags = st.sampled_from([c.__struct_config__.tag for c in (*p.CLIENT_MESSAGES, *p.SERVER_MESSAGES)] + ["", "x"])
kinds = st.sampled_from(sorted(KINDS) + ["nope"])


@st.composite
def tagged_maps(draw) -> dict:
    """Maps that look like messages: a real tag, plausible field names, arbitrary values."""
    names = ["request_id", "intervention", "base_revision", "object_id", "protocol", "role", "token", "layers", "hour",
             "camera_local_m", "target_local_m", "selected", "ts_ms", "scenario_version", "values", "flow_veh_h",
             "vc_ratio", "speed_kmh", "xy_local_m", "dtype", "shape", "data", "kind", "t_s"]
    d = draw(st.dictionaries(st.sampled_from(names), values, max_size=6))
    d["t"] = draw(tags)
    if draw(st.booleans()):
        d["intervention"] = {"kind": draw(kinds), "id": draw(st.text(max_size=8)), **draw(st.dictionaries(
            st.sampled_from(["xy_local_m", "polygon_local_m", "line_local_m", "height_m", "edge_index", "building_id"]),
            values, max_size=3))}
    return d


def _valid_client_messages() -> list[bytes]:
    return [p.encode(m) for m in (
        p.Hello(protocol=1, role="kiosk"), p.Subscribe(layers=["heat"], hour=12),
        p.AddIntervention(1, Tree(id="t", xy_local_m=(10.0, 20.0))), p.RemoveIntervention(2, "t", 1),
        p.View(camera_local_m=(1, 2, 3), target_local_m=(4, 5, 6)), p.Ping(ts_ms=1.0), p.Undo(3), p.Redo(4),
    )]


def _check_client(data: bytes) -> None:
    try:
        msg = p.decode_client(data)
    except p.ProtocolError as exc:
        assert exc.code in ("bad_message", "invalid", "too_large") and exc.de and exc.en
        return
    assert p.decode_client(p.encode(msg)) == msg  # whatever is accepted round-trips


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_client_decoder_on_arbitrary_bytes(data: bytes) -> None:
    _check_client(data)


@settings(max_examples=150, deadline=None)
@given(tagged_maps())
def test_client_decoder_on_message_like_maps(d: dict) -> None:
    _check_client(msgspec.msgpack.encode(d))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_valid_client_messages()), st.data())
def test_client_decoder_on_mutated_valid_messages(base: bytes, data) -> None:
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(buf) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            buf[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del buf[i:]
            if not buf:
                break
        else:
            buf[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    _check_client(bytes(buf))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | tagged_maps().map(msgspec.msgpack.encode))
def test_server_decoder_never_crashes(data: bytes) -> None:
    try:
        msg = p.decode_server(data)
    except p.ProtocolError:
        return
    assert p.decode_server(p.encode(msg)) == msg


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["<f4", "<f8", "<u2", "<i2", "<i4", "<u4", "<i8", "|u1", "|i1"]),
       st.lists(st.integers(0, 2**31), max_size=4), st.binary(max_size=64), st.floats(allow_nan=True), st.floats(allow_nan=True),
       st.none() | st.integers(-(2**40), 2**40))
def test_array_decoder_checks_length_against_shape(dtype, shape, raw, scale, offset, nodata) -> None:
    nd = p.NDArray(dtype=dtype, shape=shape, data=raw, scale=scale, offset=offset, nodata=nodata)
    try:
        arr = p.decode_array(nd)
    except p.ProtocolError as exc:
        assert exc.code == "bad_array"
        return
    assert arr.shape == tuple(shape) and int(np.prod(shape)) * np.dtype(dtype).itemsize == len(raw)


@settings(max_examples=150, deadline=None)
@given(values | tagged_maps().map(lambda d: d.get("intervention", d)))
def test_intervention_decoder_never_crashes(d) -> None:
    try:
        decode_intervention(d if isinstance(d, dict) else msgspec.json.encode(d, enc_hook=repr))
    except InterventionError as exc:
        assert exc.de and exc.en


_PINGS = itertools.count(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    app, tokens = make_app(Path(tmp_path_factory.mktemp("fuzz")))
    with TestClient(app) as c:
        sid = c.post("/api/scenarios", json={"name": "F", "district": "tiny"}, headers=auth(tokens["planner"])).json()["scenario_id"]
        with c.websocket_connect(f"/ws/scenarios/{sid}") as ws:
            ws.send_bytes(p.encode(p.Hello(protocol=1, token=tokens["planner"])))
            assert isinstance(p.decode_server(ws.receive_bytes()), p.Welcome)
            yield ws, app.state.twin, sid


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200) | tagged_maps().map(msgspec.msgpack.encode))
def test_live_session_survives_fuzz_and_refusals_change_nothing(live, data: bytes) -> None:
    ws, twin, sid = live
    before = twin.manager.model(sid).version
    ws.send_bytes(data)
    # the session's rate limit (50 messages a second) may refuse the ping on a fast machine: ask again a
    # moment later; each example's ping has its own stamp, so a late answer to an earlier one is not taken
    stamp = float(next(_PINGS))
    ws.send_bytes(p.encode(p.Ping(ts_ms=stamp)))
    replies = []
    while True:
        msg = p.decode_server(ws.receive_bytes())
        if isinstance(msg, p.Pong):
            if msg.ts_ms == stamp:
                break
            continue
        if isinstance(msg, p.ErrorMessage) and msg.code == "rate_limited":
            time.sleep(0.1)
            ws.send_bytes(p.encode(p.Ping(ts_ms=stamp)))
            continue
        replies.append(msg)
    accepted = [m for m in replies if isinstance(m, p.EditApplied)]
    after = twin.manager.model(sid).version
    assert after == before + len(accepted)  # only accepted edits change the scenario
    if not accepted:
        assert all(isinstance(m, (p.ErrorMessage, p.EditRejected, p.Presence, p.KpiFrame, p.Progress)) for m in replies)
