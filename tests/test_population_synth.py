"""Synthetic population: IPF fit to the real age table, exact integer marginals, seeds, car availability."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from access_world import grid_district
from conftest import shared_data

from models.people.population import (
    age_band_targets,
    car_share_by_age,
    integerise,
    ipf_fit,
    synthesise_population,
)

REAL_TOTAL = 178_846


def test_asset_table_equals_the_real_destatis_row() -> None:
    path = shared_data("demography_burgenlandkreis", "destatis_12411-0017_kreise_altersgruppen_2019-12-31.csv")
    with open(path, encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh, delimiter=";") if r and r[0].strip() == "15084"]
    assert rows, "Burgenlandkreis row 15084 missing"
    real = np.array([int(v) for v in rows[0][2:19]])
    assert real.sum() == REAL_TOTAL == int(rows[0][19])
    np.testing.assert_array_equal(age_band_targets(REAL_TOTAL), real)


def test_ipf_reproduces_real_marginals_exactly_for_the_whole_district() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    rows = rng.multinomial(REAL_TOTAL, np.full(n, 1.0 / n)).astype(np.int64)
    cols = age_band_targets(REAL_TOTAL)
    seed = rng.random((n, cols.size)) + 0.05
    counts = integerise(ipf_fit(seed, rows, cols), rows, cols)
    assert counts.dtype == np.int64 and (counts >= 0).all()
    np.testing.assert_array_equal(counts.sum(axis=1), rows)
    np.testing.assert_array_equal(counts.sum(axis=0), cols)


def test_integerise_keeps_both_marginals_on_awkward_fractions() -> None:
    m = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 1.0], [1.0 / 3, 1.0 / 3, 1.0 / 3]]) * 3
    rows = np.array([3, 6, 3])
    cols = np.array([5, 4, 3])
    out = integerise(m, rows, cols)
    np.testing.assert_array_equal(out.sum(axis=1), rows)
    np.testing.assert_array_equal(out.sum(axis=0), cols)
    with pytest.raises(ValueError):
        integerise(m, rows, cols + 1)


def test_ipf_keeps_a_consistent_seed() -> None:
    seed = np.array([[2.0, 1.0], [1.0, 4.0]])
    out = ipf_fit(seed, seed.sum(axis=1), seed.sum(axis=0))
    np.testing.assert_allclose(out, seed)


def test_population_matches_buildings_and_age_table_and_is_seeded() -> None:
    d = grid_district(n=8, residents_per_building=8)
    a = synthesise_population(d, np.random.default_rng(7))
    b = synthesise_population(d, np.random.default_rng(7))
    c = synthesise_population(d, np.random.default_rng(8))
    assert len(a) == d.residents_total
    counts = a.band_counts(len(d.buildings))
    np.testing.assert_array_equal(counts.sum(axis=1), d.buildings.residents)
    np.testing.assert_array_equal(counts.sum(axis=0), age_band_targets(d.residents_total))
    for f in ("age_y", "household_id", "home_building", "has_car"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.age_y, c.age_y)


def test_ages_lie_in_their_bands_and_minors_have_no_car() -> None:
    from geodata.district import age_bands

    d = grid_district(n=6)
    p = synthesise_population(d, np.random.default_rng(0))
    bands = np.asarray(age_bands())
    assert (p.age_y >= bands[p.age_band, 0]).all() and (p.age_y < bands[p.age_band, 1]).all()
    assert not p.has_car[p.age_y < 18].any()
    g = p.groups()
    assert g["under18"].sum() == (p.age_y < 18).sum()
    assert (~p.has_car[g["age65_no_car"]]).all()


def test_car_shares_follow_the_table() -> None:
    rng = np.random.default_rng(3)
    ages = np.full(200_000, 40)
    share = float((rng.random(ages.size) < car_share_by_age(ages)).mean())
    assert abs(share - 0.85) < 0.01
    assert car_share_by_age(np.array([5, 17]))[1] == 0.0
    assert car_share_by_age(np.array([80]))[0] < car_share_by_age(np.array([40]))[0]


def test_households_with_minors_have_an_adult() -> None:
    d = grid_district(n=6, residents_per_building=6)
    p = synthesise_population(d, np.random.default_rng(2))
    adult_hh = set(p.household_id[p.age_y >= 18].tolist())
    minors_hh = set(p.household_id[p.age_y < 18].tolist())
    # every household sits in one building
    for h in np.unique(p.household_id):
        assert np.unique(p.home_building[p.household_id == h]).size == 1
    lonely = minors_hh - adult_hh
    # only buildings without any adult can hold a household of minors alone
    for h in lonely:
        bld = p.home_building[p.household_id == h][0]
        assert not (p.age_y[p.home_building == bld] >= 18).any()
