"""Terrain and river of the sample district: a Saale-like valley at Naumburg.

The valley runs south to north. The river meanders on a flat floodplain about 100 m a.s.l.; to the
west a steep slope (the vineyard slopes of the Saale-Unstrut region) climbs about 75 m to a plateau,
to the east a low terrace carries the town and the land rises gently to a plateau 50-65 m above the
river. Everything is an analytic function of the local position plus a seeded sum of plane waves, so
the terrain of any size is computed in one vectorised pass.

Frames: local metres east/north of the district origin; heights in metres above sea level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geodata.district import GridSpec

__all__ = ["Valley", "make_valley", "terrain_grid", "smoothstep"]

# Level of the Saale at Naumburg (Pegel Naumburg-Grochlitz, gauge zero 97.9 m a.s.l.; mean water ~100 m).
RIVER_LEVEL_M = 100.0
# Fall of the river per metre of northing (the Saale falls ~0.25 m/km between Bad Kösen and Weißenfels).
RIVER_FALL_M_PER_M = 0.25e-3
RIVER_WIDTH_M = 45.0


def smoothstep(t: np.ndarray) -> np.ndarray:
    """Cubic Hermite step, 0 for t <= 0, 1 for t >= 1."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class Valley:
    """Parameters of the valley, all lengths in local metres.

    ``centre_xy_m`` is the town centre (the market square); the river's mean course lies
    ``river_offset_m`` west of it.
    """

    size_m: float
    centre_xy_m: tuple[float, float]
    river_offset_m: float
    meander_amp_m: tuple[float, float]
    meander_wavelength_m: tuple[float, float]
    meander_phase: tuple[float, float]
    wave_k: np.ndarray  # (K, 2) wave vectors, rad/m
    wave_phase: np.ndarray  # (K,) rad
    wave_amp_m: np.ndarray  # (K,) m

    def river_x_m(self, y: np.ndarray) -> np.ndarray:
        """x of the river centre line at northing ``y`` (any shape)."""
        y = np.asarray(y, dtype=np.float64)
        x0 = self.centre_xy_m[0] - self.river_offset_m
        out = np.full(y.shape, x0)
        for a, lam, ph in zip(self.meander_amp_m, self.meander_wavelength_m, self.meander_phase):
            out = out + a * np.sin(2.0 * np.pi * y / lam + ph)
        return out

    def river_level_m(self, y: np.ndarray) -> np.ndarray:
        """Water level (m a.s.l.) at northing ``y``; the river flows north."""
        return RIVER_LEVEL_M - RIVER_FALL_M_PER_M * (np.asarray(y, float) - self.centre_xy_m[1])

    def river_line(self, step_m: float = 10.0) -> np.ndarray:
        """(k, 2) river centre line from the south to the north edge, local metres."""
        y = np.arange(-step_m, self.size_m + 2 * step_m, step_m)
        return np.column_stack([self.river_x_m(y), y])

    def elevation_m(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Terrain elevation (m a.s.l.) at local points (broadcasting ``x`` against ``y``)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        d = x - self.river_x_m(y)  # signed distance across the valley, east positive
        base = self.river_level_m(y)
        west = np.maximum(-d, 0.0)
        east = np.maximum(d, 0.0)
        # the ground under the river lies just below the water surface (like a DEM), banks 2 m above it
        bank = -0.4 + 2.4 * smoothstep((np.abs(d) - RIVER_WIDTH_M / 2) / 12.0)
        slope_w = 75.0 * smoothstep((west - 120.0) / 330.0) + 12.0 * smoothstep((west - 900.0) / 1500.0)
        slope_e = (
            10.0 * smoothstep((east - 180.0) / 220.0)
            + 22.0 * smoothstep((east - 900.0) / 1300.0)
            + 25.0 * smoothstep((east - 2400.0) / 2000.0)
        )
        relief = self._waves(x, y) * smoothstep((np.abs(d) - 250.0) / 600.0)
        return base + bank + slope_w + slope_e + relief

    def slope(self, x: np.ndarray, y: np.ndarray, h_m: float = 3.0) -> np.ndarray:
        """Ground slope (rise over run) at local points, by central differences over ``h_m``."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        gx = self.elevation_m(x + h_m, y) - self.elevation_m(x - h_m, y)
        gy = self.elevation_m(x, y + h_m) - self.elevation_m(x, y - h_m)
        return np.hypot(gx, gy) / (2.0 * h_m)

    def _waves(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # cos(kx x + ky y + p) = cos(kx x + p) cos(ky y) - sin(kx x + p) sin(ky y): separable when x is a
        # row and y a column, so a large grid costs O(rows + cols) trigonometry per wave.
        out = 0.0
        for (kx, ky), p, a in zip(self.wave_k, self.wave_phase, self.wave_amp_m):
            ax = kx * x + p
            by = ky * y
            out = out + a * (np.cos(ax) * np.cos(by) - np.sin(ax) * np.sin(by))
        return out


def make_valley(size_m: float, rng: np.random.Generator) -> Valley:
    """A seeded valley for a square district of ``size_m`` with the town in its middle."""
    centre = (size_m / 2.0 + 150.0, size_m / 2.0)
    k = 8
    lam = rng.uniform(350.0, 2600.0, k)
    ang = rng.uniform(0.0, np.pi, k)
    wave_k = np.column_stack([np.cos(ang), np.sin(ang)]) * (2.0 * np.pi / lam)[:, None]
    return Valley(
        size_m=float(size_m),
        centre_xy_m=centre,
        river_offset_m=620.0,
        meander_amp_m=(70.0, 35.0),
        meander_wavelength_m=(2300.0, 900.0),
        meander_phase=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
        wave_k=wave_k,
        wave_phase=rng.uniform(0.0, 2.0 * np.pi, k),
        wave_amp_m=3.0 * (lam / 1000.0) ** 0.8,
    )


def terrain_grid(valley: Valley, grid: GridSpec, *, max_step_m: float = 6.0) -> np.ndarray:
    """(rows, cols) float32 terrain elevation (m a.s.l.) at the cell centres of ``grid``.

    The analytic surface is evaluated every ``k`` cells (k * cell_m <= ``max_step_m``, finer than its
    narrowest feature, the 12 m river bank) and interpolated bilinearly in between.
    """
    xs, ys = grid.cell_centres_local_m()
    k = max(1, int(max_step_m // grid.cell_m))
    if k == 1:
        return np.asarray(valley.elevation_m(xs[None, :], ys[:, None]), dtype=np.float32)
    rows = np.arange(0, grid.rows + k, k)
    cols = np.arange(0, grid.cols + k, k)
    cx = grid.west_m + (cols + 0.5) * grid.cell_m
    cy = grid.south_m + (grid.rows - rows - 0.5) * grid.cell_m
    coarse = valley.elevation_m(cx[None, :], cy[:, None]).astype(np.float32)
    r = np.arange(grid.rows) / k
    c = np.arange(grid.cols) / k
    r0 = np.floor(r).astype(np.int64)
    c0 = np.floor(c).astype(np.int64)
    fr = (r - r0).astype(np.float32)[:, None]
    fc = (c - c0).astype(np.float32)[None, :]
    along = coarse[:, c0] * (1 - fc) + coarse[:, c0 + 1] * fc  # (coarse rows, cols)
    out = along[r0] * (1 - fr)
    out += along[r0 + 1] * fr
    return out
