"""Mean radiant temperature: kernel against the NumPy reference, physical orderings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_kernels.heat_reference import tmrt_reference
from sim_kernels.radiation import mean_radiant_temperature

pytestmark = pytest.mark.usefixtures("taichi_cpu")

ALB = np.array([0.1, 0.25, 0.2], np.float32)
EMI = np.array([0.95, 0.92, 0.95], np.float32)


def _hourly(elev: float, dni: float = 800.0, dhi: float = 120.0, air: float = 30.0,
            wall: float | None = None) -> dict[str, np.ndarray]:
    out = {"direct_normal_w_m2": np.array([dni]), "diffuse_w_m2": np.array([dhi]),
           "elevation_deg": np.array([elev]), "longwave_sky_w_m2": np.array([370.0]), "air_temp_c": np.array([air])}
    if wall is not None:
        out["wall_temp_c"] = np.array([wall])
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), elev=st.floats(-5, 70))
def test_kernel_matches_reference(seed: int, elev: float) -> None:
    rng = np.random.default_rng(seed)
    shape = (6, 7)
    sunlit = rng.choice([0.0, 0.03, 1.0], size=(1,) + shape).astype(np.float32)
    svf = rng.uniform(0, 1, shape).astype(np.float32)
    cls = rng.integers(0, 3, shape).astype(np.uint8)
    ts = rng.uniform(15, 60, (1,) + shape).astype(np.float32)
    got = mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, _hourly(elev))
    ref = tmrt_reference(sunlit[0], svf, ALB[cls], EMI[cls], ts[0], 800.0, 120.0, elev, 370.0, 30.0)
    np.testing.assert_allclose(got[0], ref, atol=0.02)
    hot = mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, _hourly(elev, wall=38.0))
    ref = tmrt_reference(sunlit[0], svf, ALB[cls], EMI[cls], ts[0], 800.0, 120.0, elev, 370.0, 38.0)
    np.testing.assert_allclose(hot[0], ref, atol=0.02)
    assert (hot[0] >= got[0] - 1e-4).all()  # warmer walls never cool


def test_sun_shade_and_night_orderings() -> None:
    ones = np.ones((1, 1, 3), np.float32)
    sunlit = np.array([[[1.0, 0.03, 0.0]]], np.float32)
    svf = np.array([[1.0, 0.4, 0.4]], np.float32)
    cls = np.zeros((1, 3), np.uint8)
    t = mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, 45 * ones, _hourly(55.0))[0, 0]
    assert t[0] > 55.0 and t[0] - t[2] > 15.0 and t[1] >= t[2]
    night = mean_radiant_temperature(np.zeros((1, 1, 1), np.float32), np.ones((1, 1), np.float32),
                                     np.zeros((1, 1), np.uint8), ALB, EMI, 20 * np.ones((1, 1, 1), np.float32),
                                     _hourly(-10.0, 0.0, 0.0, 20.0))[0, 0, 0]
    assert night < 20.0  # open sky at night radiates the body away
    assert np.isfinite(t).all()
