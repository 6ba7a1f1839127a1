"""The cohort-component forecast: rates against analytic results, the projection against a slow reference,
accounting identities, the official forecasts, scenarios and their demand effects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import shared_data

from geodata.interventions import (
    DemographicPath,
    HousingEstate,
    OutMigrationFactor,
    RefugeeIntake,
)
from models.forecast.base import (
    BasePopulation,
    ForecastInputError,
    base_from_table,
    kreis_age_groups,
    kreis_single_years,
)
from models.forecast.calibrate import calibrate_in_level, compare_with_targets, indicator
from models.forecast.demand import compute_demand, demand_rates, housing_basis
from models.forecast.model import BASE_YEAR, project
from models.forecast.rates import (
    N_AGES,
    base_rates,
    hadwiger_asfr,
    life_table,
    rates_table,
    survival_ratios,
)
from models.forecast.scenario import build_year_rates, decode_scenario, newcomer_profile, run_forecast


# --- a small synthetic Kreis -----------------------------------------------------------------------
def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "ags": ["15084001", "15084002", "15084003"],
        "name": ["Adorf", "Bedorf", "Cedorf"],
        "age_0_17": [2000.0, 150.0, 0.0],
        "age_18_64": [9000.0, 600.0, 3.0],
        "age_65_plus": [4000.0, 400.0, 1.0],
    })


@pytest.fixture(scope="module")
def base() -> BasePopulation:
    return base_from_table(_table())


# --- rates ---------------------------------------------------------------------------------------------
def test_life_table_matches_the_closed_form_and_the_published_life_expectancy() -> None:
    r = base_rates()
    sv = rates_table()["survival"]
    for k, sex in enumerate(("male", "female")):
        a, b, c, q0 = r.gm[k]
        lt = life_table(a, b, c, q0)
        x = np.arange(1, 90, dtype=float)
        closed = (1.0 - q0) * np.exp(-(a * (x - 1.0) + (b / c) * (np.exp(c * x) - np.exp(c))))
        np.testing.assert_allclose(lt["l"][1:90], closed, rtol=1e-12)
        # life expectancy by a fine numerical integral of l(x) (trapezoid on 1/100 year), infants as in the table
        fine = np.arange(1.0, 125.0, 0.01)
        lf = (1.0 - q0) * np.exp(-(a * (fine - 1.0) + (b / c) * (np.exp(c * fine) - np.exp(c))))
        e0_ref = (lt["L"][0] + np.trapezoid(lf, fine))
        assert e0_ref == pytest.approx(sv["e0"][sex], abs=0.02)
        assert lt["e"][0] == pytest.approx(sv["e0"][sex], abs=1e-3)
        assert lt["e"][65] == pytest.approx(sv["e65"][sex], abs=1e-3)
        s, sb = survival_ratios(lt)
        assert ((s > 0) & (s < 1)).all() and 0 < sb < 1
        assert (np.diff(s[30:]) < 0).all()  # survival falls with age beyond youth


def test_fertility_schedule_sums_to_the_tfr_with_the_given_mean_age() -> None:
    f = hadwiger_asfr(1.55, 30.0, 3.6)
    assert f.sum() == pytest.approx(1.55, rel=1e-12)
    age = np.arange(N_AGES) + 0.5
    assert (f * age).sum() / f.sum() == pytest.approx(30.0, abs=1e-6)
    assert f[:15].sum() == 0 and f[50:].sum() == 0 and (f >= 0).all()


def test_kreis_single_years_keep_every_group_and_the_sex_split() -> None:
    k = kreis_single_years()
    bands, persons = kreis_age_groups()
    assert (k >= 0).all() and k.shape == (2, N_AGES)
    for (lo, hi), n in zip(bands, persons, strict=True):
        hi = N_AGES if hi >= 100 else hi  # the last band is open (75 and older)
        assert k[:, lo:hi].sum() == pytest.approx(n, rel=1e-10)
    split = rates_table()["base_sex_split"]
    for (lo, hi), m, w in zip(split["age_groups"], split["male"], split["female"], strict=True):
        share = k[0, lo:hi + 1].sum() / k[:, lo:hi + 1].sum()
        assert share == pytest.approx(m / (m + w), rel=1e-10)


def test_base_from_table_keeps_the_gemeinde_groups(base: BasePopulation) -> None:
    t = _table()
    assert base.persons.shape == (3, 2, N_AGES)
    np.testing.assert_allclose(base.persons[:, :, :18].sum(axis=(1, 2)), t["age_0_17"], rtol=1e-12)
    np.testing.assert_allclose(base.persons[:, :, 65:].sum(axis=(1, 2)), t["age_65_plus"], rtol=1e-12)


@pytest.mark.parametrize("change, match", [
    (lambda t: t.assign(ags=["1508400", "15084002", "15084003"]), "8"),
    (lambda t: t.assign(ags=["15084001", "15084001", "15084003"]), "unique"),
    (lambda t: t.assign(age_0_17=[-1.0, 1.0, 1.0]), "negative"),
    (lambda t: t.assign(age_18_64=[np.nan, 1.0, 1.0]), "missing"),
    (lambda t: t.rename(columns={"age_18_64": "age_20_64"}), "gaps"),
    (lambda t: t.rename(columns={"age_65_plus": "age_65_100"}), "open"),
    (lambda t: t[["ags", "name"]], "neither"),
])
def test_bad_gemeinde_tables_are_refused(change, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ForecastInputError, match=match) as ei:
        base_from_table(change(_table()))
    assert ei.value.de and ei.value.en


# --- the projection ---------------------------------------------------------------------------------------
def _reference_projection(base: BasePopulation, per_year, rates, to_year: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The same model written as plain loops over Gemeinde, sex and age (slow, obvious)."""
    p = base.persons.copy()
    out = [p.copy()]
    srb = rates.srb
    for year in range(BASE_YEAR + 1, to_year + 1):
        yr = per_year[year]
        nxt = np.zeros_like(p)
        for g in range(p.shape[0]):
            total_g = p[g].sum()
            births = 0.0
            for a in range(N_AGES):
                births += p[g, 1, a] * (yr.asfr[a] if yr.asfr.ndim == 1 else yr.asfr[g, a])
            for s in range(2):
                share = srb / (1 + srb) if s == 0 else 1 / (1 + srb)
                nxt[g, s, 0] += births * share * yr.sb[s]
                for a in range(N_AGES):
                    o = yr.out[s, a] if yr.out.ndim == 2 else yr.out[g, s, a]
                    stay = p[g, s, a] - min(p[g, s, a] * o, p[g, s, a])
                    nxt[g, s, min(a + 1, N_AGES - 1)] += stay * yr.s[s, a]
                    nxt[g, s, a] += rates.in_level * total_g * rates.in_profile[s, a]
                    if yr.extra_in is not None:
                        nxt[g, s, a] += yr.extra_in[g, s, a]
        p = nxt
        out.append(p.copy())
    return np.stack(out)


