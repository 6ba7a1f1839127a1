"""Slow, obvious NumPy references of the heat kernels, for tests on tiny grids.

Each function computes what its Taichi counterpart computes, cell by cell in plain Python loops (or
whole-array NumPy where that is the obvious form), with the same discretisation, so the two agree to
float rounding. Never use these on real grids.
"""

from __future__ import annotations

import math

import numpy as np

from sim_kernels.shadows import shadow_ray
from sim_kernels.skyview import scan_directions

__all__ = [
    "shadows_reference",
    "svf_reference",
]

SIGMA = 5.670374419e-8


def shadows_reference(dsm, canopy_top, trunk_top, cell_m, azimuth_deg, elevation_deg, transmissivity, max_reach_m):
    """(building_sunlit, sunlit) as in ``sim_kernels.shadows.cast_shadows``, float64 (rows, cols)."""
    dsm = np.asarray(dsm, np.float32)
    canopy_top = np.asarray(canopy_top, np.float32)
    trunk_top = np.asarray(trunk_top, np.float32)
    rows, cols = dsm.shape
    top = float(max(dsm.max(), canopy_top.max()))
    ray = shadow_ray(azimuth_deg, elevation_deg, cell_m, top - float(dsm.min()), max_reach_m)
    bsun = np.ones((rows, cols))
    sun = np.ones((rows, cols))
    for r in range(rows):
        for c in range(cols):
            z0 = float(dsm[r, c])
            veg = canopy_top[r, c] > z0 and trunk_top[r, c] >= z0 - 1e-3 and canopy_top[r, c] > trunk_top[r, c]
            shaded = False
            for i in range(1, ray.max_steps + 1):
                rr = r + math.floor(i * np.float32(ray.step_row) + 0.5)
                cc = c + math.floor(i * np.float32(ray.step_col) + 0.5)
                zr = z0 + i * np.float32(ray.rise_m)
                if not (0 <= rr < rows and 0 <= cc < cols) or zr > top:
                    break
                if dsm[rr, cc] > zr:
                    shaded = True
                    break
                if canopy_top[rr, cc] > zr > trunk_top[rr, cc]:
                    veg = True
            bsun[r, c] = 0.0 if shaded else 1.0
            sun[r, c] = bsun[r, c] * (1.0 - (1.0 - transmissivity) * float(veg))
    return bsun, sun


def svf_reference(dsm, canopy_top, cell_m, n_azimuths, radius_m):
    """(svf, svf_with_canopy) as in ``sim_kernels.skyview.sky_view_factor``, without early stopping."""
    dsm = np.asarray(dsm, np.float32)
    canopy_top = np.asarray(canopy_top, np.float32)
    rows, cols = dsm.shape
    sr, sc, sl = scan_directions(n_azimuths)
    svf = np.zeros((rows, cols))
    svf_v = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            z0 = float(dsm[r, c])
            for k in range(n_azimuths):
                tb = tv = 0.0
                i = 1
                while (i - 0.5) * float(sl[k]) * cell_m <= radius_m:
                    d = (i - 0.5) * float(sl[k]) * cell_m
                    rr = r + math.floor(i * sr[k] + 0.5)
                    cc = c + math.floor(i * sc[k] + 0.5)
                    if not (0 <= rr < rows and 0 <= cc < cols):
                        break
                    hb = float(dsm[rr, cc]) - z0
                    tb = max(tb, hb / d)
                    tv = max(tv, max(hb, float(canopy_top[rr, cc]) - z0) / d)
                    i += 1
                svf[r, c] += math.cos(math.atan(tb)) ** 2 / n_azimuths
                svf_v[r, c] += math.cos(math.atan(tv)) ** 2 / n_azimuths
            if canopy_top[r, c] > z0:
                svf_v[r, c] = 0.0
    return svf, svf_v
