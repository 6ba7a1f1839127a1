"""Air temperature excess: kernel step against the NumPy reference, analytic equilibrium, advection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_kernels.airtemp import _step_kernel, air_steps, excess_air_temperature
from sim_kernels.heat_reference import advection_step_reference

pytestmark = pytest.mark.usefixtures("taichi_cpu")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), u=st.floats(-4, 4), v=st.floats(-4, 4))
def test_step_matches_reference(seed: int, u: float, v: float) -> None:
    u, v = (0.0 if abs(w) < 1e-6 else float(np.float32(w)) for w in (u, v))  # the kernel's float32 winds
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-1, 3, (7, 9)).astype(np.float32)
    src = rng.uniform(0, 0.01, (7, 9)).astype(np.float32)
    steps = air_steps(u, v, 10.0, 5.0, 200.0, 600.0)
    out = np.zeros_like(theta)
    _step_kernel(theta, out, src, u, v, 5.0, 200.0, steps.dt_s, 10.0)
    ref = advection_step_reference(theta, src, u, v, 5.0, 200.0, steps.dt_s, 10.0)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_uniform_source_reaches_equilibrium_in_the_interior() -> None:
    s = 0.005  # K/s
    tau, t_end = 200.0, 1000.0
    theta = excess_air_temperature(np.full((61, 61), s, np.float32), wind_east_m_s=0.0, wind_north_m_s=0.0,
                                   cell_m=10.0, diffusivity_m2_s=2.0, tau_s=tau, t_end_s=t_end)
    expected = s * tau * (1 - np.exp(-t_end / tau))
    assert theta[30, 30] == pytest.approx(expected, rel=0.01)
    assert (theta >= 0).all() and np.isfinite(theta).all()
    assert theta[0, 30] < theta[30, 30]  # rural air at the boundary


def test_heat_is_carried_downwind() -> None:
    src = np.zeros((41, 41), np.float32)
    src[18:23, 18:23] = 0.01
    theta = excess_air_temperature(src, wind_east_m_s=2.0, wind_north_m_s=0.0, cell_m=10.0,
                                   diffusivity_m2_s=2.0, tau_s=200.0, t_end_s=800.0)
    assert theta[20, 30] > 10 * theta[20, 10]  # east (downwind) against west (upwind)
    theta_n = excess_air_temperature(src, wind_east_m_s=0.0, wind_north_m_s=2.0, cell_m=10.0,
                                     diffusivity_m2_s=2.0, tau_s=200.0, t_end_s=800.0)
    assert theta_n[10, 20] > 10 * theta_n[30, 20]  # north (downwind, smaller rows)
    np.testing.assert_allclose(theta_n[10, 20], theta[20, 30], rtol=1e-4)  # same physics turned by 90 degrees


@pytest.mark.parametrize("shape,wind", [((23, 31), (1.5, -1.0)), ((40, 17), (0.0, 0.3)), ((12, 12), (-2.0, 2.0)), ((9, 14), (1.2, 0.0))])
def test_one_thread_and_parallel_steps_agree_bit_for_bit(shape, wind, monkeypatch) -> None:
    """A small grid on the CPU steps in one thread; larger grids (and GPUs) in parallel loops. The
    arithmetic per cell is the same, so the fields are identical, with an odd step count too."""
    import sim_kernels.airtemp as air

    src = np.random.default_rng(len(shape) + shape[0]).uniform(0, 2e-3, shape).astype(np.float32)
    kw = dict(wind_east_m_s=wind[0], wind_north_m_s=wind[1], cell_m=20.0, diffusivity_m2_s=5.0, tau_s=240.0,
              t_end_s=700.0)
    assert air_steps(*wind, 20.0, 5.0, 240.0, 700.0).n_steps > 10
    if wind == (1.2, 0.0):
        assert air_steps(*wind, 20.0, 5.0, 240.0, 700.0).n_steps % 2 == 1
    monkeypatch.setattr(air, "SERIAL_MAX_CELLS", 1 << 30)
    one = excess_air_temperature(src, **kw)
    monkeypatch.setattr(air, "SERIAL_MAX_CELLS", 0)
    many = excess_air_temperature(src, **kw)
    np.testing.assert_array_equal(one, many)
    assert one.max() > 0.01
