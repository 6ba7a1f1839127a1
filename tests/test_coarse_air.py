"""The air temperature and the heat island travel on the air model's own coarse grid
(``FieldFrame.coarse``): the protocol's bilinear rule against a slow reference, the heat engine's coarse
air against its fine field, the heat adapter's frames (smaller than fine ones), clients that apply
partial coarse frames or join late, and stored frames read back on the grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from webserver import browser, open_viewer, web_server  # noqa: F401  (fixtures: the web viewer's server and browser)

import protocol as p
from geodata.interventions import Park, Tree
from server.engines import available_engines, field_frames
from server.hub import Connection, Outgoing, unwrap
from server.roles import User

HOURS = (4, 15)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 5R1C of buildings without volume


def _slow_upsample(v: np.ndarray, rows: int, cols: int, f: int) -> np.ndarray:
    """The documented rule, cell by cell."""
    rc, cc = v.shape
    out = np.empty((rows, cols), np.float64)
    for r in range(rows):
        y = (r + 0.5) / f - 0.5
        i = min(max(math.floor(y), 0), rc - 1)
        i1 = min(i + 1, rc - 1)
        wy = min(max(y - i, 0.0), 1.0)
        for c in range(cols):
            x = (c + 0.5) / f - 0.5
            j = min(max(math.floor(x), 0), cc - 1)
            j1 = min(j + 1, cc - 1)
            wx = min(max(x - j, 0.0), 1.0)
            top = v[i, j] * (1 - wy) + v[i1, j] * wy
            bottom = v[i, j1] * (1 - wy) + v[i1, j1] * wy
            out[r, c] = top * (1 - wx) + bottom * wx
    return out


@pytest.mark.parametrize(("rows", "cols", "f"), [(23, 17, 4), (20, 20, 5), (7, 9, 10), (5, 6, 1)])
def test_upsampling_follows_the_documented_rule(rows: int, cols: int, f: int) -> None:
    g = p.GridInfo(rows=rows, cols=cols, cell_m=2.0, west_m=10.0, south_m=-4.0)
    fr = p.FieldFrame(1, -1, "air_temp_c", "°C", 15, True, g, p.Window(0, 0, 0, 0), p.encode_array(np.zeros(0, "<u2")),
                      coarse=f)
    shape = p.raster_shape(fr)
    assert shape == (-(-rows // f), -(-cols // f))
    v = np.random.default_rng(rows).uniform(20, 35, shape).astype(np.float32)
    got = p.upsample_field(v, g, f)
    assert got.shape == (rows, cols) and got.dtype == np.float32
    np.testing.assert_allclose(got, _slow_upsample(v.astype(np.float64), rows, cols, f), atol=1e-4)
    # a constant raster stays constant, also beyond the outer cell centres (clamped, no fall-off)
    np.testing.assert_allclose(p.upsample_field(np.full(shape, 25.5, np.float32), g, f), 25.5, atol=1e-5)


def test_a_coarse_frame_round_trips_and_is_checked() -> None:
    g = p.GridInfo(rows=50, cols=43, cell_m=2.0, west_m=0.0, south_m=0.0)
    v = np.random.default_rng(0).uniform(20, 30, (5, 5)).astype(np.float32)
    fr = p.FieldFrame(3, -1, "air_temp_c", "°C", 15, True, g, p.Window(0, 0, 5, 5), p.quantise_u16(v), coarse=10)
    back = p.decode_server(p.encode(fr))
    assert back == fr and back.coarse == 10
    np.testing.assert_allclose(p.apply_field_frame(None, back), v, atol=0.005)
    # frames without the field (older servers) are on the grid
    plain = p.FieldFrame(3, -1, "utci_c", "°C", 15, True, g, p.Window(0, 0, 50, 43), p.quantise_u16(np.zeros((50, 43))))
    assert p.decode_server(p.encode(plain)).coarse == 1
    with pytest.raises(p.ProtocolError):
        p.decode_server(p.encode(fr).replace(b"\xa6coarse\x0a", b"\xa6coarse\x00"))  # below 1
    # values that do not fill the coarse raster, and partial frames outside it, are refused
    wrong = p.FieldFrame(3, -1, "air_temp_c", "°C", 15, True, g, p.Window(0, 0, 5, 5), p.quantise_u16(v[:4]), coarse=10)
    with pytest.raises(p.ProtocolError):
        p.apply_field_frame(None, wrong)
    outside = p.FieldFrame(4, 3, "air_temp_c", "°C", 15, False, g, p.Window(3, 3, 3, 3), p.quantise_u16(v[:3, :3]), coarse=10)
    with pytest.raises(p.ProtocolError):
        p.apply_field_frame(v, outside)
    with pytest.raises(p.ProtocolError):  # the base must be the coarse raster, not the grid
        p.apply_field_frame(np.zeros((50, 43), np.float32),
                            p.FieldFrame(4, 3, "air_temp_c", "°C", 15, False, g, p.Window(1, 1, 2, 2),
                                         p.quantise_u16(v[:2, :2]), coarse=10))


def _coarse_sequence(rc: int = 9, cc: int = 11) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    a = rng.uniform(24, 30, (rc, cc)).astype(np.float32)
    seq = [a.copy()]
    a[2, 3] += 0.4  # one cell: sparse
    seq.append(a.copy())
    a[4:7, 5:9] -= 0.2  # a block: window
    seq.append(a.copy())
    a += 0.3  # all: complete
    seq.append(a.copy())
    a[0, 0] += 0.05
    a[8, 10] -= 0.05  # two far corners: sparse
    seq.append(a.copy())
    seq.append(a.copy())  # nothing
    return seq


def test_partial_coarse_frames_and_late_joiners_converge() -> None:
    """Clients that get every coarse frame, miss some or join late (protocol functions and the desktop
    viewer's client) end with the same field on the grid: the bilinear field of the last coarse raster."""
    g = p.GridInfo(rows=70, cols=83, cell_m=2.0, west_m=0.0, south_m=0.0)
    f = 8
    raw = None
    items, kinds = [], set()
    for v, arr in enumerate(_coarse_sequence(), start=1):
        frame, raw = field_frames(v, "air_temp_c", "°C", 15, g, arr, (v - 1, raw) if raw is not None else None, coarse=f)
        for fr in frame if isinstance(frame, tuple) else (frame,):
            assert fr.coarse == f and fr.grid == g
        if isinstance(frame, tuple):
            kinds.add("sparse" if frame[0].cells is not None else "window")
            items.append((Outgoing(frame[0]), Outgoing(frame[1])))
        else:
            kinds.add("full")
            items.append(Outgoing(frame))
    assert {"full", "sparse", "window"} <= kinds
    want = p.upsample_field(p.decode_array(p.quantise_u16(_coarse_sequence()[-1])), g, f)
    user = User("citizen")
    for name, got in {"all": range(len(items)), "misses": [0, 2, 4, 5], "late": [5]}.items():
        conn = Connection(name, user, "s")
        raster = None
        for i in got:
            msg = p.decode_server(unwrap(conn, items[i]).data)
            raster = p.apply_field_frame(raster, msg)
            assert raster.shape == (9, 11)
        np.testing.assert_array_equal(p.field_on_grid(raster, msg), want, err_msg=name)
    from viewer.desktop.client import apply_field

    desktop: dict = {}
    for k, item in enumerate(items):
        msg = p.decode_server((item[0] if isinstance(item, tuple) and k else item[1] if isinstance(item, tuple) else item).data)
        assert apply_field(desktop, msg)
    st = desktop[("air_temp_c", 15)]
    assert st.coarse == f and st.raster is not None and st.raster.shape == (9, 11)
    np.testing.assert_array_equal(st.values_c, want)
    # a partial coarse frame on top of a field held on the grid (another resolution) is not applied
    part = p.decode_server(next(i for i in items if isinstance(i, tuple))[0].data)
    desktop[("air_temp_c", 15)] = type(st)("air_temp_c", 15, "°C", part.base_version, g, st.values_c)
    assert not apply_field(desktop, part)


# --- the heat engine and adapter on a small district ------------------------------------------------
@pytest.fixture(scope="module")
def district():
    from geodata.sample import build_sample_district

    return build_sample_district(size_km=0.5, seed=0, cell_m=6.5)  # f = 3 does not divide the grid: padding


@pytest.fixture(scope="module")
def adapter(district):
    if "heat" not in available_engines():
        pytest.skip("heat engine not present")
    from server.engines import HeatAdapter
    from sim_kernels.runtime import ensure_init

    ensure_init("cpu")
    a = HeatAdapter(district)
    a.energy = False  # the day's building cooling is not what these tests are about
    return a


def _park(district) -> Park:
    from scipy import ndimage

    free = ~ndimage.binary_dilation(district.building_index >= 0, iterations=2)
    inner = ndimage.uniform_filter(free.astype(float), 9)[12:-12, 12:-12]  # away from the district's edge
    r, c = np.unravel_index(int(np.argmax(inner)), inner.shape)
    x, y = district.grid.rowcol_to_xy(int(r) + 12, int(c) + 12)
    return Park(id="park", polygon_local_m=[(x - 30, y - 30), (x + 30, y - 30), (x + 30, y + 30), (x - 30, y + 30)],
                tree_cover=0.4)


@pytest.fixture(scope="module")
def runs(adapter, district):
    base = adapter.compute([], 1, HOURS, lambda *_: None, {})
    coarse1 = adapter.engine.air_coarse()
    edit = adapter.compute([_park(district)], 2, HOURS, lambda *_: None, {})
    coarse2 = adapter.engine.air_coarse()
    return base, coarse1, edit, coarse2


def test_the_engine_air_is_the_upsampled_coarse_air(runs, district, adapter) -> None:
    g = p.GridInfo(*district.grid.shape, district.grid.cell_m, district.grid.west_m, district.grid.south_m)
    f = adapter.engine._air_factor()
    assert f == 3 and district.grid.rows % f and district.grid.cols % f
    for out, (coarse, factor) in ((runs[0], runs[1]), (runs[2], runs[3])):
        assert factor == f and coarse.shape == (len(HOURS), -(-g.rows // f), -(-g.cols // f))
        _, air = out.fields["air_temp_c"]
        assert air.shape == (len(HOURS), g.rows, g.cols)  # exports and KPIs keep the fine field
        for k in range(len(HOURS)):
            tol = adapter.engine.params["air_change_tolerance_k"]
            assert np.abs(p.upsample_field(coarse[k], g, f) - air[k]).max() <= tol + 1e-4
    assert np.abs(runs[3][0] - runs[1][0]).max() > 0.01  # the park cools the air


def _frame(out, layer: str, hour: int, *, partial: bool = False):
    """The complete frame of ``layer`` at ``hour``, or with ``partial`` the frame a client that holds the
    last version gets (the partial frame of a pair, else the complete frame alone)."""
    for f in out.frames:
        if isinstance(f, tuple) and f[1].layer == layer and f[1].hour == hour:
            return f[0] if partial else f[1]
        if isinstance(f, p.FieldFrame) and f.layer == layer and f.hour == hour:
            return f
    raise AssertionError(f"no frame of {layer} at {hour}")


def test_the_adapter_sends_the_air_coarse_and_clients_get_the_engine_field(runs, district) -> None:
    base, _, edit, _ = runs
    for layer in ("air_temp_c", "uhi_k"):
        for k, h in enumerate(HOURS):
            full0 = p.decode_server(p.encode(_frame(base, layer, h)))
            assert full0.coarse == 3 and list(full0.values.shape) == list(p.raster_shape(full0))
            part = p.decode_server(p.encode(_frame(edit, layer, h, partial=True)))
            assert part.coarse == 3 and part.base_version in (1, -1)  # -1: the change covers most cells
            raster = p.apply_field_frame(p.apply_field_frame(None, full0), part)  # a client that had the baseline
            late = p.apply_field_frame(None, p.decode_server(p.encode(_frame(edit, layer, h))))  # one that joins now
            np.testing.assert_array_equal(raster, late)
            fine = edit.fields[layer][1][k]
            got = p.field_on_grid(raster, part)
            assert np.abs(got - fine).max() <= 0.005 + 1e-3  # half a quantisation step (plus the air's tolerance)
    # the other heat layers stay on the grid
    assert _frame(edit, "utci_c", 15).coarse == 1


def test_a_park_sends_far_fewer_air_bytes_than_on_the_grid(runs) -> None:
    base, _, edit, _ = runs
    for k, h in enumerate(HOURS):
        part = _frame(edit, "air_temp_c", h, partial=True)
        # the same edit's air on the grid, as partial frame on top of the baseline's (how it travelled before)
        g = part.grid
        _, raw0 = field_frames(1, "air_temp_c", "°C", h, g, base.fields["air_temp_c"][1][k], None)
        fine, _ = field_frames(2, "air_temp_c", "°C", h, g, edit.fields["air_temp_c"][1][k], (1, raw0))
        fine_part = fine[0] if isinstance(fine, tuple) else fine
        assert len(p.encode(part)) * 4 < len(p.encode(fine_part)), (len(p.encode(part)), len(p.encode(fine_part)))


def test_stored_coarse_frames_read_back_on_the_grid(runs) -> None:
    """Results read back from storage (full frames only) give the air on the grid for exports."""
    from server.engines import EngineOutput
    from server.service import ResultSet
    from server.twin import _field_of

    _, _, edit, _ = runs
    res = ResultSet("s", 2, HOURS)
    res.outputs["heat"] = EngineOutput(kpis={}, frames=[p.decode_server(p.encode(f[1] if isinstance(f, tuple) else f))
                                                        for f in edit.frames])
    for layer in ("air_temp_c", "uhi_k", "utci_c"):
        for k, h in enumerate(HOURS):
            got = _field_of(res, layer, h)
            assert got is not None and got.shape == edit.fields[layer][1][k].shape
            assert np.nanmax(np.abs(got - edit.fields[layer][1][k])) <= 0.006


def test_a_tree_changes_few_coarse_cells(adapter, district, runs) -> None:
    x, y = district.grid.rowcol_to_xy(district.grid.rows // 2, district.grid.cols // 2)
    out = adapter.compute([_park(district), Tree(id="t", xy_local_m=(float(x), float(y)))], 3, HOURS, lambda *_: None, {})
    part = _frame(out, "air_temp_c", 15, partial=True)
    assert part.coarse == 3 and not part.full and len(p.encode(part)) < 4096


def test_the_web_viewer_upsamples_coarse_frames_like_the_server(tmp_path) -> None:
    """The web viewer's decoder (viewer/web/src/fields.ts, run in node) applies full, window and sparse
    coarse frames and interpolates them to the grid as :func:`protocol.upsample_field` does."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    web = Path(__file__).resolve().parents[1] / "viewer" / "web"
    esbuild = web / "node_modules" / ".bin" / "esbuild"
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the README's set-up installs Node 20+)")
    if not esbuild.exists():
        pytest.skip("viewer/web/node_modules missing: run `make setup` (npm ci in viewer/web)")
    g = p.GridInfo(rows=70, cols=83, cell_m=2.0, west_m=-40.0, south_m=12.0)
    raw, ref, kinds, want = None, None, [], {}
    for v, arr in enumerate(_coarse_sequence(), start=1):
        frame, raw = field_frames(v, "air_temp_c", "°C", 15, g, arr, (v - 1, raw) if raw is not None else None, coarse=8)
        msg = frame[0] if isinstance(frame, tuple) else frame
        kinds.append("full" if msg.full else ("sparse" if msg.cells is not None else "window"))
        ref = p.apply_field_frame(ref, msg)
        want[v] = p.field_on_grid(ref, msg)
        (tmp_path / f"f{v}.msgpack").write_bytes(p.encode(msg))
    assert {"full", "sparse", "window"} <= set(kinds)
    (tmp_path / "lonlat.json").write_text("[]")
    bundle = tmp_path / "decode.mjs"
    subprocess.run([str(esbuild), "test/decode_frames.ts", "--bundle", "--platform=node", "--format=esm",
                    f"--outfile={bundle}", "--log-level=warning"], cwd=web, check=True, timeout=60)
    out = json.loads(subprocess.run(["node", str(bundle), str(tmp_path)], capture_output=True, text=True,
                                    check=True, timeout=60).stdout)
    for v, w in want.items():
        rec = out[f"f{v}.msgpack"]
        assert rec["result"] == "applied" and rec["version"] == v, rec.get("error")
        got = np.array(rec["values"], np.float32).reshape(g.rows, g.cols)
        np.testing.assert_allclose(got, w, atol=2e-4, err_msg=f"version {v}")
        # the probe at a point reads the interpolated field (the cell (69, 1) holding that point)
        assert rec["sample_centre"] == pytest.approx(float(w[69, 1]), abs=2e-4)


def test_a_road_closure_sends_far_fewer_air_bytes_than_on_the_grid(district) -> None:
    """A closed road changes the vehicles' waste heat widely: its air travels coarse, a small part of
    what the same air on the grid takes (engines of their own, traffic's heat entering heat as live)."""
    if "traffic" not in available_engines() or "heat" not in available_engines():
        pytest.skip("traffic or heat engine not present")
    from geodata.interventions import RoadClosure
    from server.engines import HeatAdapter, TrafficAdapter

    traffic, heat = TrafficAdapter(district), HeatAdapter(district)
    heat.energy = False
    ctx: dict = {}
    base_t = traffic.compute([], 1, (15,), lambda *_: None, ctx)
    base = heat.compute([], 1, (15,), lambda *_: None, ctx)
    edge = int(np.argmax(base_t.edges["flow_veh_h"]))  # the busiest road
    ctx = {}
    traffic.compute([RoadClosure(id="r", edge_index=edge)], 2, (15,), lambda *_: None, ctx)
    out = heat.compute([], 2, (15,), lambda *_: None, ctx)
    sent = _frame(out, "air_temp_c", 15, partial=True)
    assert sent.coarse == 3
    fine_air = out.fields["air_temp_c"][1][0]
    assert np.abs(fine_air - base.fields["air_temp_c"][1][0]).max() > 0.01  # the closure moves the air
    _, raw0 = field_frames(1, "air_temp_c", "°C", 15, sent.grid, base.fields["air_temp_c"][1][0], None)
    fine, _ = field_frames(2, "air_temp_c", "°C", 15, sent.grid, fine_air, (1, raw0))
    fine_sent = fine[0] if isinstance(fine, tuple) else fine
    assert len(p.encode(sent)) * 4 < len(p.encode(fine_sent)), (len(p.encode(sent)), len(p.encode(fine_sent)))
    # a client holding the baseline's coarse raster gets the engine's air within half a quantisation step
    raster = p.apply_field_frame(p.apply_field_frame(None, _frame(base, "air_temp_c", 15)), sent) if not sent.full \
        else p.apply_field_frame(None, sent)
    assert np.abs(p.field_on_grid(raster, sent) - fine_air).max() <= 0.006


# --- the web viewer's drape of a coarse raster in Chromium -------------------------------------------
def _canvas(page) -> np.ndarray:
    import io

    from PIL import Image

    page.wait_for_timeout(800)  # the drape's new textures drawn
    png = page.locator("#canvas").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)


@pytest.mark.timeout(300)
def test_the_web_drape_of_the_coarse_air_equals_its_interpolation_cell_by_cell(browser, web_server, tmp_path) -> None:  # noqa: F811
    """In Chromium the air and the heat island drape as the coarse raster's linearly filtered value
    texture; the picture equals the one drawn cell by cell from the interpolation to the grid (the
    server's bilinear rule) up to the texture's filtering and colour steps."""
    ctx, page, watch = open_viewer(browser, web_server.page_url())
    try:
        for overlay in ("transit", "comments"):  # markers recoloured when later results arrive: not the drape's
            page.evaluate(f"__viewer.setOverlay('{overlay}', false)")
        page.evaluate("__viewer.setRaster('none')")
        bare = _canvas(page)
        for raster, field in (("air_temp", "air_temp_c"), ("uhi", "uhi_k")):
            page.evaluate(f"__viewer.setRaster('{raster}')")
            page.wait_for_function(f"__viewer.draped !== null && __viewer.draped.field === '{field}'"
                                   " && __viewer.draped.coarse && __viewer.draped.opacity > 0", timeout=120000)
            gpu = _canvas(page)
            page.evaluate("__viewer.setCoarseDrape(false)")
            page.wait_for_function("__viewer.draped !== null && !__viewer.draped.coarse", timeout=30000)
            cells = _canvas(page)
            page.evaluate("__viewer.setCoarseDrape(true)")
            drape = float(np.abs(cells - bare).mean())
            diff = float(np.abs(gpu - cells).mean())
            from PIL import Image

            Image.fromarray(np.concatenate([gpu, cells], axis=1).astype(np.uint8)).save(tmp_path / f"{raster}.png")
            assert drape > 5.0, (raster, drape)  # the drape shows
            # a misplaced or flipped texture, or another ramp, would differ by far more than a few colour steps
            assert diff < 0.05 * drape and diff < 1.0 and float(np.abs(gpu - cells).max()) <= 8, (raster, diff, drape)
        assert watch.errors == []
    finally:
        ctx.close()
