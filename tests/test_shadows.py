"""Shadow casting: Taichi kernel against the NumPy reference, analytic block shadows, canopy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_kernels.heat_reference import shadows_reference
from sim_kernels.shadows import cast_shadows, cast_shadows_hours

pytestmark = pytest.mark.usefixtures("taichi_cpu")


def _block(rows: int, cols: int, r: slice, c: slice, height_m: float) -> np.ndarray:
    dsm = np.zeros((rows, cols), np.float32)
    dsm[r, c] = height_m
    return dsm


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    azimuth=st.floats(0.0, 359.9),
    elevation=st.floats(3.0, 80.0),
    transmissivity=st.floats(0.0, 0.5),
)
def test_kernel_matches_reference_on_random_dsms(seed, azimuth, elevation, transmissivity) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = 11, 13
    terrain = rng.uniform(0.0, 2.0, (rows, cols)).astype(np.float32)
    dsm = terrain + np.where(rng.random((rows, cols)) < 0.2, rng.uniform(2, 12, (rows, cols)), 0).astype(np.float32)
    canopy = np.where((rng.random((rows, cols)) < 0.15) & (dsm == terrain), rng.uniform(3, 10, (rows, cols)), 0)
    can_top = (terrain + canopy).astype(np.float32)
    trunk_top = (terrain + 0.25 * canopy).astype(np.float32)
    got_b, got = cast_shadows(dsm, can_top, trunk_top, cell_m=1.5, azimuth_deg=azimuth, elevation_deg=elevation,
                              transmissivity=transmissivity, max_reach_m=40.0)
    ref_b, ref = shadows_reference(dsm, can_top, trunk_top, 1.5, azimuth, elevation, transmissivity, 40.0)
    np.testing.assert_array_equal(got_b, ref_b)
    np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize("azimuth,elevation", [(180.0, 30.0), (180.0, 55.0), (270.0, 20.0), (90.0, 45.0), (0.0, 40.0)])
def test_isolated_block_shadow_length(azimuth: float, elevation: float) -> None:
    h, cell = 10.0, 1.0
    dsm = _block(120, 120, slice(50, 60), slice(50, 60), h)
    flat = np.zeros_like(dsm)
    bsun, _ = cast_shadows(dsm, flat, flat, cell_m=cell, azimuth_deg=azimuth, elevation_deg=elevation)
    expected = h / math.tan(math.radians(elevation)) / cell
    # walk away from the block, opposite to the sun, along the centre line
    dr, dc = {180.0: (-1, 0), 0.0: (1, 0), 270.0: (0, 1), 90.0: (0, -1)}[azimuth]
    edge = {-1: 49, 0: 55, 1: 60}
    r, c = edge[dr], edge[dc]  # just outside the block
    length = 0
    while bsun[r, c] == 0.0:
        length += 1
        r, c = r + dr, c + dc
    assert abs(length - expected) <= 1.0 + 1e-9, (length, expected)
    # the block's roof and the sunward side are lit
    assert bsun[55, 55] == 1.0
    assert bsun[55 - dr * 10, 55 - dc * 10] == 1.0


def test_window_equals_full_grid() -> None:
    rng = np.random.default_rng(3)
    dsm = (rng.random((40, 50)) < 0.1).astype(np.float32) * 15.0
    flat = np.zeros_like(dsm)
    full = cast_shadows(dsm, flat, flat, cell_m=2.0, azimuth_deg=210.0, elevation_deg=25.0)
    part = cast_shadows(dsm, flat, flat, cell_m=2.0, azimuth_deg=210.0, elevation_deg=25.0, window=(10, 30, 5, 45))
    np.testing.assert_array_equal(part[0][10:30, 5:45], full[0][10:30, 5:45])


def test_canopy_transmits_and_trunk_zone_lets_low_sun_through() -> None:
    rows, cols = 40, 40
    terrain = np.zeros((rows, cols), np.float32)
    canopy = np.zeros_like(terrain)
    canopy[18:22, 18:22] = 10.0
    trunk = 0.4 * canopy  # crown from 4 m to 10 m
    _, sun = cast_shadows(terrain, canopy, trunk, cell_m=1.0, azimuth_deg=180.0, elevation_deg=60.0,
                          transmissivity=0.05)
    assert sun[20, 20] == pytest.approx(0.05)  # under its own crown
    assert sun[16, 20] == pytest.approx(0.05)  # in the crown's shadow, north of the tree
    assert sun[10, 20] == 1.0
    # very low sun from the south: the ray from just north of the tree passes below the crown
    _, low = cast_shadows(terrain, canopy, trunk, cell_m=1.0, azimuth_deg=180.0, elevation_deg=15.0,
                          transmissivity=0.05)
    assert low[16, 20] == 1.0
    assert low[2, 20] == pytest.approx(0.05)


def test_sun_below_horizon_is_dark_and_no_nan() -> None:
    dsm = np.zeros((8, 8), np.float32)
    b, s = cast_shadows(dsm, dsm, dsm, cell_m=1.0, azimuth_deg=0.0, elevation_deg=-3.0)
    assert (b == 0).all() and (s == 0).all()
    b, s = cast_shadows(dsm, dsm, dsm, cell_m=1.0, azimuth_deg=123.0, elevation_deg=0.5)
    assert np.isfinite(s).all() and (b == 1).all()


def test_several_sun_positions_in_one_launch_equal_one_at_a_time() -> None:
    """``cast_shadows_hours`` fills each position's window and layer exactly as ``cast_shadows``
    does, leaves everything else alone, zeroes a sun below the horizon and refuses a bad window."""
    rng = np.random.default_rng(4)
    rows, cols = 60, 70
    terrain = rng.uniform(0.0, 3.0, (rows, cols)).astype(np.float32)
    dsm = terrain + np.where(rng.random((rows, cols)) < 0.1, rng.uniform(3, 20, (rows, cols)), 0).astype(np.float32)
    canopy = np.where((rng.random((rows, cols)) < 0.1) & (dsm == terrain), rng.uniform(3, 12, (rows, cols)), 0)
    top, trunk = (terrain + canopy).astype(np.float32), (terrain + 0.3 * canopy).astype(np.float32)
    suns = [(0, 95.0, 4.0, (0, 60, 0, 70)), (2, 180.0, 55.0, (10, 31, 5, 40)), (3, 250.0, 18.0, (40, 60, 50, 70)),
            (5, 300.0, -1.0, (0, 10, 0, 10)), (6, 30.0, 30.0, (7, 7, 0, 70))]
    out = (np.full((7, rows, cols), 5.0, np.float32), np.full((7, rows, cols), 5.0, np.float32))
    cast_shadows_hours(dsm, top, trunk, suns, out, cell_m=2.0, transmissivity=0.1, max_reach_m=300.0)
    touched = np.zeros((7, rows, cols), bool)
    for layer, az, el, (r0, r1, c0, c1) in suns:
        one = cast_shadows(dsm, top, trunk, cell_m=2.0, azimuth_deg=az, elevation_deg=el, transmissivity=0.1,
                           max_reach_m=300.0)
        for got, want in zip(out, one):
            np.testing.assert_array_equal(got[layer, r0:r1, c0:c1], want[r0:r1, c0:c1])
        touched[layer, r0:r1, c0:c1] = True
    assert (out[0][0] == 0).mean() > 0.2  # the low morning sun: long shadows
    assert (out[0][~touched] == 5.0).all() and (out[1][~touched] == 5.0).all()
    assert (out[1][5, :10, :10] == 0).all()
    with pytest.raises(ValueError):
        cast_shadows_hours(dsm, top, trunk, [(0, 90.0, 20.0, (0, 61, 0, 10))], out, cell_m=2.0)
