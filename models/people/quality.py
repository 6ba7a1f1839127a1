"""Public-transport quality classes (ÖV-Güteklassen A–F) from stop frequency and distance.

The table ``assets/oev_gueteklassen.csv`` (after the Swiss ARE method, extended by E and F for rural
service) gives, per stop category I–VI, the longest mean interval between departures that still
reaches the category for a rail hub, a rail stop and a bus stop, and the class of the area within
0–300, 300–500, 500–750 and 750–1000 m (straight line) of a stop of that category. The interval is
the mean per direction over 06–20 h; a place takes the best class of all stops around it.
"""

from __future__ import annotations

import csv
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from geodata.apply_transit import TransitNetwork

__all__ = ["thresholds", "quality_table", "stop_categories", "stop_classes", "building_classes", "DISTANCE_BANDS_M"]

DISTANCE_BANDS_M = (300.0, 500.0, 750.0, 1000.0)
_WINDOW = range(6, 20)


@lru_cache(maxsize=1)
def quality_table() -> list[dict[str, str]]:
    text = resources.files("assets").joinpath("oev_gueteklassen.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _intervals_min(net: TransitNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Mean interval per direction (S,) minutes over 06-20 h (inf without service), and the number
    of distinct lines per stop (S,)."""
    deps = np.zeros(net.n_stops)
    lines: list[set[str]] = [set() for _ in range(net.n_stops)]
    for ln in net.lines:
        d = float(ln.departures_per_h[list(_WINDOW)].sum())
        np.add.at(deps, ln.stop_index, d)  # departures and arrivals: terminals serve both directions
        for s in ln.stop_index.tolist():
            lines[s].add(ln.line_id.split("@")[0])
    per_dir = deps / 2.0
    hours = float(len(_WINDOW))
    interval = np.where(per_dir > 0, hours * 60.0 / np.maximum(per_dir, 1e-12), np.inf)
    return interval, np.array([len(s) for s in lines], np.int64)


def stop_categories(net: TransitNetwork) -> np.ndarray:
    """(S,) int: stop category 1..6 (I..VI), 0 where the stop has no service good enough for VI."""
    interval, n_lines = _intervals_min(net)
    mode = np.asarray(net.stop_mode, object)
    rail = np.array([m in ("rail", "regional", "suburban", "national") for m in mode], bool)
    hub = rail & (n_lines >= 2)
    col = np.where(hub, "max_interval_min_rail_hub", np.where(rail, "max_interval_min_rail", "max_interval_min_bus"))
    out = np.zeros(net.n_stops, np.int64)
    tab = quality_table()
    for s in range(net.n_stops):
        for k, row in enumerate(tab, start=1):
            if interval[s] < float(row[col[s]]):
                out[s] = k
                break
    return out


def stop_classes(net: TransitNetwork) -> np.ndarray:
    """(S,) str: the class A–F right at each stop (0–300 m band of its category); F without service."""
    cat = stop_categories(net)
    tab = quality_table()
    return np.array([tab[c - 1]["class_0_300m"] if c > 0 else "F" for c in cat], dtype="<U1")


def building_classes(net: TransitNetwork, xy_local_m: np.ndarray) -> np.ndarray:
    """(P,) str class A–F of points (P, 2) from all stops within 1000 m; "-" where none is."""
    pts = np.asarray(xy_local_m, float).reshape(-1, 2)
    out = np.full(pts.shape[0], "-", dtype="<U1")
    cat = stop_categories(net)
    served = np.nonzero(cat > 0)[0]
    if served.size == 0 or pts.shape[0] == 0:
        return out
    tab = quality_table()
    cols = ("class_0_300m", "class_300_500m", "class_500_750m", "class_750_1000m")
    # class index (0 = A .. 5 = F) by category row and distance band
    lut = np.array([["ABCDEF".index(r[c]) for c in cols] for r in tab], np.int64)
    pairs = cKDTree(pts).sparse_distance_matrix(cKDTree(net.stop_xy_local_m[served]), DISTANCE_BANDS_M[-1],
                                                output_type="coo_matrix")
    best = np.full(pts.shape[0], 99, np.int64)
    if pairs.nnz:
        band = np.minimum(np.searchsorted(DISTANCE_BANDS_M, pairs.data, side="left"), 3)
        np.minimum.at(best, pairs.row, lut[cat[served[pairs.col]] - 1, band])
    has = best < 99
    out[has] = np.array(list("ABCDEF"))[best[has]]
    return out


@lru_cache(maxsize=1)
def thresholds() -> dict[str, Any]:
    """``assets/access_thresholds.json``: threshold minutes per category, area size, minimum group size."""
    return json.loads(resources.files("assets").joinpath("access_thresholds.json").read_text(encoding="utf-8"))
