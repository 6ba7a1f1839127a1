"""The heat engine: incremental equals full recompute, interventions cool, cross effect of waste
heat, KPIs, bad input changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from heat_fixtures import heat_district

from geodata.apply_heat import HeatApplier, HeatEditError, apply_heat_interventions
from geodata.district import SURFACE
from geodata.interventions import Tree, decode_intervention
from models.heat.engine import FIELDS, HeatEngine, HeatParams, run_heat_day, stress_class

pytestmark = pytest.mark.usefixtures("taichi_cpu")
HOURS = (10, 15)


@pytest.fixture(scope="module")
def district():
    return heat_district(size_m=240.0)


@pytest.fixture(scope="module")
def baseline(district):
    engine = HeatEngine(district)
    return engine, engine.compute([], hours=HOURS)


def _tree(x: float, y: float, **kw) -> Tree:
    return decode_intervention({"kind": "tree", "id": kw.pop("id", "t1"), "xy_local_m": [x, y], **kw})


def _assert_same(a, b) -> None:
    for name in ("tmrt_c", "surface_temp_c", "sunlit", "svf"):
        np.testing.assert_allclose(a.fields[name], b.fields[name], atol=1e-4, err_msg=name)
    for name in ("air_temp_c", "utci_c"):  # within the air tolerance
        np.testing.assert_allclose(a.fields[name], b.fields[name], atol=2e-3, err_msg=name)


def test_fields_kpis_shapes_and_no_nan(district, baseline) -> None:
    _, res = baseline
    rows, cols = district.grid.shape
    for name in FIELDS:
        assert res.fields[name].shape == (len(HOURS), rows, cols) and res.fields[name].dtype == np.float32
        assert np.isfinite(res.fields[name]).all(), name
    assert res.fields["svf"].shape == (rows, cols)
    k = res.kpis
    assert k["kpi_hour"] == 15 and k["utci_p95_c"] >= k["utci_mean_c"] > 26.0
    assert 0 <= k["strong_heat_stress_hours_per_resident"] <= len(HOURS)
    assert k["cost_eur"] == 0 and k["utci_diff_to_baseline_k"] == 0
    assert all(np.isfinite(v) for v in k.values())
    assert res.changed_window == (0, rows, 0, cols)
    sunlit = res.fields["sunlit"]
    assert ((sunlit >= 0) & (sunlit <= 1)).all() and (sunlit == 0).any() and (sunlit == 1).any()


def test_incremental_equals_full_recompute(district, baseline) -> None:
    engine, _ = baseline
    edits = [
        [_tree(120.0, 30.0, height_m=14, crown_diameter_m=10)],
        [_tree(120.0, 30.0, height_m=14, crown_diameter_m=10),
         decode_intervention({"kind": "cool_surface", "id": "c1",
                              "polygon_local_m": [[20, 110], [100, 110], [100, 130], [20, 130]]})],
        [decode_intervention({"kind": "green_roof", "id": "g1", "building_id": 3})],
    ]
    for scenario in edits:
        inc = engine.compute(scenario, hours=HOURS)
        full = HeatEngine(district).compute(scenario, hours=HOURS, full=True)
        _assert_same(inc, full)
        assert inc.kpis["cost_eur"] == full.kpis["cost_eur"] > 0
    engine.compute([], hours=HOURS)
    # the tree's shadows and sky view touch a bounded window (air changes below 1 K left out here)
    coarse = HeatEngine(district, params=HeatParams.default(air_change_tolerance_k=1.0))
    coarse.compute([], hours=HOURS)
    one = coarse.compute(edits[0], hours=HOURS)
    r0, r1, c0, c1 = one.changed_window
    assert (r1 - r0) * (c1 - c0) < 0.8 * district.grid.rows * district.grid.cols
    again = coarse.compute(edits[0], hours=HOURS)
    assert again.changed_window is None
    np.testing.assert_array_equal(again.fields["utci_c"], one.fields["utci_c"])


def test_tree_shades_and_cools(district, baseline) -> None:
    engine, base = baseline
    res = engine.compute([_tree(120.0, 30.0, height_m=14, crown_diameter_m=10)], hours=HOURS)
    r, c = district.grid.xy_to_rowcol(np.array([120.0]), np.array([30.0]))
    k = HOURS.index(15)
    assert res.fields["sunlit"][k, r[0], c[0]] < 0.1 <= base.fields["sunlit"][k, r[0], c[0]]
    assert res.fields["tmrt_c"][k, r[0], c[0]] < base.fields["tmrt_c"][k, r[0], c[0]] - 15
    assert res.fields["utci_c"][k, r[0], c[0]] < base.fields["utci_c"][k, r[0], c[0]] - 4
    assert res.kpis["utci_diff_to_baseline_k"] < 0 and res.kpis["cooling_utci_k_per_1000_eur"] > 0
    assert res.kpis["cost_eur"] == pytest.approx(3500.0)
    engine.compute([], hours=HOURS)


def test_the_shown_utci_is_handed_out_before_the_key_figures(district, baseline) -> None:
    """``early`` gets the key figures' hour and its UTCI once, as the result then returns it."""
    engine, _ = baseline
    got: list = []
    res = engine.compute([_tree(60.0, 40.0)], hours=HOURS, early=lambda h, u: got.append((h, u.copy())))
    assert [h for h, _ in got] == [15] == [int(res.kpis["kpi_hour"])]
    np.testing.assert_array_equal(got[0][1], res.fields["utci_c"][HOURS.index(15)])
    engine.compute([], hours=HOURS)


