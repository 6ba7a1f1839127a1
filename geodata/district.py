"""The District: landtwin's immutable model of terrain, buildings, land cover, roads, stops and people.

Conventions (see README "Conventions"):
- local frame: metres east/north/up from the district origin (``frame``), +Z up;
- rasters are (row, col), row 0 at the north edge, cell centres at ``grid.cell_centres_local_m()``;
- bbox order is (west, south, east, north);
- heights: ``terrain_m`` and ``dsm_m`` in metres above sea level, ``height_m`` of buildings and
  ``canopy_m`` in metres above ground.

A District is built once (``build_district``) from vector features that readers (OSM, CityJSON, the
sample generator, ...) produce in the local frame, and it is never mutated afterwards: scenarios are a
District plus an ordered list of interventions (``geodata.interventions``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from geodata.crs import LocalFrame
from geodata.frozen import read_only

__all__ = [
    "GridSpec",
    "Buildings",
    "Roads",
    "Trees",
    "Stops",
    "Pois",
    "LandCover",
    "SourceInfo",
    "District",
    "DistrictFeatures",
    "SURFACE",
    "surface_table",
    "age_bands",
    "DRIVABLE_CLASSES",
    "ROAD_WIDTH_M",
]


# Surface classes: the codes of assets/surface_classes.csv, by name.
SURFACE: dict[str, int] = {
    "asphalt": 0,
    "paving": 1,
    "roof": 2,
    "grass": 3,
    "field": 4,
    "forest": 5,
    "water": 6,
    "bare_soil": 7,
    "gravel": 8,
    "green_roof": 9,
    "cool_surface": 10,
    "garden": 11,
}

# Road classes that carry motor traffic (OSM highway=*).
DRIVABLE_CLASSES = frozenset(
    {
        "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
        "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "living_street",
        "service", "road",
    }
)

# Carriageway width by class, metres, for draping and rasterising roads (RASt 06 typical cross-sections).
ROAD_WIDTH_M: dict[str, float] = {
    "motorway": 28.0, "trunk": 20.0, "primary": 12.0, "secondary": 10.0, "tertiary": 8.5,
    "unclassified": 6.0, "residential": 6.5, "living_street": 5.0, "service": 4.0, "road": 6.0,
    "pedestrian": 6.0, "footway": 2.5, "cycleway": 2.5, "path": 2.0, "track": 3.0, "steps": 2.0,
    "rail": 5.0,
}


@lru_cache(maxsize=1)
def surface_table() -> dict[str, np.ndarray]:
    """The surface-class parameter table of ``assets/surface_classes.csv`` as arrays indexed by code.

    Returns a dict of column name -> array (float64 for numbers, object for text), each of length
    ``max(code) + 1``.
    """
    text = resources.files("assets").joinpath("surface_classes.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    n = max(int(r["code"]) for r in rows) + 1
    out: dict[str, np.ndarray] = {}
    for col in rows[0]:
        if col in ("name", "name_de", "source"):
            arr = np.empty(n, dtype=object)
        else:
            arr = np.zeros(n, dtype=np.float64)
        for r in rows:
            arr[int(r["code"])] = r[col] if arr.dtype == object else float(r[col])
        out[col] = arr
    return out


@lru_cache(maxsize=1)
def age_bands() -> tuple[tuple[int, int], ...]:
    """Age bands [lo, hi) in years of the residents_by_age columns (the 17 Destatis 12411-0017 groups)."""
    import json

    data = json.loads(resources.files("assets").joinpath("demography_burgenlandkreis_2019.json").read_text())
    return tuple((int(a), int(b)) for a, b in data["age_bands"])


@dataclass(frozen=True)
class GridSpec:
    """A north-up raster in the local frame.

    The raster covers ``west_m .. west_m + cols*cell_m`` and ``south_m .. south_m + rows*cell_m``.
    Row 0 is the northernmost row.
    """

    cell_m: float
    rows: int
    cols: int
    west_m: float = 0.0
    south_m: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def bbox_local_m(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in local metres."""
        return (
            self.west_m,
            self.south_m,
            self.west_m + self.cols * self.cell_m,
            self.south_m + self.rows * self.cell_m,
        )

    def cell_centres_local_m(self) -> tuple[np.ndarray, np.ndarray]:
        """x (cols,) and y (rows,) of cell centres; y decreases with the row index."""
        x = self.west_m + (np.arange(self.cols) + 0.5) * self.cell_m
        y = self.south_m + (self.rows - np.arange(self.rows) - 0.5) * self.cell_m
        return x, y

    def xy_to_rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column (int64, possibly outside the grid) of local points."""
        west, _, _, north = self.bbox_local_m
        col = np.floor((np.asarray(x, float) - west) / self.cell_m).astype(np.int64)
        row = np.floor((north - np.asarray(y, float)) / self.cell_m).astype(np.int64)
        return row, col

    def rowcol_to_xy(self, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local x, y of the centres of the given cells."""
        west, _, _, north = self.bbox_local_m
        return (
            west + (np.asarray(col, float) + 0.5) * self.cell_m,
            north - (np.asarray(row, float) + 0.5) * self.cell_m,
        )

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        w, s, e, n = self.bbox_local_m
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        return (x >= w) & (x <= e) & (y >= s) & (y <= n)

    def affine_utm(self, frame: LocalFrame) -> tuple[float, float, float, float, float, float]:
        """GDAL geotransform coefficients (a, b, c, d, e, f) of this grid in the frame's UTM CRS,
        in rasterio ``Affine(a, b, c, d, e, f)`` order."""
        west, _, _, north = self.bbox_local_m
        return (self.cell_m, 0.0, frame.origin_e_m + west, 0.0, -self.cell_m, frame.origin_n_m + north)

    def local_affine(self) -> tuple[float, float, float, float, float, float]:
        """rasterio Affine coefficients mapping (col, row) to local metres."""
        west, _, _, north = self.bbox_local_m
        return (self.cell_m, 0.0, west, 0.0, -self.cell_m, north)


