"""Travel demand: trip rates with sources, productions from residents by age, gravity, seeded vehicles."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest
from traffic_district import small_district

from geodata.district import age_bands


@pytest.fixture(scope="module")
def dem(taichi_cpu):
    import models.traffic.demand as mod  # taichi is imported at run time (warning filters)

    return mod


@pytest.fixture(scope="module")
def case(dem):
    from models.traffic.network import build_network, define_zones

    d = small_district()
    net = build_network(d.roads, define_zones(d))
    return d, net, dem.build_demand(d, net)


def test_tables_have_sources_and_sum(dem) -> None:
    for name in ("trip_rates.csv", "trip_purposes.csv", "trip_departure_profile.csv"):
        rows = list(csv.DictReader(resources.files("assets").joinpath(name).read_text().splitlines()))
        assert rows and all(r["source"].strip() for r in rows)
    rates, car = dem.trip_rate_table()
    assert rates.shape == car.shape == (len(age_bands()),)
    assert (rates > 1.5).all() and (rates < 4.5).all() and (car >= 0).all() and (car <= 1).all()
    assert car[0] == 0.0  # children under 5 do not drive
    assert sum(p["share"] for p in dem.purpose_table()) == pytest.approx(1.0)
    prof = dem.hour_profile()
    assert prof.sum() == pytest.approx(1.0) and int(np.argmax(prof)) in (7, 16)


def test_productions_follow_residents_by_age(dem, case) -> None:
    d, net, demand = case
    rates, car = dem.trip_rate_table()
    expect = float((d.buildings.residents_by_age * (rates * car)).sum())
    assert demand.daily_by_purpose.sum() == pytest.approx(expect, rel=1e-9)
    ext = net.zones.external
    assert demand.daily_by_purpose[:, ext, :].sum() == 0.0 and demand.daily_by_purpose[:, :, ext].sum() == 0.0
    np.testing.assert_allclose(
        demand.daily_by_purpose.sum(0), demand.daily_by_purpose.sum(0).T
    )  # out and back


def test_through_traffic_between_boundary_stations(case) -> None:
    _, net, demand = case
    ext = np.nonzero(net.zones.external)[0]
    th = demand.through_veh_h
    assert th.sum() > 0 and th[np.ix_(ext, ext)].sum() == pytest.approx(th.sum())
    assert th[ext[0], ext[1]] == pytest.approx(1100 * 0.25)  # one lane of a primary road, 25 % through


def test_gravity_prefers_near_destinations(dem, case) -> None:
    d, net, demand = case
    from sim_kernels.assignment import shortest_paths

    z = net.net.n_zones
    dist, _ = shortest_paths(net.net, net.net.free_flow_time, np.arange(z, dtype=np.int32))
    internal = np.nonzero(~net.zones.external)[0]
    t = demand.daily_by_purpose.sum(0)
    # correlation between trips and travel time over internal pairs is negative
    ii, jj = np.meshgrid(internal, internal, indexing="ij")
    off = ii != jj
    assert np.corrcoef(t[ii[off], jj[off]], dist[ii[off], jj[off]])[0, 1] < 0


def test_peak_hour_and_seeded_vehicles(dem, case) -> None:
    _, _, demand = case
    od = demand.peak_od_veh_h
    assert od.sum() == pytest.approx(
        demand.daily_by_purpose.sum() * demand.hour_share[demand.peak_hour] + demand.through_veh_h.sum()
    )
    a = dem.sample_vehicles(od, np.random.default_rng(1))
    b = dem.sample_vehicles(od, np.random.default_rng(1))
    c = dem.sample_vehicles(od, np.random.default_rng(2))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[2], c[2])
    off_diag = od.sum() - np.trace(od)
    assert abs(a[0].size - off_diag) < 4 * np.sqrt(off_diag) + 1
    assert (a[0] != a[1]).all() and (np.diff(a[2]) >= 0).all() and (a[2] < 3600).all()
