"""A small synthetic District for heat tests: a street of houses with residents, a paved square,
grass and a pond, on flat ground near Naumburg."""

from __future__ import annotations

import numpy as np
from district_builder import DistrictBuilder
from shapely.geometry import box

from geodata.district import District


def heat_district(size_m: float = 160.0, cell_m: float = 2.0, *, name: str = "heatville") -> District:
    """A size_m x size_m district: two rows of flat-roofed houses (9-15 m) along an east-west street,
    a paved square, grass elsewhere and a small pond."""
    b = DistrictBuilder(size_m, cell_m=cell_m, lonlat=(11.80, 51.15), terrain_m=110.0)
    mid = size_m / 2
    for i, x in enumerate(np.arange(10.0, size_m - 30.0, 24.0)):
        for fp, h in ((box(x, mid + 8, x + 16, mid + 20), 9.0 + 3 * (i % 3)),
                      (box(x, mid - 20, x + 16, mid - 8), 12.0 + 3 * (i % 2))):
            b.building(fp, h, residents=12, storeys=3, dwellings=6)
    b.land(box(0, mid - 5, size_m, mid + 5), "asphalt", "street")
    b.land(box(size_m - 28, mid + 8, size_m - 4, mid + 30), "paving", "square")
    b.land(box(12, 12, 40, 30), "water", "pond")
    return b.build(name)



def town_district(*, size_m: float = 800.0, cell_m: float = 4.0, town_m: float = 240.0, height_m: float = 12.0,
                  sealed: bool = True, storeys: int = 3, name: str = "townlet") -> District:
    """A small town in open grassland: a square of ``town_m`` with 20 x 20 m blocks of flat-roofed
    houses (``height_m``, ``storeys``) on a 30 m grid, their streets and yards paved (``sealed``) or
    grass, in the middle of a ``size_m`` square, so that open land lies more than 300 m from any house."""
    b = DistrictBuilder(size_m, cell_m=cell_m, lonlat=(11.80, 51.15), terrain_m=110.0)
    lo = (size_m - town_m) / 2
    for x in np.arange(lo + 5, lo + town_m - 20, 30.0):
        for y in np.arange(lo + 5, lo + town_m - 20, 30.0):
            b.building(box(x, y, x + 20.0, y + 20.0), height_m, residents=10, storeys=storeys, dwellings=5)
    if sealed:
        b.land(box(lo, lo, lo + town_m, lo + town_m), "paving", "square")
    return b.build(name)