@dataclass(frozen=True)
class Buildings:
    """Building table, N rows. Footprints are shapely Polygons in local metres."""

    building_id: np.ndarray  # (N,) int64, stable within the district
    footprints: tuple[Polygon, ...]
    base_m: np.ndarray  # (N,) float32, terrain elevation at the footprint (m a.s.l.)
    height_m: np.ndarray  # (N,) float32, ridge / top height above ground
    eave_height_m: np.ndarray  # (N,) float32, eave (wall top) height above ground
    roof_shape: np.ndarray  # (N,) object: flat, gabled, hipped, pyramidal, ...
    use: np.ndarray  # (N,) object: residential, commercial, industrial, public, church, garage, other
    storeys: np.ndarray  # (N,) int16
    dwellings: np.ndarray  # (N,) int32
    residents: np.ndarray  # (N,) int32
    residents_by_age: np.ndarray  # (N, len(age_bands())) int32; rows sum to residents
    source_id: np.ndarray  # (N,) object, e.g. "osm:way/123", "sample:17"
    height_source: np.ndarray  # (N,) object: height, levels, default, lod2, sample

    def __len__(self) -> int:
        return int(self.building_id.shape[0])

    def index_of(self, building_id: int) -> int:
        hits = np.nonzero(self.building_id == building_id)[0]
        if hits.size == 0:
            raise KeyError(building_id)
        return int(hits[0])


@dataclass(frozen=True)
class Roads:
    """Road graph: nodes and undirected edges (segments between junctions), L edges.

    ``oneway`` = 1 means traffic only from ``edge_from`` to ``edge_to``, -1 only the reverse, 0 both.
    Edges share a node exactly where the source data shares a node (OSM node id) or a coordinate.
    """

    node_xy_local_m: np.ndarray  # (M, 2) float64
    node_source_id: np.ndarray  # (M,) int64 (OSM node id, or -1)
    edge_from: np.ndarray  # (L,) int32
    edge_to: np.ndarray  # (L,) int32
    length_m: np.ndarray  # (L,) float64
    road_class: np.ndarray  # (L,) object: OSM highway value or "rail"
    lanes: np.ndarray  # (L,) int16, total lanes of the carriageway
    maxspeed_kmh: np.ndarray  # (L,) float32
    oneway: np.ndarray  # (L,) int8
    name: np.ndarray  # (L,) object
    source_id: np.ndarray  # (L,) object: "osm:way/123"
    geometry: tuple[np.ndarray, ...]  # L polylines (k, 2) local metres, from edge_from to edge_to

    def __len__(self) -> int:
        return int(self.edge_from.shape[0])

    @property
    def drivable(self) -> np.ndarray:
        return np.array([c in DRIVABLE_CLASSES for c in self.road_class], dtype=bool)


@dataclass(frozen=True)
class Trees:
    xy_local_m: np.ndarray  # (T, 2)
    height_m: np.ndarray  # (T,) float32
    crown_diameter_m: np.ndarray  # (T,) float32
    species: np.ndarray  # (T,) object
    source_id: np.ndarray  # (T,) object


@dataclass(frozen=True)
class Stops:
    xy_local_m: np.ndarray  # (S, 2)
    name: np.ndarray  # (S,) object
    mode: np.ndarray  # (S,) object: bus, tram, rail
    source_id: np.ndarray  # (S,) object


