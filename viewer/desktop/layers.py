"""Heat layers of the desktop viewer as plain arrays: colour scales, legends, textures and picking.

No GPU here: every function takes and returns numpy arrays, so the viewer's colours and its picking
are tested without a window. Fields are rasters (row, col) with row 0 at the north edge, as the
server sends them (:class:`protocol.GridInfo`); coordinates are in the district's local frame
(metres east/north from its origin); scene positions are in glTF axes (x east, y up, z = -north).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LegendEntry", "UTCI_LEGEND", "legend_for", "field_rgba", "legend_image", "cell_of_point",
           "cell_centre_local_m", "cell_value", "hour_series", "screen_ray", "ray_hits_plane"]


@dataclass(frozen=True)
class LegendEntry:
    """One class of a legend: values in ``[lo_c, hi_c)`` °C drawn in ``rgb`` (sRGB 0..255)."""

    lo_c: float
    hi_c: float
    label_de: str
    label_en: str
    rgb: tuple[int, int, int]


# thermal stress classes of the Universal Thermal Climate Index (Bröde et al. 2012)
UTCI_LEGEND: tuple[LegendEntry, ...] = (
    LegendEntry(-60.0, 9.0, "Kältestress", "cold stress", (70, 120, 200)),
    LegendEntry(9.0, 26.0, "kein Wärmestress", "no thermal stress", (60, 170, 90)),
    LegendEntry(26.0, 32.0, "mäßiger Wärmestress", "moderate heat stress", (250, 200, 60)),
    LegendEntry(32.0, 38.0, "starker Wärmestress", "strong heat stress", (245, 130, 40)),
    LegendEntry(38.0, 46.0, "sehr starker Wärmestress", "very strong heat stress", (215, 40, 40)),
    LegendEntry(46.0, 80.0, "extremer Wärmestress", "extreme heat stress", (120, 10, 60)),
)

# a sequential ramp for temperatures without stress classes (air, surface, mean radiant)
_RAMP_RGB = np.array([(49, 54, 149), (69, 117, 180), (171, 217, 233), (255, 255, 191), (253, 174, 97),
                      (215, 48, 39), (120, 0, 40)], dtype=np.float64)


def legend_for(layer: str, values_c: np.ndarray | None = None) -> tuple[LegendEntry, ...]:
    """Legend of a field: the UTCI stress classes for ``utci_c``; for other temperature fields seven
    equal steps between the 2nd and 98th percentile of ``values_c`` (20..40 °C when none given)."""
    if layer == "utci_c":
        return UTCI_LEGEND
    lo, hi = _range(values_c)
    edges = np.linspace(lo, hi, len(_RAMP_RGB) + 1)
    return tuple(LegendEntry(float(edges[i]), float(edges[i + 1]), f"{edges[i]:.0f}–{edges[i + 1]:.0f} °C",
                             f"{edges[i]:.0f}–{edges[i + 1]:.0f} °C",
                             tuple(int(c) for c in _RAMP_RGB[i]))  # type: ignore[misc]
                 for i in range(len(_RAMP_RGB)))


def _range(values_c: np.ndarray | None) -> tuple[float, float]:
    if values_c is None:
        return 20.0, 40.0
    v = np.asarray(values_c, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 20.0, 40.0
    lo, hi = np.percentile(v, [2, 98])
    if hi - lo < 1.0:
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def field_rgba(values_c: np.ndarray, layer: str = "utci_c", *, alpha: int = 235) -> np.ndarray:
    """Colour a field: (rows, cols) float °C -> (rows, cols, 4) uint8 sRGB with ``alpha``.

    ``utci_c`` is coloured by stress class, other fields by a continuous ramp over their legend's
    range. Missing cells (NaN) are fully transparent.
    """
    v = np.asarray(values_c, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"Feld muss 2D sein, nicht {v.shape} / field must be 2D, not {v.shape}")
    out = np.zeros(v.shape + (4,), dtype=np.uint8)
    finite = np.isfinite(v)
    if layer == "utci_c":
        his = np.array([e.hi_c for e in UTCI_LEGEND[:-1]])
        cls = np.searchsorted(his, np.where(finite, v, 0.0), side="right")
        rgb = np.array([e.rgb for e in UTCI_LEGEND], dtype=np.uint8)
        out[..., :3] = rgb[cls]
    else:
        lo, hi = _range(v)
        t = np.clip((np.where(finite, v, lo) - lo) / (hi - lo), 0.0, 1.0) * (len(_RAMP_RGB) - 1)
        i0 = np.minimum(np.floor(t).astype(int), len(_RAMP_RGB) - 2)
        f = (t - i0)[..., None]
        out[..., :3] = np.rint(_RAMP_RGB[i0] * (1 - f) + _RAMP_RGB[i0 + 1] * f).astype(np.uint8)
    out[..., 3] = np.where(finite, alpha, 0).astype(np.uint8)
    return out


def legend_image(legend: tuple[LegendEntry, ...], *, swatch_px: int = 18, width_px: int = 26) -> np.ndarray:
    """A vertical colour bar of a legend, warmest class on top: (n * swatch_px, width_px, 4) uint8."""
    rows = []
    for e in reversed(legend):
        sw = np.zeros((swatch_px, width_px, 4), dtype=np.uint8)
        sw[...] = (*e.rgb, 255)
        sw[0, :] = sw[:, 0] = (40, 40, 40, 255)
        rows.append(sw)
    return np.concatenate(rows, axis=0)


def cell_of_point(grid, x_local_m: float, y_local_m: float) -> tuple[int, int] | None:
    """The (row, col) of the cell holding a local point (metres east, north), or None outside the grid.

    ``grid`` has ``rows``, ``cols``, ``cell_m``, ``west_m`` and ``south_m`` (a ``GridInfo``).
    """
    if not (np.isfinite(x_local_m) and np.isfinite(y_local_m)):
        return None
    col = int(np.floor((x_local_m - grid.west_m) / grid.cell_m))
    row = grid.rows - 1 - int(np.floor((y_local_m - grid.south_m) / grid.cell_m))
    if 0 <= row < grid.rows and 0 <= col < grid.cols:
        return row, col
    return None


def cell_centre_local_m(grid, row: int, col: int) -> tuple[float, float]:
    """Local (east, north) metres of the centre of cell (row, col)."""
    return (grid.west_m + (col + 0.5) * grid.cell_m, grid.south_m + (grid.rows - row - 0.5) * grid.cell_m)


def cell_value(values_c: np.ndarray, row: int, col: int) -> float:
    """The value of one cell (NaN where missing or outside the raster)."""
    v = np.asarray(values_c)
    if 0 <= row < v.shape[0] and 0 <= col < v.shape[1]:
        return float(v[row, col])
    return float("nan")


def hour_series(fields_by_hour: dict[int, np.ndarray], row: int, col: int) -> list[tuple[int, float]]:
    """(hour, value) of one cell across the hourly fields received, ordered by hour."""
    return [(h, cell_value(fields_by_hour[h], row, col)) for h in sorted(fields_by_hour)]


def screen_ray(projection_inverse: np.ndarray, camera_world: np.ndarray, ndc_xy: tuple[float, float]
               ) -> tuple[np.ndarray, np.ndarray]:
    """World-space ray (origin (3,), unit direction (3,)) through a point of the picture.

    ``projection_inverse`` is the camera's inverse (4, 4) projection matrix, ``camera_world`` its
    (4, 4) world matrix (camera to world, column vectors); ``ndc_xy`` the point in normalised device
    coordinates (-1..1, y up).
    """
    pinv, cw = np.asarray(projection_inverse, float), np.asarray(camera_world, float)
    pts = []
    for z in (0.0, 1.0):
        p = pinv @ np.array([ndc_xy[0], ndc_xy[1], z, 1.0])
        p = cw @ (p / p[3])
        pts.append(p[:3])
    d = pts[1] - pts[0]
    return pts[0], d / np.linalg.norm(d)


def ray_hits_plane(origin: np.ndarray, direction: np.ndarray, height_y: float) -> np.ndarray | None:
    """Where a ray meets the horizontal plane ``y = height_y`` (glTF axes), or None when it never does."""
    if abs(direction[1]) < 1e-9:
        return None
    t = (height_y - origin[1]) / direction[1]
    return None if t <= 0 else origin + t * direction
