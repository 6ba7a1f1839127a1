"""Effects of road traffic: CO2 and NOx (``assets/emission_factors.csv``, HBEFA-like values with their
source), a road-noise emission level (RLS-90 mean level at 25 m), and the anthropogenic heat that
vehicles release, as a raster for the heat model.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import numpy as np

from geodata.district import GridSpec

__all__ = ["emission_table", "link_emissions", "noise_level_db", "heat_raster_w_m2", "link_heat_w"]


@lru_cache(maxsize=1)
def emission_table() -> dict[str, dict[str, float]]:
    """Rows of ``assets/emission_factors.csv`` by key: speed_kmh_max, co2_g_km, nox_g_km."""
    text = resources.files("assets").joinpath("emission_factors.csv").read_text(encoding="utf-8")
    return {
        r["key"]: {k: float(v) for k, v in r.items() if k not in ("key", "source")}
        for r in csv.DictReader(text.splitlines())
    }


def _speed_bands() -> list[dict[str, float]]:
    rows = [v for k, v in emission_table().items() if v["speed_kmh_max"] > 0]
    return sorted(rows, key=lambda r: r["speed_kmh_max"])


def link_emissions(
    flow_veh_h: np.ndarray, length_m: np.ndarray, speed_limit_kmh: np.ndarray, delay_share: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """CO2 (g/h) and NOx (g/h) per link, each (L,) float64.

    The factor of the speed-limit band is raised towards the stop-and-go factor in proportion to the
    share of the link's travel time that is delay (``delay_share`` in [0, 1]).
    """
    bands = _speed_bands()
    limits = np.array([b["speed_kmh_max"] for b in bands])
    idx = np.minimum(np.searchsorted(limits, speed_limit_kmh, side="left"), len(bands) - 1)
    co2 = np.array([b["co2_g_km"] for b in bands])[idx]
    nox = np.array([b["nox_g_km"] for b in bands])[idx]
    sg = emission_table()["stop_and_go_factor"]
    share = np.clip(delay_share, 0.0, 1.0)
    vkm = flow_veh_h * length_m / 1000.0
    return vkm * co2 * (1.0 + (sg["co2_g_km"] - 1.0) * share), vkm * nox * (
        1.0 + (sg["nox_g_km"] - 1.0) * share
    )


def noise_level_db(flow_veh_h: np.ndarray, speed_kmh: np.ndarray, heavy_share_pct: np.ndarray) -> np.ndarray:
    """RLS-90 emission level L_m,E in dB(A) at 25 m from the road axis, (L,) float64 (nan without traffic).

    ``flow_veh_h`` is the hourly volume of both directions, speeds are clamped to the RLS-90 ranges
    (cars 30-130 km/h, heavy vehicles 30-80 km/h).
    """
    m = np.asarray(flow_veh_h, dtype=np.float64)
    p = np.asarray(heavy_share_pct, dtype=np.float64)
    v_car = np.clip(speed_kmh, 30.0, 130.0)
    v_hgv = np.clip(speed_kmh, 30.0, 80.0)
    l_car = 27.7 + 10.0 * np.log10(1.0 + (0.02 * v_car) ** 3)
    l_hgv = 23.1 + 12.5 * np.log10(v_hgv)
    d = l_hgv - l_car
    d_v = l_car - 37.3 + 10.0 * np.log10((100.0 + (10.0 ** (0.1 * d) - 1.0) * p) / (100.0 + 8.23 * p))
    with np.errstate(divide="ignore"):
        l25 = 37.3 + 10.0 * np.log10(m * (1.0 + 0.082 * p))
    return np.where(m > 0, l25 + d_v, np.nan)


def link_heat_w(co2_g_h: np.ndarray) -> np.ndarray:
    """Heat released by the fuel burnt on each link, W (L,): CO2 / (g CO2 per MJ of fuel)."""
    g_per_mj = emission_table()["fuel_co2_g_per_mj"]["co2_g_km"]
    return np.asarray(co2_g_h, dtype=np.float64) / g_per_mj * 1e6 / 3600.0


def heat_raster_w_m2(
    polylines: list[np.ndarray], heat_w: np.ndarray, grid: GridSpec, width_m: np.ndarray | None = None
) -> np.ndarray:
    """Spread each link's heat (W) evenly over its carriageway: along its polyline (k, 2) local metres
    and across ``width_m`` (L,) metres, onto ``grid``.

    Returns (rows, cols) float32 W/m2 averaged over each cell; the raster's integral equals the sum of
    the heat of the parts of links inside the grid.
    """
    out = np.zeros(grid.shape, dtype=np.float64)
    step = grid.cell_m / 2.0
    xs, ys, ws = [], [], []
    widths = np.zeros(len(polylines)) if width_m is None else np.asarray(width_m, dtype=np.float64)
    for line, w, width in zip(polylines, heat_w, widths):
        if w <= 0 or len(line) < 2:
            continue
        seg = np.diff(line, axis=0)
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        total = seg_len.sum()
        if total <= 0:
            continue
        n = max(1, int(np.ceil(total / step)))
        s = (np.arange(n) + 0.5) * total / n
        cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        j = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
        f = (s - cum[j]) / np.maximum(seg_len[j], 1e-12)
        pts = line[j] + f[:, None] * seg[j]
        normal = np.column_stack([-seg[j, 1], seg[j, 0]]) / np.maximum(seg_len[j], 1e-12)[:, None]
        n_across = max(1, int(np.ceil(width / grid.cell_m)))
        for off in (np.arange(n_across) + 0.5) / n_across * width - width / 2.0:
            q = pts + off * normal
            xs.append(q[:, 0])
            ys.append(q[:, 1])
            ws.append(np.full(n, w / (n * n_across)))
    if xs:
        x, y, wt = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
        r, c = grid.xy_to_rowcol(x, y)
        ok = (r >= 0) & (r < grid.rows) & (c >= 0) & (c < grid.cols)
        np.add.at(out, (r[ok], c[ok]), wt[ok])
    return (out / (grid.cell_m**2)).astype(np.float32)
