"""Privacy: results leave the access engine only as aggregates; no group of fewer than 5 persons and
no count of 1 to 4 appears in any area, and no person-level table is written."""

from __future__ import annotations

import json

import numpy as np
from access_world import grid_district
from hypothesis import given, settings
from hypothesis import strategies as st

from models.people.access import AccessEngine, aggregate_areas


def _walk_counts(areas):
    for a in areas:
        for g in a["groups"].values():
            yield g["persons"]
            yield from g["deficit"].values()


def _assert_safe(areas, min_n=5):
    for a in areas:
        for g in a["groups"].values():
            if g["persons"] is None:
                assert g["suppressed"] and all(v is None for v in g["deficit"].values())
            else:
                assert g["persons"] >= min_n
    for v in _walk_counts(areas):
        assert v is None or v == 0 or v >= min_n


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 300), st.floats(50.0, 800.0))
def test_no_small_counts_in_any_area(seed, n, area_m) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2000, size=(n, 2))
    groups = {"age65_no_car": rng.random(n) < 0.3, "under18": rng.random(n) < 0.2}
    deficit = {"doctor": rng.random(n) < 0.5, "stop": rng.random(n) < 0.1}
    areas = aggregate_areas(xy, groups, deficit, area_m=area_m)
    _assert_safe(areas)
    # unsuppressed counts are exact
    for a in areas:
        w, s, e, nn = a["bbox_local_m"]
        inside = (xy[:, 0] >= w) & (xy[:, 0] < e) & (xy[:, 1] >= s) & (xy[:, 1] < nn)
        for gname, g in a["groups"].items():
            if g["persons"] is not None:
                assert g["persons"] == int((groups[gname] & inside).sum())


def test_engine_output_is_aggregate_only(taichi_cpu) -> None:
    eng = AccessEngine(grid_district(n=8, residents_per_building=3, seed=2), seed=4)
    res = eng.compute([], with_agents=False)
    _assert_safe(res.deficit_areas)
    small = AccessEngine(grid_district(n=3, residents_per_building=2, seed=2), seed=4).compute([], with_agents=False)
    _assert_safe(small.deficit_areas)
    assert any(v is None for v in _walk_counts(small.deficit_areas))
    n_persons = len(eng.population)
    # nothing in the result is a per-person table (agents stay in memory for animation only)
    for v in res.building_time_min.values():
        assert v.shape[0] == len(eng.district.buildings) != n_persons
    json.dumps(res.deficit_areas)


def test_every_engine_output_leaves_with_published_counts() -> None:
    """The boundary (server.worker.published_output): KPIs, the KPI frame and the deficit areas of an
    access frame carry published counts only (1-4 suppressed, others rounded to 5)."""
    import protocol as p
    from server.engines import EngineOutput
    from server.worker import published_output

    z = p.encode_array(np.zeros(1, np.float32))
    areas = [p.DeficitArea("age65_no_car", (5.0, 5.0), 3, 12.0, "a", (0, 0, 10, 10), {"doctor": 2}),
             p.DeficitArea("under18", (5.0, 5.0), 17, 12.0, "b", (0, 0, 10, 10), {"doctor": 6, "school": 4})]
    out = EngineOutput(kpis={"persons_age65_no_car": 3.0, "deficit_under18_doctor": 12.0, "mean_time_min_doctor": 7.5,
                             "share_beyond_threshold_doctor": 0.25},
                       frames=[p.AccessFrame(4, z, z, areas), p.KpiFrame(4, "access", {"persons_age65_no_car": 3.0})])
    res = published_output("access", 4, out)
    assert res.kpis == {"persons_age65_no_car": None, "deficit_under18_doctor": 10, "mean_time_min_doctor": 7.5,
                        "share_beyond_threshold_doctor": 0.25}
    kpi_frames = [f for f in res.frames if isinstance(f, p.KpiFrame)]
    assert len(kpi_frames) == 1 and kpi_frames[0].values == res.kpis
    (access,) = [f for f in res.frames if isinstance(f, p.AccessFrame)]
    assert [(a.area_id, a.persons, a.deficit_persons) for a in access.deficits] == [("b", 15, {"doctor": 5})]
    assert p.decode_server(p.encode(kpi_frames[0])).values["persons_age65_no_car"] is None  # travels as nil