def test_projection_equals_a_slow_reference(base: BasePopulation) -> None:
    rates = base_rates()
    edits = [HousingEstate(id="h", ags="15084002", dwellings=40, persons_per_dwelling=2.5, year=2022, years=2),
             OutMigrationFactor(id="o", factor=1.5, first_year=2021, gemeinden=["15084001"]),
             DemographicPath(id="d", tfr_2040=1.8, e0_change_2040_female=1.0)]
    per_year = build_year_rates(base, edits, 2026, rates)
    pr = project(base, rates, per_year, 2026)
    ref = _reference_projection(base, per_year, rates, 2026)
    np.testing.assert_allclose(pr.persons, ref, rtol=1e-11, atol=1e-9)


def test_accounting_identities_hold_in_every_year_and_gemeinde(base: BasePopulation) -> None:
    edits = [RefugeeIntake(id="r", persons_per_year=300, first_year=2022, last_year=2024),
             OutMigrationFactor(id="o", factor=3.0)]
    for e in ([], edits):
        pr = run_forecast(base, e, 2040)
        tot = pr.persons.sum(axis=(2, 3))  # (Y+1, G)
        change = (pr.births.sum(axis=(2, 3)) - pr.deaths.sum(axis=(2, 3)) + pr.inflow.sum(axis=(2, 3))
                  - pr.outflow.sum(axis=(2, 3)))
        np.testing.assert_allclose(tot[1:], tot[:-1] + change, rtol=0, atol=1e-7)
        # per cohort: who was aged a is now a+1, dead or gone; in-migrants by their age at the year's end
        for k in range(pr.years.size - 1):
            p0, p1 = pr.persons[k], pr.persons[k + 1]
            left = p0 - pr.outflow[k] - pr.deaths[k]  # (G, 2, 101) cohort survivors (age 0: without infants)
            inn = pr.inflow[k]
            np.testing.assert_allclose(p1[:, :, 2:100], left[:, :, 1:99] + inn[:, :, 2:100], rtol=0, atol=1e-9)
            np.testing.assert_allclose(p1[:, :, 100], left[:, :, 99] + left[:, :, 100] + inn[:, :, 100], rtol=0, atol=1e-9)
            np.testing.assert_allclose(p1[:, :, 0] + p1[:, :, 1],
                                       left[:, :, 0] + pr.births[k][:, :, 0] + inn[:, :, 0] + inn[:, :, 1],
                                       rtol=0, atol=1e-9)
        assert (pr.persons >= 0).all() and (pr.deaths >= 0).all() and (pr.outflow >= 0).all()
        assert (pr.inflow >= 0).all() and (pr.births >= 0).all()
        np.testing.assert_allclose(pr.kreis(), pr.persons.sum(axis=1), rtol=0, atol=0)


