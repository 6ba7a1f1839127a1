"""Generated grid districts for the access, agent and optimisation tests and benchmarks.

A street grid of ``n × n`` junctions ``spacing_m`` apart (every ``main_every``-th street a 50 km/h main
road, the rest 30 km/h residential streets), four residential buildings per block, points of interest
of every service category at seeded junctions and a few bus stops. Flat terrain.
"""

from __future__ import annotations

import numpy as np
from district_builder import DistrictBuilder
from shapely.geometry import box

from geodata.district import District, age_bands

CATEGORIES = ("doctor", "pharmacy", "supermarket", "school", "kindergarten", "care_home")


def grid_district(
    n: int = 8,
    spacing_m: float = 100.0,
    *,
    residents_per_building: int = 6,
    pois_per_category: int = 2,
    n_stops: int = 3,
    main_every: int = 4,
    cell_m: float = 10.0,
    seed: int = 0,
    name: str = "grid",
) -> District:
    """A District with an n × n street grid, 4 (n-1)^2 buildings and seeded POIs and stops."""
    rng = np.random.default_rng(seed)
    margin = spacing_m / 2
    size = 2 * margin + (n - 1) * spacing_m
    b = DistrictBuilder(size, cell_m=cell_m, lonlat=(11.81, 51.15), terrain_m=150.0, prefix="grid:", first_id=0)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    node_xy = np.stack([margin + jj.ravel() * spacing_m, margin + ii.ravel() * spacing_m], axis=1)
    b.junctions(node_xy)
    for i in range(n):
        for j in range(n):
            v = i * n + j
            for w, main, inside in ((v + 1, i % main_every == 0, j + 1 < n), (v + n, j % main_every == 0, i + 1 < n)):
                if inside:
                    k = b.roads_added
                    b.road(node_xy[v], node_xy[w], "primary" if main else "residential", lanes=2 if main else 1,
                           maxspeed_kmh=50.0 if main else 30.0, name=f"Straße {k}", source_id=f"grid:{k}")
    q = spacing_m / 4
    half = min(spacing_m / 8, 12.0)
    fps = [box(x0 + dx - half, y0 + dy - half, x0 + dx + half, y0 + dy + half)
           for i in range(n - 1) for j in range(n - 1)
           for x0, y0 in [(margin + j * spacing_m, margin + i * spacing_m)]
           for dx, dy in ((q, q), (3 * q, q), (q, 3 * q), (3 * q, 3 * q))]
    residents = rng.integers(max(residents_per_building - 3, 0), residents_per_building + 4, size=len(fps))
    no_ages = np.zeros(len(age_bands()), np.int32)
    for k, (fp, r) in enumerate(zip(fps, residents)):
        b.building(fp, 9.0, eave_height_m=6.0, roof_shape="gabled", dwellings=max(int(r) // 2, 1),
                   residents=int(r), residents_by_age=no_ages, source_id=f"grid:b{k}")
    cats = [c for c in CATEGORIES for _ in range(pois_per_category)]
    pick = rng.choice(n * n, size=len(cats), replace=len(cats) > n * n)
    for k, (c, xy) in enumerate(zip(cats, node_xy[pick] + rng.uniform(-5, 5, size=(len(cats), 2)))):
        b.poi(xy, c, f"{c} {k}")
    spick = rng.choice(n * n, size=n_stops, replace=False) if n_stops else np.zeros(0, int)
    for k, xy in enumerate(node_xy[spick] + 3.0):
        b.stop(xy, f"Halt {k}")
    b.land(box(0.0, 0.0, size, size), "grass", "generated")
    return b.build(name)
