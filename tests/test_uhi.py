"""Urban heat island: direction and order of each process on small synthetic towns (sealing, sky
view, traffic heat, a park, wind), the night-time exchange, the core/open masks and tropical nights;
the sample town's heat island at 04:00 and 13:00."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from heat_fixtures import town_district
from scipy import ndimage

from geodata.interventions import decode_intervention
from geodata.weather import design_hot_day
from models.heat.engine import HeatEngine, HeatParams
from models.heat.uhi import (
    core_and_open,
    core_minus_open_k,
    mixing_heights,
    tropical_nights,
    ventilation_times,
)

pytestmark = pytest.mark.usefixtures("taichi_cpu")
HOURS = (4, 13)


def _uhi(district, *, weather=None, interventions=(), qf=None) -> tuple[float, float]:
    core, open_land = core_and_open(district.building_index >= 0, district.grid.cell_m)
    res = HeatEngine(district, weather=weather).compute(list(interventions), hours=HOURS, anthropogenic_heat_w_m2=qf)
    night, day = (core_minus_open_k(res.fields["air_temp_c"][k], core, open_land) for k in range(2))
    return night, day


@pytest.fixture(scope="module")
def town():
    return town_district()


@pytest.fixture(scope="module")
def town_uhi(town):
    return _uhi(town)


def test_a_town_is_warmer_than_open_land_at_night_more_than_by_day(town_uhi) -> None:
    night, day = town_uhi
    assert night > 0.3
    assert night > day


def test_sealing_lower_sky_view_and_traffic_heat_warm_the_night(town, town_uhi) -> None:
    night = town_uhi[0]
    unsealed = _uhi(town_district(sealed=False))[0]
    deep = _uhi(town_district(height_m=24.0))[0]
    qf = np.where(town.building_index < 0, 15.0, 0.0).astype(np.float32)
    qf[town_district(sealed=False).surface_class == town.surface_class] = 0.0  # traffic only inside the town
    traffic = _uhi(town, qf=qf)[0]
    assert unsealed < night - 0.05
    assert deep > night + 0.05
    assert traffic > night + 0.05


def test_wind_shrinks_the_heat_island(town, town_uhi) -> None:
    windy = dataclasses.replace(design_hot_day(), wind_speed_m_s=np.full(24, 5.0))
    assert _uhi(town, weather=windy)[0] < 0.5 * town_uhi[0]


def test_a_park_cools_the_night_nearby(town) -> None:
    c = town.grid.cols * town.grid.cell_m / 2
    park = decode_intervention({"kind": "park", "id": "p", "tree_cover": 0.3,
                                "polygon_local_m": [[c - 40, c - 40], [c + 40, c - 40], [c + 40, c + 40], [c - 40, c + 40]]})
    engine = HeatEngine(town)
    base = engine.compute([], hours=(4,)).fields["air_temp_c"][0]
    after = engine.compute([park], hours=(4,)).fields["air_temp_c"][0]
    g = town.grid
    rr, cc = np.mgrid[0:g.rows, 0:g.cols]
    x, y = (cc + 0.5) * g.cell_m, (g.rows - rr - 0.5) * g.cell_m
    near = (np.abs(x - c) < 80) & (np.abs(y - c) < 80)
    assert (after[near] - base[near]).mean() < -0.03
    far = ndimage.distance_transform_edt(~near, sampling=g.cell_m) > 250
    assert abs((after[far] - base[far]).mean()) < abs((after[near] - base[near]).mean())


def test_night_exchange_is_slower_in_calm_stable_nights() -> None:
    p = HeatParams.default()
    ta = np.array([18.0, 18.0, 18.0, 18.0, 30.0])
    ts = np.array([15.0, 15.0, 17.5, 20.0, 40.0])
    wind = np.array([1.0, 5.0, 1.0, 1.0, 1.0])
    day = np.array([False, False, False, False, True])
    tau = ventilation_times(ta, wind, ts, day, p)
    assert tau[0] > tau[2] > tau[3] == p["ventilation_time_s"]  # more stable -> slower; unstable -> day value
    assert tau[1] < tau[0]  # wind mixes
    assert tau[4] == p["ventilation_time_s"]
    assert (tau <= p["ventilation_time_max_s"]).all()
    h = mixing_heights(ta, ts, day, p)
    assert h[0] == p["mixing_height_night_m"] and h[3] == h[4] == p["mixing_height_m"]


def test_core_and_open_masks() -> None:
    b = np.zeros((200, 200), bool)  # 10 m cells: 2 x 2 km
    b[0:25, 0:25] = True  # one 250 m block fully built
    b[30:32, 30:32] = True  # a hut: 4 % of its block
    core, open_land = core_and_open(b, 10.0)
    assert core[:25, :25].all() and core.sum() == 625
    assert not open_land[:50, :50].any() and open_land[150:, 150:].all()
    air = np.where(core, 22.0, 19.0)
    assert core_minus_open_k(air, core, open_land) == pytest.approx(3.0)
    assert core_minus_open_k(air, core, np.zeros_like(core), reference_c=20.0) == pytest.approx(2.0)


def test_tropical_nights_count() -> None:
    minima = np.array([[19.9, 20.0], [21.0, 18.0], [20.5, 20.5]])
    np.testing.assert_array_equal(tropical_nights(minima), [2, 2])


@pytest.mark.slow
def test_sample_town_heat_island_at_4_and_13() -> None:
    from geodata.sample import build_sample_district

    d = build_sample_district(size_km=2.0, seed=0, cell_m=2.0)
    night, day = _uhi(d)
    assert 1.5 <= night <= 5.0
    assert abs(day) <= 1.5


def test_heat_wave_weather() -> None:
    from geodata.weather import WeatherError, heat_wave

    wave = heat_wave(5)
    assert len(wave) == 5 and [w.day for w in wave] == sorted(w.day for w in wave)
    assert wave[-1].air_temp_c == pytest.approx(design_hot_day().air_temp_c)
    assert all(a.air_temp_c.max() < b.air_temp_c.max() for a, b in zip(wave, wave[1:]))
    assert min(w.air_temp_c.max() for w in wave) >= 30.0
    with pytest.raises(WeatherError):
        heat_wave(2)


def test_heat_stored_over_a_heat_wave_warms_the_nights_and_raises_cooling(town) -> None:
    from geodata.weather import heat_wave
    from models.heat.heat_wave import run_heat_wave

    wave = heat_wave(3)
    res = run_heat_wave(town, wave, cooling=True)
    core = HeatEngine(town).core
    night_core = [float(a[core].mean()) for a in res.night_air_c]
    assert night_core == sorted(night_core) and night_core[-1] > night_core[0] + 1.0  # the wave warms up by 3 K
    assert (res.uhi_night_k > 0).all()
    assert res.tropical_nights.max() >= 1 and res.tropical_nights.shape == town.grid.shape
    assert res.residents_with_tropical_nights > 0
    assert res.cooling_kwh_per_day is not None and res.cooling_kwh_per_day[-1] > res.cooling_kwh_per_day[0]
    # heat stored by hotter preceding days warms the night more than cooler preceding days
    h, day = res.night_hours[-1], wave[-1]
    mean = float(day.air_temp_c.mean())
    after_hot = HeatEngine(town, weather=day, deep_air_c=mean + 2.0).compute([], hours=(h,)).fields["air_temp_c"][0]
    after_cool = HeatEngine(town, weather=day, deep_air_c=mean - 2.0).compute([], hours=(h,)).fields["air_temp_c"][0]
    assert after_hot[core].mean() > after_cool[core].mean() + 0.02
