"""Build the District from vector features and a terrain raster: rasterise land cover, roads, water,
buildings (with roof shapes in the DSM) and tree canopy onto the district grid."""

from __future__ import annotations

import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine

from geodata.district import (
    DRIVABLE_CLASSES,
    ROAD_WIDTH_M,
    SURFACE,
    Buildings,
    District,
    DistrictFeatures,
    GridSpec,
    polyline_buffer,
)

__all__ = ["build_district", "grid_for_bbox", "roof_height_field", "FOREST_CANOPY_M"]

# Default canopy height of forest and wood polygons without tree data (m), typical of
# Central-European mixed stands (BWI 2012 mean stand height of beech/oak ~ 20-25 m; taken low).
FOREST_CANOPY_M = 18.0


class DistrictBuildError(ValueError):
    """Raised when features cannot form a valid district (message names the problem)."""


def grid_for_bbox(bbox_local_m: tuple[float, float, float, float], cell_m: float) -> GridSpec:
    """The grid covering a local bbox (west, south, east, north), snapped outwards to whole cells."""
    w, s, e, n = bbox_local_m
    if not all(np.isfinite(v) for v in bbox_local_m) or e <= w or n <= s:
        raise DistrictBuildError(f"Leeres oder ungültiges Gebiet {bbox_local_m} / empty or invalid area")
    if not (0.25 <= cell_m <= 100.0):
        raise DistrictBuildError(f"Zellgröße {cell_m} m außerhalb 0.25..100 m / cell size out of range")
    cols = int(np.ceil((e - w) / cell_m))
    rows = int(np.ceil((n - s) / cell_m))
    return GridSpec(cell_m=float(cell_m), rows=rows, cols=cols, west_m=float(w), south_m=float(s))


def _burn(shapes: list[tuple[object, int]], grid: GridSpec, out: np.ndarray) -> None:
    if not shapes:
        return
    rasterize(shapes, out=out, transform=Affine(*grid.local_affine()), all_touched=False)


def roof_height_field(
    buildings: Buildings, index: np.ndarray, grid: GridSpec
) -> np.ndarray:
    """Height above ground (m) of the roof surface at every building cell, 0 elsewhere.

    Flat roofs stand at ``height_m``; gabled roofs rise from the eave to the ridge across the short
    side of the footprint's minimum rotated rectangle; hipped and pyramidal roofs slope on all sides.
    """
    out = np.zeros(grid.shape, dtype=np.float32)
    rows, cols = np.nonzero(index >= 0)
    if rows.size == 0:
        return out
    n = len(buildings)
    cx = np.zeros(n)
    cy = np.zeros(n)
    ux = np.ones(n)
    uy = np.zeros(n)
    half_len = np.ones(n)
    half_wid = np.ones(n)
    fps = np.array(buildings.footprints, dtype=object)
    rects = shapely.oriented_envelope(fps)
    cent = shapely.get_coordinates(shapely.centroid(fps))
    cx[:], cy[:] = cent[:, 0], cent[:, 1]
    ok = (shapely.get_type_id(rects) == 3) & (shapely.get_num_coordinates(rects) == 5)
    if ok.any():
        pts = shapely.get_coordinates(rects[ok]).reshape(-1, 5, 2)[:, :4]
        e0 = pts[:, 1] - pts[:, 0]
        e1 = pts[:, 2] - pts[:, 1]
        l0 = np.hypot(e0[:, 0], e0[:, 1])
        l1 = np.hypot(e1[:, 0], e1[:, 1])
        c = pts.mean(axis=1)
        long0 = (l0 >= l1)[:, None]
        axis = np.where(long0, e0, e1) / np.maximum(np.where(long0[:, 0], l0, l1), 1e-9)[:, None]
        cx[ok], cy[ok] = c[:, 0], c[:, 1]
        ux[ok], uy[ok] = axis[:, 0], axis[:, 1]
        half_len[ok] = np.maximum(l0, l1) / 2
        half_wid[ok] = np.minimum(l0, l1) / 2
    b = index[rows, cols]
    x, y = grid.rowcol_to_xy(rows, cols)
    dx, dy = x - cx[b], y - cy[b]
    along = np.abs(dx * ux[b] + dy * uy[b])
    across = np.abs(-dx * uy[b] + dy * ux[b])
    eave = buildings.eave_height_m[b].astype(np.float64)
    ridge = buildings.height_m[b].astype(np.float64)
    rise = np.maximum(ridge - eave, 0.0)
    shape = buildings.roof_shape[b]
    frac_w = np.clip(1.0 - across / np.maximum(half_wid[b], 1e-6), 0.0, 1.0)
    # hipped: the ridge is shortened by the half width at each end
    frac_l = np.clip((half_len[b] - along) / np.maximum(half_wid[b], 1e-6), 0.0, 1.0)
    h = ridge.copy()
    gabled = (shape == "gabled") | (shape == "saltbox") | (shape == "gambrel")
    hipped = (shape == "hipped") | (shape == "half-hipped") | (shape == "mansard")
    pyramid = shape == "pyramidal"
    h[gabled] = eave[gabled] + rise[gabled] * frac_w[gabled]
    h[hipped] = eave[hipped] + rise[hipped] * np.minimum(frac_w[hipped], frac_l[hipped])
    frac_p = np.minimum(frac_w, np.clip(1.0 - along / np.maximum(half_len[b], 1e-6), 0.0, 1.0))
    h[pyramid] = eave[pyramid] + rise[pyramid] * frac_p[pyramid]
    out[rows, cols] = h.astype(np.float32)
    return out


