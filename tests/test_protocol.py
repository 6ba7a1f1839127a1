"""The wire protocol: round trips, raw arrays, quantisation, size limits, latest-wins keys."""

from __future__ import annotations

import subprocess
import sys

import msgspec
import numpy as np
import pytest

import protocol as p
from geodata.interventions import Park, Tree


def _state() -> p.ScenarioState:
    entry = p.InterventionEntry(Tree(id="t1", xy_local_m=(10.0, 20.0)), 1, p.UserInfo(role="planner", department="Umwelt"))
    return p.ScenarioState("s1", "Grüne Mitte", "sample", 3, "active", "official", [entry])


def test_every_client_message_round_trips() -> None:
    msgs = [
        p.Hello(protocol=p.PROTOCOL_VERSION, role="planner", token="abc", name="Anna"),
        p.Subscribe(layers=["heat", "traffic"], hour=14),
        p.AddIntervention(request_id=1, intervention=Tree(id="t1", xy_local_m=(1.0, 2.0))),
        p.UpdateIntervention(request_id=2, intervention=Park(id="p", polygon_local_m=[(0, 0), (10, 0), (10, 10)]), base_revision=1),
        p.RemoveIntervention(request_id=3, object_id="t1", base_revision=2),
        p.Undo(request_id=4),
        p.Redo(request_id=5),
        p.View(camera_local_m=(1, 2, 3), target_local_m=(4, 5, 6), selected="t1"),
        p.Ping(ts_ms=123.5),
    ]
    assert {type(m) for m in msgs} == set(p.CLIENT_MESSAGES)
    for m in msgs:
        assert p.decode_client(p.encode(m)) == m


def test_every_server_message_round_trips() -> None:
    grid = p.GridInfo(rows=4, cols=5, cell_m=2.0, west_m=0.0, south_m=0.0)
    user = p.UserInfo(role="planner", department="Verkehr", name="Ben", user_id="u2")
    arr = p.encode_array(np.arange(20, dtype=np.float32).reshape(4, 5))
    comment = p.CommentInfo(7, "s1", 3, (1.0, 2.0, 3.0), "idea", "Mehr Bäume!", "", 2, False, "", "2026-07-01T10:00:00Z")
    msgs = [
        p.Welcome(p.PROTOCOL_VERSION, "sess", user, True, _state(), grid, [p.PresenceEntry("sess", user)]),
        p.EditApplied("s1", 4, "add", "edit", "t2", 1, Tree(id="t2"), user, "sess", 9, "2026-07-01T10:00:00Z"),
        p.EditApplied("s1", 5, "remove", "undo", "t2", 2, None, user, "sess", 10, "2026-07-01T10:00:01Z"),
        p.EditRejected(3, "conflict", "Konflikt", "Conflict", 5, _state().interventions[0]),
        p.ErrorMessage("invalid", "falsch", "wrong"),
        p.Presence([p.PresenceEntry("a", user, (1, 2, 3), (0, 0, 0), "t1")]),
        p.Progress(4, "heat", "shadows", 0.5),
        p.FieldFrame(4, 3, "utci_c", "°C", 15, True, grid, p.Window(0, 0, 4, 5), p.quantise_u16(np.ones((4, 5)))),
        p.EdgeFrame(4, arr, arr, arr),
        p.AgentFrame(4, "vehicles", 3600.0, p.encode_array(np.zeros((3, 2), np.float32))),
        p.AccessFrame(4, arr, p.encode_array(np.zeros(2, np.uint8)), [p.DeficitArea("65+", (1.0, 2.0), 12, 25.0)]),
        p.KpiFrame(4, "heat", {"mean_utci_c": 31.2}),
        p.CommentEvent(comment),
        p.ScenarioEvent("s1", "Neu", "archived", 5),
        p.Reset(_state()),
        p.Pong(1.0, 2.0),
    ]
    assert {type(m) for m in msgs} == set(p.SERVER_MESSAGES)
    for m in msgs:
        assert p.decode_server(p.encode(m)) == m


@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<u2", "<i2", "<i4", "<u4", "<i8", "|u1", "|i1"])
def test_arrays_travel_as_raw_little_endian_bytes(dtype: str) -> None:
    a = (np.arange(24).reshape(2, 3, 4) % 100).astype(dtype)
    nd = p.encode_array(a)
    assert nd.dtype == np.dtype(dtype).str and nd.shape == [2, 3, 4] and nd.data == a.tobytes()
    back = p.decode_array(p.decode_server(p.encode(p.EdgeFrame(0, nd, nd, nd))).flow_veh_h)
    np.testing.assert_array_equal(back, a)


