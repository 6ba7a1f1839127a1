"""Cross effects: a forecast year and a migration scenario change a town twin's residents, its synthetic
population, its access deficits (models.people) and its traffic demand (models.traffic), end to end."""

from __future__ import annotations

import numpy as np
import pytest
from access_world import grid_district
from conftest import shared_data
from traffic_district import small_district

from geodata.interventions import HousingEstate
from models.forecast.scenario import run_forecast
from models.forecast.town import band_persons, forecast_district, forecast_population, town_targets
from models.people.population import synthesise_population

NAUMBURG = "15084355"


@pytest.fixture(scope="module")
def runs():  # type: ignore[no-untyped-def]
    from models.forecast.service import base_from_shared

    base = base_from_shared(shared_data())
    estate = HousingEstate(id="h", ags=NAUMBURG, dwellings=2000, persons_per_dwelling=2.0, year=2030)
    return run_forecast(base, (), 2040), run_forecast(base, [estate], 2040)


def test_forecast_district_carries_the_gemeindes_change(runs) -> None:  # type: ignore[no-untyped-def]
    baseline, _ = runs
    d = grid_district(n=6)
    rows, cols = town_targets(d, baseline, NAUMBURG, 2040)
    growth = baseline.total()[-1, baseline.ags.index(NAUMBURG)] / baseline.total()[0, baseline.ags.index(NAUMBURG)]
    assert rows.sum() == round(d.residents_total * growth) == cols.sum()
    fd = forecast_district(d, baseline, NAUMBURG, 2040)
    np.testing.assert_array_equal(fd.buildings.residents, rows)
    np.testing.assert_array_equal(fd.buildings.residents_by_age.sum(axis=1), rows)
    np.testing.assert_array_equal(fd.buildings.residents_by_age.sum(axis=0), cols)
    shares = band_persons(baseline, NAUMBURG, 2040)
    np.testing.assert_allclose(cols / cols.sum(), shares / shares.sum(), atol=1.0 / cols.sum() + 1e-12)
    pop = forecast_population(d, baseline, NAUMBURG, 2040, np.random.default_rng(3))
    assert len(pop) == rows.sum()
    np.testing.assert_array_equal(pop.band_counts(len(d.buildings)).sum(axis=0), cols)
    assert d.buildings.residents.sum() != rows.sum()  # the original District is untouched
    # default behaviour of the town's population is unchanged without forecast targets
    a = synthesise_population(d, np.random.default_rng(0))
    b = synthesise_population(d, np.random.default_rng(0), age_targets=None)
    np.testing.assert_array_equal(a.age_y, b.age_y)
    with pytest.raises(ValueError, match="age targets"):
        synthesise_population(d, np.random.default_rng(0), age_targets=cols + 1)


def test_forecast_year_and_scenario_change_access_deficits(runs, taichi_cpu) -> None:  # type: ignore[no-untyped-def]
    from models.people.access import AccessEngine

    baseline, scenario = runs
    d = grid_district(n=10, spacing_m=250.0, residents_per_building=6, pois_per_category=1, n_stops=1, cell_m=25.0)
    eng = AccessEngine(d, seed=0)
    out = {}
    for key, pr, year in (("2019", baseline, 2019), ("2040", baseline, 2040), ("2040+estate", scenario, 2040)):
        eng.population = forecast_population(d, pr, NAUMBURG, year, np.random.default_rng(0))
        k = eng.compute(with_agents=False).kpis
        out[key] = (len(eng.population), int((eng.population.age_y < 18).sum()), k)
    n19, kids19, k19 = out["2019"]
    n40, kids40, k40 = out["2040"]
    ns, kidss, ks = out["2040+estate"]
    assert n40 < n19 and kids40 < kids19  # the town shrinks and has fewer children by 2040
    assert ns > n40 and kidss > kids40  # 4,000 newcomers (families) in Naumburg from 2030
    # deficits follow: fewer children without a stop nearby by 2040, more with the housing estate
    assert k40["deficit_under18_stop"] < k19["deficit_under18_stop"]
    assert ks["deficit_under18_stop"] > k40["deficit_under18_stop"]
    assert k19["deficit_under18_stop"] > 0


