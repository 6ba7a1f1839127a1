"""The web viewer's protocol decoding against frames the Python server module encodes.

Python builds real messages with ``protocol`` (quantised fields, partial windows, edge, agent and
access frames, a welcome), writes their msgpack bytes to files, and a node script bundled from the
viewer's own TypeScript (``viewer/web/test/decode_frames.ts``) decodes them and prints what it read.
The script also encodes client messages, which ``protocol.decode_client`` must accept.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import msgspec
import numpy as np
import pytest

import protocol as p
from geodata.interventions import BusLine, Tree
from server.engines import access_frames

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "viewer" / "web"
ESBUILD = WEB / "node_modules" / ".bin" / "esbuild"

pytestmark = pytest.mark.timeout(120)


def _node_ready() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the README's set-up installs Node 20+)")
    if not ESBUILD.exists():
        pytest.skip("viewer/web/node_modules missing: run `make setup` (npm ci in viewer/web)")


# Naumburg, Weißenfels, Zeitz (zone 32) and Hoyerswerda (zone 33), and a point at a zone edge
LONLAT = [[11.81, 51.15, 25832], [11.97, 51.2, 25832], [12.14, 51.05, 25832], [14.25, 51.44, 25833], [12.0, 54.0, 25832]]

GRID = p.GridInfo(rows=3, cols=4, cell_m=10.0, west_m=100.0, south_m=200.0)

_MIN = {"scale": 0.1, "offset": 0.0}
_BY_CAT = np.array([[3.5, 12.0, np.inf, 7.0], [4.0, 2.5, 9.0, 30.0]], np.float32)
ACCESS_FULL = p.AccessFrame(5, p.quantise_u16(_BY_CAT.min(axis=0), **_MIN), p.encode_array(np.array([1, 2], np.uint8)), [],
                            categories=["doctor", "shop"], building_time_by_category_min=p.quantise_u16(_BY_CAT, **_MIN),
                            building_class=p.encode_array(np.array([0, 1, 6, 3], np.uint8)))
_BY_CAT_NEW = _BY_CAT.copy()
_BY_CAT_NEW[:, 2] = [8.0, 6.5]
ACCESS_NEW = msgspec.structs.replace(ACCESS_FULL, scenario_version=6, building_time_min=p.quantise_u16(_BY_CAT_NEW.min(axis=0), **_MIN),
                                     building_time_by_category_min=p.quantise_u16(_BY_CAT_NEW, **_MIN),
                                     building_class=p.encode_array(np.array([0, 1, 2, 3], np.uint8)))
ACCESS_PARTIAL = access_frames(ACCESS_NEW, (5, ACCESS_FULL))[0]


def _zlib(nd: p.NDArray) -> p.NDArray:
    return msgspec.structs.replace(nd, data=zlib.compress(nd.data, 1), codec="zlib")


def _frames() -> dict[str, object]:
    rng = np.random.default_rng(5)
    utci = rng.uniform(20, 45, size=(3, 4)).astype(np.float32)
    utci[0, 0] = np.nan
    patch = np.array([[30.0, 31.5]], dtype=np.float32)
    user = p.UserInfo(role="planner", department="Umwelt", name="A", user_id="u1")
    tree = Tree(id="t1", xy_local_m=(110.0, 215.0))
    state = p.ScenarioState(
        scenario_id="s1", name="Plan", district="sample", version=3, status="active", kind="official",
        interventions=[p.InterventionEntry(intervention=tree, revision=1, author=user)],
    )
    return {
        "a_welcome": p.Welcome(protocol=p.PROTOCOL_VERSION, session_id="x", user=user, can_edit=True, scenario=state,
                               grid=GRID, presence=[]),
        "b_field_full": p.FieldFrame(scenario_version=3, base_version=-1, layer="utci_c", unit="degC", hour=15, full=True,
                                     grid=GRID, window=p.Window(0, 0, 3, 4), values=p.quantise_u16(utci)),
        # a complete field zlib-compressed (as the server sends large ones), and one that inflates too far
        "b_field_zlib": p.FieldFrame(scenario_version=3, base_version=-1, layer="tmrt_c", unit="degC", hour=15, full=True,
                                     grid=GRID, window=p.Window(0, 0, 3, 4), values=_zlib(p.quantise_u16(utci + 10))),
        "b_field_zlib_bomb": p.FieldFrame(scenario_version=3, base_version=-1, layer="air_temp_c", unit="degC", hour=15,
                                          full=True, grid=GRID, window=p.Window(0, 0, 3, 4),
                                          values=p.NDArray("<u2", [3, 4], zlib.compress(bytes(1 << 20)), codec="zlib")),
        "c_field_patch": p.FieldFrame(scenario_version=4, base_version=3, layer="utci_c", unit="degC", hour=15, full=False,
                                      grid=GRID, window=p.Window(2, 1, 1, 2), values=p.quantise_u16(patch)),
        "d_field_orphan": p.FieldFrame(scenario_version=9, base_version=7, layer="utci_c", unit="degC", hour=15, full=False,
                                       grid=GRID, window=p.Window(0, 0, 1, 1), values=p.quantise_u16(np.zeros((1, 1)))),
        "e_edges": p.EdgeFrame(scenario_version=4, flow_veh_h=p.encode_array(np.array([0, 120.5, 900], np.float32)),
                               vc_ratio=p.encode_array(np.array([0.0, 0.25, 1.2], np.float64)),
                               speed_kmh=p.encode_array(np.array([50, 30, 12], np.int16))),
        "f_agents": p.AgentFrame(scenario_version=4, kind="vehicles", t_s=3600.5,
                                 xy_local_m=p.encode_array(np.array([[1, 2], [3.25, 4.5]], np.float32))),
        "g_access": p.AccessFrame(scenario_version=4, building_time_min=p.encode_array(np.array([3.5, 12.0], np.float32)),
                                  stop_quality=p.encode_array(np.array([0, 5, 2], np.uint8)),
                                  deficits=[p.DeficitArea(group="65+", xy_local_m=(5.0, 6.0), persons=12, time_min=25.0)]),
        # complete access in 0.1 min steps, then the one building that changed on top of it, then an orphan
        "g_access_f": ACCESS_FULL,
        "g_access_p": ACCESS_PARTIAL,
        "g_access_q": msgspec.structs.replace(ACCESS_PARTIAL, scenario_version=9, base_version=8),
        "h_applied": p.EditApplied(scenario_id="s1", scenario_version=4, op="add", cause="edit", object_id="t2",
                                   revision=1, intervention=Tree(id="t2", xy_local_m=(1.0, 2.0)), by=user,
                                   session_id="x", request_id=7, at_utc="2026-01-01T00:00:00Z"),
        "i_kpis": p.KpiFrame(scenario_version=4, engine="heat", values={"mean_utci_c": 31.25}),
    }, utci, patch


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, np.ndarray, np.ndarray]:
    _node_ready()
    tmp = tmp_path_factory.mktemp("frames")
    frames, utci, patch = _frames()
    for name, msg in frames.items():
        (tmp / f"{name}.msgpack").write_bytes(p.encode(msg))
    (tmp / "lonlat.json").write_text(json.dumps(LONLAT))
    bundle = tmp / "decode.mjs"
    subprocess.run([str(ESBUILD), "test/decode_frames.ts", "--bundle", "--platform=node", "--format=esm",
                    f"--outfile={bundle}", "--log-level=warning"], cwd=WEB, check=True, timeout=60)
    out = subprocess.run(["node", str(bundle), str(tmp)], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout), tmp, utci, patch


def _as_float(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def test_quantised_full_field_decodes_to_server_values(decoded) -> None:
    out, _, utci, _ = decoded
    rec = out["b_field_full.msgpack"]
    assert rec["result"] == "applied" and rec["version"] == 3
    got = _as_float(rec["values"]).reshape(3, 4)
    expect = p.decode_array(p.quantise_u16(utci))
    assert np.isnan(got[0, 0]) and np.isnan(expect[0, 0])
    np.testing.assert_allclose(got[1:], expect[1:], atol=1e-4)
    np.testing.assert_allclose(got[0, 1:], utci[0, 1:], atol=0.006)
    # sample at column 1, bottom row (row 2: the south edge is row rows-1)
    assert rec["sample_centre"] == pytest.approx(float(expect[2, 1]), abs=1e-4)


def test_compressed_field_decodes_and_a_bomb_is_refused(decoded) -> None:
    out, _, utci, _ = decoded
    rec = out["b_field_zlib.msgpack"]
    assert rec["result"] == "applied" and "error" not in rec
    expect = p.decode_array(p.quantise_u16(utci + 10))
    np.testing.assert_allclose(_as_float(rec["values"]).reshape(3, 4), expect, atol=1e-4)
    assert "does not inflate" in out["b_field_zlib_bomb.msgpack"]["error"] or "inflates to" in out["b_field_zlib_bomb.msgpack"]["error"]


def test_partial_window_applies_on_its_base_version_only(decoded) -> None:
    out, _, utci, patch = decoded
    rec = out["c_field_patch.msgpack"]
    assert rec["result"] == "applied" and rec["version"] == 4
    got = _as_float(rec["values"]).reshape(3, 4)
    np.testing.assert_allclose(got[2, 1:3], patch[0], atol=1e-4)
    np.testing.assert_allclose(got[1], p.decode_array(p.quantise_u16(utci))[1], atol=1e-4)
    assert out["d_field_orphan.msgpack"]["result"] == "needs_full"


def test_edge_agent_access_frames_decode_every_dtype(decoded) -> None:
    out, *_ = decoded
    e = out["e_edges.msgpack"]
    assert e["flow"] == pytest.approx([0, 120.5, 900]) and e["vc"] == pytest.approx([0, 0.25, 1.2])
    assert e["speed"] == [50, 30, 12]
    a = out["f_agents.msgpack"]
    assert a["kind"] == "vehicles" and a["t_s"] == 3600.5 and a["xy"] == [1, 2, 3.25, 4.5]
    acc = out["g_access.msgpack"]
    assert acc["time"] == [3.5, 12.0] and acc["quality"] == [0, 5, 2]
    assert acc["deficits"][0]["persons"] == 12
    assert out["i_kpis.msgpack"]["values"] == {"mean_utci_c": 31.25}


def test_partial_access_frame_applies_on_its_base_version_only(decoded) -> None:
    out, *_ = decoded
    assert ACCESS_PARTIAL.buildings is not None and ACCESS_PARTIAL.building_time_min.shape == [1]
    rec = out["g_access_p.msgpack"]
    want = ACCESS_NEW
    assert rec["result"] == "applied" and rec["version"] == 6
    np.testing.assert_allclose(_as_float(rec["time"]), p.decode_array(want.building_time_min), atol=1e-4)
    got = _as_float(rec["by_category"]).reshape(2, 4)
    expect = p.decode_array(want.building_time_by_category_min)
    np.testing.assert_allclose(got[np.isfinite(expect)], expect[np.isfinite(expect)], atol=1e-4)
    assert np.isnan(got[0, 2]) == np.isnan(expect[0, 2]) and np.isnan(got[~np.isfinite(expect)]).all()
    assert rec["building_class"] == [0, 1, 2, 3]
    orphan = out["g_access_q.msgpack"]
    assert orphan["result"] == "needs_full" and orphan["version"] == 6


def test_welcome_and_applied_carry_scenario_state(decoded) -> None:
    out, *_ = decoded
    w = out["a_welcome.msgpack"]
    assert w["version"] == 3 and w["kinds"] == ["tree"] and w["can_edit"] is True
    assert w["grid"] == {"rows": 3, "cols": 4, "cell_m": 10.0, "west_m": 100.0, "south_m": 200.0}
    a = out["h_applied.msgpack"]
    assert a["version"] == 4 and a["intervention"]["kind"] == "tree" and a["intervention"]["xy_local_m"] == [1.0, 2.0]


def test_client_messages_from_the_viewer_pass_the_server_decoder(decoded) -> None:
    _, tmp, *_ = decoded
    files = sorted(tmp.glob("client_*.bin"))
    assert len(files) == 7
    msgs = [p.decode_client(f.read_bytes()) for f in files]
    assert isinstance(msgs[0], p.Hello) and msgs[0].role == "planner"
    assert isinstance(msgs[2], p.AddIntervention) and msgs[2].intervention.xy_local_m == (120.5, 340.25)
    assert isinstance(msgs[3].intervention, BusLine) and msgs[3].intervention.headway_min == 20
    assert isinstance(msgs[4], p.RemoveIntervention) and isinstance(msgs[5], p.Undo) and isinstance(msgs[6], p.View)


def test_road_geometry_orders_lines_by_edge_index(decoded) -> None:
    out, *_ = decoded
    assert out["geometry"] == {"offsets": [0, 2, 5], "xy": [0, 0, 1, 1, 5, 5, 6, 6, 7, 7]}


def test_utm_projection_of_the_viewer_matches_pyproj(decoded) -> None:
    from geodata.crs import lonlat_to_utm

    out, *_ = decoded
    for (lon, lat, epsg), (e, n) in zip(LONLAT, out["utm"]):
        ee, nn = lonlat_to_utm(np.array([lon]), np.array([lat]), epsg)
        assert abs(e - ee[0]) < 0.01 and abs(n - nn[0]) < 0.01, (lon, lat, e - ee[0], n - nn[0])
