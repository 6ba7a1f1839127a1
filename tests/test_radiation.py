"""Mean radiant temperature: kernel against the NumPy reference, physical orderings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_kernels.heat_reference import SIGMA, ground_view_reference, tmrt_reference
from sim_kernels.radiation import (
    combine_ground_view,
    ground_view,
    ground_view_weights,
    mean_radiant_temperature,
)

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


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), radii=st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True),
       elev=st.floats(-5, 70))
def test_ground_view_matches_reference(seed: int, radii: list[int], elev: float) -> None:
    rng = np.random.default_rng(seed)
    shape = (9, 11)
    radii = sorted(radii)
    sunlit = rng.choice([0.0, 0.03, 1.0], size=(2,) + shape).astype(np.float32)
    svf = rng.uniform(0, 1, shape).astype(np.float32)
    cls = rng.integers(0, 3, shape).astype(np.uint8)
    ts = rng.uniform(15, 60, (2,) + shape).astype(np.float32)
    raised = rng.uniform(size=shape) < 0.3
    hourly = {k: np.repeat(v, 2) for k, v in _hourly(elev).items()}
    window = (int(rng.integers(0, 4)), int(rng.integers(5, 10)), int(rng.integers(0, 4)), int(rng.integers(6, 12)))
    got_l, got_k = ground_view(sunlit, svf, cls, ALB, EMI, ts, hourly, raised=raised, radii_cells=tuple(radii),
                               window=window)
    r0, r1, c0, c1 = window
    for i, q in enumerate(radii):
        for k in range(2):
            ref_l, ref_k = ground_view_reference(sunlit[k], svf, ALB[cls], EMI[cls], ts[k], 800.0, 120.0, elev, raised, q)
            np.testing.assert_allclose(got_l[i, k], ref_l[r0:r1, c0:c1], rtol=1e-5)
            np.testing.assert_allclose(got_k[i, k], ref_k[r0:r1, c0:c1], rtol=1e-5, atol=1e-3)
    # Tmrt with the ground view: kernel against the reference, within the window
    w = ground_view_weights(1.0, 1.1, tuple(radii))
    near = combine_ground_view(got_l, got_k, w)
    own = float(w["own_down"]), float(w["own_side"])
    tm = mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, hourly, window=window, near=near,
                                  own_down=own[0], own_side=own[1])
    for k in range(2):
        ref = tmrt_reference(sunlit[k][r0:r1, c0:c1], svf[r0:r1, c0:c1], ALB[cls][r0:r1, c0:c1],
                             EMI[cls][r0:r1, c0:c1], ts[k][r0:r1, c0:c1], 800.0, 120.0, elev, 370.0, 30.0,
                             near=tuple(near[:, k]), own_down=own[0], own_side=own[1])
        np.testing.assert_allclose(tm[k, r0:r1, c0:c1], ref, atol=0.02)


def test_shaded_cell_in_a_hot_field_sees_the_field() -> None:
    """A shaded, cool cell amid a large flat field of hot sunlit ground: its ground view is the
    field's (but for its own share), so its Tmrt is that of a person whose own ground is as hot as
    the field; without the ground view it would be much cooler."""
    n, radius = 41, 20
    shape = (n, n)
    mid = n // 2
    sunlit = np.ones((1,) + shape, np.float32)
    sunlit[0, mid, mid] = 0.0
    ts = np.full((1,) + shape, 55.0, np.float32)
    ts[0, mid, mid] = 32.0
    svf = np.ones(shape, np.float32)
    cls = np.zeros(shape, np.uint8)
    hourly = _hourly(55.0)
    emitted, reflected = ground_view(sunlit, svf, cls, ALB, EMI, ts, hourly, raised=np.zeros(shape, bool),
                                     radii_cells=(radius,))
    boxed = (2 * radius + 1) ** 2
    hot, cool = 0.95 * SIGMA * (55.0 + 273.15) ** 4, 0.95 * SIGMA * (32.0 + 273.15) ** 4
    assert emitted[0, 0, mid, mid] == pytest.approx(((boxed - 1) * hot + cool) / boxed, rel=1e-5)
    k_field = ALB[0] * (800.0 * np.sin(np.radians(55.0)) + 120.0)
    assert reflected[0, 0, mid, mid] == pytest.approx(((boxed - 1) * k_field + ALB[0] * 120.0) / boxed, rel=1e-4)
    everything = {"own_down": np.asarray(0.0), "own_side": np.asarray(0.0), "down": np.ones(1), "side": np.ones(1)}
    near = combine_ground_view(emitted, reflected, everything)
    seen = mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, hourly, near=near, own_down=0.0,
                                    own_side=0.0)[0, mid, mid]
    # the same person standing on field ground in the shade: own ground at the field's temperature
    # and reflecting the field's light
    as_field = tmrt_reference(0.0, 1.0, ALB[0], EMI[0], 55.0, 800.0, 120.0, 55.0, 370.0, 30.0,
                              near=(hot, k_field, hot, k_field), own_down=0.0, own_side=0.0)
    assert abs(seen - as_field) < 0.1
    alone = mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, hourly)[0, mid, mid]
    assert seen - alone > 3.0
    # with the view-factor weights of nested boxes the person still sees mostly the hot field
    radii = (4, 10, 20)
    e3, r3 = ground_view(sunlit, svf, cls, ALB, EMI, ts, hourly, raised=np.zeros(shape, bool), radii_cells=radii)
    w = ground_view_weights(1.0, 1.1, radii)
    weighted = mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, hourly, near=combine_ground_view(e3, r3, w),
                                        own_down=float(w["own_down"]), own_side=float(w["own_side"]))[0, mid, mid]
    assert alone + 0.8 * (seen - alone) < weighted < seen


@pytest.mark.parametrize("cell_m,radii", [(1.0, (2, 5, 10)), (2.0, (1, 2, 5)), (5.0, (1, 2)), (0.5, (4, 10, 20))])
def test_ground_view_weights_are_the_view_factors(cell_m: float, radii: tuple[int, ...]) -> None:
    """The weights put the view factor's share of the ground within each box's equal-area radius,
    sum to one and are positive; a fine grid gives its own cell little, a coarse one much."""
    z = 1.1
    w = ground_view_weights(cell_m, z, radii)
    a = np.array([cell_m] + [(2 * n + 1) * cell_m for n in radii]) / np.sqrt(np.pi)
    b = np.arctan2(z, a)
    expect = {"down": a**2 / (a**2 + z**2), "side": 1 - (2 / np.pi) * (b + np.sin(b) * np.cos(b))}
    for name in ("down", "side"):
        ws = np.concatenate([[float(w[f"own_{name}"])], w[name]])
        assert (ws > 0).all() and ws.sum() == pytest.approx(1.0)
        within = [sum(wi * min(aj**2 / ai**2, 1.0) for wi, ai in zip(ws, a)) for aj in a[:-1]]
        np.testing.assert_allclose(within, expect[name][:-1], rtol=1e-9)
    assert float(w["own_side"]) < float(w["own_down"])  # looking sideways one sees farther
    fine, coarse = ground_view_weights(0.25, z, (4,)), ground_view_weights(10.0, z, (1,))
    assert float(fine["own_side"]) < 0.01 and float(coarse["own_down"]) > 0.95
    with pytest.raises(ValueError):
        ground_view_weights(1.0, z, (2, 2))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), elev=st.floats(-5, 70), azimuth=st.floats(0, 360))
def test_box_body_matches_reference(seed: int, elev: float, azimuth: float) -> None:
    """SOLWEIG's box body: each of its four sides takes F_side times the beam on a wall of its
    orientation; kernel against the reference's side-by-side sum."""
    from sim_kernels.radiation import BODY

    rng = np.random.default_rng(seed)
    shape = (5, 6)
    sunlit = rng.choice([0.0, 0.03, 1.0], size=(1,) + shape).astype(np.float32)
    svf = rng.uniform(0, 1, shape).astype(np.float32)
    cls = rng.integers(0, 3, shape).astype(np.uint8)
    ts = rng.uniform(15, 60, (1,) + shape).astype(np.float32)
    hourly = {**_hourly(elev), "azimuth_deg": np.array([azimuth])}
    got = mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, hourly, body={**BODY, "box": 1.0, "absorb_long": 0.95})
    ref = tmrt_reference(sunlit[0], svf, ALB[cls], EMI[cls], ts[0], 800.0, 120.0, elev, 370.0, 30.0, al=0.95,
                         box_azimuth_deg=azimuth)
    np.testing.assert_allclose(got[0], ref, atol=0.02)
    with pytest.raises(ValueError, match="azimuth"):
        mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, _hourly(elev), body={**BODY, "box": 1.0})