def test_no_negative_cohorts_even_with_extreme_rates(base: BasePopulation) -> None:
    edits = [OutMigrationFactor(id="o", factor=5.0, age_from=0, age_to=100),
             DemographicPath(id="d", tfr_2040=0.5, e0_change_2040_male=-15, e0_change_2040_female=-15)]
    pr = run_forecast(base, edits, 2040)
    assert (pr.persons >= 0).all()
    assert pr.persons[-1].sum() < pr.persons[0].sum()


# --- the official forecasts ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_base() -> BasePopulation:
    from models.forecast.service import base_from_shared

    return base_from_shared(shared_data())


def _official(name: str, year: int) -> float:
    df = pd.read_csv(shared_data("demography_burgenlandkreis", "burgenlandkreis_demography_keyfigures.csv"))
    row = df[(df.indicator == name) & (df.ags.astype(str) == "15084") & (df.reference_date.str.startswith(str(year)))]
    assert len(row) == 1
    return float(row.value.iloc[0])


def test_baseline_reproduces_the_official_forecasts(real_base: BasePopulation) -> None:
    pr = run_forecast(real_base, (), 2040)
    assert pr.persons[0].sum() == pytest.approx(_official("population_total", 2019), abs=1e-6)
    assert indicator(pr, "population_total", 2030) == pytest.approx(_official("population_total", 2030), rel=0.02)
    assert indicator(pr, "population_total", 2035) == pytest.approx(_official("population_total", 2035), rel=0.02)
    assert indicator(pr, "population_age_67plus", 2035) == pytest.approx(_official("population_age_67plus", 2035), rel=0.03)
    assert indicator(pr, "population_total", 2040) == pytest.approx(_official("population_total", 2040), rel=0.03)
    assert indicator(pr, "old_age_dependency_ratio", 2030) == pytest.approx(_official("old_age_dependency_ratio", 2030), abs=3)
    assert all(r["within"] for r in compare_with_targets(pr))
    # the observed year 2020 (177,590) is met within 1 % as well (not a calibration target)
    assert indicator(pr, "population_total", 2020) == pytest.approx(_official("population_total", 2020), rel=0.01)


def test_the_assets_in_migration_level_is_the_calibrated_one(real_base: BasePopulation) -> None:
    level, obj = calibrate_in_level(real_base)
    assert level == pytest.approx(base_rates().in_level, rel=2e-3)
    assert obj < 1.0  # every target well inside its tolerance


def test_gemeinden_add_up_to_the_kreis_table(real_base: BasePopulation) -> None:
    assert len(real_base.ags) == 33
    np.testing.assert_allclose(real_base.kreis.sum(axis=0)[[0, 30, 64, 70]],
                               kreis_single_years().sum(axis=0)[[0, 30, 64, 70]], rtol=1e-9)


