"""Shadow casting on a digital surface model by ray marching toward the sun, in Taichi.

For every cell of a window the kernel walks from the cell's surface toward the sun in steps of one
cell along the dominant axis (the other axis advances by the tangent, rounded to the nearest cell).
The ray rises by ``step length * tan(elevation)`` per step. A cell is

- shaded by buildings or terrain when the DSM of a visited cell rises above the ray;
- shaded by vegetation when the ray passes through a crown, i.e. between the trunk top and the canopy
  top of a visited cell (a ground cell below its own crown is shaded by that crown too). Light passes
  a crown with the canopy transmissivity.

This is the shadow model of SOLWEIG (Lindberg et al. 2008, Lindberg & Grimmond 2011), written anew
as a per-cell ray march so that any window of a large grid can be recomputed on its own: the result
of a cell depends on the inputs only, never on the window it is computed in.

Frames and units: arrays (row, col), row 0 at the north edge; heights in metres (any common datum);
azimuth in degrees clockwise from north, elevation in degrees above the horizon.

Kernels take ``ti.types.ndarray`` arguments and keep no state; call
``sim_kernels.runtime.ensure_init`` before the first call.
"""


import math

import numpy as np
import taichi as ti

__all__ = ["ShadowRay", "shadow_ray", "cast_shadows", "cast_shadows_hours", "sunlit_fraction"]


class ShadowRay:
    """Discrete ray toward the sun: per-step offsets in cells and rise in metres.

    Attributes
    ----------
    step_row, step_col : float, cells per step (one of them is +-1)
    rise_m : float, height gained by the ray per step, metres
    max_steps : int, the most steps any cell needs (limited by ``max_reach_m`` and the relief)
    """

    def __init__(self, step_row: float, step_col: float, rise_m: float, max_steps: int) -> None:
        self.step_row = step_row
        self.step_col = step_col
        self.rise_m = rise_m
        self.max_steps = max_steps


def shadow_ray(
    azimuth_deg: float, elevation_deg: float, cell_m: float, relief_m: float, max_reach_m: float
) -> ShadowRay:
    """The discrete ray toward a sun at (azimuth, elevation).

    Parameters
    ----------
    azimuth_deg : sun azimuth, degrees clockwise from north.
    elevation_deg : sun elevation, degrees (> 0).
    cell_m : cell size, metres.
    relief_m : highest obstacle top minus lowest surface in the grid, metres (bounds the ray length).
    max_reach_m : longest shadow considered, metres.
    """
    az = math.radians(azimuth_deg)
    east, north = math.sin(az), math.cos(az)
    m = max(abs(east), abs(north))
    step_col, step_row = east / m, -north / m
    step_len_m = cell_m * math.hypot(step_col, step_row)
    tan_el = math.tan(math.radians(max(elevation_deg, 1e-3)))
    rise = step_len_m * tan_el
    reach_m = min(max_reach_m, max(relief_m, 0.0) / tan_el)
    return ShadowRay(step_row, step_col, rise, int(math.ceil(reach_m / step_len_m)) + 1)


@ti.func
def _march(dsm: ti.template(), canopy_top: ti.template(), trunk_top: ti.template(), r, c, step_row, step_col,
           rise_m, max_steps, top_m, transmissivity):
    """(building sunlit, sunlit) of cell (r, c): the walk toward the sun."""
    rows = dsm.shape[0]
    cols = dsm.shape[1]
    z0 = dsm[r, c]
    bshade = 0
    vshade = 0
    if canopy_top[r, c] > z0 and trunk_top[r, c] >= z0 - 1e-3 and canopy_top[r, c] > trunk_top[r, c]:
        vshade = 1  # a ground cell below its own crown
    i = 1
    while i <= max_steps:
        rr = r + ti.cast(ti.floor(i * step_row + 0.5), ti.i32)
        cc = c + ti.cast(ti.floor(i * step_col + 0.5), ti.i32)
        zr = z0 + i * rise_m
        if rr < 0 or rr >= rows or cc < 0 or cc >= cols or zr > top_m:
            break
        if dsm[rr, cc] > zr:
            bshade = 1
            break
        if canopy_top[rr, cc] > zr and trunk_top[rr, cc] < zr:
            vshade = 1
        i += 1
    b = 1.0 - ti.cast(bshade, ti.f32)
    return b, b * (1.0 - ti.cast(vshade, ti.f32) * (1.0 - transmissivity))


