"""Import real open data into a district bundle: OSM (+ DEM, + LoD2 buildings) -> District -> bundle.

``import_district`` validates every input before anything is written, reuses a bundle whose content
hash (input checksums + options + bundle format version) is unchanged, and otherwise writes the
bundle atomically to ``<data_dir>/districts/<name>/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box

from geodata.build import DistrictBuildError, build_district, grid_for_bbox
from geodata.bundle import bundle_dir, bundle_is_current, content_key, read_manifest, write_bundle
from geodata.citymodel import read_citymodel
from geodata.dem import dem_on_grid
from geodata.district import Buildings, District, DistrictFeatures
from geodata.osm import read_osm
from geodata.sources import DataError, check_file, source_info

__all__ = ["ImportResult", "import_district", "bundle_dir", "merge_buildings", "with_residents", "IMPORT_STEPS"]

IMPORT_STEPS = ("osm", "buildings", "terrain", "residents", "district", "bundle")


@dataclass(frozen=True)
class ImportResult:
    path: Path
    reused: bool
    summary: dict


def merge_buildings(osm: Buildings, lod2: Buildings) -> Buildings:
    """LoD2 buildings replace the OSM buildings they cover (>= half of the OSM footprint); ids renumbered."""
    covered = np.zeros(len(osm), dtype=bool)
    if len(lod2) and len(osm):
        tree = shapely.STRtree(list(lod2.footprints))
        for i, fp in enumerate(osm.footprints):
            hit = tree.query(fp)
            if hit.size:
                area = sum(fp.intersection(lod2.footprints[j]).area for j in hit)
                covered[i] = area >= 0.5 * fp.area
    keep = np.nonzero(~covered)[0]

    def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([a[keep], b])

    n = len(keep) + len(lod2)
    return Buildings(
        building_id=np.arange(1, n + 1, dtype=np.int64),
        footprints=tuple(osm.footprints[i] for i in keep) + tuple(lod2.footprints),
        base_m=cat(osm.base_m, lod2.base_m), height_m=cat(osm.height_m, lod2.height_m),
        eave_height_m=cat(osm.eave_height_m, lod2.eave_height_m), roof_shape=cat(osm.roof_shape, lod2.roof_shape),
        use=cat(osm.use, lod2.use), storeys=cat(osm.storeys, lod2.storeys), dwellings=cat(osm.dwellings, lod2.dwellings),
        residents=cat(osm.residents, lod2.residents), residents_by_age=cat(osm.residents_by_age, lod2.residents_by_age),
        source_id=cat(osm.source_id, lod2.source_id), height_source=cat(osm.height_source, lod2.height_source),
    )


def with_residents(b: Buildings, rng: np.random.Generator) -> Buildings:
    """Dwellings and residents by age from ``geodata.population`` (zero when that module is absent)."""
    try:
        from geodata import population
    except ImportError:
        return b
    area = np.array([fp.area for fp in b.footprints], dtype=np.float64)
    dwellings = population.estimate_dwellings(area, b.storeys, b.use)
    residents, by_age = population.assign_residents(area, b.storeys, b.use, rng)
    return replace(b, dwellings=np.asarray(dwellings, np.int32), residents=np.asarray(residents, np.int32),
                   residents_by_age=np.asarray(by_age, np.int32))


def _check_inside(path: str | Path, b: Buildings, bbox: tuple[float, float, float, float]) -> None:
    area = box(*bbox)
    out = [i for i, fp in enumerate(b.footprints) if not area.contains(fp)]
    if out:
        raise DataError(path, f"{len(out)} Gebäude liegen außerhalb des Geländes (z. B. {b.source_id[out[0]]})",
                        f"{len(out)} buildings lie outside the terrain (e.g. {b.source_id[out[0]]})")


def import_district(
    *,
    osm: str | Path,
    name: str,
    data_dir: str | Path,
    dem: str | Path | None = None,
    buildings: str | Path | None = None,
    cell_m: float = 2.0,
    seed: int = 0,
    force: bool = False,
    tiles: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Build and write the bundle of a real district (see the module docstring).

    Raises DataError for any bad input (message names the file and the problem); nothing is written then.
    """
    step = progress or (lambda _s: None)
    root = bundle_dir(data_dir, name)
    if not (0.25 <= float(cell_m) <= 100.0) or not np.isfinite(cell_m):
        raise DataError(None, f"Zellgröße {cell_m} m außerhalb 0.25..100 m", f"cell size {cell_m} m out of 0.25..100 m")
    inputs = [(osm, "osm")] + [(p, k) for p, k in ((dem, "dem"), (buildings, "citymodel")) if p is not None]
    for p, _ in inputs:
        check_file(p)
    srcs = [source_info(p, "citygml" if k == "citymodel" and str(p).lower().endswith((".gml", ".xml")) else
                        ("cityjson" if k == "citymodel" else k)) for p, k in inputs]
    key = content_key({"name": name, "inputs": [(s.kind, s.sha256) for s in srcs], "cell_m": float(cell_m),
                       "seed": int(seed), "tiles": bool(tiles)})
    if not force and bundle_is_current(root, key):
        return ImportResult(root, True, read_manifest(root)["summary"])

    step("osm")
    extract = read_osm(osm)
    feats: DistrictFeatures = extract.features
    step("buildings")
    if buildings is not None:
        city = read_citymodel(buildings, frame=feats.frame)
        _check_inside(buildings, city.buildings, feats.bbox_local_m)
        feats = replace(feats, buildings=merge_buildings(feats.buildings, city.buildings))
    step("terrain")
    grid = grid_for_bbox(feats.bbox_local_m, float(cell_m))
    if dem is not None:
        terrain = dem_on_grid(dem, frame=feats.frame, grid=grid)
        terrain_note = "dem"
    else:
        terrain = np.zeros(grid.shape, dtype=np.float32)
        terrain_note = "flat 0 m (no DEM given)"
    step("residents")
    feats = replace(feats, buildings=with_residents(feats.buildings, np.random.default_rng(seed)),
                    sources=tuple(srcs))
    step("district")
    ex = extract.road_extras
    meta = {
        "terrain": terrain_note, "seed": int(seed), "osm_counts": extract.counts,
        "road_lanes_forward": ex.lanes_forward, "road_lanes_backward": ex.lanes_backward,
        "road_turn_lanes_forward": ex.turn_lanes_forward, "road_turn_lanes_backward": ex.turn_lanes_backward,
        "road_way_id": ex.way_id, "turn_restrictions": ex.restrictions, "turn_restriction_kind": ex.restriction_kind,
    }
    try:
        district: District = build_district(feats, name=name, grid=grid, terrain_m=terrain, meta=meta)
    except DistrictBuildError as exc:
        raise DataError(osm, str(exc), "the district cannot be built") from exc
    if not np.isfinite(district.dsm_m).all():
        raise DataError(osm, "Oberflächenmodell enthält ungültige Höhen", "surface model has non-finite heights")
    step("bundle")
    path = write_bundle(district, root, sources=srcs, content_hash=key, tiles=tiles)
    return ImportResult(path, False, district.summary())
