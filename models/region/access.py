"""Regional accessibility: walking distance to stops, ÖV-Güteklassen of the cells, distance to hospitals
and to the central places, and the deficits per Gemeinde.

Distances are straight lines in the working CRS times the detour factors of ``assets/region_access.json``
(no road network is needed). A cell is served when a stop of class ``deficit_min_class`` (D) or better
lies within ``deficit_max_walk_m`` (600 m) walking distance, or when it lies inside an on-demand zone;
otherwise its persons 65+ and under 18 count as the deficit. Extra stops and zones (proposals,
scenario edits) are evaluated the same way. A cell's area class follows the ARE distance bands (straight
line 0-300-500-750-1000 m) of the best stop around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from models.people.quality import DISTANCE_BANDS_M, quality_table
from models.region.model import AGE65PLUS, AGE_COLUMNS, UNDER18, Region
from models.region.network import WalkNetwork, network_walk_m
from models.region.service import CLASSES, assumptions, class_rank, classes_from_interval

__all__ = ["RegionAccess", "region_access", "ExtraStop", "served_mask"]


@dataclass(frozen=True)
class ExtraStop:
    """A stop added by a proposal or an edit: position in the working CRS and its class at the stop."""

    x_m: float
    y_m: float
    service_class: str = "D"
    name: str = ""


@dataclass
class RegionAccess:
    """cells: per inhabited cell (same order as ``region.cells``) ``walk_stop_m`` (nearest stop of any class),
    ``walk_good_stop_m`` (nearest stop of the deficit class or better), ``area_class`` (A-F, "-" beyond 1 km),
    ``in_zone``, ``served``, ``hospital_km``, ``centre_km`` (road estimates), ``deficit_65plus``,
    ``deficit_under18`` (persons, float). gemeinden: one row per Gemeinde; kreis: the same for the Kreis.
    Person figures are unpublished floats: pass them through models.privacy before they leave."""

    cells: pd.DataFrame
    gemeinden: pd.DataFrame
    kreis: dict[str, Any]
    assumptions: dict[str, Any]


def _nearest(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    if dst.shape[0] == 0:
        return np.full(src.shape[0], np.inf)
    d, _ = cKDTree(dst).query(src)
    return np.asarray(d, float)


def served_mask(cell_xy: np.ndarray, good_stop_xy: np.ndarray, zones: Sequence[Any], *, max_walk_m: float,
                detour: float, network: WalkNetwork | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(served, walk_good_stop_m, in_zone) for cells (N, 2): a good stop within ``max_walk_m`` walking
    (along ``network`` where given, else straight line x ``detour``) or inside one of ``zones`` (shapely
    polygons, working CRS)."""
    walk = _nearest(cell_xy, good_stop_xy) * detour
    if network is not None:
        walk = network_walk_m(network, cell_xy, good_stop_xy, walk)
    in_zone = np.zeros(cell_xy.shape[0], bool)
    for z in zones:
        in_zone |= shapely.intersects_xy(z, cell_xy[:, 0], cell_xy[:, 1])  # the edge counts as inside
    return (walk <= max_walk_m) | in_zone, walk, in_zone


def _area_class(cell_xy: np.ndarray, stop_xy: np.ndarray, stop_cat: np.ndarray) -> np.ndarray:
    out = np.full(cell_xy.shape[0], "-", dtype=object)
    ok = np.nonzero(stop_cat > 0)[0]
    if ok.size == 0 or cell_xy.shape[0] == 0:
        return out
    cols = ("class_0_300m", "class_300_500m", "class_500_750m", "class_750_1000m")
    lut = np.array([[CLASSES.index(r[c]) for c in cols] for r in quality_table()], np.int64)
    pairs = cKDTree(cell_xy).sparse_distance_matrix(cKDTree(stop_xy[ok]), DISTANCE_BANDS_M[-1], output_type="coo_matrix")
    best = np.full(cell_xy.shape[0], 99, np.int64)
    if pairs.nnz:
        band = np.minimum(np.searchsorted(DISTANCE_BANDS_M, pairs.data, side="left"), 3)
        np.minimum.at(best, pairs.row, lut[stop_cat[ok[pairs.col]] - 1, band])
    has = best < 99
    out[has] = np.array(list(CLASSES))[best[has]]
    return out


def _category_of_class(cls: str) -> int:
    """The stop category whose class at the stop is ``cls`` (the best such), for extra stops."""
    for k, row in enumerate(quality_table(), start=1):
        if row["class_0_300m"] == cls:
            return k
    return 0


