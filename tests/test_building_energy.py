"""Buildings' cooling demand: the 5R1C model against the steady state of its resistance network and
side by side with RC_BuildingSimulator (the peer's own venv, when set up); envelopes from a District;
a row of trees in front of a south facade lowers that building's cooling demand; the district figure;
the engine's cached, sparse path against the straightforward one (every band, every hour, bincounts)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from heat_fixtures import town_district

from geodata.interventions import decode_intervention
from geodata.weather import design_hot_day
from models.heat.building_energy import Envelope, envelopes, facade_cells, rc5_hourly, solar_gains_w
from models.heat.engine import HeatEngine
from sim_kernels.energy import surface_energy_day

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / ".peers" / "rcbsim" / "bin" / "python"


def _zone(a_f: float = 200.0) -> Envelope:
    one = lambda v: np.array([v], float)  # noqa: E731
    return Envelope(floor_area_m2=one(a_f), volume_m3=one(3 * a_f), wall_area_m2=np.array([[40.0, 40.0, 40.0, 40.0]]),
                    window_area_m2=np.array([[8.0, 8.0, 12.0, 8.0]]), roof_area_m2=one(a_f / 2), u_wall=one(1.0),
                    u_window=one(2.7), u_roof=one(0.8), g_window=one(0.42), air_changes_per_h=one(0.6),
                    heat_capacity_j_m2k=one(165000.0), cooled=np.array([True]))


def _steady_air(env: Envelope, te: float, qi: float, qs: float) -> float:
    """Air temperature of the 5R1C network in steady state, by solving its three node balances."""
    k = env.conductances()
    h_ve, h_w, h_is, h_ms, h_em = (float(k[n][0]) for n in ("h_ve", "h_w", "h_is", "h_ms", "h_em"))
    am_at = float(k["a_m"][0] / k["a_t"][0])
    base = 0.5 * qi + qs
    phi_ia, phi_m = 0.5 * qi, am_at * base
    phi_st = (1 - am_at - h_w / (9.1 * float(k["a_t"][0]))) * base
    # unknowns: air, surface, mass
    a = np.array([[h_ve + h_is, -h_is, 0.0], [-h_is, h_is + h_w + h_ms, -h_ms], [0.0, -h_ms, h_ms + h_em]])
    b = np.array([phi_ia + h_ve * te, phi_st + h_w * te, phi_m + h_em * te])
    return float(np.linalg.solve(a, b)[0])


def test_free_floating_steady_state_matches_the_network() -> None:
    env = _zone()
    te = np.full((24 * 20, 1), 18.0)
    res = rc5_hourly(env, te, np.full_like(te, 800.0), np.full_like(te, 1500.0), cooling_setpoint_c=99.0)
    assert res.air_c[-1, 0] == pytest.approx(_steady_air(env, 18.0, 800.0, 1500.0), abs=1e-3)
    assert (res.cooling_w == 0).all()


def test_cooling_holds_the_setpoint_and_grows_with_heat() -> None:
    env = _zone()
    w = design_hot_day().air_temp_c[:, None]
    hot = rc5_hourly(env, w, np.full_like(w, 500.0), np.full_like(w, 2000.0), spin_up_repeats=3)
    cooler = rc5_hourly(env, w - 2.0, np.full_like(w, 500.0), np.full_like(w, 2000.0), spin_up_repeats=3)
    on = hot.cooling_w[:, 0] > 0
    assert on.any() and np.allclose(hot.air_c[on, 0], 26.0, atol=1e-9)
    assert (hot.air_c[~on, 0] <= 26.0 + 1e-9).all()
    assert cooler.cooling_w.sum() < hot.cooling_w.sum()


def test_a_slender_tower_keeps_a_solvable_network() -> None:
    """A tower with far more envelope than floor (a 5 x 5 m footprint, 100 m high) would give ISO
    13790's medium class a mass conductance below the opaque one, a negative H_tr,em and an infinite
    cooling demand; its envelope's inner faces count as mass area, so the network stays physical."""
    one = lambda v: np.array([v], float)  # noqa: E731
    tower = Envelope(floor_area_m2=one(125.0), volume_m3=one(2500.0), wall_area_m2=np.full((1, 4), 400.0),
                     window_area_m2=np.full((1, 4), 100.0), roof_area_m2=one(25.0), u_wall=one(1.2),
                     u_window=one(2.7), u_roof=one(0.8), g_window=one(0.42), air_changes_per_h=one(0.6),
                     heat_capacity_j_m2k=one(165000.0), cooled=np.array([True]))
    k = tower.conductances()
    assert k["h_em"][0] > 0 and k["a_t"][0] > k["a_m"][0]
    w = design_hot_day().air_temp_c[:, None]
    with np.errstate(all="raise"):
        res = rc5_hourly(tower, w, np.full_like(w, 600.0), np.full_like(w, 3000.0), spin_up_repeats=2)
    assert np.isfinite(res.cooling_w).all() and res.cooling_w.sum() > 0
    assert res.air_c[res.cooling_w[:, 0] > 0, 0] == pytest.approx(26.0, abs=1e-9)
    # the steady state of the network still solves its node balances
    assert rc5_hourly(tower, np.full((24 * 20, 1), 18.0), np.full((480, 1), 800.0), np.full((480, 1), 1500.0),
                      cooling_setpoint_c=99.0).air_c[-1, 0] == pytest.approx(_steady_air(tower, 18.0, 800.0, 1500.0),
                                                                             abs=1e-3)


