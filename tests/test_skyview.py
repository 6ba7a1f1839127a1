"""Sky view factor: analytic flat ground and street canyons, kernel against the NumPy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_kernels.heat_reference import svf_reference
from sim_kernels.skyview import effective_svf, sky_view_factor

pytestmark = pytest.mark.usefixtures("taichi_cpu")


def test_flat_open_ground_sees_the_whole_sky() -> None:
    dsm = np.full((30, 30), 112.0, np.float32)
    svf, svf_v = sky_view_factor(dsm, dsm, cell_m=2.0, n_azimuths=32)
    assert np.abs(svf - 1.0).max() <= 0.01
    assert np.abs(svf_v - 1.0).max() <= 0.01


@pytest.mark.parametrize("h_over_w", [0.5, 1.0, 2.0])
def test_infinite_canyon_centre(h_over_w: float) -> None:
    width = 21  # cells of 1 m, odd so that a cell sits on the axis
    rows = 1201
    cols = width + 2 * 40
    h = h_over_w * width
    dsm = np.full((rows, cols), h, np.float32)
    dsm[:, 40:40 + width] = 0.0
    r, c = rows // 2, 40 + width // 2
    svf, _ = sky_view_factor(dsm, None, cell_m=1.0, n_azimuths=64, radius_m=700.0, window=(r, r + 1, c, c + 1))
    expected = math.cos(math.atan(2.0 * h_over_w))
    assert abs(float(svf[r, c]) - expected) <= 0.02, (float(svf[r, c]), expected)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n_az=st.sampled_from([8, 16, 24]))
def test_kernel_matches_reference_on_random_dsms(seed: int, n_az: int) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = 9, 11
    terrain = rng.uniform(0.0, 3.0, (rows, cols)).astype(np.float32)
    dsm = terrain + np.where(rng.random((rows, cols)) < 0.25, rng.uniform(3, 15, (rows, cols)), 0).astype(np.float32)
    canopy = np.where((rng.random((rows, cols)) < 0.2) & (dsm == terrain), rng.uniform(3, 10, (rows, cols)), 0)
    can_top = (terrain + canopy).astype(np.float32)
    got, got_v = sky_view_factor(dsm, can_top, cell_m=2.0, n_azimuths=n_az, radius_m=30.0)
    ref, ref_v = svf_reference(dsm, can_top, 2.0, n_az, 30.0)
    np.testing.assert_allclose(got, ref, atol=2e-5)
    np.testing.assert_allclose(got_v, ref_v, atol=2e-5)
    assert (got_v <= got + 1e-6).all()
    eff = effective_svf(got, got_v, 0.3)
    assert ((eff >= got_v - 1e-6) & (eff <= got + 1e-6)).all()


def test_window_equals_full_and_canopy_lowers_sky_view() -> None:
    rng = np.random.default_rng(5)
    dsm = (rng.random((30, 30)) < 0.1).astype(np.float32) * 12.0
    can = np.zeros_like(dsm)
    can[12:16, 12:16] = 9.0
    full = sky_view_factor(dsm, can, cell_m=2.0, n_azimuths=32)
    part = sky_view_factor(dsm, can, cell_m=2.0, n_azimuths=32, window=(5, 20, 8, 25))
    np.testing.assert_array_equal(part[0][5:20, 8:25], full[0][5:20, 8:25])
    np.testing.assert_array_equal(part[1][5:20, 8:25], full[1][5:20, 8:25])
    assert full[1][14, 14] == 0.0  # under the crown
    open_svf, open_v = sky_view_factor(np.zeros_like(dsm), can, cell_m=2.0, n_azimuths=32)
    assert open_svf[14, 17] == 1.0 and open_v[14, 17] < 0.8  # beside the crown
    assert np.isfinite(full[0]).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n_az=st.sampled_from([8, 16, 32]), remove=st.booleans())
def test_canopy_update_equals_a_full_rescan(seed: int, n_az: int, remove: bool) -> None:
    """A tree planted (or felled) changes the canopy in a small patch: rescanning only the directions
    that cross the patch, old against new tops, gives the full rescan's sky view everywhere."""
    from sim_kernels.skyview import sky_view_canopy_update

    rng = np.random.default_rng(seed)
    rows, cols = 48, 52
    ground = (100.0 + rng.uniform(0, 2, (rows, cols))).astype(np.float32)
    dsm = ground.copy()
    for _ in range(6):  # blocks
        r, c = rng.integers(0, rows - 8), rng.integers(0, cols - 8)
        dsm[r:r + rng.integers(3, 8), c:c + rng.integers(3, 8)] += rng.uniform(5, 25)
    top = dsm.copy()
    for _ in range(8):  # crowns on the ground
        r, c = rng.integers(0, rows - 4), rng.integers(0, cols - 4)
        top[r:r + 3, c:c + 3] = np.maximum(top[r:r + 3, c:c + 3], ground[r:r + 3, c:c + 3] + rng.uniform(4, 15))
    pr, pc = int(rng.integers(2, rows - 6)), int(rng.integers(2, cols - 6))
    patch = (pr, pr + 4, pc, pc + 4)
    new = top.copy()
    if remove:
        new[pr:pr + 4, pc:pc + 4] = dsm[pr:pr + 4, pc:pc + 4]
    else:
        new[pr:pr + 4, pc:pc + 4] = np.maximum(new[pr:pr + 4, pc:pc + 4], ground[pr:pr + 4, pc:pc + 4] + 12.0)
    kw = dict(cell_m=2.0, n_azimuths=n_az, radius_m=60.0)
    _, before = sky_view_factor(dsm, top, **kw)
    _, after = sky_view_factor(dsm, new, **kw)
    got = before.copy()
    window = (max(pr - 20, 0), min(pr + 24, rows), max(pc - 20, 0), min(pc + 24, cols))
    sky_view_canopy_update(dsm, top, new, patch, got, window=window, **kw)
    b_out = np.ones_like(got)
    sky_view_factor(dsm, new, window=patch, out=(b_out, got), **kw)  # the patch itself: a full scan
    r0, r1, c0, c1 = window
    np.testing.assert_allclose(got[r0:r1, c0:c1], after[r0:r1, c0:c1], atol=2e-6)
    outside = np.ones_like(got, bool)
    outside[r0:r1, c0:c1] = False
    np.testing.assert_array_equal(got[outside], before[outside])  # nothing written outside the window
    if not np.allclose(after, before):
        assert np.abs(got - before).max() > 1e-4  # the update did change something