def test_box_and_cylinder_bodies_in_the_sun() -> None:
    """The beam on a box (0.22 per side) against the cylinder (0.28): with the sun square to a side
    the box takes less, with the sun on its diagonal more (0.22 sqrt 2 = 0.31); in the shade and with
    the sun overhead both are the same person."""
    from sim_kernels.radiation import BODY

    svf = np.full((1, 2), 0.8, np.float32)
    cls = np.zeros((1, 2), np.uint8)
    ts = np.full((1, 1, 2), 40.0, np.float32)
    sunlit = np.array([[[1.0, 0.0]]], np.float32)
    box = {**BODY, "box": 1.0}

    def tmrt(azimuth: float, elev: float, body: dict | None) -> np.ndarray:
        hourly = {**_hourly(elev), "azimuth_deg": np.array([azimuth])}
        return mean_radiant_temperature(sunlit, svf, cls, ALB, EMI, ts, hourly, body=body)[0, 0]

    cyl_south, box_south, box_diag = tmrt(180.0, 30.0, None), tmrt(180.0, 30.0, box), tmrt(225.0, 30.0, box)
    assert box_south[0] < cyl_south[0] < box_diag[0]
    assert tmrt(225.0, 30.0, None)[0] == pytest.approx(cyl_south[0], abs=1e-4)  # the cylinder has no front
    assert box_south[1] == pytest.approx(cyl_south[1], abs=1e-4) == box_diag[1]  # shade: no beam on either
    assert tmrt(225.0, 90.0, box)[0] == pytest.approx(tmrt(225.0, 90.0, None)[0], abs=0.01)  # overhead sun


