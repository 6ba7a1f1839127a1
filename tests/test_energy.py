"""Surface energy balance: kernel against the NumPy reference, closure, albedo monotonicity, no NaN."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_kernels.energy import storage_capacity, surface_energy_day
from sim_kernels.heat_reference import energy_reference

pytestmark = pytest.mark.usefixtures("taichi_cpu")

HOURS = (0, 6, 12, 15, 21)


def _forcing() -> dict[str, np.ndarray]:
    h = np.arange(24)
    day = np.clip(np.sin(np.pi * (h - 5) / 15), 0, None)
    return {
        "direct_horizontal_w_m2": (750 * day**1.3).astype(np.float32),
        "diffuse_w_m2": (110 * day).astype(np.float32),
        "longwave_sky_w_m2": (330 + 40 * day).astype(np.float32),
        "air_temp_c": (24 + 8 * np.sin(np.pi * (h - 9) / 12)).astype(np.float32),
        "wall_temp_c": (24 + 8 * np.sin(np.pi * (h - 9) / 12) + 6 * day).astype(np.float32),
        "wind_m_s": np.full(24, 2.0, np.float32),
    }


def _classes(albedo=(0.1, 0.25, 0.2, 0.08), evap=(0.0, 0.0, 0.6, 1.0)) -> dict[str, np.ndarray]:
    n = len(albedo)
    if n == 4:
        c, k, e = np.array([1.94e6, 2.11e6, 2.92e6, 4.18e6]), np.array([0.75, 1.51, 1.58, 0.57]), [0.95, 0.92, 0.95, 0.97]
    else:  # one material with different albedos
        c, k, e = np.full(n, 1.94e6), np.full(n, 0.75), [0.95] * n
    return {
        "albedo": np.asarray(albedo, np.float32),
        "emissivity": np.asarray(e, np.float32),
        "capacity_j_m2k": storage_capacity(c, k),
        "transfer": np.full(n, 0.006, np.float32),
        "evaporative_fraction": np.asarray(evap, np.float32),
    }


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_kernel_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (5, 6)
    sunlit = rng.choice([0.0, 0.05, 1.0], size=(24,) + shape).astype(np.float32)
    svf = rng.uniform(0.2, 1.0, shape).astype(np.float32)
    surface = rng.integers(0, 4, shape).astype(np.uint8)
    got = surface_energy_day(sunlit, svf, surface, _classes(), _forcing(), hours=HOURS, t_deep_c=24.0, fluxes=True)
    ref = energy_reference(sunlit, svf, surface, _classes(), _forcing(), HOURS, 24.0)
    np.testing.assert_allclose(got["surface_temp_c"], ref["surface_temp_c"], atol=0.02)
    for name in ("q_star", "q_h", "q_e", "q_g"):
        np.testing.assert_allclose(got[name], ref[name], atol=0.3)


def test_energy_balance_closes_per_cell_and_no_nan() -> None:
    rng = np.random.default_rng(1)
    shape = (8, 8)
    sunlit = np.broadcast_to(rng.random(shape) > 0.3, (24,) + shape).astype(np.float32)
    svf = rng.uniform(0.1, 1.0, shape).astype(np.float32)
    surface = rng.integers(0, 4, shape).astype(np.uint8)
    out = surface_energy_day(sunlit, svf, surface, _classes(), _forcing(), hours=tuple(range(24)),
                             t_deep_c=24.0, fluxes=True, n_sub=4)  # the engine's sub-steps
    residual = out["q_star"] - out["q_h"] - out["q_e"] - out["q_g"]
    assert np.abs(residual).max() < 1.0
    for v in out.values():
        assert np.isfinite(v).all()
    # midday: sunlit asphalt is far warmer than the air, shaded grass is not
    ts = out["surface_temp_c"][13]
    hot = (surface == 0) & (sunlit[13] == 1) & (svf > 0.5)
    assert ts[hot].min() > 40.0


def test_warming_is_monotone_in_albedo_decrease() -> None:
    albedos = (0.6, 0.45, 0.3, 0.2, 0.1, 0.05)
    classes = _classes(albedo=albedos, evap=(0.0,) * 6)
    surface = np.arange(6, dtype=np.uint8)[None, :]
    sunlit = np.ones((24, 1, 6), np.float32)
    out = surface_energy_day(sunlit, np.ones((1, 6), np.float32), surface, classes, _forcing(), hours=HOURS,
                             t_deep_c=24.0)
    for i in range(len(HOURS)):
        ts = out["surface_temp_c"][i, 0]
        assert (np.diff(ts) >= -1e-5).all()
    assert np.diff(out["surface_temp_c"][HOURS.index(15), 0]).min() > 0.1


def test_shade_and_evaporation_cool() -> None:
    surface = np.array([[0, 0, 2, 3]], np.uint8)
    sunlit = np.ones((24, 1, 4), np.float32)
    sunlit[:, 0, 1] = 0.05
    out = surface_energy_day(sunlit, np.ones((1, 4), np.float32), surface, _classes(), _forcing(), hours=(15,),
                             t_deep_c=24.0)
    ts = out["surface_temp_c"][0, 0]
    assert ts[1] < ts[0] - 10  # shaded asphalt
    assert ts[2] < ts[0] and ts[3] < ts[2]  # grass, water


def test_listed_cells_equal_the_whole_grid_and_the_rest_is_kept() -> None:
    """``cells`` computes just those cells, exactly as the whole-grid pass does, and leaves the other
    cells of ``out`` untouched; a bad index is refused."""
    rng = np.random.default_rng(11)
    shape = (9, 13)
    sunlit = rng.choice([0.0, 0.3, 1.0], size=(24,) + shape).astype(np.float32)
    svf = rng.uniform(0.2, 1.0, shape).astype(np.float32)
    surface = rng.integers(0, 4, shape).astype(np.uint8)
    kw = dict(hours=HOURS, t_deep_c=24.0, fluxes=True)
    whole = surface_energy_day(sunlit, svf, surface, _classes(), _forcing(), **kw)
    out = {k: np.full_like(v, -99.0) for k, v in whole.items()}
    cells = np.sort(rng.choice(svf.size, 40, replace=False))
    surface_energy_day(sunlit, svf, surface, _classes(), _forcing(), cells=cells, out=out, **kw)
    listed = np.zeros(svf.size, bool)
    listed[cells] = True
    listed = listed.reshape(shape)
    for name, arr in out.items():
        np.testing.assert_array_equal(arr[:, listed], whole[name][:, listed], err_msg=name)
        assert (arr[:, ~listed] == -99.0).all(), name
    with pytest.raises(ValueError):
        surface_energy_day(sunlit, svf, surface, _classes(), _forcing(), cells=np.array([svf.size]), out=out, **kw)