@pytest.mark.skipif(not PEER.exists(), reason="peer not set up: bash benchmarks/peers/setup.sh rcbsim")
def test_same_hourly_cooling_as_rc_building_simulator() -> None:
    """Side by side with the ISO 13790 implementation of RC_BuildingSimulator (rcbsim) on three hot
    days: the same conductances, capacity, gains and set-point give the same hourly demand."""
    env = _zone()
    te = np.tile(design_hot_day().air_temp_c, 3)[:, None]
    hours = np.arange(72) % 24
    qi = np.full_like(te, 800.0)
    qs = (np.clip(np.sin((hours - 6) / 14 * np.pi), 0, None) * 2500.0)[:, None]
    mine = rc5_hourly(env, te, qi, qs, mass_start_c=24.0)
    k = env.conductances()
    zone = dict(window_area=float(env.window_area_m2.sum()), walls_area=float(k["h_em"][0]), u_walls=1.0,
                u_windows=2.7, floor_area=200.0, room_vol=600.0, total_internal_area=float(k["a_t"][0]), ach_vent=0.0,
                ach_infl=0.6, ventilation_efficiency=0.0, thermal_capacitance_per_floor_area=165000.0,
                t_set_heating=-100.0, t_set_cooling=26.0)
    case = dict(zone=zone, t_out=te[:, 0].tolist(), internal_w=qi[:, 0].tolist(), solar_w=qs[:, 0].tolist(),
                t_m_start=24.0, repeats=0)
    out = subprocess.run([str(PEER), str(ROOT / "benchmarks" / "peers" / "rcbsim_runner.py")], input=json.dumps(case),
                         capture_output=True, text=True, timeout=60, check=True)
    peer = json.loads(out.stdout)
    np.testing.assert_allclose(mine.cooling_w[:, 0], peer["cooling_w"], atol=1e-6)
    np.testing.assert_allclose(mine.air_c[:, 0], peer["air_c"], atol=1e-9)
    assert mine.cooling_w.sum() > 1000.0


def test_envelopes_and_facades_of_a_district() -> None:
    d = town_district()
    env = envelopes(d)
    n = len(d.buildings.height_m)
    assert env.floor_area_m2.shape == (n,)
    np.testing.assert_allclose(env.roof_area_m2, 400.0, rtol=0.05)  # 20 x 20 m houses
    np.testing.assert_allclose(env.floor_area_m2, 3 * env.roof_area_m2)
    np.testing.assert_allclose((env.wall_area_m2 + env.window_area_m2).sum(axis=1), 4 * 20 * 12.0, rtol=0.05)
    for cells, bidx in facade_cells(d.building_index):
        assert (d.building_index.ravel()[cells] < 0).all() and (bidx >= 0).all()


@pytest.mark.usefixtures("taichi_cpu")
def test_trees_in_front_of_a_south_facade_lower_its_cooling_demand() -> None:
    d = town_district(size_m=400.0, town_m=120.0)
    engine = HeatEngine(d)
    base = engine.building_cooling()
    assert base.district_kwh > 0 and base.cooling_kwh.shape == (len(d.buildings.height_m),)
    # the southernmost row of houses: south walls at y = lo + 5; trees 4 m south of them
    lo = (400.0 - 120.0) / 2
    x0 = lo + 5.0
    line = [[x0 + 2.0, lo + 1.0], [x0 + 18.0, lo + 1.0]]
    row = decode_intervention({"kind": "tree_row", "id": "r", "line_local_m": line, "spacing_m": 5.0, "height_m": 14.0,
                               "crown_diameter_m": 7.0})
    shaded = engine.building_cooling([row])
    g = d.grid
    r = int(g.rows - (lo + 15.0) / g.cell_m)
    c = int((x0 + 10.0) / g.cell_m)
    b = int(d.building_index[r, c])
    assert b >= 0
    assert shaded.cooling_kwh[b] < base.cooling_kwh[b] - 0.05
    assert shaded.district_kwh < base.district_kwh


