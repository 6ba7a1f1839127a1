"""A small synthetic District for the traffic tests: a 4 x 4 street grid with a primary corridor that
crosses the district edge at both ends, houses with residents, and a few points of interest."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Polygon

from geodata.build import build_district, grid_for_bbox
from geodata.crs import LocalFrame
from geodata.district import Buildings, DistrictFeatures, LandCover, Pois, Roads, age_bands, empty_points

SIZE_M = 800.0


def grid_roads() -> Roads:
    xs = [100.0, 300.0, 500.0, 700.0]
    nodes = [(x, y) for y in xs for x in xs] + [(0.0, 300.0), (800.0, 300.0)]
    idx = {p: i for i, p in enumerate(nodes)}
    edges, cls = [], []
    for y in xs:
        for a, b in zip(xs[:-1], xs[1:]):
            edges.append((idx[(a, y)], idx[(b, y)]))
            cls.append("primary" if y == 300.0 else "residential")
    for x in xs:
        for a, b in zip(xs[:-1], xs[1:]):
            edges.append((idx[(x, a)], idx[(x, b)]))
            cls.append("residential")
    edges += [(idx[(0.0, 300.0)], idx[(100.0, 300.0)]), (idx[(700.0, 300.0)], idx[(800.0, 300.0)])]
    cls += ["primary", "primary"]
    xy = np.array(nodes, dtype=np.float64)
    a = np.array([e[0] for e in edges], np.int32)
    b = np.array([e[1] for e in edges], np.int32)
    geom = tuple(np.vstack([xy[i], xy[j]]) for i, j in zip(a, b))
    n = len(edges)
    cls_arr = np.array(cls, dtype=object)
    return Roads(
        node_xy_local_m=xy,
        node_source_id=-np.ones(len(nodes), np.int64),
        edge_from=a,
        edge_to=b,
        length_m=np.hypot(*(xy[b] - xy[a]).T),
        road_class=cls_arr,
        lanes=np.full(n, 2, np.int16),
        maxspeed_kmh=np.where(cls_arr == "primary", 50.0, 30.0).astype(np.float32),
        oneway=np.zeros(n, np.int8),
        name=np.array([f"street {i}" for i in range(n)], dtype=object),
        source_id=np.array([f"test:{i}" for i in range(n)], dtype=object),
        geometry=geom,
    )


def houses(rng: np.random.Generator) -> Buildings:
    centres = [
        (x + dx, y + dy)
        for x in (200.0, 400.0, 600.0)
        for y in (200.0, 400.0, 600.0)
        for dx in (-40, 40)
        for dy in (-40, 40)
    ]
    fps = tuple(Polygon([(x - 8, y - 6), (x + 8, y - 6), (x + 8, y + 6), (x - 8, y + 6)]) for x, y in centres)
    n = len(fps)
    nb = len(age_bands())
    by_age = rng.integers(0, 4, (n, nb)).astype(np.int32)
    use = np.array(["residential"] * (n - 4) + ["commercial"] * 4, dtype=object)
    return Buildings(
        building_id=np.arange(n, dtype=np.int64),
        footprints=fps,
        base_m=np.zeros(n, np.float32),
        height_m=np.full(n, 9.0, np.float32),
        eave_height_m=np.full(n, 6.0, np.float32),
        roof_shape=np.array(["flat"] * n, dtype=object),
        use=use,
        storeys=np.full(n, 2, np.int16),
        dwellings=np.full(n, 3, np.int32),
        residents=by_age.sum(axis=1).astype(np.int32),
        residents_by_age=by_age,
        source_id=np.array([f"test:b{i}" for i in range(n)], dtype=object),
        height_source=np.array(["default"] * n, dtype=object),
    )


def small_district(seed: int = 0):
    rng = np.random.default_rng(seed)
    frame = LocalFrame(25832, 700000.0, 5670000.0)
    bbox = (0.0, 0.0, SIZE_M, SIZE_M)
    pois = Pois(
        xy_local_m=np.array([[420.0, 330.0], [220.0, 580.0], [610.0, 210.0]]),
        category=np.array(["supermarket", "school", "doctor"], dtype=object),
        name=np.array(["Markt", "Schule", "Praxis"], dtype=object),
        source_id=np.array(["test:p0", "test:p1", "test:p2"], dtype=object),
    )
    features = DistrictFeatures(
        frame=frame,
        bbox_local_m=bbox,
        buildings=houses(rng),
        roads=grid_roads(),
        trees=empty_points("trees"),
        stops=empty_points("stops"),
        pois=pois,
        landcover=LandCover(polygons=(), surface_code=np.zeros(0, np.uint8), kind=np.zeros(0, dtype=object)),
    )
    grid = grid_for_bbox(bbox, 4.0)
    return build_district(
        features, name="traffic-test", grid=grid, terrain_m=np.zeros(grid.shape, np.float32)
    )