def build_district(
    features: DistrictFeatures,
    *,
    name: str,
    grid: GridSpec,
    terrain_m: np.ndarray,
    meta: dict | None = None,
) -> District:
    """Rasterise ``features`` onto ``grid`` above ``terrain_m`` and return the District.

    Parameters
    ----------
    features : vector features in the local frame.
    grid : the district grid (local frame, north-up).
    terrain_m : (rows, cols) float terrain elevation, m a.s.l., on ``grid``; must be finite.
    """
    terrain = np.asarray(terrain_m, dtype=np.float32)
    if terrain.shape != grid.shape:
        raise DistrictBuildError(f"Geländeraster {terrain.shape} passt nicht zum Gitter {grid.shape}")
    if not np.isfinite(terrain).all():
        raise DistrictBuildError("Geländeraster enthält ungültige Werte (NaN/Inf) / terrain has non-finite values")
    b = features.buildings
    for arr, label in ((b.height_m, "height_m"), (b.eave_height_m, "eave_height_m")):
        if arr.size and (not np.isfinite(arr).all() or (arr <= 0).any()):
            bad = int(np.nonzero(~np.isfinite(arr) | (arr <= 0))[0][0])
            raise DistrictBuildError(
                f"Gebäude {b.source_id[bad]}: ungültige Höhe {label}={arr[bad]} / non-finite or non-positive height"
            )

    surface = np.full(grid.shape, SURFACE["grass"], dtype=np.uint8)
    lc = features.landcover
    _burn([(p, int(c)) for p, c in zip(lc.polygons, lc.surface_code) if not p.is_empty], grid, surface)
    water = [
        (polyline_buffer(line, w), SURFACE["water"])
        for line, w in zip(features.water_lines, features.water_line_width_m)
        if len(line) >= 2
    ]
    _burn(water, grid, surface)
    _burn(
        [(polyline_buffer(r, ROAD_WIDTH_M["rail"]), SURFACE["gravel"]) for r in features.railways if len(r) >= 2],
        grid,
        surface,
    )
    roads = features.roads
    road_shapes = []
    for geom, cls in zip(roads.geometry, roads.road_class):
        if len(geom) < 2 or cls == "rail":
            continue
        code = SURFACE["asphalt"] if cls in DRIVABLE_CLASSES else SURFACE["paving"]
        road_shapes.append((polyline_buffer(geom, ROAD_WIDTH_M.get(str(cls), 4.0)), code))
    _burn(road_shapes, grid, surface)

    index = np.full(grid.shape, -1, dtype=np.int32)
    _burn([(fp, i) for i, fp in enumerate(b.footprints) if not fp.is_empty], grid, index)
    surface[index >= 0] = SURFACE["roof"]

    # Base of each building: the lowest terrain cell under its footprint (no floating corners).
    base = np.asarray(b.base_m, dtype=np.float32).copy() if len(b) else np.zeros(0, np.float32)
    if len(b):
        flat_idx = index.ravel()
        sel = flat_idx >= 0
        mins = np.full(len(b), np.inf, dtype=np.float32)
        np.minimum.at(mins, flat_idx[sel], terrain.ravel()[sel])
        missing = ~np.isfinite(mins)
        if missing.any():  # footprints smaller than a cell: terrain at the centroid
            cents = np.array([[fp.centroid.x, fp.centroid.y] for fp in b.footprints])
            r, c = grid.xy_to_rowcol(cents[:, 0], cents[:, 1])
            r = np.clip(r, 0, grid.rows - 1)
            c = np.clip(c, 0, grid.cols - 1)
            mins[missing] = terrain[r[missing], c[missing]]
        base = mins
    buildings = Buildings(
        building_id=b.building_id,
        footprints=b.footprints,
        base_m=base.astype(np.float32),
        height_m=b.height_m.astype(np.float32),
        eave_height_m=b.eave_height_m.astype(np.float32),
        roof_shape=b.roof_shape,
        use=b.use,
        storeys=b.storeys,
        dwellings=b.dwellings,
        residents=b.residents,
        residents_by_age=b.residents_by_age,
        source_id=b.source_id,
        height_source=b.height_source,
    )
    roof = roof_height_field(buildings, index, grid)
    dsm = terrain.copy()
    has = index >= 0
    dsm[has] = base[index[has]] + roof[has]

    canopy = np.zeros(grid.shape, dtype=np.float32)
    forest = (surface == SURFACE["forest"])
    canopy[forest] = FOREST_CANOPY_M
    t = features.trees
    if t.xy_local_m.shape[0]:
        xs, ys = grid.cell_centres_local_m()
        for (tx, ty), h, d in zip(t.xy_local_m, t.height_m, t.crown_diameter_m):
            r = max(float(d) / 2.0, grid.cell_m / 2.0)
            c0 = int(np.searchsorted(xs, tx - r - grid.cell_m))
            c1 = int(np.searchsorted(xs, tx + r + grid.cell_m))
            # ys is descending
            r0 = int(np.searchsorted(-ys, -(ty + r + grid.cell_m)))
            r1 = int(np.searchsorted(-ys, -(ty - r - grid.cell_m)))
            if c1 <= 0 or r1 <= 0 or c0 >= grid.cols or r0 >= grid.rows:
                continue
            sub_x = xs[c0:c1][None, :]
            sub_y = ys[r0:r1][:, None]
            inside = (sub_x - tx) ** 2 + (sub_y - ty) ** 2 <= r * r
            win = canopy[r0:r1, c0:c1]
            np.maximum(win, np.where(inside, np.float32(h), 0), out=win)
    canopy[has] = 0.0

    return District(
        name=name,
        frame=features.frame,
        grid=grid,
        terrain_m=terrain,
        dsm_m=dsm.astype(np.float32),
        canopy_m=canopy,
        surface_class=surface,
        building_index=index,
        buildings=buildings,
        roads=roads,
        trees=features.trees,
        stops=features.stops,
        pois=features.pois,
        landcover=features.landcover,
        water_lines=features.water_lines,
        water_line_width_m=features.water_line_width_m,
        railways=features.railways,
        sources=features.sources,
        meta=dict(meta or {}),
    )