def test_forecast_year_changes_traffic_demand_by_the_age_weighted_amount(runs, taichi_cpu) -> None:  # type: ignore[no-untyped-def]
    import models.traffic.demand as dem
    from models.traffic.network import build_network, define_zones

    baseline, scenario = runs
    d = small_district()
    net = build_network(d.roads, define_zones(d))
    rates, car = dem.trip_rate_table()
    for pr in (baseline, scenario):
        fd = forecast_district(d, pr, NAUMBURG, 2040)
        demand = dem.build_demand(fd, net)
        expect = float((fd.buildings.residents_by_age * (rates * car)).sum())
        assert demand.daily_by_purpose.sum() == pytest.approx(expect, rel=1e-9)
    base_trips = dem.build_demand(forecast_district(d, baseline, NAUMBURG, 2040), net).daily_by_purpose.sum()
    scen_trips = dem.build_demand(forecast_district(d, scenario, NAUMBURG, 2040), net).daily_by_purpose.sum()
    now_trips = dem.build_demand(forecast_district(d, baseline, NAUMBURG, 2019), net).daily_by_purpose.sum()
    assert base_trips < now_trips and scen_trips > base_trips


def test_1000_newcomers_in_the_gemeinde_change_the_towns_access_deficits(runs, taichi_cpu) -> None:  # type: ignore[no-untyped-def]
    from models.people.access import AccessEngine

    baseline, _ = runs
    from models.forecast.service import base_from_shared

    base = base_from_shared(shared_data())
    plus = run_forecast(base, [HousingEstate(id="h", ags=NAUMBURG, dwellings=500, persons_per_dwelling=2.0,
                                             year=2030)], 2030)
    g = baseline.ags.index(NAUMBURG)
    assert plus.total()[-1, g] - baseline.total()[baseline.year_index(2030), g] == pytest.approx(1000.0)
    d = grid_district(n=10, spacing_m=250.0, residents_per_building=6, pois_per_category=1, n_stops=1, cell_m=25.0)
    eng = AccessEngine(d, seed=0)
    res = []
    for pr in (baseline, plus):
        eng.population = forecast_population(d, pr, NAUMBURG, 2030, np.random.default_rng(0))
        res.append((len(eng.population), eng.compute(with_agents=False).kpis))
    # the town grows by its share of the 1,000 (town residents / Gemeinde residents in 2019)
    share = d.residents_total / baseline.total()[0, g]
    assert res[1][0] - res[0][0] == pytest.approx(1000.0 * share, abs=1.0)
    assert res[1][1]["deficit_under18_stop"] > res[0][1]["deficit_under18_stop"]


def test_region_cells_follow_their_gemeindes_age_groups(runs) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from models.forecast.town import forecast_cells

    baseline, scenario = runs
    cells = pd.DataFrame({"cell_id": ["a", "b", "c"], "ags": [NAUMBURG, NAUMBURG, "15084999"],
                          "age_0_17": [10.0, 0.0, 7.0], "age_18_64": [40.0, 3.0, 7.0], "age_65_plus": [20.0, 8.0, 7.0]})
    out = forecast_cells(cells, baseline, 2040)
    g = baseline.ags.index(NAUMBURG)
    p0, p1 = baseline.persons[0, g], baseline.persons[-1, g]
    f65 = p1[:, 65:].sum() / p0[:, 65:].sum()
    f_young = p1[:, :18].sum() / p0[:, :18].sum()
    assert out.loc[0, "age_65_plus"] == pytest.approx(20.0 * f65)
    assert out.loc[0, "age_0_17"] == pytest.approx(10.0 * f_young) and f_young < 1.0
    assert out.loc[1, "age_0_17"] == 0.0
    assert list(out.loc[2, ["age_0_17", "age_18_64", "age_65_plus"]]) == [7.0, 7.0, 7.0]  # not in the Kreis: kept
    # cells of a Gemeinde add up to the Gemeinde's growth when they hold all of it
    whole = pd.DataFrame({"ags": [NAUMBURG], "age_0_17": [p0[:, :18].sum()], "age_18_64": [p0[:, 18:65].sum()],
                          "age_65_plus": [p0[:, 65:].sum()]})
    assert forecast_cells(whole, scenario, 2040).iloc[0, 1:].sum() == pytest.approx(scenario.persons[-1, g].sum() *
                                                                                   p0.sum() / scenario.persons[0, g].sum())