def test_the_heat_model_takes_the_person_from_its_parameters() -> None:
    """``person_shape`` and the body's absorptions reach the Tmrt of the whole pipeline: the box
    body differs from the cylinder only where the sun shines; an unknown shape is refused."""
    from geodata.weather import design_hot_day
    from models.heat.engine import HeatParams, tmrt_on_rasters

    ground = np.full((30, 30), 100.0, np.float32)
    dsm = ground.copy()
    dsm[10:20, 10:20] = 115.0
    run = dict(cell_m=2.0, lonlat=(11.81, 51.15), weather=design_hot_day(), hours=(10,), ground_m=ground, utci=False)
    cyl, _ = tmrt_on_rasters(dsm, params=HeatParams.default(), **run)
    box, _ = tmrt_on_rasters(dsm, params=HeatParams.default(person_shape="box"), **run)
    lit = (cyl["sunlit"][0] > 0.5) & (dsm == ground)
    shade = (cyl["sunlit"][0] < 0.01) & (dsm == ground)
    assert lit.any() and shade.any()
    assert np.abs(box["tmrt_c"][0] - cyl["tmrt_c"][0])[lit].min() > 0.02
    np.testing.assert_allclose(box["tmrt_c"][0][shade], cyl["tmrt_c"][0][shade], atol=1e-4)
    grey, _ = tmrt_on_rasters(dsm, params=HeatParams.default(body_absorb_long=0.95), **run)
    assert (grey["tmrt_c"][0][lit] > cyl["tmrt_c"][0][lit]).all()  # the sun's share weighs more
    with pytest.raises(ValueError, match="person_shape"):
        tmrt_on_rasters(dsm, params=HeatParams.default(person_shape="sphere"), **run)