@dataclass(frozen=True)
class Pois:
    """Points of interest that matter to social planning."""

    xy_local_m: np.ndarray  # (P, 2)
    category: np.ndarray  # (P,) object: doctor, pharmacy, school, kindergarten, supermarket, care_home, ...
    name: np.ndarray  # (P,) object
    source_id: np.ndarray  # (P,) object


@dataclass(frozen=True)
class LandCover:
    """Land cover polygons (local metres) with their surface class code; later entries paint over earlier."""

    polygons: tuple[Polygon, ...]
    surface_code: np.ndarray  # (K,) uint8, see SURFACE
    kind: np.ndarray  # (K,) object: the source tag, e.g. "landuse=allotments"


@dataclass(frozen=True)
class SourceInfo:
    path: str
    sha256: str
    kind: str  # osm, dem, cityjson, citygml, geojson, sample
    licence: str


@dataclass(frozen=True)
class DistrictFeatures:
    """Vector input of ``build_district``, everything in the local frame of ``frame``."""

    frame: LocalFrame
    bbox_local_m: tuple[float, float, float, float]
    buildings: Buildings
    roads: Roads
    trees: Trees
    stops: Stops
    pois: Pois
    landcover: LandCover
    water_lines: tuple[np.ndarray, ...] = ()  # river centre lines (k, 2) with ...
    water_line_width_m: tuple[float, ...] = ()
    railways: tuple[np.ndarray, ...] = ()
    sources: tuple[SourceInfo, ...] = ()


@dataclass(frozen=True)
class District:
    """The immutable district model. See the module docstring for frames and units."""

    name: str
    frame: LocalFrame
    grid: GridSpec
    terrain_m: np.ndarray  # (rows, cols) float32, m a.s.l.
    dsm_m: np.ndarray  # (rows, cols) float32, terrain + buildings, m a.s.l.
    canopy_m: np.ndarray  # (rows, cols) float32, canopy top above ground (0: none)
    surface_class: np.ndarray  # (rows, cols) uint8
    building_index: np.ndarray  # (rows, cols) int32: index into ``buildings`` or -1
    buildings: Buildings
    roads: Roads
    trees: Trees
    stops: Stops
    pois: Pois
    landcover: LandCover
    water_lines: tuple[np.ndarray, ...] = ()
    water_line_width_m: tuple[float, ...] = ()
    railways: tuple[np.ndarray, ...] = ()
    sources: tuple[SourceInfo, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        read_only(self)  # its arrays too: code that needs a changed raster copies it first

    @property
    def residents_total(self) -> int:
        return int(self.buildings.residents.sum())

    def summary(self) -> dict[str, Any]:
        """Small JSON-able summary (for ``twin info`` and golden files)."""
        lon, lat = self.frame.local_to_lonlat(
            np.array([self.grid.west_m + self.grid.cols * self.grid.cell_m / 2]),
            np.array([self.grid.south_m + self.grid.rows * self.grid.cell_m / 2]),
        )
        drv = self.roads.drivable
        return {
            "name": self.name,
            "epsg": self.frame.epsg,
            "centre_lonlat": [round(float(lon[0]), 5), round(float(lat[0]), 5)],
            "bbox_local_m": [round(v, 2) for v in self.grid.bbox_local_m],
            "cell_m": self.grid.cell_m,
            "grid_shape": list(self.grid.shape),
            "buildings": len(self.buildings),
            "residents": self.residents_total,
            "road_edges": len(self.roads),
            "drivable_km": round(float(self.roads.length_m[drv].sum()) / 1000.0, 3),
            "trees": int(self.trees.xy_local_m.shape[0]),
            "stops": int(self.stops.xy_local_m.shape[0]),
            "pois": int(self.pois.xy_local_m.shape[0]),
            "terrain_min_max_m": [round(float(self.terrain_m.min()), 2), round(float(self.terrain_m.max()), 2)],
        }


def empty_points(kind: str) -> Any:
    """An empty Trees/Stops/Pois table."""
    z2 = np.zeros((0, 2))
    zo = np.zeros(0, dtype=object)
    if kind == "trees":
        return Trees(z2, np.zeros(0, np.float32), np.zeros(0, np.float32), zo, zo)
    if kind == "stops":
        return Stops(z2, zo, zo, zo)
    if kind == "pois":
        return Pois(z2, zo, zo, zo)
    raise ValueError(kind)


def polyline_buffer(line: np.ndarray, width_m: float) -> Polygon:
    """Flat-capped buffer polygon of a (k, 2) polyline."""
    return LineString(line).buffer(width_m / 2.0, cap_style="flat", join_style="round")


__all__ += ["empty_points", "polyline_buffer", "shapely"]
