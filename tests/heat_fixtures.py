"""A small synthetic District for heat tests: a street of houses with residents, a paved square,
grass and a pond, on flat ground near Naumburg."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Polygon, box

from geodata.build import build_district, grid_for_bbox
from geodata.crs import LocalFrame
from geodata.district import (
    SURFACE,
    Buildings,
    District,
    DistrictFeatures,
    LandCover,
    Roads,
    age_bands,
    empty_points,
)


def heat_district(size_m: float = 160.0, cell_m: float = 2.0, *, name: str = "heatville") -> District:
    """A size_m x size_m district: two rows of flat-roofed houses (9-15 m) along an east-west street,
    a paved square, grass elsewhere and a small pond."""
    frame = LocalFrame.for_lonlat(11.80, 51.15)
    bbox = (0.0, 0.0, size_m, size_m)
    foot: list[Polygon] = []
    heights: list[float] = []
    mid = size_m / 2
    for i, x in enumerate(np.arange(10.0, size_m - 30.0, 24.0)):
        foot.append(box(x, mid + 8, x + 16, mid + 20))
        foot.append(box(x, mid - 20, x + 16, mid - 8))
        heights += [9.0 + 3 * (i % 3), 12.0 + 3 * (i % 2)]
    n = len(foot)
    n_age = len(age_bands())
    residents = np.full(n, 12, np.int32)
    by_age = np.zeros((n, n_age), np.int32)
    by_age[:, 5] = 12
    zo = np.zeros(n, dtype=object)
    buildings = Buildings(
        building_id=np.arange(1, n + 1, dtype=np.int64), footprints=tuple(foot), base_m=np.zeros(n, np.float32),
        height_m=np.array(heights, np.float32), eave_height_m=np.array(heights, np.float32),
        roof_shape=np.array(["flat"] * n, dtype=object), use=np.array(["residential"] * n, dtype=object),
        storeys=np.full(n, 3, np.int16), dwellings=np.full(n, 6, np.int32), residents=residents,
        residents_by_age=by_age, source_id=np.array([f"test:{i}" for i in range(n)], dtype=object),
        height_source=np.array(["sample"] * n, dtype=object),
    )
    street = box(0, mid - 5, size_m, mid + 5)
    square = box(size_m - 28, mid + 8, size_m - 4, mid + 30)
    pond = box(12, 12, 40, 30)
    landcover = LandCover(
        polygons=(street, square, pond),
        surface_code=np.array([SURFACE["asphalt"], SURFACE["paving"], SURFACE["water"]], np.uint8),
        kind=np.array(["street", "square", "pond"], dtype=object),
    )
    z2 = np.zeros((0, 2))
    roads = Roads(z2, np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0),
                  np.zeros(0, dtype=object), np.zeros(0, np.int16), np.zeros(0, np.float32), np.zeros(0, np.int8),
                  np.zeros(0, dtype=object), np.zeros(0, dtype=object), ())
    features = DistrictFeatures(
        frame=frame, bbox_local_m=bbox, buildings=buildings, roads=roads, trees=empty_points("trees"),
        stops=empty_points("stops"), pois=empty_points("pois"), landcover=landcover,
    )
    grid = grid_for_bbox(bbox, cell_m)
    del zo
    return build_district(features, name=name, grid=grid, terrain_m=np.full(grid.shape, 110.0, np.float32))
