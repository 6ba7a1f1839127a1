"""Service classes of the region's stops (ÖV-Güteklassen A-F).

Where departures are known from a GTFS feed, a stop's mean interval per direction over 06-20 h is
counted from the feed (the Swiss ARE method, ``assets/oev_gueteklassen.csv``): the departures of every
GTFS stop within :data:`GTFS_MATCH_M` of the region's stop on the feed's Tuesday, halved for the two
directions. Otherwise the interval is assumed from the stop's products and whether it lies in a town
(``assets/region_access.json`` ``service_by_product``), and the class is marked as estimated.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from geodata.gtfs import Feed, route_mode
from models.people.quality import quality_table

__all__ = ["assumptions", "estimate_interval", "classes_from_interval", "gtfs_intervals", "CLASSES", "class_rank",
           "GTFS_MATCH_M"]

CLASSES = "ABCDEF"
GTFS_MATCH_M = 100.0
_WINDOW_H = (6, 20)


@lru_cache(maxsize=1)
def assumptions() -> dict[str, Any]:
    """``assets/region_access.json``."""
    return json.loads(resources.files("assets").joinpath("region_access.json").read_text(encoding="utf-8"))


def class_rank(c: str) -> int:
    """0 for A .. 5 for F (6 for anything else)."""
    return CLASSES.index(c) if c and c in CLASSES else 6


def estimate_interval(products: str, town: bool) -> tuple[float, str]:
    """(mean interval per direction in minutes, kind: rail_hub | rail | bus) assumed for a stop from its
    ``;``-separated products; ``(inf, "none")`` when no product has fixed departures. The product that
    gives the best class wins."""
    have = set(products.split(";")) - {""}
    best: tuple[int, float, str] = (99, float("inf"), "none")
    for row in assumptions()["service_by_product"]:
        if row["product"] not in have or row["kind"] == "on_demand":
            continue
        iv = row["interval_min_town" if town else "interval_min_rural"]
        if iv is None:
            continue
        cat = _category(float(iv), row["kind"])
        if cat > 0 and (cat, float(iv)) < best[:2]:
            best = (cat, float(iv), row["kind"])
        elif cat == 0 and best[0] == 99 and float(iv) < best[1]:
            best = (99, float(iv), row["kind"])
    return best[1], best[2]


def _category(interval_min: float, kind: str) -> int:
    """Stop category 1..6 (I..VI) from the interval, 0 when none is reached."""
    col = {"rail_hub": "max_interval_min_rail_hub", "rail": "max_interval_min_rail"}.get(kind, "max_interval_min_bus")
    for k, row in enumerate(quality_table(), start=1):
        if interval_min < float(row[col]):
            return k
    return 0


def classes_from_interval(interval_min: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S,) stop category 0..6 and (S,) class at the stop (A-F; F without a category)."""
    cat = np.array([_category(float(i), str(k)) if np.isfinite(i) else 0 for i, k in zip(interval_min, kind)], np.int64)
    tab = quality_table()
    cls = np.array([tab[c - 1]["class_0_300m"] if c > 0 else "F" for c in cat], dtype=object)
    return cat, cls


def gtfs_intervals(feed: Feed, stop_xy: np.ndarray, feed_xy: np.ndarray, *,
                   weekday: str = "tuesday") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From a GTFS feed: (S,) mean interval per direction (min; inf without departures), (S,) kind
    (rail_hub / rail / bus) and (S,) bool matched (a feed stop lies within GTFS_MATCH_M).

    stop_xy (S, 2) are the region's stops and feed_xy (F, 2) the feed's stops, both in the working CRS."""
    running = feed.services_by_day.get(weekday, frozenset())
    use = np.array([not running or s in running for s in feed.trip_service], bool)[feed.st_trip]
    t = feed.st_departure_s
    in_win = use & (t >= _WINDOW_H[0] * 3600) & (t < _WINDOW_H[1] * 3600)
    deps = np.bincount(feed.st_stop[in_win], minlength=feed.stop_id.size).astype(float)
    routes = feed.trip_route[feed.st_trip[in_win]]
    rail_stop = np.zeros(feed.stop_id.size, bool)
    lines: list[set[int]] = [set() for _ in range(feed.stop_id.size)]
    for s, r in zip(feed.st_stop[in_win], routes):
        lines[s].add(int(r))
        if route_mode(int(feed.route_type[r])) == "rail":
            rail_stop[s] = True
    n = stop_xy.shape[0]
    interval = np.full(n, np.inf)
    kind = np.full(n, "bus", dtype=object)
    matched = np.zeros(n, bool)
    if feed_xy.shape[0] == 0 or n == 0:
        return interval, kind, matched
    near = cKDTree(feed_xy).query_ball_point(stop_xy, r=GTFS_MATCH_M)
    hours = float(_WINDOW_H[1] - _WINDOW_H[0])
    for i, js in enumerate(near):
        if not js:
            continue
        matched[i] = True
        d = float(deps[js].sum()) / 2.0
        if d > 0:
            interval[i] = hours * 60.0 / d
        if rail_stop[js].any():
            n_lines = len(set().union(*(lines[j] for j in js)))
            kind[i] = "rail_hub" if n_lines >= 2 else "rail"
    return interval, kind, matched
