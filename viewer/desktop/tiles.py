"""Which tiles of a district the desktop viewer loads and draws: the view frustum against tile boxes,
and a level of detail by distance, as plain functions on arrays.

A large district (10 x 10 km: 400 tiles of 500 m, a quarter of a gigabyte of GLB) is not loaded
whole: the viewer fetches the tiles whose box meets the camera's view frustum (widened by a margin,
so that a small turn finds its tiles ready) and draws only those; the drape of the result field is cut
along the same tiles, coarser the farther a tile lies. Boxes are axis-aligned in glTF axes (x east,
y up, z = -north), metres.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["frustum_planes", "boxes_in_frustum", "tile_boxes", "tile_lod", "cell_window", "LOD_STEPS"]

LOD_STEPS = (1, 2, 4)  # drape quad size multipliers by level of detail (near, middle, far)


def frustum_planes(view_projection: np.ndarray) -> np.ndarray:
    """The six planes (left, right, bottom, top, near, far) of a camera's view frustum: (6, 4) rows
    ``(nx, ny, nz, d)`` with unit normals pointing inwards, so ``n · p + d >= 0`` inside.

    ``view_projection`` is projection @ view (4, 4, column vectors) with the clip volume of WebGPU:
    ``-w <= x, y <= w`` and ``0 <= z <= w``.
    """
    m = np.asarray(view_projection, np.float64)
    r0, r1, r2, r3 = m[0], m[1], m[2], m[3]
    planes = np.stack([r3 + r0, r3 - r0, r3 + r1, r3 - r1, r2, r3 - r2])
    norm = np.linalg.norm(planes[:, :3], axis=1, keepdims=True)
    return planes / np.where(norm > 0, norm, 1.0)


def boxes_in_frustum(planes: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
    """Which axis-aligned boxes (``lo``, ``hi``: (T, 3)) meet the frustum widened by ``margin_m``: (T,) bool.

    A box is out when it lies wholly behind one plane (its corner farthest along the plane's normal
    is behind it). The test never drops a box that meets the frustum; it may keep a few near the
    frustum's edges and corners (the usual conservative culling)."""
    lo = np.asarray(lo, np.float64).reshape(-1, 3)
    hi = np.asarray(hi, np.float64).reshape(-1, 3)
    n = planes[:, :3]
    far_corner = np.where(n[None, :, :] >= 0, hi[:, None, :], lo[:, None, :])  # (T, 6, 3)
    dist = (far_corner * n[None]).sum(axis=2) + planes[None, :, 3]
    return np.asarray((dist >= -float(margin_m)).all(axis=1))


def tile_boxes(tileset: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The boxes (lo, hi: (T, 3), glTF axes) of a tileset's tiles from their ``bbox_local_m`` and
    ``min_z_m``/``max_z_m``, in the order of ``tileset["tiles"]``."""
    lo, hi = [], []
    for t in tileset.get("tiles", []):
        w, s, e, n = (float(v) for v in t["bbox_local_m"])
        z0, z1 = float(t.get("min_z_m", 0.0)), float(t.get("max_z_m", 0.0))
        lo.append((w, z0, -n))
        hi.append((e, z1, -s))
    if not lo:
        return np.zeros((0, 3)), np.zeros((0, 3))
    return np.asarray(lo, np.float64), np.asarray(hi, np.float64)


def tile_lod(camera_xyz: np.ndarray, lo: np.ndarray, hi: np.ndarray, tile_m: float) -> np.ndarray:
    """Level of detail of each box (index into :data:`LOD_STEPS`) by the distance from the camera to
    the box: 0 within 2 tile sizes, 1 within 5, 2 beyond."""
    p = np.asarray(camera_xyz, np.float64).reshape(1, 3)
    d = np.linalg.norm(np.clip(p, lo, hi) - p, axis=1)
    return np.where(d < 2.0 * tile_m, 0, np.where(d < 5.0 * tile_m, 1, 2)).astype(np.int64)


def cell_window(grid: Any, bbox_local_m: Any, extent_local_m: Any = None) -> tuple[int, int, int, int] | None:
    """The raster cells (r0, r1, c0, c1: rows r0..r1-1, columns c0..c1-1; row 0 north) that a tile's
    box (west, south, east, north in local metres) covers, or None when it misses the raster. Each cell
    belongs to the one tile holding its centre, so neighbouring tiles share corners, not cells. A tile
    on an edge of ``extent_local_m`` (the whole tileset's box) reaches the raster's edge there."""
    w, s, e, n = (float(v) for v in bbox_local_m)
    cell = float(grid.cell_m)
    c0 = int(np.clip(np.round((w - grid.west_m) / cell), 0, grid.cols))
    c1 = int(np.clip(np.round((e - grid.west_m) / cell), 0, grid.cols))
    r0 = int(np.clip(np.round(grid.rows - (n - grid.south_m) / cell), 0, grid.rows))
    r1 = int(np.clip(np.round(grid.rows - (s - grid.south_m) / cell), 0, grid.rows))
    if extent_local_m is not None:
        ew, es, ee, en = (float(v) for v in extent_local_m)
        tol = 1e-6 * max(1.0, cell)
        c0 = 0 if abs(w - ew) < tol else c0
        c1 = grid.cols if abs(e - ee) < tol else c1
        r0 = 0 if abs(n - en) < tol else r0
        r1 = grid.rows if abs(s - es) < tol else r1
    if c1 <= c0 or r1 <= r0:
        return None
    return r0, r1, c0, c1