# --- scenarios and demand --------------------------------------------------------------------------------------
def test_1000_persons_into_one_gemeinde_change_housing_and_school_demand_analytically(base: BasePopulation) -> None:
    year, gi, ags = 2030, 1, "15084002"
    hb = housing_basis(base)
    estate = HousingEstate(id="h", ags=ags, dwellings=500, persons_per_dwelling=2.0, year=year)
    b = run_forecast(base, (), 2035)
    s = run_forecast(base, [estate], 2035)
    db = compute_demand(b, hb, [])
    ds = compute_demand(s, hb, [estate])
    k = s.year_index(year)
    assert s.total()[k, gi] - b.total()[k, gi] == pytest.approx(1000.0, abs=1e-8)
    others = [0, 2]
    np.testing.assert_allclose(s.total()[k, others], b.total()[k, others], rtol=0, atol=1e-9)
    np.testing.assert_allclose(s.total()[k - 1], b.total()[k - 1], rtol=0, atol=1e-9)

    def delta(service: str) -> float:
        sel = (ds.ags == ags) & (ds.year == year) & (ds.service == service)
        return float(ds[sel].demand.iloc[0] - db[(db.ags == ags) & (db.year == year) & (db.service == service)].demand.iloc[0])

    prof = newcomer_profile("families", base.kreis).sum(axis=0) * 1000.0  # persons by age moving in
    rates = demand_rates()
    assert delta("households") == pytest.approx(1000.0 / hb.hh_size[gi], rel=1e-9)
    assert delta("dwellings") == pytest.approx(1000.0 / 1.9, rel=1e-9)
    # families profile: 18 % aged 6-17 spread evenly -> 10 of 12 years are of school age 6-15 -> 150 places
    assert delta("school_primary") + delta("school_secondary") == pytest.approx(150.0, rel=1e-9)
    assert delta("school_primary") == pytest.approx(prof[6:10].sum(), rel=1e-9)
    assert delta("kita") == pytest.approx((prof * rates["kita"]).sum(), rel=1e-9)
    assert delta("kita_krippe") == pytest.approx(1000 * 0.14 / 6 * 3 * 0.58, rel=1e-9)
    # the new dwellings join the stock in their year
    sel = (ds.ags == ags) & (ds.service == "dwellings")
    stock_s = ds[sel].set_index("year").capacity
    stock_b = db[(db.ags == ags) & (db.service == "dwellings")].set_index("year").capacity
    assert stock_s[year] - stock_b[year] == pytest.approx(500.0)
    assert stock_s[year - 1] == pytest.approx(stock_b[year - 1])


def test_refugee_intake_is_allocated_by_population_with_its_profile(base: BasePopulation) -> None:
    e = RefugeeIntake(id="r", persons_per_year=1000, first_year=2025, last_year=2025, age_profile="asylum")
    per = build_year_rates(base, [e], 2026)
    extra = per[2025].extra_in
    assert extra is not None and extra.sum() == pytest.approx(1000.0)
    share = base.persons.sum(axis=(1, 2)) / base.persons.sum()
    np.testing.assert_allclose(extra.sum(axis=(1, 2)), 1000.0 * share, rtol=1e-12)
    assert extra[:, 0].sum() / extra.sum() == pytest.approx(rates_table()["newcomer_profiles"]["asylum"]["male_share"])
    assert per[2026].extra_in is None and per[2024].extra_in is None


def test_out_migration_factor_and_demographic_path_act_where_they_should(base: BasePopulation) -> None:
    b = run_forecast(base, (), 2030)
    none = run_forecast(base, [OutMigrationFactor(id="o", factor=0.0, age_from=18, age_to=29)], 2030)
    assert none.outflow[:, :, :, 18:30].sum() == 0.0
    np.testing.assert_allclose(none.outflow[0, :, :, 30:], b.outflow[0, :, :, 30:])
    more_kids = run_forecast(base, [DemographicPath(id="d", tfr_2040=2.0)], 2040)
    b40 = run_forecast(base, (), 2040)
    assert more_kids.births[-1].sum() > b40.births[-1].sum() * 1.2
    longer = run_forecast(base, [DemographicPath(id="d", e0_change_2040_male=3, e0_change_2040_female=3)], 2040)
    assert longer.deaths[-1].sum() < b40.deaths[-1].sum()
    assert longer.persons[-1][:, :, 80:].sum() > b40.persons[-1][:, :, 80:].sum()


