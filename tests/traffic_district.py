"""A small synthetic District for the traffic tests: a 4 x 4 street grid with a primary corridor that
crosses the district edge at both ends, houses with residents, and a few points of interest."""

from __future__ import annotations

import numpy as np
from district_builder import DistrictBuilder
from shapely.geometry import Polygon

from geodata.crs import LocalFrame
from geodata.district import age_bands

SIZE_M = 800.0


def small_district(seed: int = 0):
    rng = np.random.default_rng(seed)
    b = DistrictBuilder(SIZE_M, cell_m=4.0, frame=LocalFrame(25832, 700000.0, 5670000.0), first_id=0)
    xs = [100.0, 300.0, 500.0, 700.0]
    b.junctions([(x, y) for y in xs for x in xs] + [(0.0, 300.0), (800.0, 300.0)])
    edges = [((a, y), (z, y), "primary" if y == 300.0 else "residential") for y in xs for a, z in zip(xs[:-1], xs[1:])]
    edges += [((x, a), (x, z), "residential") for x in xs for a, z in zip(xs[:-1], xs[1:])]
    edges += [((0.0, 300.0), (100.0, 300.0), "primary"), ((700.0, 300.0), (800.0, 300.0), "primary")]
    for k, (a, z, cls) in enumerate(edges):
        b.road(a, z, cls, lanes=2, maxspeed_kmh=50.0 if cls == "primary" else 30.0, name=f"street {k}",
               source_id=f"test:{k}")
    centres = [(x + dx, y + dy) for x in (200.0, 400.0, 600.0) for y in (200.0, 400.0, 600.0)
               for dx in (-40, 40) for dy in (-40, 40)]
    by_age = rng.integers(0, 4, (len(centres), len(age_bands()))).astype(np.int32)
    for k, (x, y) in enumerate(centres):
        b.building(Polygon([(x - 8, y - 6), (x + 8, y - 6), (x + 8, y + 6), (x - 8, y + 6)]), 9.0,
                   eave_height_m=6.0, use="commercial" if k >= len(centres) - 4 else "residential", dwellings=3,
                   residents=int(by_age[k].sum()), residents_by_age=by_age[k], height_source="default",
                   source_id=f"test:b{k}")
    for xy, cat, name in (((420.0, 330.0), "supermarket", "Markt"), ((220.0, 580.0), "school", "Schule"),
                          ((610.0, 210.0), "doctor", "Praxis")):
        b.poi(xy, cat, name)
    return b.build("traffic-test")
