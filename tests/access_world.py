"""Generated grid districts for the access, agent and optimisation tests and benchmarks.

A street grid of ``n × n`` junctions ``spacing_m`` apart (every ``main_every``-th street a 50 km/h main
road, the rest 30 km/h residential streets), four residential buildings per block, points of interest
of every service category at seeded junctions and a few bus stops. Flat terrain.
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import box

from geodata.build import build_district, grid_for_bbox
from geodata.crs import LocalFrame
from geodata.district import (
    SURFACE,
    Buildings,
    District,
    DistrictFeatures,
    LandCover,
    Pois,
    Roads,
    Stops,
    age_bands,
    empty_points,
)

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
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    node_xy = np.stack([margin + jj.ravel() * spacing_m, margin + ii.ravel() * spacing_m], axis=1)
    frm, to, cls = [], [], []
    for i in range(n):
        for j in range(n):
            v = i * n + j
            if j + 1 < n:
                frm.append(v)
                to.append(v + 1)
                cls.append("primary" if i % main_every == 0 else "residential")
            if i + 1 < n:
                frm.append(v)
                to.append(v + n)
                cls.append("primary" if j % main_every == 0 else "residential")
    frm_a = np.asarray(frm, np.int32)
    to_a = np.asarray(to, np.int32)
    ne = frm_a.size
    cls_a = np.asarray(cls, dtype=object)
    roads = Roads(
        node_xy_local_m=node_xy.astype(np.float64),
        node_source_id=np.full(n * n, -1, np.int64),
        edge_from=frm_a,
        edge_to=to_a,
        length_m=np.full(ne, spacing_m),
        road_class=cls_a,
        lanes=np.where(cls_a == "primary", 2, 1).astype(np.int16),
        maxspeed_kmh=np.where(cls_a == "primary", 50.0, 30.0).astype(np.float32),
        oneway=np.zeros(ne, np.int8),
        name=np.array([f"Straße {k}" for k in range(ne)], dtype=object),
        source_id=np.array([f"grid:{k}" for k in range(ne)], dtype=object),
        geometry=tuple(np.stack([node_xy[a], node_xy[b]]) for a, b in zip(frm_a, to_a)),
    )
    fps = []
    q = spacing_m / 4
    half = min(spacing_m / 8, 12.0)
    for i in range(n - 1):
        for j in range(n - 1):
            x0 = margin + j * spacing_m
            y0 = margin + i * spacing_m
            for dx, dy in ((q, q), (3 * q, q), (q, 3 * q), (3 * q, 3 * q)):
                fps.append(box(x0 + dx - half, y0 + dy - half, x0 + dx + half, y0 + dy + half))
    nb = len(fps)
    residents = rng.integers(max(residents_per_building - 3, 0), residents_per_building + 4, size=nb).astype(np.int32)
    b = Buildings(
        building_id=np.arange(nb, dtype=np.int64),
        footprints=tuple(fps),
        base_m=np.zeros(nb, np.float32),
        height_m=np.full(nb, 9.0, np.float32),
        eave_height_m=np.full(nb, 6.0, np.float32),
        roof_shape=np.full(nb, "gabled", dtype=object),
        use=np.full(nb, "residential", dtype=object),
        storeys=np.full(nb, 2, np.int16),
        dwellings=np.maximum(residents // 2, 1).astype(np.int32),
        residents=residents,
        residents_by_age=np.zeros((nb, len(age_bands())), np.int32),
        source_id=np.array([f"grid:b{k}" for k in range(nb)], dtype=object),
        height_source=np.full(nb, "sample", dtype=object),
    )
    cats = [c for c in CATEGORIES for _ in range(pois_per_category)]
    pick = rng.choice(n * n, size=len(cats), replace=len(cats) > n * n)
    pois = Pois(
        xy_local_m=node_xy[pick] + rng.uniform(-5, 5, size=(len(cats), 2)),
        category=np.asarray(cats, dtype=object),
        name=np.array([f"{c} {k}" for k, c in enumerate(cats)], dtype=object),
        source_id=np.array([f"grid:p{k}" for k in range(len(cats))], dtype=object),
    )
    spick = rng.choice(n * n, size=n_stops, replace=False) if n_stops else np.zeros(0, int)
    stops = Stops(
        xy_local_m=node_xy[spick] + 3.0,
        name=np.array([f"Halt {k}" for k in range(n_stops)], dtype=object),
        mode=np.full(n_stops, "bus", dtype=object),
        source_id=np.array([f"grid:s{k}" for k in range(n_stops)], dtype=object),
    )
    size = 2 * margin + (n - 1) * spacing_m
    bbox = (0.0, 0.0, size, size)
    feats = DistrictFeatures(
        frame=LocalFrame.for_lonlat(11.81, 51.15),
        bbox_local_m=bbox,
        buildings=b,
        roads=roads,
        trees=empty_points("trees"),
        stops=stops,
        pois=pois,
        landcover=LandCover((box(*bbox),), np.array([SURFACE["grass"]], np.uint8), np.array(["generated"], dtype=object)),
    )
    grid = grid_for_bbox(bbox, cell_m)
    return build_district(feats, name=name, grid=grid, terrain_m=np.full(grid.shape, 150.0, np.float32))