def _summary(df: pd.DataFrame) -> dict[str, float]:
    pop = df[list(AGE_COLUMNS)].to_numpy().sum(axis=1)
    p65 = df[list(AGE65PLUS)].to_numpy().sum(axis=1)
    u18 = df[list(UNDER18)].to_numpy().sum(axis=1)
    tot = float(pop.sum())

    def wmean(col: str) -> float:
        v = df[col].to_numpy(float)
        ok = np.isfinite(v)
        return float((v[ok] * pop[ok]).sum() / pop[ok].sum()) if pop[ok].sum() > 0 else float("nan")

    good = np.isin(df["area_class"].to_numpy(), list(CLASSES[:CLASSES.index(assumptions()["deficit_min_class"]) + 1]))
    return {
        "population_2019": tot,
        "persons_65plus": float(p65.sum()),
        "persons_under18": float(u18.sum()),
        "deficit_65plus": float(df["deficit_65plus"].sum()),
        "deficit_under18": float(df["deficit_under18"].sum()),
        "share_deficit_65plus": float(df["deficit_65plus"].sum() / p65.sum()) if p65.sum() > 0 else 0.0,
        "share_deficit_under18": float(df["deficit_under18"].sum() / u18.sum()) if u18.sum() > 0 else 0.0,
        "share_served": float(pop[df["served"].to_numpy()].sum() / tot) if tot > 0 else 0.0,
        "share_class_a_to_d": float(pop[good].sum() / tot) if tot > 0 else 0.0,
        "mean_walk_stop_m": wmean("walk_stop_m"),
        "mean_walk_good_stop_m": wmean("walk_good_stop_m"),
        "mean_hospital_km": wmean("hospital_km"),
        "mean_centre_km": wmean("centre_km"),
        "max_hospital_km": float(df["hospital_km"].max()) if len(df) else float("nan"),
    }


def region_access(region: Region, *, extra_stops: Sequence[ExtraStop] = (), zones: Sequence[Any] = (),
                  removed_stops: Sequence[str] = (), network: WalkNetwork | None = None) -> RegionAccess:
    """Accessibility of every inhabited cell and the deficits per Gemeinde and for the Kreis.

    extra_stops : new stops (proposals, edits); zones : on-demand zones (shapely polygons, working CRS);
    removed_stops : stop_ids to leave out. Stops outside the Kreis count too (people near the border use them).
    network : walking network from an OSM extract (``models.region.network``); the region's own (built with
        ``--osm``) when not given; straight line x detour without either.
    """
    if network is None:
        network = region.network  # stored in the bundle when built with an OSM extract
    a = assumptions()
    detour_walk, detour_road = float(a["detour_factor_walk"]), float(a["detour_factor_road"])
    min_rank = class_rank(a["deficit_min_class"])
    cells = region.cells
    cxy = cells[["x_m", "y_m"]].to_numpy(float)
    st = region.stops[~region.stops["stop_id"].isin(set(removed_stops))]
    sxy = st[["x_m", "y_m"]].to_numpy(float)
    cat, _ = classes_from_interval(st["interval_min"].to_numpy(float), st["service_kind"].to_numpy(object))
    cls = st["service_class"].to_numpy(object)
    if extra_stops:
        exy = np.array([[e.x_m, e.y_m] for e in extra_stops], float)
        sxy = np.vstack([sxy, exy])
        cat = np.concatenate([cat, [_category_of_class(e.service_class) for e in extra_stops]])
        cls = np.concatenate([cls, [e.service_class for e in extra_stops]])
    good = np.array([class_rank(str(c)) <= min_rank for c in cls], bool)
    served, walk_good, in_zone = served_mask(cxy, sxy[good], zones, max_walk_m=float(a["deficit_max_walk_m"]),
                                             detour=detour_walk, network=network)
    walk_any = _nearest(cxy, sxy) * detour_walk
    if network is not None:
        walk_any = network_walk_m(network, cxy, sxy, walk_any)
    out = pd.DataFrame({
        "ags": cells["ags"].to_numpy(),
        "walk_stop_m": walk_any,
        "walk_good_stop_m": walk_good,
        "area_class": _area_class(cxy, sxy, cat),
        "in_zone": in_zone,
        "served": served,
        "hospital_km": _nearest(cxy, region.hospitals[["x_m", "y_m"]].to_numpy(float)) * detour_road / 1000.0,
        "centre_km": _nearest(cxy, region.centres[["x_m", "y_m"]].to_numpy(float)) * detour_road / 1000.0,
    })
    for c in AGE_COLUMNS:
        out[c] = cells[c].to_numpy(float)
    out["deficit_65plus"] = np.where(served, 0.0, cells[list(AGE65PLUS)].to_numpy(float).sum(axis=1))
    out["deficit_under18"] = np.where(served, 0.0, cells[list(UNDER18)].to_numpy(float).sum(axis=1))
    rows = []
    for g in region.gemeinden.itertuples(index=False):
        rows.append({"ags": g.ags, "name": g.name, **_summary(out[out["ags"] == g.ags])})
    gem = pd.DataFrame(rows)
    kreis = {"ags": region.kreis_ags, "name": region.kreis_name, **_summary(out)}
    used = {k: a[k] for k in ("detour_factor_walk", "detour_factor_road", "deficit_max_walk_m", "deficit_min_class")}
    used["classes_estimated"] = bool(region.stops["class_estimated"].all())
    used["walk_distances"] = f"OSM {network.source}" if network is not None else "straight line x detour factor"
    return RegionAccess(out, gem, kreis, used)