def test_big_endian_input_is_converted_not_reinterpreted() -> None:
    a = np.array([1.5, -2.25, 1e6], dtype=">f8")
    nd = p.encode_array(a)
    assert nd.dtype == "<f8"
    np.testing.assert_array_equal(p.decode_array(nd), a.astype(float))


def test_temperature_quantisation_is_within_half_a_step_and_keeps_nan() -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(-30, 70, size=(50, 40))
    t[3, 4] = np.nan
    nd = p.quantise_u16(t)
    assert nd.dtype == "<u2" and len(nd.data) == t.size * 2  # a quarter of float64, half of float32
    back = p.decode_array(nd)
    assert np.isnan(back[3, 4])
    ok = np.isfinite(t)
    assert np.max(np.abs(back[ok] - t[ok])) <= 0.005 + 1e-4


def test_array_with_wrong_byte_length_is_refused() -> None:
    bad = p.NDArray(dtype="<f4", shape=[2, 2], data=b"\x00" * 15)
    with pytest.raises(p.ProtocolError) as exc:
        p.decode_array(bad)
    assert exc.value.code == "bad_array"
    with pytest.raises(p.ProtocolError):
        p.decode_server(p.encode(p.EdgeFrame(0, bad, bad, bad)))


def test_bad_client_messages_get_one_clear_bilingual_error() -> None:
    cases = {
        b"\xc1": "bad_message",  # never-used msgpack byte
        p.encode({"t": "nope"}): "invalid",
        p.encode({"t": "undo", "request_id": -1}): "invalid",
        p.encode({"t": "undo", "request_id": 1, "extra": 1}): "invalid",
        p.encode({"t": "add", "request_id": 1, "intervention": {"kind": "tree", "id": "a b"}}): "invalid",
        b"\x00" * (p.MAX_CLIENT_MESSAGE_BYTES + 1): "too_large",
    }
    for data, code in cases.items():
        with pytest.raises(p.ProtocolError) as exc:
            p.decode_client(data)
        assert exc.value.code == code
        assert " / " in str(exc.value) and exc.value.de and exc.value.en


def test_latest_wins_keys() -> None:
    grid = p.GridInfo(1, 1, 1.0, 0, 0)
    f = p.FieldFrame(1, 0, "utci_c", "°C", 15, True, grid, p.Window(0, 0, 1, 1), p.quantise_u16(np.zeros((1, 1))))
    assert p.frame_key(f) == "field:utci_c"
    assert p.frame_key(p.KpiFrame(1, "traffic", {})) == "kpis:traffic"
    assert p.frame_key(p.Presence([])) == "presence"
    # edits and comments are never dropped
    assert p.frame_key(p.EditRejected(1, "x", "x", "x", 0)) is None
    assert p.frame_key(p.Pong(0, 0)) is None


def test_messages_are_msgpack_maps_tagged_by_t() -> None:
    raw = msgspec.msgpack.decode(p.encode(p.Undo(request_id=3)))
    assert raw == {"t": "undo", "request_id": 3}


def test_protocol_imports_no_web_framework() -> None:
    code = "import sys, protocol; bad=[m for m in ('fastapi','starlette','sqlalchemy','taichi') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_large_arrays_travel_compressed_where_it_pays_and_bombs_are_refused() -> None:
    import zlib

    smooth = p.quantise_u16(np.linspace(20, 45, 300 * 400, dtype=np.float32).reshape(300, 400))
    packed = p.compress_array(smooth)
    assert packed.codec == "zlib" and len(packed.data) < len(smooth.data) / 2
    np.testing.assert_array_equal(p.decode_array(packed), p.decode_array(smooth))
    noise = p.encode_array(np.random.default_rng(0).integers(0, 256, 200_000).astype(np.uint8))
    assert p.compress_array(noise) is noise  # does not pay: sent raw
    small = p.quantise_u16(np.zeros((10, 10)))
    assert p.compress_array(small) is small  # too small to be worth it
    g = p.GridInfo(300, 400, 2.0, 0.0, 0.0)
    frame = p.FieldFrame(1, -1, "utci_c", "°C", 15, True, g, p.Window(0, 0, 300, 400), packed)
    np.testing.assert_array_equal(p.apply_field_frame(None, p.decode_server(p.encode(frame))), p.decode_array(smooth))
    for data in (zlib.compress(bytes(1 << 22)), zlib.compress(bytes(100)), b"not zlib", zlib.compress(smooth.data)[:-9]):
        bad = msgspec.structs.replace(frame, values=p.NDArray("<u2", [300, 400], data, codec="zlib"))
        with pytest.raises(p.ProtocolError) as exc:
            p.decode_server(p.encode(bad))
        assert exc.value.code == "bad_array" and " / " in str(exc.value)
