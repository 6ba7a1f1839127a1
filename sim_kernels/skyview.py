"""Sky view factor by horizon scanning, with and without vegetation, in Taichi.

For every cell the kernel scans ``n_azimuths`` directions. Along each it walks outward in steps of one
cell along the dominant axis and keeps the largest elevation angle beta of the obstacles it meets
(buildings and terrain from the DSM; in a second scan the canopy tops as well). For a horizontal
surface under an isotropic sky, the sector between two directions contributes ``cos^2(beta)`` times its
share of the full circle, so

    SVF = (1 / n) * sum_k cos^2(beta_k) = (1 / n) * sum_k 1 / (1 + tan^2(beta_k)).

Obstacle distances are taken to the near edge of the obstacle cell (half a step short of its centre).
At the centre of an infinitely long street canyon of height H and width W this gives the analytic
``cos(atan(2H/W))``. The walk stops at ``radius_m``, at the grid edge, or once no obstacle in the
grid could raise the horizon further.

A ground cell under its own crown sees no sky through leaves in the vegetation scan (its crown
covers the zenith); the combination with a crown transmissivity is done by the caller:
``svf_eff = svf - (svf - svf_with_canopy) * (1 - transmissivity)``.

Arrays (row, col), row 0 north; heights in metres on one datum. Kernels keep no state; call
``sim_kernels.runtime.ensure_init`` first.
"""


import math

import numpy as np
import taichi as ti

__all__ = ["sky_view_factor", "sky_view_canopy_update", "scan_directions", "effective_svf"]


