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
