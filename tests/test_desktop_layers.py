"""The desktop viewer's plain functions, without a server or a GPU: colour scales and legends (the web
viewer's), layer logic, the ground under the drape, roads and stops, the tools, the message dispatch
and the film's frames."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import protocol as p
from geodata.interventions import (
    BusLine,
    GreenRoof,
    NewStop,
    OnDemandZone,
    Park,
    RoadClosure,
    SpeedLimit,
    Tree,
    TreeRow,
    Unseal,
)
from viewer.desktop.app import building_triangles, design_day, ray_triangles
from viewer.desktop.client import FieldState, TwinClient, apply_field, apply_message
from viewer.desktop.film import FilmError, day_frames
from viewer.desktop.layers import (
    HEAT_STRESS,
    LAYERS,
    OVERLAYS,
    RAMPS,
    RASTERS,
    TRANSIT_CLASSES,
    VC_CLASSES,
    colour_values,
    field_for,
    field_rgba,
    layer_id,
    legend_for,
    legend_image,
    legend_text,
    ramp_rgb,
    wanted_layers,
)
from viewer.desktop.places import deficit_quads, nearest_edge, road_colours, roads_from_geojson, stop_colours
from viewer.desktop.scene_objects import LayerArrays
from viewer.desktop.terrain import corner_heights, height_at
from viewer.desktop.tools import TOOLS, Hit, ToolSession

COLORMAP_TS = Path(__file__).resolve().parents[1] / "viewer" / "web" / "src" / "colormap.ts"


# --- colours and legends ----------------------------------------------------------------------------
def _ts_hex_list(name: str) -> list[tuple[int, int, int]]:
    text = COLORMAP_TS.read_text(encoding="utf-8")
    m = re.search(rf"const {name} = \[([^\]]*)\]", text) or re.search(rf"{name}: Classes = \{{[^}}]*colours: \[([^\]]*)\]",
                                                                       text, re.S)
    assert m, name
    return [(int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)) for h in re.findall(r"#([0-9a-fA-F]{6})", m.group(1))]


def test_colour_scales_are_the_web_viewers() -> None:
    if not COLORMAP_TS.exists():
        pytest.skip("viewer/web/src/colormap.ts not in this checkout")
    assert list(RAMPS["utci"].stops) == _ts_hex_list("WARM") == list(RAMPS["tmrt"].stops)
    assert list(RAMPS["diff"].stops) == _ts_hex_list("COOL_WARM")
    assert list(RAMPS["access"].stops) == _ts_hex_list("PURPLES")
    assert list(RAMPS["traffic"].stops) == _ts_hex_list("TRAFFIC")
    assert list(HEAT_STRESS.colours) == _ts_hex_list("HEAT_STRESS")
    assert list(VC_CLASSES.colours) == _ts_hex_list("VC_CLASSES")
    assert list(TRANSIT_CLASSES.colours) == _ts_hex_list("TRANSIT_CLASSES")
    text = COLORMAP_TS.read_text(encoding="utf-8")
    for key in ("surface_temp", "air_temp", "utci", "tmrt", "access", "traffic", "diff"):
        lo, hi = re.search(rf"{key}: \{{ lo: (-?[\d.]+), hi: (-?[\d.]+)", text).groups()  # type: ignore[union-attr]
        assert (RAMPS[key].lo, RAMPS[key].hi) == (float(lo), float(hi)), key


def test_ramps_interpolate_between_stops_and_clamp() -> None:
    r = RAMPS["utci"]
    got = ramp_rgb(r, np.array([r.lo - 10, r.lo, r.hi, r.hi + 10, np.nan]))
    assert tuple(got[0]) == tuple(got[1]) == r.stops[0] and tuple(got[2]) == tuple(got[3]) == r.stops[-1]
    assert tuple(got[4]) == r.stops[0]
    mid = r.lo + (r.hi - r.lo) / 12  # halfway between the first two of seven stops
    expect = np.rint((np.array(r.stops[0]) + np.array(r.stops[1])) / 2)
    assert np.abs(ramp_rgb(r, np.array([mid]))[0].astype(int) - expect).max() <= 1


def test_heat_stress_classes_have_their_edges_and_nan_is_transparent() -> None:
    vals = np.array([[20.0, 26.0, 31.99, 32.0], [38.0, 45.9, 46.0, np.nan]])
    rgba = field_rgba(vals, "heat_stress")
    cls = [0, 1, 1, 2, 3, 3, 4]
    for k, c in enumerate(cls):
        assert tuple(rgba.reshape(-1, 4)[k, :3]) == HEAT_STRESS.colours[c]
    assert rgba[1, 3, 3] == 0 and (rgba.reshape(-1, 4)[:7, 3] == 235).all()
    assert (field_rgba(vals, "utci_c") == field_rgba(vals, "utci")).all()  # server field names mean their layer
    with pytest.raises(ValueError):
        field_rgba(np.zeros(5))


def test_every_layer_has_german_and_english_legends() -> None:
    for lid, spec in LAYERS.items():
        de, en = legend_text(lid, "de"), legend_text(lid, "en")
        assert de[0] and de[1] and en[0] and en[1] and de != en, lid
        leg = legend_for(lid)
        if spec.scale is not None:
            assert len(leg) >= 5 and all(e.label_de and e.label_en for e in leg), lid
            assert all(a.hi_c == pytest.approx(b.lo_c) for a, b in zip(leg, leg[1:], strict=False)), lid
            # each swatch has the colour the scale gives the middle of its step (a class: any value in it)
            for e in leg:
                v = (e.lo_c + e.hi_c) / 2 if np.isfinite(e.lo_c + e.hi_c) else (e.hi_c - 0.01 if np.isfinite(e.hi_c)
                                                                                else e.lo_c + 0.01)
                assert tuple(colour_values(lid, np.array([v]))[0]) == e.rgb, lid
    assert legend_for("heat_stress")[2].label_de == "starker Wärmestress"
    assert legend_for("vc")[3].label_de == "0,9–1,0" and legend_for("vc")[3].label_en == "0.9–1.0"
    bar = legend_image(legend_for("heat_stress"), swatch_px=10, width_px=8)
    assert bar.shape == (50, 8, 4) and tuple(bar[5, 4, :3]) == HEAT_STRESS.colours[-1]  # the worst on top


def test_layer_names_fields_and_subscriptions() -> None:
    assert set(RASTERS) == {"utci", "tmrt", "air_temp", "surface_temp", "uhi", "heat_stress"}
    assert {"traffic", "vc", "vehicles", "agents", "transit", "comments", "access", "cooling", "cooling_change"} \
        <= set(OVERLAYS)
    assert layer_id("utci_c") == "utci" and layer_id("surface_temp_c") == "surface_temp" and layer_id("uhi_k") == "uhi"
    assert field_for("uhi") == "uhi_k" and wanted_layers("utci", ("cooling",)) == ("heat",)
    assert field_for("heat_stress") == "utci_c" and field_for("air_temp") == "air_temp_c" and field_for("traffic") == ""
    with pytest.raises(ValueError, match="Unbekannte Ebene.*unknown layer"):
        layer_id("wind")
    assert wanted_layers("utci") == ("heat",)
    assert wanted_layers("access", {"vc", "agents"}) == ("access", "agents", "heat", "traffic")
    assert wanted_layers("tmrt", {"transit", "comments"}) == ("access", "heat")


# --- ground -----------------------------------------------------------------------------------------
def _plane_terrain(step_m: float, extent_m: float, slope: tuple[float, float], z0: float) -> LayerArrays:
    """A tilted plane as a mesh of coarse triangles (glTF axes): y = z0 + sx * east + sy * north."""
    n = int(round(extent_m / step_m))
    e, nn = np.meshgrid(np.arange(n + 1) * step_m, np.arange(n + 1) * step_m, indexing="xy")
    y = z0 + slope[0] * e + slope[1] * nn
    pos = np.stack([e.ravel(), y.ravel(), -nn.ravel()], 1).astype(np.float32)
    i = (np.arange(n)[None, :] + np.arange(n)[:, None] * (n + 1)).ravel()
    tris = np.concatenate([np.stack([i, i + 1, i + n + 1], 1), np.stack([i + 1, i + n + 2, i + n + 1], 1)])
    return LayerArrays("terrain", pos, np.zeros_like(pos), np.zeros((len(pos), 4), np.uint8),
                       tris.ravel().astype(np.uint32))


def test_drape_corners_lie_on_coarse_terrain_triangles() -> None:
    grid = p.GridInfo(rows=50, cols=40, cell_m=2.0, west_m=0.0, south_m=0.0)  # 80 x 100 m of 2 m cells
    ter = _plane_terrain(7.8125, 125.0, (0.3, -0.2), 100.0)  # a steep plane of ~8 m triangles
    h = corner_heights(grid, [ter])
    assert h.shape == (51, 41) and np.isfinite(h).all()
    r, c = np.meshgrid(np.arange(51), np.arange(41), indexing="ij")
    east, north = c * 2.0, (50 - r) * 2.0
    assert np.abs(h - (100.0 + 0.3 * east - 0.2 * north)).max() < 1e-3  # on the plane, hills and valleys alike
    # bilinear height between corners on a plane is the plane
    x, y = np.array([1.0, 33.3, 79.0]), np.array([99.0, 50.5, 0.4])
    assert np.allclose(height_at(h, grid, x, y), 100.0 + 0.3 * x - 0.2 * y, atol=1e-3)
    # a triangle soup (no indices) and corners beyond the terrain: nearest covered height
    small = _plane_terrain(20.0, 40.0, (0.0, 0.0), 5.0)
    soup = LayerArrays("terrain", small.positions[small.indices], small.normals[small.indices],
                       small.colors[small.indices], None)
    h2 = corner_heights(grid, [soup])
    assert np.isfinite(h2).all() and np.allclose(h2, 5.0)


def test_a_coarse_drape_never_sinks_below_the_terrain() -> None:
    from viewer.desktop.app import _drape_geometry, drape_step

    grid = p.GridInfo(rows=50, cols=40, cell_m=2.0, west_m=0.0, south_m=0.0)
    assert drape_step(grid, 7.8125) == 3 and drape_step(grid, 1.0) == 1 and drape_step(grid, 100.0) == 8
    ridge = _plane_terrain(7.8125, 125.0, (0.0, 0.0), 100.0)
    ridge.positions[:, 1] += np.abs(ridge.positions[:, 0] - 41.0).astype(np.float32) * -0.5  # a ridge at 41 m east
    fine = corner_heights(grid, [ridge])
    geo = _drape_geometry(grid, fine, 3)
    pos = geo["positions"]
    assert set(np.unique(pos[:, 0])) >= {0.0, 80.0} and set(np.unique(-pos[:, 2])) >= {0.0, 100.0}  # edges kept
    assert geo["texcoords"].min() == 0.0 and geo["texcoords"].max() == 1.0
    # the drape's surface (linear between its corners) lies above the terrain at every fine corner
    x, north = np.meshgrid(np.arange(41) * 2.0, np.arange(51) * 2.0)
    from scipy.interpolate import griddata

    surf = griddata(np.stack([pos[:, 0], -pos[:, 2]], 1), pos[:, 1], (x, north), method="linear")
    ground = fine[::-1]  # rows of corner heights run from north to south
    assert np.nanmin(surf - ground) > 0.0
    assert np.nanmax(surf - ground) < 4.0  # and close to it


def test_rays_meet_the_nearest_building_triangle() -> None:
    tris = np.array([[[0, 10, 0], [10, 10, 0], [0, 10, -10]], [[0, 5, 0], [10, 5, 0], [0, 5, -10]]], float)
    ids = np.array([7, 9])
    layer = LayerArrays("buildings", tris.reshape(-1, 3).astype(np.float32), np.zeros((6, 3), np.float32),
                        np.zeros((6, 4), np.uint8), None)
    layer.ids = np.array([7, 7, 7, 9, 9, 9])  # type: ignore[attr-defined]
    t, i = building_triangles([layer])
    assert t.shape == (2, 3, 3) and list(i) == [7, 9]
    k, dist = ray_triangles(np.array([2.0, 50.0, -2.0]), np.array([0.0, -1.0, 0.0]), tris)
    assert ids[k] == 7 and dist == pytest.approx(40.0)
    assert ray_triangles(np.array([20.0, 50.0, -2.0]), np.array([0.0, -1.0, 0.0]), tris)[0] == -1


def test_design_day_from_the_welcome_or_the_default() -> None:
    assert design_day(SimpleNamespace()) == (date(2026, 7, 1), 2.0)
    assert design_day(SimpleNamespace(design_day="2025-08-14", time_zone="Europe/Berlin")) == (date(2025, 8, 14), 2.0)
    assert design_day(SimpleNamespace(design_day="2025-01-14", time_zone="Europe/Berlin")) == (date(2025, 1, 14), 1.0)
    assert design_day(SimpleNamespace(date="bad", utc_offset_h=3)) == (date(2026, 7, 1), 3.0)


# --- roads, stops, areas ----------------------------------------------------------------------------
def test_roads_from_geojson_nearest_edge_and_colours() -> None:
    from geodata.crs import lonlat_to_utm, utm_to_lonlat

    epsg = 25832
    origin = (690000.0, 5670000.0)
    pts = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 80.0]]) + np.array(origin)
    lon, lat = utm_to_lonlat(pts[:, 0], pts[:, 1], epsg)
    ll = np.stack([lon, lat], 1).tolist()
    doc = {"features": [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": ll[:2]}, "properties": {"edge_index": 0}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": ll[1:]}, "properties": {"edge_index": 1}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": ll[0]}, "properties": {"edge_index": 5}},
    ]}
    roads = roads_from_geojson(doc, epsg, origin)
    assert roads.seg_xy.shape == (2, 2, 2) and list(roads.seg_edge) == [0, 1] and roads.n_edges == 2
    assert np.allclose(roads.seg_xy[0], [[0, 0], [100, 0]], atol=1e-3)
    assert nearest_edge(roads, 50.0, 4.0) == 0 and nearest_edge(roads, 96.0, 60.0) == 1
    assert nearest_edge(roads, 50.0, 60.0, reach_m=20.0) == -1
    e, n = lonlat_to_utm(np.array([ll[2][0]]), np.array([ll[2][1]]), epsg)
    assert abs(e[0] - origin[0] - 100.0) < 1e-3 and abs(n[0] - origin[1] - 80.0) < 1e-3
    cols = road_colours("vc", {"vc_ratio": np.array([0.2, 1.2], np.float32)}, roads.seg_edge)
    assert tuple(cols[0]) == VC_CLASSES.colours[0] and tuple(cols[1]) == VC_CLASSES.colours[-1]
    cols = road_colours("traffic", {"flow_veh_h": np.array([0.0], np.float32)}, roads.seg_edge)
    assert tuple(cols[0]) == RAMPS["traffic"].stops[0] and tuple(cols[1]) == (150, 150, 150)  # edge 1 unknown
    sc = stop_colours(np.array([0, 5, 9]), 4)
    assert tuple(sc[0]) == TRANSIT_CLASSES.colours[0] and tuple(sc[1]) == TRANSIT_CLASSES.colours[5]
    assert tuple(sc[2]) == TRANSIT_CLASSES.colours[5] and tuple(sc[3]) == (120, 120, 120)
    area = p.DeficitArea("65+", (50.0, 50.0), 12, 25.0, "a1", (0.0, 0.0, 100.0, 100.0), {"doctor": 12})
    quads, rgb = deficit_quads([area])
    assert quads.shape == (1, 4, 2) and tuple(rgb[0]) == tuple(ramp_rgb(RAMPS["access"], np.array([25.0]))[0])


# --- tools ------------------------------------------------------------------------------------------
def test_every_tool_makes_its_intervention() -> None:
    made = {}
    for tool in TOOLS:
        s = ToolSession(tool, green_roofs={42: "roof-old"})
        spec = TOOLS[tool]
        if spec.input == "point":
            assert s.tap(Hit((10.0, 20.0), building_id=3))[0] == "ignored"
            what, obj = s.tap(Hit((10.004, 20.0)))
            assert what == "add" and obj.xy_local_m == (10.0, 20.0)
        elif spec.input == "building":
            assert s.tap(Hit((1.0, 1.0)))[0] == "ignored"
            assert s.tap(Hit((1.0, 1.0), building_id=42)) == ("remove", "roof-old")  # a second tap takes it away
            what, obj = s.tap(Hit((1.0, 1.0), building_id=7))
            assert what == "add" and obj.building_id == 7
        elif spec.input == "road":
            assert s.tap(Hit((1.0, 1.0)))[0] == "ignored"
            what, obj = s.tap(Hit((1.0, 1.0), edge_index=12))
            assert what == "add" and obj.edge_index == 12
        else:
            for k in range(spec.min_points - 1):
                assert s.tap(Hit((k * 30.0, (k % 2) * 40.0))) == ("pending", None)
            assert s.finish() is None and s.can_finish() is False  # too few points yet
            s.tap(Hit((90.0, 90.0)))
            s.tap(Hit((5.0, 5.0)))
            s.back()
            assert len(s.points) == spec.min_points
            obj = s.finish()
            assert obj is not None and s.points == []
        made[tool] = obj
    assert isinstance(made["tree"], Tree) and isinstance(made["new_stop"], NewStop)
    assert isinstance(made["tree_row"], TreeRow) and isinstance(made["park"], Park)
    assert isinstance(made["unseal"], Unseal) and isinstance(made["green_roof"], GreenRoof)
    assert isinstance(made["road_closure"], RoadClosure) and isinstance(made["bus_line"], BusLine)
    assert isinstance(made["tempo30"], SpeedLimit) and made["tempo30"].maxspeed_kmh == 30.0
    assert isinstance(made["on_demand"], OnDemandZone)
    assert len({o.id for o in made.values()}) == len(made)  # fresh ids


# --- message dispatch -------------------------------------------------------------------------------
def _grid() -> p.GridInfo:
    return p.GridInfo(rows=4, cols=5, cell_m=2.0, west_m=0.0, south_m=0.0)


def _frame(version: int, base: int, vals: np.ndarray, window: p.Window | None = None) -> p.FieldFrame:
    g = _grid()
    w = window or p.Window(0, 0, g.rows, g.cols)
    return p.FieldFrame(version, base, "utci_c", "°C", 15, window is None, g, w, p.quantise_u16(vals))


def test_partial_frames_apply_on_their_base_only() -> None:
    fields: dict[tuple[str, int], FieldState] = {}
    full = np.arange(20, dtype=np.float32).reshape(4, 5)
    assert apply_field(fields, _frame(3, -1, full))
    part = np.full((2, 2), 99.0, np.float32)
    assert not apply_field(fields, _frame(5, 4, part, p.Window(1, 1, 2, 2)))  # base 4 missing: nothing stored
    assert fields[("utci_c", 15)].version == 3
    assert apply_field(fields, _frame(4, 3, part, p.Window(1, 1, 2, 2)))
    got = fields[("utci_c", 15)]
    expect = full.copy()
    expect[1:3, 1:3] = 99.0
    assert got.version == 4 and np.allclose(got.values_c, expect, atol=0.006)
    assert apply_field(fields, _frame(2, -1, full + 1))  # an older full frame never replaces a newer one
    assert fields[("utci_c", 15)].version == 4


def test_messages_reach_the_client_state() -> None:
    c = TwinClient("http://127.0.0.1:1", "s1")
    user = p.UserInfo(role="planner", department="Stadtplanung")
    tree = Tree(id="t1", xy_local_m=(5.0, 5.0))
    state = p.ScenarioState("s1", "A", "sample", 7, "active", "official", [p.InterventionEntry(tree, 1, user)])
    welcome = p.Welcome(1, "sess", user, True, state, _grid(), [])
    for msg in (welcome, _frame(7, -1, np.ones((4, 5), np.float32))):
        assert apply_message(c, msg)
    assert c.version == 7 and c.interventions["t1"][1] == 1 and c.field("utci_c", 15).version == 7  # type: ignore[union-attr]
    assert not apply_message(c, _frame(9, 8, np.ones((1, 1), np.float32), p.Window(0, 0, 1, 1)))
    flow = np.array([10.0, 20.0], np.float32)
    apply_message(c, p.EdgeFrame(8, p.encode_array(flow), p.encode_array(flow / 100), p.encode_array(flow)))
    assert c.edges_version == 8 and np.allclose(c.edges["vc_ratio"], [0.1, 0.2])
    apply_message(c, p.EdgeFrame(6, p.encode_array(flow * 0), p.encode_array(flow), p.encode_array(flow)))
    assert np.allclose(c.edges["flow_veh_h"], flow)  # an older frame is ignored
    apply_message(c, p.AgentFrame(8, "people", 54000.0, p.encode_array(np.zeros((3, 2), np.float32))))
    assert c.agents["people"][2].shape == (3, 2)
    acc = p.AccessFrame(8, p.encode_array(np.array([4.0], np.float32)), p.encode_array(np.array([2], np.uint8)), [])
    apply_message(c, acc)
    assert c.access is acc
    applied = p.EditApplied("s1", 8, "remove", "edit", "t1", 2, None, user, "sess", 5, "2026-07-01T12:00:00Z")
    apply_message(c, applied)
    assert c.version == 8 and "t1" not in c.interventions and c.applied[5] is applied
    other = p.EditApplied("s1", 9, "add", "undo", "t1", 3, tree, user, "other", 5, "2026-07-01T12:00:01Z")
    apply_message(c, other)
    assert c.interventions["t1"] == (tree, 3) and c.applied[5] is applied  # someone else's request id
    apply_message(c, p.EditRejected(6, "conflict", "Konflikt", "conflict", 9))
    assert 6 in c.rejected
    info = p.CommentInfo(1, "s1", 9, (1.0, 2.0, 100.0), "idea", "mehr Bäume", "Ana", 0, False, "", "2026-07-01T12:00:02Z")
    apply_message(c, p.CommentEvent(info))
    assert c.comments[1].kind == "idea"
    assert c.counts["field"] == 2 and c.counts["edges"] == 2 and c.counts["welcome"] == 1


# --- film -------------------------------------------------------------------------------------------
def test_day_frames_interpolate_linearly_between_hours() -> None:
    a, b, c = np.zeros((2, 2), np.float32), np.full((2, 2), 4.0, np.float32), np.full((2, 2), 2.0, np.float32)
    frames = list(day_frames({14: b, 12: a, 13: c}, 4))
    assert [t for t, _ in frames] == [12.0, 12.25, 12.5, 12.75, 13.0, 13.25, 13.5, 13.75, 14.0]
    assert [float(f[0, 0]) for _, f in frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    with pytest.raises(FilmError):
        list(day_frames({12: a}, 4))
    with pytest.raises(FilmError):
        list(day_frames({12: a, 13: b}, 0))