def scan_directions(n_azimuths: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-direction step in rows and cols (one of them +-1) and step length in cells.

    Returns
    -------
    step_row, step_col, step_len : (n_azimuths,) float32 arrays; direction k points to azimuth
        ``(k + 0.5) * 360 / n`` degrees clockwise from north.
    """
    az = (np.arange(n_azimuths) + 0.5) * (2.0 * math.pi / n_azimuths)
    east, north = np.sin(az), np.cos(az)
    m = np.maximum(np.abs(east), np.abs(north))
    sc, sr = east / m, -north / m
    return sr.astype(np.float32), sc.astype(np.float32), np.hypot(sr, sc).astype(np.float32)


@ti.kernel
def _svf_kernel(
    dsm: ti.types.ndarray(dtype=ti.f32, ndim=2),
    canopy_top: ti.types.ndarray(dtype=ti.f32, ndim=2),
    step_row: ti.types.ndarray(dtype=ti.f32, ndim=1),
    step_col: ti.types.ndarray(dtype=ti.f32, ndim=1),
    step_len: ti.types.ndarray(dtype=ti.f32, ndim=1),
    svf: ti.types.ndarray(dtype=ti.f32, ndim=2),
    svf_canopy: ti.types.ndarray(dtype=ti.f32, ndim=2),
    r0: ti.i32, r1: ti.i32, c0: ti.i32, c1: ti.i32,
    cell_m: ti.f32, radius_m: ti.f32, top_dsm_m: ti.f32, top_m: ti.f32,
):
    rows = dsm.shape[0]
    cols = dsm.shape[1]
    n = step_row.shape[0]
    for r, c in ti.ndrange((r0, r1), (c0, c1)):
        z0 = dsm[r, c]
        own_crown = canopy_top[r, c] > z0
        acc = 0.0
        acc_v = 0.0
        for k in range(n):
            tb = 0.0  # tan of the horizon angle, buildings and terrain
            tv = 0.0  # tan of the horizon angle, with canopy
            ds = step_len[k] * cell_m
            i = 1
            while True:
                d = (i - 0.5) * ds
                if d > radius_m:
                    break
                rr = r + ti.cast(ti.floor(i * step_row[k] + 0.5), ti.i32)
                cc = c + ti.cast(ti.floor(i * step_col[k] + 0.5), ti.i32)
                if rr < 0 or rr >= rows or cc < 0 or cc >= cols:
                    break
                if (top_dsm_m - z0) <= tb * d and (top_m - z0) <= tv * d:
                    break
                hb = dsm[rr, cc] - z0
                hv = ti.max(hb, canopy_top[rr, cc] - z0)
                tb = ti.max(tb, hb / d)
                tv = ti.max(tv, hv / d)
                i += 1
            acc += 1.0 / (1.0 + tb * tb)
            acc_v += 1.0 / (1.0 + tv * tv)
        svf[r, c] = acc / n
        if own_crown:
            svf_canopy[r, c] = 0.0
        else:
            svf_canopy[r, c] = acc_v / n


def sky_view_factor(
    dsm_m: np.ndarray,
    canopy_top_m: "np.ndarray | None" = None,
    *,
    cell_m: float,
    n_azimuths: int = 32,
    radius_m: float = 200.0,
    window: "tuple[int, int, int, int] | None" = None,
    out: "tuple[np.ndarray, np.ndarray] | None" = None,
    tops_m: "tuple[float, float] | None" = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sky view factor of buildings and terrain, and of buildings, terrain and canopy.

    Parameters
    ----------
    dsm_m : (rows, cols) float, terrain and buildings, metres.
    canopy_top_m : (rows, cols) float or None, canopy tops on the same datum (terrain where none).
    cell_m : cell size, metres.
    n_azimuths : number of scan directions (32-64 are usual).
    radius_m : longest scan, metres.
    window : (r0, r1, c0, c1) cells to compute (half-open); the whole grid when None.
    out : optional pair of (rows, cols) float32 arrays filled in place.
    tops_m : (highest DSM, highest DSM or canopy) of the whole grid when the caller knows them.

    Returns
    -------
    svf : (rows, cols) float32 in [0, 1], sky seen past buildings and terrain.
    svf_with_canopy : (rows, cols) float32 in [0, 1], sky seen past buildings, terrain and opaque crowns.
    """
    dsm = np.ascontiguousarray(dsm_m, dtype=np.float32)
    can = dsm if canopy_top_m is None else np.ascontiguousarray(canopy_top_m, dtype=np.float32)
    rows, cols = dsm.shape
    if out is None:
        out = (np.ones((rows, cols), np.float32), np.ones((rows, cols), np.float32))
    r0, r1, c0, c1 = window if window is not None else (0, rows, 0, cols)
    sr, sc, sl = scan_directions(n_azimuths)
    top_dsm, top = tops_m if tops_m is not None else (float(dsm.max()), float(max(dsm.max(), can.max())))
    _svf_kernel(
        dsm, can, sr, sc, sl, out[0], out[1], r0, r1, c0, c1, float(cell_m), float(radius_m), top_dsm, top
    )
    return out


@ti.func
def _canopy_horizon(dsm: ti.template(), top: ti.template(), r: ti.i32, c: ti.i32, sr: ti.f32, sc: ti.f32,
                    ds: ti.f32, radius_m: ti.f32, top_m: ti.f32) -> ti.f32:
    """cos^2 of the horizon angle past buildings, terrain and crowns in one direction (the
    vegetation scan of ``_svf_kernel``, step for step)."""
    rows = dsm.shape[0]
    cols = dsm.shape[1]
    z0 = dsm[r, c]
    tv = 0.0
    i = 1
    while True:
        d = (i - 0.5) * ds
        if d > radius_m:
            break
        rr = r + ti.cast(ti.floor(i * sr + 0.5), ti.i32)
        cc = c + ti.cast(ti.floor(i * sc + 0.5), ti.i32)
        if rr < 0 or rr >= rows or cc < 0 or cc >= cols:
            break
        if (top_m - z0) <= tv * d:
            break
        tv = ti.max(tv, ti.max(dsm[rr, cc] - z0, top[rr, cc] - z0) / d)
        i += 1
    return 1.0 / (1.0 + tv * tv)


@ti.func
def _slab(x: ti.f32, step: ti.f32, lo: ti.f32, hi: ti.f32) -> ti.types.vector(2, ti.f32):
    """The interval of t >= 0 for which x + t step lies within [lo, hi] (empty: first > second)."""
    out = ti.Vector([0.0, 1e9])
    if ti.abs(step) < 1e-6:
        if x < lo or x > hi:
            out = ti.Vector([1.0, 0.0])
    else:
        a = (lo - x) / step
        b = (hi - x) / step
        out = ti.Vector([ti.max(0.0, ti.min(a, b)), ti.max(a, b)])
    return out


@ti.kernel
def _svf_canopy_delta_kernel(
    dsm: ti.types.ndarray(dtype=ti.f32, ndim=2),
    old_top: ti.types.ndarray(dtype=ti.f32, ndim=2),
    new_top: ti.types.ndarray(dtype=ti.f32, ndim=2),
    step_row: ti.types.ndarray(dtype=ti.f32, ndim=1),
    step_col: ti.types.ndarray(dtype=ti.f32, ndim=1),
    step_len: ti.types.ndarray(dtype=ti.f32, ndim=1),
    svf_canopy: ti.types.ndarray(dtype=ti.f32, ndim=2),
    r0: ti.i32, r1: ti.i32, c0: ti.i32, c1: ti.i32,
    g0: ti.i32, g1: ti.i32, h0: ti.i32, h1: ti.i32,
    cell_m: ti.f32, radius_m: ti.f32, top_m: ti.f32,
):
    n = step_row.shape[0]
    # the changed cells' box in cell-centre coordinates, one cell wider on each side: a scan visits the
    # cell nearest to its continuous ray across the minor axis (within half a cell)
    br0 = ti.cast(g0, ti.f32) - 1.5
    br1 = ti.cast(g1, ti.f32) + 0.5
    bc0 = ti.cast(h0, ti.f32) - 1.5
    bc1 = ti.cast(h1, ti.f32) + 0.5
    for r, c in ti.ndrange((r0, r1), (c0, c1)):
        # a cell under its own crown sees no sky through leaves (unchanged outside the changed box)
        if not (g0 <= r < g1 and h0 <= c < h1) and not new_top[r, c] > dsm[r, c]:
            delta = 0.0
            for k in range(n):
                sr = step_row[k]
                sc = step_col[k]
                # does the half-line r + t sr, c + t sc (t >= 0) cross the box? (slab test, rows then columns)
                along_rows = _slab(ti.cast(r, ti.f32), sr, br0, br1)
                along_cols = _slab(ti.cast(c, ti.f32), sc, bc0, bc1)
                t_lo = ti.max(along_rows[0], along_cols[0])
                t_hi = ti.min(along_rows[1], along_cols[1])
                if t_lo <= t_hi:
                    ds = step_len[k] * cell_m
                    delta += _canopy_horizon(dsm, new_top, r, c, sr, sc, ds, radius_m, top_m) - \
                        _canopy_horizon(dsm, old_top, r, c, sr, sc, ds, radius_m, top_m)
            if delta != 0.0:
                svf_canopy[r, c] = ti.min(ti.max(svf_canopy[r, c] + delta / n, 0.0), 1.0)


def sky_view_canopy_update(
    dsm_m: np.ndarray,
    old_top_m: np.ndarray,
    new_top_m: np.ndarray,
    changed: "tuple[int, int, int, int]",
    svf_canopy: np.ndarray,
    *,
    cell_m: float,
    n_azimuths: int = 32,
    radius_m: float = 200.0,
    window: "tuple[int, int, int, int] | None" = None,
) -> None:
    """Update ``svf_canopy`` (in place) of the cells of ``window`` outside ``changed`` after the canopy
    tops changed only within ``changed`` (r0, r1, c0, c1), the DSM not at all: each cell rescans only
    the directions whose ray can cross the changed cells, with the old and the new tops, and takes
    the difference of their sky shares. The cells of ``changed`` themselves (their own crown may have
    changed) are left to a full scan by the caller (``sky_view_factor`` over that window). Equal to a
    full rescan up to float rounding."""
    dsm = np.ascontiguousarray(dsm_m, dtype=np.float32)
    old = np.ascontiguousarray(old_top_m, dtype=np.float32)
    new = np.ascontiguousarray(new_top_m, dtype=np.float32)
    rows, cols = dsm.shape
    r0, r1, c0, c1 = window if window is not None else (0, rows, 0, cols)
    sr, sc, sl = scan_directions(n_azimuths)
    top = float(max(dsm.max(), old.max(), new.max()))
    _svf_canopy_delta_kernel(dsm, old, new, sr, sc, sl, svf_canopy, r0, r1, c0, c1, *[int(v) for v in changed],
                             float(cell_m), float(radius_m), top)


def effective_svf(svf: np.ndarray, svf_with_canopy: np.ndarray, transmissivity: float) -> np.ndarray:
    """Sky view factor with crowns letting ``transmissivity`` of the sky through (float32, 0..1)."""
    return (svf - (svf - svf_with_canopy) * (1.0 - transmissivity)).astype(np.float32)