@ti.kernel
def _shadow_hours_kernel(
    dsm: ti.types.ndarray(dtype=ti.f32, ndim=2),
    canopy_top: ti.types.ndarray(dtype=ti.f32, ndim=2),
    trunk_top: ti.types.ndarray(dtype=ti.f32, ndim=2),
    building_sunlit: ti.types.ndarray(dtype=ti.f32, ndim=3),
    sunlit: ti.types.ndarray(dtype=ti.f32, ndim=3),
    ints: ti.types.ndarray(dtype=ti.i32, ndim=2),
    floats: ti.types.ndarray(dtype=ti.f32, ndim=2),
    starts: ti.types.ndarray(dtype=ti.i32, ndim=1),
    total: ti.i32, top_m: ti.f32, transmissivity: ti.f32,
):
    # one parallel loop over the cells of every sun position's window, each written to its own layer
    for idx in range(total):
        k = 0
        while starts[k + 1] <= idx:
            k += 1
        local = idx - starts[k]
        width = ints[k, 4] - ints[k, 3]
        r = ints[k, 1] + local // width
        c = ints[k, 3] + local % width
        b, s = _march(dsm, canopy_top, trunk_top, r, c, floats[k, 0], floats[k, 1], floats[k, 2], ints[k, 5], top_m,
                      transmissivity)
        building_sunlit[ints[k, 0], r, c] = b
        sunlit[ints[k, 0], r, c] = s


