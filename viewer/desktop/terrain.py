"""The ground under the desktop viewer's drapes and overlays, as plain arrays.

The terrain arrives as triangles in the district's GLB tiles, usually coarser than the result raster
(a 2 m field over a terrain mesh of ~8 m triangles). The drape's corners are placed on those very
triangles (barycentric interpolation), so the coloured field lies on the drawn ground everywhere,
on the hills as in the valley. Positions are glTF axes (x east, y up, z = -north), metres.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["corner_heights", "fill_nearest", "height_at"]


def corner_heights(grid: Any, terrain: list[Any], *, chunk: int = 20000, fill: bool = True) -> np.ndarray:
    """Terrain height (glTF y) at every cell corner of ``grid``: (rows + 1, cols + 1) float32.

    ``terrain`` holds layers with ``positions`` (n, 3) and ``indices`` (3m,) or None (a triangle soup).
    Each corner takes the height of the terrain triangle it lies in (the highest where triangles
    overlap); corners no triangle covers take the nearest covered corner's height (the mean when none
    is covered at all); with ``fill=False`` they stay ``-inf``.
    """
    rows, cols = grid.rows + 1, grid.cols + 1
    out = np.full(rows * cols, -np.inf)
    for ly in terrain:
        pos = np.asarray(ly.positions, np.float64)
        if pos.size == 0:
            continue
        tri = (np.arange(len(pos)) if ly.indices is None else np.asarray(ly.indices)).reshape(-1, 3)
        u = (pos[:, 0] - grid.west_m) / grid.cell_m  # corner column
        v = grid.rows - (-pos[:, 2] - grid.south_m) / grid.cell_m  # corner row (0 at the north edge)
        for s in range(0, len(tri), chunk):
            _rasterise(tri[s:s + chunk], u, v, pos[:, 1], rows, cols, out)
    out = out.reshape(rows, cols)
    return fill_nearest(out).astype(np.float32) if fill else out.astype(np.float32)


def fill_nearest(heights: np.ndarray) -> np.ndarray:
    """Non-finite entries take the nearest finite one's value (0 when none is finite)."""
    out = np.asarray(heights)
    known = np.isfinite(out)
    if known.all():
        return out
    if not known.any():
        return np.zeros_like(out)
    from scipy.ndimage import distance_transform_edt

    _, (ri, ci) = distance_transform_edt(~known, return_indices=True)
    return np.asarray(out[ri, ci])


def _rasterise(t: np.ndarray, u: np.ndarray, v: np.ndarray, y: np.ndarray, rows: int, cols: int,
               out: np.ndarray) -> None:
    tu, tv, ty = u[t], v[t], y[t]
    c0 = np.floor(tu.min(1) - 1e-6).astype(np.int64)
    r0 = np.floor(tv.min(1) - 1e-6).astype(np.int64)
    kc = int((np.ceil(tu.max(1) + 1e-6).astype(np.int64) - c0).max()) + 1
    kr = int((np.ceil(tv.max(1) + 1e-6).astype(np.int64) - r0).max()) + 1
    if kc * kr > 4096:  # a huge triangle: corners one triangle at a time
        for k in range(len(t)):
            _rasterise_one(tu[k], tv[k], ty[k], rows, cols, out)
        return
    oc, orow = np.meshgrid(np.arange(kc), np.arange(kr))
    pc = c0[:, None] + oc.ravel()[None, :]
    pr = r0[:, None] + orow.ravel()[None, :]
    h, inside = _barycentric(tu, tv, ty, pc, pr)
    inside &= (pc >= 0) & (pc < cols) & (pr >= 0) & (pr < rows)
    np.maximum.at(out, pr[inside] * cols + pc[inside], h[inside])


def _rasterise_one(tu: np.ndarray, tv: np.ndarray, ty: np.ndarray, rows: int, cols: int, out: np.ndarray) -> None:
    c0, c1 = max(int(np.floor(tu.min())), 0), min(int(np.ceil(tu.max())), cols - 1)
    r0, r1 = max(int(np.floor(tv.min())), 0), min(int(np.ceil(tv.max())), rows - 1)
    if c1 < c0 or r1 < r0:
        return
    pr, pc = np.mgrid[r0:r1 + 1, c0:c1 + 1]
    h, inside = _barycentric(tu[None], tv[None], ty[None], pc.reshape(1, -1), pr.reshape(1, -1))
    np.maximum.at(out, (pr.reshape(1, -1) * cols + pc.reshape(1, -1))[inside], h[inside])


def _barycentric(tu: np.ndarray, tv: np.ndarray, ty: np.ndarray, pc: np.ndarray, pr: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Heights at points (pc, pr) of triangles (T, 3) and whether each point lies in its triangle."""
    x0, y0 = tu[:, :1], tv[:, :1]
    e1u, e1v = tu[:, 1:2] - x0, tv[:, 1:2] - y0
    e2u, e2v = tu[:, 2:3] - x0, tv[:, 2:3] - y0
    det = e1u * e2v - e2u * e1v
    good = np.abs(det) > 1e-12
    det = np.where(good, det, 1.0)
    du, dv = pc - x0, pr - y0
    b1 = (du * e2v - e2u * dv) / det
    b2 = (e1u * dv - du * e1v) / det
    b0 = 1.0 - b1 - b2
    eps = 1e-7
    inside = good & (b0 >= -eps) & (b1 >= -eps) & (b2 >= -eps)
    return b0 * ty[:, :1] + b1 * ty[:, 1:2] + b2 * ty[:, 2:3], inside


def height_at(heights: np.ndarray, grid: Any, x_local_m: np.ndarray, y_local_m: np.ndarray) -> np.ndarray:
    """Ground height (glTF y) at local points (metres east, north), bilinear between the corners of
    :func:`corner_heights`; points outside the grid take the nearest edge."""
    x = np.asarray(x_local_m, np.float64)
    y = np.asarray(y_local_m, np.float64)
    c = np.clip((x - grid.west_m) / grid.cell_m, 0.0, grid.cols)
    r = np.clip(grid.rows - (y - grid.south_m) / grid.cell_m, 0.0, grid.rows)
    c0 = np.minimum(np.floor(c).astype(np.int64), grid.cols - 1)
    r0 = np.minimum(np.floor(r).astype(np.int64), grid.rows - 1)
    fc, fr = c - c0, r - r0
    h = heights
    return ((h[r0, c0] * (1 - fc) + h[r0, c0 + 1] * fc) * (1 - fr)
            + (h[r0 + 1, c0] * (1 - fc) + h[r0 + 1, c0 + 1] * fc) * fr).astype(np.float32)