def _reference_cooling(engine: HeatEngine, qf: np.ndarray | None = None) -> np.ndarray:
    """The slow, obvious path for the engine's current state: the surface balance of the whole grid
    for 24 hours, block sums cell by cell, the air of every hour solved afresh, per-building means by
    bincount, then the same 5R1C. Returns each building's kWh over the day."""
    st, d, f = engine._state, engine.district, engine._air_factor()
    assert st is not None
    rows, cols = d.grid.shape
    out = surface_energy_day(st.sunlit24, st.svf, st.surf.surface_class, engine.classes, engine.forcing,
                             hours=tuple(range(24)), fluxes=True, **engine.energy_kwargs)
    sums = []
    for h in range(24):
        s = np.zeros((-(-rows // f), -(-cols // f)), np.float32)
        np.add.at(s, (np.arange(rows)[:, None] // f, np.arange(cols)[None, :] // f), out["q_h"][h])
        sums.append(s)
    theta = engine.air_from_sums(sums, range(24), st.surf.canopy_m, qf)
    n = len(d.buildings.height_m)
    sun = st.sunlit24.reshape(24, -1).astype(float)
    facade_sun, outdoor, walls = np.zeros((24, n, 4)), np.zeros((24, n)), np.zeros(n)
    for o, (cells, bidx) in enumerate(facade_cells(d.building_index)):
        cnt = np.bincount(bidx, minlength=n)
        for h in range(24):
            facade_sun[h, :, o] = np.bincount(bidx, weights=sun[h, cells], minlength=n) / np.maximum(cnt, 1)
            outdoor[h] += np.bincount(bidx, weights=theta[h, (cells // cols) // f, (cells % cols) // f], minlength=n)
        walls += cnt
    outdoor = np.asarray(engine.weather.air_temp_c, float)[:, None] + outdoor / np.maximum(walls, 1)
    inside = d.building_index >= 0
    bi = d.building_index[inside]
    cnt = np.maximum(np.bincount(bi, minlength=n), 1)
    roof_sun = np.stack([np.bincount(bi, weights=sun[h][inside.ravel()], minlength=n) / cnt for h in range(24)])
    cls = st.surf.surface_class[inside]
    absorb = (1.0 - engine.classes["albedo"][cls]) * (1.0 - engine.classes["evaporative_fraction"][cls])
    env, sunpos = engine.envelope, engine.sun
    solar = solar_gains_w(env, dni=sunpos.dni_w_m2, dhi=sunpos.dhi_w_m2, elevation_deg=sunpos.elevation_deg,
                          azimuth_deg=sunpos.azimuth_deg, facade_sunlit=facade_sun, roof_sunlit=roof_sun,
                          roof_absorptance=np.bincount(bi, weights=absorb, minlength=n) / cnt)
    internal = env.floor_area_m2 * engine.params["building_waste_heat_w_m2_floor"]
    res = rc5_hourly(env, outdoor, internal[None, :], solar, cooling_setpoint_c=engine.params["cooling_setpoint_c"],
                     spin_up_repeats=int(engine.params["building_spin_up_days"]))
    return res.cooling_w.sum(axis=0) / 1000.0 * env.cooled


@pytest.mark.usefixtures("taichi_cpu")
def test_cached_sparse_cooling_equals_the_straightforward_path_across_edits() -> None:
    d = town_district(size_m=308.0, town_m=120.0)  # not a whole number of air cells wide: padded blocks too
    engine = HeatEngine(d)
    assert d.grid.cols % engine._air_factor() != 0
    lo = (308.0 - 120.0) / 2
    row = decode_intervention({"kind": "tree_row", "id": "r", "line_local_m": [[lo + 7.0, lo + 1.0], [lo + 23.0, lo + 1.0]],
                               "spacing_m": 5.0, "height_m": 14.0, "crown_diameter_m": 7.0})
    roof = decode_intervention({"kind": "green_roof", "id": "g", "building_id": int(d.buildings.building_id[0])})
    qf = np.zeros(d.grid.shape, np.float32)
    qf[d.grid.rows // 2, :] = 40.0  # a street's waste heat
    results = []
    for edits, heat in (([], None), ([row], None), ([row, roof], qf), ([], None)):
        fast = engine.building_cooling(edits, anthropogenic_heat_w_m2=heat)
        ref = _reference_cooling(engine, heat)
        assert fast.cooling_kwh.sum() > 0
        np.testing.assert_allclose(fast.cooling_kwh, ref, rtol=1e-9, atol=1e-9 * float(ref.max()))
        results.append(fast.district_kwh)
    # back where it began (the sky view of a removed crown is restored by differences: float rounding)
    assert results[1] < results[0] and results[3] == pytest.approx(results[0], rel=1e-9)


def test_a_cooling_computation_stopped_between_hours_leaves_the_engine_consistent() -> None:
    """A newer edit stops the day's cooling between two hours' air solves; the engine then gives the same
    demand as one that was never stopped."""
    d = town_district(size_m=308.0, town_m=120.0)
    lo = (308.0 - 120.0) / 2
    row = decode_intervention({"kind": "tree_row", "id": "r", "line_local_m": [[lo + 7.0, lo + 1.0], [lo + 23.0, lo + 1.0]],
                               "spacing_m": 5.0, "height_m": 14.0, "crown_diameter_m": 7.0})

    class Stop(Exception):
        pass

    calls = [0]

    def check() -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise Stop

    engine = HeatEngine(d)
    engine.building_cooling([])
    with pytest.raises(Stop):
        engine.building_cooling([row], check=check)
    assert calls[0] == 3
    after = engine.building_cooling([row])
    fresh = HeatEngine(d).building_cooling([row])
    np.testing.assert_allclose(after.cooling_kwh, fresh.cooling_kwh, rtol=1e-9, atol=1e-9 * float(fresh.cooling_kwh.max()))