def test_scenario_files_are_validated(base: BasePopulation) -> None:
    ok = decode_scenario('[{"kind": "housing_estate", "id": "h", "ags": "15084002", "dwellings": 10}]')
    assert isinstance(ok[0], HousingEstate)
    assert decode_scenario({"interventions": []}) == []
    for bad, match in [("{", "JSON"), ('{"a": 1}', "list"), ('[{"kind": "tree", "id": "t"}]', "forecast"),
                       ('[{"kind": "housing_estate", "id": "h", "ags": "x"}]', "Invalid"),
                       ('[{"kind": "refugee_intake", "id": "r", "first_year": 2030, "last_year": 2025}]', "before"),
                       ('[1]', "object")]:
        with pytest.raises(ForecastInputError, match=match):
            decode_scenario(bad)
    with pytest.raises(ForecastInputError, match="not in the Kreis"):
        run_forecast(base, [HousingEstate(id="h", ags="15084999")], 2030)


def test_year_rates_follow_the_life_expectancy_path() -> None:
    r = base_rates()
    k = kreis_single_years()
    b = BasePopulation(("15084001",), ("A",), k[None].copy(), "")
    per = build_year_rates(b, [], 2040, r)
    assert (per[2040].s[:, 60:99] > per[2020].s[:, 60:99]).all()  # mortality falls over time
    lt = life_table(*r.gm[0])
    assert per[2020].s[0, 50] == pytest.approx(survival_ratios(lt)[0][50], rel=1e-3)
    assert dataclasses.replace(r, in_level=0.0).in_level == 0.0


def test_a_region_gemeinde_table_is_a_valid_base() -> None:
    """The region model's table (``ags``, ``name``, ``population_2019``, ``age_0_9`` .. ``age_80_plus``)."""
    from types import SimpleNamespace

    from models.forecast.service import base_from_region

    cols = ["age_0_9", "age_10_17", "age_18_29", "age_30_49", "age_50_64", "age_65_79", "age_80_plus"]
    vals = np.array([[900.0, 700.0, 1100.0, 2500.0, 2600.0, 2200.0, 1000.0], [90.0, 60.0, 80.0, 200.0, 260.0, 250.0, 120.0]])
    table = pd.DataFrame(vals, columns=cols)
    table.insert(0, "name", ["Adorf", "Bedorf"])
    table.insert(0, "ags", ["15084001", "15084002"])
    table["population_2019"] = vals.sum(axis=1)
    region = SimpleNamespace(gemeinden=table, manifest={"population_method": "Zensus 2011 scaled"})
    base = base_from_region(region)
    np.testing.assert_allclose(base.persons.sum(axis=(1, 2)), vals.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(base.persons[:, :, 80:].sum(axis=(1, 2)), vals[:, -1], rtol=1e-12)
    assert "Zensus 2011 scaled" in base.method
    assert (run_forecast(base, (), 2030).persons >= 0).all()


def test_towns_with_official_totals_meet_them_and_the_kreis_inflow_is_kept(real_base: BasePopulation) -> None:
    series = pd.read_csv(shared_data("demography_burgenlandkreis", "town_population_series_2008_2024.csv"),
                         dtype={"ags": str})
    pr = run_forecast(real_base, (), 2025)
    assert real_base.in_weights is not None
    for ags in ("15084355", "15084590"):
        g = real_base.ags.index(ags)
        for year in (2019, 2021):
            obs = float(series[(series.ags == ags) & (series.year == year)].population_end_of_year.iloc[0])
            assert pr.total()[pr.year_index(year), g] == pytest.approx(obs, abs=1e-3)
        assert real_base.in_weights[g] > 1.0  # the towns gain more in-migrants than the Kreis average
    pop0 = real_base.persons.sum(axis=(1, 2))
    assert (real_base.in_weights * pop0).sum() == pytest.approx(pop0.sum(), rel=1e-12)
    assert "2019-2021" in real_base.method