def test_waste_heat_warms_the_air_downwind(district, baseline) -> None:
    engine, base = baseline
    qf = np.zeros(district.grid.shape, np.float32)
    rows, cols = district.grid.shape
    qf[rows // 2 - 3: rows // 2 + 3, :] = 150.0  # traffic heat along the street
    res = engine.compute([], hours=HOURS, anthropogenic_heat_w_m2=qf)
    diff = res.fields["air_temp_c"] - base.fields["air_temp_c"]
    assert diff.max() > 0.05 and diff.min() > -1e-4
    assert res.kpis["air_temp_diff_to_baseline_k"] > 0
    # the wind blows from 250 degrees: the warmth drifts north-east of the street, not south-west
    k = HOURS.index(15)
    assert diff[k, rows // 2 - 20, cols // 2] > diff[k, rows // 2 + 20, cols // 2]
    engine.compute([], hours=HOURS)


def test_bad_input_changes_nothing(district, baseline) -> None:
    engine, base = baseline
    before = engine.compute([], hours=HOURS)
    with pytest.raises(HeatEditError, match="outside"):
        engine.compute([_tree(5000.0, 30.0)], hours=HOURS)
    with pytest.raises(HeatEditError, match="positive"):
        engine.compute([Tree(id="neg", xy_local_m=(50.0, 50.0), height_m=-3.0)], hours=HOURS)
    with pytest.raises(ValueError, match="hours"):
        engine.compute([], hours=(25,))
    with pytest.raises(ValueError, match="anthropogenic"):
        engine.compute([], hours=HOURS, anthropogenic_heat_w_m2=np.zeros((3, 3)))
    after = engine.compute([], hours=HOURS)
    assert after.changed_window is None
    np.testing.assert_array_equal(after.fields["utci_c"], before.fields["utci_c"])


def test_apply_heat_interventions_edit_copies(district) -> None:
    poly = [[150, 10], [230, 10], [230, 60], [150, 60]]
    edits = [decode_intervention({"kind": "park", "id": "p", "polygon_local_m": poly, "tree_cover": 0.3}),
             decode_intervention({"kind": "water", "id": "w", "polygon_local_m": [[20, 200], [40, 200], [40, 220]]}),
             decode_intervention({"kind": "unseal", "id": "u", "polygon_local_m": [[0, 110], [50, 110], [50, 130], [0, 130]]}),
             decode_intervention({"kind": "tree_row", "id": "r", "line_local_m": [[10, 150], [200, 150]], "spacing_m": 15})]
    surf = apply_heat_interventions(district, edits)
    assert district.canopy_m.max() == 0  # the District is untouched
    assert (surf.canopy_m > 0).sum() > 100
    assert (surf.surface_class == SURFACE["asphalt"]).sum() < (district.surface_class == SURFACE["asphalt"]).sum()
    assert (surf.surface_class == SURFACE["water"]).sum() > (district.surface_class == SURFACE["water"]).sum()
    assert surf.cost_eur > 50 * 80 * 60
    assert surf.changed_window is not None
    roof = decode_intervention({"kind": "green_roof", "id": "g", "building_id": 999})
    with pytest.raises(HeatEditError, match="999"):
        apply_heat_interventions(district, [roof])


def test_applier_builds_on_the_previous_list_as_a_fresh_apply_would(district) -> None:
    """The live loop's applier adds new interventions on top of the last list; every result equals
    ``apply_heat_interventions`` of the whole list (also after an undo, a change in the middle and a
    refused intervention, which leaves its memory as it was)."""
    poly = [[150, 10], [230, 10], [230, 60], [150, 60]]
    items = [_tree(60.0, 40.0, id="a", height_m=12, crown_diameter_m=8),
             decode_intervention({"kind": "park", "id": "p", "polygon_local_m": poly, "tree_cover": 0.3}),
             decode_intervention({"kind": "road_closure", "id": "rc", "edge_index": 0}),
             _tree(62.0, 44.0, id="b", height_m=20, crown_diameter_m=6),
             decode_intervention({"kind": "unseal", "id": "u", "polygon_local_m": [[0, 110], [50, 110], [50, 130], [0, 130]]}),
             decode_intervention({"kind": "cool_surface", "id": "c", "polygon_local_m": [[0, 105], [60, 105], [60, 125], [0, 125]]})]
    moved = _tree(100.0, 90.0, id="a", height_m=12, crown_diameter_m=8)
    lists = [items[:1], items[:2], items[:3], items[:4], items[:6], items[:6], items[:4], [moved, *items[1:6]], []]
    applier = HeatApplier(district)
    for k, lst in enumerate(lists):
        got, want = applier(lst), apply_heat_interventions(district, lst)
        for name in ("dsm_m", "canopy_m", "surface_class"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=f"{k} {name}")
        assert (got.changed_window, got.cost_eur) == (want.changed_window, want.cost_eur), k
        if k == 4:
            kept = got
            roof = decode_intervention({"kind": "green_roof", "id": "g", "building_id": 999})
            with pytest.raises(HeatEditError, match="999"):
                applier([*lst, roof])
    again = apply_heat_interventions(district, items[:6])  # what was handed out is not written into later
    np.testing.assert_array_equal(kept.canopy_m, again.canopy_m)
    np.testing.assert_array_equal(kept.surface_class, again.surface_class)
    assert district.canopy_m.max() == 0


def test_stress_classes_and_full_day(district) -> None:
    p = HeatParams.default()
    assert stress_class(np.array([-50.0, 20.0, 30.0, 33.0, 40.0, 50.0]), p).tolist() == [0, 5, 6, 7, 8, 9]
    small = heat_district(size_m=80.0, cell_m=4.0)
    day = run_heat_day(small)
    assert day.hours[0] <= 7 and day.hours[-1] >= 19
    utci = day.fields["utci_c"]
    assert np.isfinite(utci).all()
    assert utci.mean(axis=(1, 2)).argmax() in [day.hours.index(h) for h in (13, 14, 15, 16)]


def test_a_paved_patch_warms_the_tmrt_around_it(district, baseline) -> None:
    """A person sees the ground around them: a cool (bright) surface changes Tmrt a few metres
    beyond its own cells, the incremental window reaches that far, and it equals a full recompute."""
    engine, base = baseline
    patch = decode_intervention({"kind": "cool_surface", "id": "c2",
                                 "polygon_local_m": [[20, 110], [60, 110], [60, 130], [20, 130]]})
    res = engine.compute([patch], hours=HOURS)
    cls_changed = apply_heat_interventions(district, [patch]).surface_class != district.surface_class
    rows = np.flatnonzero(cls_changed.any(axis=1))
    cols = np.flatnonzero(cls_changed.any(axis=0))
    reach = int(round(engine.params["ground_view_radius_m"] / district.grid.cell_m))
    r0, r1, c0, c1 = res.changed_window
    assert r0 <= rows[0] - reach and r1 >= rows[-1] + 1 + reach and c0 <= cols[0] - reach
    k = HOURS.index(15)
    outside = np.zeros_like(cls_changed)
    outside[max(rows[0] - reach, 0):rows[-1] + 1 + reach, max(cols[0] - reach, 0):cols[-1] + 1 + reach] = True
    outside &= ~cls_changed
    changed = np.abs(res.fields["tmrt_c"][k] - base.fields["tmrt_c"][k]) > 0.01
    assert (changed & outside).any()  # Tmrt changed where the ground did not
    assert not (changed & ~outside & ~cls_changed).any()  # and nowhere farther
    _assert_same(res, HeatEngine(district).compute([patch], hours=HOURS, full=True))
    engine.compute([], hours=HOURS)


def test_air_holds_the_full_pass_within_the_tolerance_over_many_edits(district) -> None:
    """Incremental air keeps a cell's value while it stays within ``air_change_tolerance_k`` of the
    new one; over a run of edits (trees added, moved and taken away) no cell drifts further."""
    tol = HeatParams.default()["air_change_tolerance_k"]
    engine = HeatEngine(district)
    engine.compute([], hours=(15,))
    rng = np.random.default_rng(5)
    trees: list = []
    for i in range(7):
        if i == 4:
            trees.pop(0)
        else:
            trees.append(_tree(float(rng.uniform(20, 220)), float(rng.uniform(20, 220)), id=f"t{i}",
                               height_m=16, crown_diameter_m=12))
        inc = engine.compute(trees, hours=(15,))
        full = HeatEngine(district).compute(trees, hours=(15,), full=True)
        err = np.abs(inc.fields["air_temp_c"] - full.fields["air_temp_c"]).max()
        assert err <= tol + 1e-5, (i, err)
        np.testing.assert_allclose(inc.fields["utci_c"], full.fields["utci_c"], atol=2e-3)
