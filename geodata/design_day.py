"""The design day as the viewers need it: the date, time zone and sun per local hour that the heat model
computes with, so that the sun the viewers draw casts the model's shadows.

The one source is ``geodata.weather``: ``design_hot_day()`` (the day the heat engine uses unless given
another Weather) and ``sun_and_irradiance`` called the way ``models.heat.engine.HeatEngine`` calls it
(the district's centre, its median terrain height, the weather's pressure and temperature).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from geodata.weather import Weather, design_hot_day, sun_and_irradiance

__all__ = ["DESIGN_DATE", "DesignDaySun", "district_centre_lonlat", "design_day_sun"]

DESIGN_DATE: dt.date = design_hot_day().day


@dataclass(frozen=True)
class DesignDaySun:
    date: dt.date
    timezone: str
    utc_offset_h: float  # on that day
    azimuth_deg: tuple[float, ...]  # per local hour 0..23, at the full hour, clockwise from north
    elevation_deg: tuple[float, ...]  # apparent elevation; negative below the horizon


def district_centre_lonlat(district: Any) -> tuple[float, float]:
    """(lon, lat) of the centre of the district's grid: where the heat model places the sun."""
    g = district.grid
    lon, lat = district.frame.local_to_lonlat(np.array([g.west_m + g.cols * g.cell_m / 2]),
                                              np.array([g.south_m + g.rows * g.cell_m / 2]))
    return float(lon[0]), float(lat[0])


def design_day_sun(district: Any, weather: Weather | None = None) -> DesignDaySun:
    """Date, time zone, UTC offset and the sun per local hour of ``weather`` (default: the design hot
    day) at ``district``, as the heat model computes them."""
    w = weather or design_hot_day()
    lon, lat = district_centre_lonlat(district)
    sun = sun_and_irradiance(w, lat, lon, altitude_m=float(np.median(district.terrain_m)))
    offset = w.times()[12].utcoffset()
    return DesignDaySun(date=w.day, timezone=w.timezone,
                        utc_offset_h=offset.total_seconds() / 3600.0 if offset is not None else 0.0,
                        azimuth_deg=tuple(round(float(a), 3) for a in sun.azimuth_deg),
                        elevation_deg=tuple(round(float(e), 3) for e in sun.elevation_deg))
