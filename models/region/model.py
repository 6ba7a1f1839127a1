"""The Region: a whole Kreis as a model (Gemeinden, inhabited 100 m cells, stops, hospitals).

All coordinates are metres in the region's working CRS (``crs``, ETRS89 / UTM, EPSG:25832 for the
Burgenlandkreis); GeoJSON leaves the model in WGS84 only through :mod:`models.region.views`.

Age groups (persons in the base year 2019) are the columns :data:`AGE_COLUMNS`, a partition of all ages:
``age_<lo>_<hi>`` holds persons aged ``lo`` to ``hi`` inclusive, ``age_<lo>_plus`` those aged ``lo`` and
older. Their names are stable (the forecast reads them as the base of its cohort model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Region", "AGE_COLUMNS", "AGE_BOUNDS", "UNDER18", "AGE65PLUS", "BASE_YEAR"]

BASE_YEAR = 2019
# (lo, hi) in years, hi inclusive; None = open-ended
AGE_BOUNDS: tuple[tuple[int, int | None], ...] = ((0, 9), (10, 17), (18, 29), (30, 49), (50, 64), (65, 79), (80, None))
AGE_COLUMNS: tuple[str, ...] = tuple(f"age_{lo}_{'plus' if hi is None else hi}" for lo, hi in AGE_BOUNDS)
UNDER18: tuple[str, ...] = ("age_0_9", "age_10_17")
AGE65PLUS: tuple[str, ...] = ("age_65_79", "age_80_plus")


@dataclass
class Region:
    """One Kreis.

    name : bundle name, e.g. ``burgenlandkreis``
    crs : working CRS as ``"EPSG:25832"``; ``epsg`` the code
    kreis_ags, kreis_name : the Kreis' key (5 digits) and name
    kreis_outline : shapely (Multi)Polygon in the working CRS
    gemeinden : one row per Gemeinde: ``ags`` (8-digit str), ``name``, ``kind``, ``area_km2``,
        ``population_2019`` and :data:`AGE_COLUMNS` (persons 2019, float)
    gemeinde_shapes : ags -> shapely (Multi)Polygon in the working CRS
    cells : inhabited 100 m cells: ``cell_id`` (Zensus INSPIRE id), ``x_m``, ``y_m`` (centre, working CRS),
        ``x_3035``, ``y_3035`` (lower-left corner, EPSG:3035), ``ags``, ``settlement`` (name),
        :data:`AGE_COLUMNS` (persons 2019, float)
    settlements : ``settlement`` (name), ``ags``, ``persons``, ``cells``, ``x_m``, ``y_m`` (population
        weighted centre)
    stops : ``stop_id``, ``name``, ``x_m``, ``y_m``, ``lon``, ``lat``, ``products``, ``service_class`` (A-F),
        ``class_estimated`` (bool), ``interval_min`` (mean interval per direction 06-20 h used for the class),
        ``in_kreis`` (bool), ``ags`` ("" outside)
    hospitals : ``id``, ``name``, ``site``, ``city``, ``x_m``, ``y_m``, ``lon``, ``lat``, ``in_kreis``
    centres : ``name``, ``ags``, ``level`` (Mittelzentrum / Grundzentrum), ``x_m``, ``y_m``
    manifest : sources, licences, method and assumptions (as written to the bundle)
    """

    name: str
    crs: str
    kreis_ags: str
    kreis_name: str
    kreis_outline: Any
    gemeinden: pd.DataFrame
    gemeinde_shapes: dict[str, Any]
    cells: pd.DataFrame
    settlements: pd.DataFrame
    stops: pd.DataFrame
    hospitals: pd.DataFrame
    centres: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    network: Any = None  # walking network of an OSM extract (models.region.network.WalkNetwork), or None

    @property
    def epsg(self) -> int:
        return int(self.crs.split(":")[1])

    @property
    def local_origin_m(self) -> tuple[float, float]:
        """Origin of the region's local frame (scenario edits, ``xy_local_m``): the south-west corner of the
        Kreis' bounding box rounded down to whole kilometres, in the working CRS."""
        w, s, _e, _n = self.kreis_outline.bounds
        return float(math.floor(w / 1000.0) * 1000.0), float(math.floor(s / 1000.0) * 1000.0)

    @property
    def population_2019(self) -> float:
        return float(self.gemeinden["population_2019"].sum())

    def info(self) -> dict[str, Any]:
        """Plain figures of the region (persons unpublished: pass through models.privacy before showing)."""
        return {
            "name": self.name,
            "kreis": self.kreis_name,
            "ags": self.kreis_ags,
            "crs": self.crs,
            "gemeinden": int(len(self.gemeinden)),
            "population_2019": self.population_2019,
            "cells_100m_inhabited": int(len(self.cells)),
            "settlements": int(len(self.settlements)),
            "stops_in_district": int(self.stops["in_kreis"].sum()),
            "stops_total": int(len(self.stops)),
            "hospitals_in_district": int(self.hospitals["in_kreis"].sum()),
            "hospitals_total": int(len(self.hospitals)),
            "area_km2": float(self.gemeinden["area_km2"].sum()),
        }
