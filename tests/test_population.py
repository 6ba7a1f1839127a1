"""Dwellings, residents and ages per building (geodata.population)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodata.population import (
    M2_PER_DWELLING,
    NET_TO_GROSS,
    assign_residents,
    estimate_dwellings,
    largest_remainder,
    load_age_table,
)


def _largest_remainder_reference(total: int, weights: list[float]) -> list[int]:
    """The textbook procedure, one seat at a time: floors first, then the largest remainders."""
    s = sum(weights)
    quotas = [total * w / s for w in weights]
    seats = [int(np.floor(q)) for q in quotas]
    left = total - sum(seats)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - seats[i]), i))
    for i in order[:left]:
        seats[i] += 1
    return seats


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=1, max_size=20))
def test_largest_remainder_properties(total, weights):
    if sum(weights) <= 0:
        with pytest.raises(ValueError):
            largest_remainder(total, np.array(weights))
        return
    out = largest_remainder(total, np.array(weights))
    assert out.sum() == total and (out >= 0).all()
    quota = total * np.array(weights) / sum(weights)
    assert np.abs(out - quota).max() < 1.0
    assert out.tolist() == _largest_remainder_reference(total, weights)


def test_largest_remainder_analytic():
    assert largest_remainder(10, np.array([1.0, 1.0, 1.0])).tolist() == [4, 3, 3]  # tie: lower index first
    assert largest_remainder(7, np.array([0.5, 0.3, 0.2])).tolist() == [4, 2, 1]  # 3.5, 2.1, 1.4
    with pytest.raises(ValueError):
        largest_remainder(-1, np.array([1.0]))


def test_dwellings_from_floor_area_and_use():
    area = np.array([110.0, 12 * 60.0, 400.0, 800.0, 30.0])
    storeys = np.array([2, 5, 4, 1, 1])
    use = np.array(["residential", "residential", "residential", "industrial", "residential"], dtype=object)
    d = estimate_dwellings(area, storeys, use)
    assert d[0] == 1  # a house
    assert d[1] == round(720 * 5 * NET_TO_GROSS / M2_PER_DWELLING)  # a Plattenbau slab, ~43 flats
    assert d[2] == round(400 * 4 * NET_TO_GROSS / M2_PER_DWELLING)
    assert d[3] == 0 and d[4] == 1


def test_residents_rows_and_real_age_shares():
    rng = np.random.default_rng(1)
    n = 3000
    area = rng.uniform(60, 900, n)
    storeys = rng.integers(1, 7, n)
    use = np.where(rng.uniform(size=n) < 0.9, "residential", "commercial").astype(object)
    res, by_age = assign_residents(area, storeys, use, np.random.default_rng(5))
    assert res.dtype == np.int32 and by_age.shape == (n, 17)
    np.testing.assert_array_equal(by_age.sum(axis=1), res)
    assert (res[use != "residential"] == 0).all() and (res[use == "residential"] >= 1).all()
    table = load_age_table()
    persons = np.asarray(table["persons"], float)
    total = int(res.sum())
    np.testing.assert_array_equal(by_age.sum(axis=0), largest_remainder(total, persons))
    dw = estimate_dwellings(area, storeys, use)
    # the district's mean household size is kept (stochastic rounding: within 2 %)
    assert abs(total / dw.sum() - table["mean_household_size"]) < 0.04


def test_propensity_skews_ages_but_keeps_totals():
    n = 2000
    area = np.full(n, 300.0)
    storeys = np.full(n, 5)
    use = np.full(n, "residential", dtype=object)
    skew = np.where(np.arange(n) < n // 2, 0.3, -0.3)
    res, by_age = assign_residents(area, storeys, use, np.random.default_rng(0), age_propensity=skew)
    mids = np.array([(lo + hi) / 2 for lo, hi in load_age_table()["age_bands"]])
    old = (by_age[: n // 2] * mids).sum() / by_age[: n // 2].sum()
    young = (by_age[n // 2:] * mids).sum() / by_age[n // 2:].sum()
    assert old > young + 5.0
    persons = np.asarray(load_age_table()["persons"], float)
    np.testing.assert_array_equal(by_age.sum(axis=0), largest_remainder(int(res.sum()), persons))


def test_seeded_and_custom_table():
    area = np.array([100.0, 500.0, 700.0])
    storeys = np.array([1, 4, 6])
    use = np.array(["residential"] * 3, dtype=object)
    a = assign_residents(area, storeys, use, np.random.default_rng(3))
    b = assign_residents(area, storeys, use, np.random.default_rng(3))
    np.testing.assert_array_equal(a[1], b[1])
    table = {"persons": [1, 1], "mean_household_size": 2.0}
    res, by_age = assign_residents(area, storeys, use, np.random.default_rng(3), age_table=table)
    assert by_age.shape == (3, 2) and abs(by_age[:, 0].sum() - by_age[:, 1].sum()) <= 1


def test_empty_and_bad_input():
    res, by_age = assign_residents(np.zeros(0), np.zeros(0, int), np.zeros(0, object), np.random.default_rng(0))
    assert res.shape == (0,) and by_age.shape == (0, 17)
    with pytest.raises(ValueError, match="gleich lang"):
        assign_residents(np.ones(2), np.ones(3), np.array(["residential"] * 2, dtype=object), np.random.default_rng(0))
    with pytest.raises(ValueError, match="Haushaltsgröße"):
        assign_residents(np.ones(1), np.ones(1), np.array(["residential"], dtype=object), np.random.default_rng(0),
                         age_table={"persons": [1], "mean_household_size": -1})