def _as_f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def cast_shadows(
    dsm_m: np.ndarray,
    canopy_top_m: np.ndarray,
    trunk_top_m: np.ndarray,
    *,
    cell_m: float,
    azimuth_deg: float,
    elevation_deg: float,
    transmissivity: float = 0.03,
    max_reach_m: float = 600.0,
    window: "tuple[int, int, int, int] | None" = None,
    out: "tuple[np.ndarray, np.ndarray] | None" = None,
    extremes_m: "tuple[float, float] | None" = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Building and total sunlit fraction for one sun position.

    Parameters
    ----------
    dsm_m : (rows, cols) float, surface of terrain and buildings, metres.
    canopy_top_m : (rows, cols) float, top of the tree canopy on the same datum (terrain + canopy
        height; equal to the terrain or below where there is no canopy), metres.
    trunk_top_m : (rows, cols) float, bottom of the crown on the same datum, metres.
    cell_m : cell size, metres.
    azimuth_deg, elevation_deg : sun position, degrees.
    transmissivity : share of direct light passing one crown (0..1).
    max_reach_m : longest shadow considered, metres.
    window : (r0, r1, c0, c1) cells to compute (half-open); the whole grid when None.
    out : optional pair of (rows, cols) float32 arrays to fill in place (outside the window they keep
        their values).
    extremes_m : (highest top of DSM and canopy, lowest DSM) of the whole grid when the caller knows
        them (saves two passes over the grid per call); computed when None.

    Returns
    -------
    building_sunlit : (rows, cols) float32, 1 = sunlit, 0 = shaded by buildings or terrain.
    sunlit : (rows, cols) float32, 0..1, direct light reaching the cell through crowns too.
    """
    dsm = _as_f32(dsm_m)
    can = _as_f32(canopy_top_m)
    trunk = _as_f32(trunk_top_m)
    rows, cols = dsm.shape
    if out is None:
        out = (np.ones((rows, cols), np.float32), np.ones((rows, cols), np.float32))
    r0, r1, c0, c1 = window if window is not None else (0, rows, 0, cols)
    if elevation_deg <= 0.0:
        out[0][r0:r1, c0:c1] = 0.0
        out[1][r0:r1, c0:c1] = 0.0
        return out
    if any(a.dtype != np.float32 or a.shape != (rows, cols) or not a.flags.c_contiguous for a in out):
        raise ValueError("out must be two C-contiguous float32 (rows, cols) arrays")
    layers = tuple(a.reshape(1, rows, cols) for a in out)  # views: the kernel writes into ``out``
    cast_shadows_hours(dsm, can, trunk, [(0, azimuth_deg, elevation_deg, (r0, r1, c0, c1))], layers, cell_m=cell_m,
                       transmissivity=transmissivity, max_reach_m=max_reach_m, extremes_m=extremes_m)
    return out


def cast_shadows_hours(
    dsm_m: np.ndarray,
    canopy_top_m: np.ndarray,
    trunk_top_m: np.ndarray,
    suns: "list[tuple[int, float, float, tuple[int, int, int, int]]]",
    out: "tuple[np.ndarray, np.ndarray]",
    *,
    cell_m: float,
    transmissivity: float = 0.03,
    max_reach_m: float = 600.0,
    extremes_m: "tuple[float, float] | None" = None,
) -> None:
    """``cast_shadows`` for several sun positions in one kernel launch (the windows of an edit are
    often small, and a launch per hour costs more than the work).

    ``suns``: (layer, azimuth_deg, elevation_deg, window) per position; ``out``: the (layers, rows,
    cols) float32 building and total sunlit fractions, filled in each position's window and layer.
    Each cell gets exactly what ``cast_shadows`` gives it."""
    dsm = _as_f32(dsm_m)
    can = _as_f32(canopy_top_m)
    trunk = _as_f32(trunk_top_m)
    rows, cols = dsm.shape
    for a in out:
        if a.dtype != np.float32 or a.shape[1:] != (rows, cols) or not a.flags.c_contiguous:
            raise ValueError("out must be two C-contiguous float32 (layers, rows, cols) arrays")
    top, low = extremes_m if extremes_m is not None else (float(max(dsm.max(), can.max())), float(dsm.min()))
    ints, floats, sizes = [], [], []
    for layer, az, el, (r0, r1, c0, c1) in suns:
        if not (0 <= layer < out[0].shape[0] and 0 <= r0 <= r1 <= rows and 0 <= c0 <= c1 <= cols):
            raise ValueError(f"bad layer or window {layer}, {(r0, r1, c0, c1)}")
        if r1 == r0 or c1 == c0:
            continue
        if el <= 0.0:
            out[0][layer, r0:r1, c0:c1] = 0.0
            out[1][layer, r0:r1, c0:c1] = 0.0
            continue
        ray = shadow_ray(az, el, cell_m, top - low, max_reach_m)
        ints.append((layer, r0, r1, c0, c1, ray.max_steps))
        floats.append((ray.step_row, ray.step_col, ray.rise_m))
        sizes.append((r1 - r0) * (c1 - c0))
    if not ints:
        return
    starts = np.concatenate([[0], np.cumsum(sizes)])
    if starts[-1] >= 2**31:
        raise ValueError("too many cells for one launch")
    _shadow_hours_kernel(dsm, can, trunk, out[0], out[1], np.asarray(ints, np.int32), np.asarray(floats, np.float32),
                         starts.astype(np.int32), int(starts[-1]), top, float(transmissivity))


def sunlit_fraction(building_sunlit: np.ndarray, vegetation_shaded: np.ndarray, transmissivity: float) -> np.ndarray:
    """Combine a building mask (1 sunlit) and a crown mask (1 shaded by crowns) into a 0..1 fraction."""
    return (building_sunlit * (1.0 - vegetation_shaded * (1.0 - transmissivity))).astype(np.float32)
