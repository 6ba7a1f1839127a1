"""A small builder of synthetic Districts for tests: add junctions, roads, buildings, stops, points of
interest and land cover one at a time, then ``build()`` runs the real District builder
(``geodata.build.build_district``) on flat terrain.

    b = DistrictBuilder(200.0, cell_m=4.0, lonlat=(11.81, 51.155), terrain_m=150.0)
    b.road((0, 100), (100, 100), "residential", name="Hauptstraße")
    b.building(box(20, 20, 60, 60), 12.0, residents=20)
    district = b.build("tiny")

Every column gets the dtype the District uses; ids run from ``first_id`` in the order things are added.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    Pois,
    Roads,
    Stops,
    age_bands,
    empty_points,
)

__all__ = ["DistrictBuilder", "SURFACE"]

XY = Sequence[float]


class DistrictBuilder:
    """Collects the features of a ``size_m`` x ``size_m`` district (local frame, origin at the south-west)."""

    def __init__(self, size_m: float, *, cell_m: float, lonlat: tuple[float, float] | None = None,
                 frame: LocalFrame | None = None, terrain_m: float = 0.0, prefix: str = "test:",
                 first_id: int = 1) -> None:
        if (lonlat is None) == (frame is None):
            raise ValueError("give lonlat or frame")
        self.size_m, self.cell_m, self.terrain_m = float(size_m), float(cell_m), float(terrain_m)
        self.frame = frame if frame is not None else LocalFrame.for_lonlat(*lonlat)  # type: ignore[misc]
        self.prefix, self.first_id = prefix, first_id
        self._nodes: dict[tuple[float, float], int] = {}
        self._edges: list[tuple[int, int, str, int, float, int, str, str]] = []
        self._buildings: list[dict] = []
        self._stops: list[tuple[XY, str, str, str]] = []
        self._pois: list[tuple[XY, str, str, str]] = []
        self._land: list[tuple[Polygon, int, str]] = []

    # ---- roads -----------------------------------------------------------------------------------
    def junctions(self, xy: Sequence[XY]) -> None:
        """Declare junctions in this order (roads added later find them by position)."""
        for p in xy:
            self._node(p)

    def _node(self, p: XY) -> int:
        key = (float(p[0]), float(p[1]))
        return self._nodes.setdefault(key, len(self._nodes))

    def road(self, a: XY, b: XY, road_class: str = "residential", *, lanes: int = 2, maxspeed_kmh: float = 50.0,
             oneway: int = 0, name: str = "", source_id: str | None = None) -> int:
        """A straight road edge from ``a`` to ``b`` (junctions created where none is); its index."""
        k = len(self._edges)
        self._edges.append((self._node(a), self._node(b), road_class, lanes, float(maxspeed_kmh), oneway, name,
                            source_id if source_id is not None else f"{self.prefix}road{k}"))
        return k

    @property
    def roads_added(self) -> int:
        return len(self._edges)

    # ---- buildings, stops, points of interest, land cover -------------------------------------------
    def building(self, footprint: Polygon, height_m: float, *, residents: int = 0,
                 residents_by_age: Sequence[int] | None = None, eave_height_m: float | None = None,
                 base_m: float = 0.0, roof_shape: str = "flat", use: str = "residential", storeys: int = 2,
                 dwellings: int = 0, height_source: str = "sample", source_id: str | None = None) -> int:
        """A building; ``residents_by_age`` defaults to all residents in one working-age band."""
        k = len(self._buildings)
        if residents_by_age is None:
            by_age = np.zeros(len(age_bands()), np.int32)
            by_age[5] = residents
        else:
            by_age = np.asarray(residents_by_age, np.int32)
        self._buildings.append(dict(
            footprint=footprint, height=height_m, eave=height_m if eave_height_m is None else eave_height_m,
            base=base_m, roof=roof_shape, use=use, storeys=storeys, dwellings=dwellings, residents=residents,
            by_age=by_age, height_source=height_source,
            source_id=source_id if source_id is not None else f"{self.prefix}{k}"))
        return k

    def block(self, x0: float, y0: float, x1: float, y1: float, height_m: float, **kw) -> int:
        return self.building(box(x0, y0, x1, y1), height_m, **kw)

    def stop(self, xy: XY, name: str, mode: str = "bus", *, source_id: str | None = None) -> int:
        k = len(self._stops)
        self._stops.append((xy, name, mode, source_id if source_id is not None else f"{self.prefix}s{k}"))
        return k

    def poi(self, xy: XY, category: str, name: str = "", *, source_id: str | None = None) -> int:
        k = len(self._pois)
        self._pois.append((xy, category, name or category, source_id if source_id is not None else f"{self.prefix}p{k}"))
        return k

    def land(self, polygon: Polygon, surface: str, kind: str = "test") -> None:
        """A land-cover polygon of surface class ``surface`` (a key of SURFACE)."""
        self._land.append((polygon, SURFACE[surface], kind))

    # ---- the District ----------------------------------------------------------------------------
    def roads(self) -> Roads:
        xy = np.array(list(self._nodes), np.float64).reshape(-1, 2)
        e = self._edges
        frm = np.array([r[0] for r in e], np.int32)
        to = np.array([r[1] for r in e], np.int32)
        cls = np.array([r[2] for r in e], dtype=object)
        return Roads(
            node_xy_local_m=xy, node_source_id=np.full(len(xy), -1, np.int64), edge_from=frm, edge_to=to,
            length_m=np.hypot(*(xy[to] - xy[frm]).T) if e else np.zeros(0), road_class=cls,
            lanes=np.array([r[3] for r in e], np.int16), maxspeed_kmh=np.array([r[4] for r in e], np.float32),
            oneway=np.array([r[5] for r in e], np.int8), name=np.array([r[6] for r in e], dtype=object),
            source_id=np.array([r[7] for r in e], dtype=object),
            geometry=tuple(np.vstack([xy[a], xy[b]]) for a, b in zip(frm, to)),
        )

    def buildings(self) -> Buildings:
        bs = self._buildings
        n = len(bs)

        def col(key: str, dtype: object) -> np.ndarray:
            return np.array([b[key] for b in bs], dtype=dtype)

        return Buildings(
            building_id=np.arange(self.first_id, self.first_id + n, dtype=np.int64),
            footprints=tuple(b["footprint"] for b in bs), base_m=col("base", np.float32),
            height_m=col("height", np.float32), eave_height_m=col("eave", np.float32), roof_shape=col("roof", object),
            use=col("use", object), storeys=col("storeys", np.int16), dwellings=col("dwellings", np.int32),
            residents=col("residents", np.int32),
            residents_by_age=np.array([b["by_age"] for b in bs], np.int32).reshape(n, len(age_bands())),
            source_id=col("source_id", object), height_source=col("height_source", object),
        )

    def build(self, name: str = "test") -> District:
        bbox = (0.0, 0.0, self.size_m, self.size_m)

        def points(items: list, cls: type, kind: str):
            if not items:
                return empty_points(kind)
            return cls(np.array([i[0] for i in items], np.float64), *(np.array([i[k] for i in items], dtype=object)
                                                                       for k in (1, 2, 3)))

        land = LandCover(tuple(p for p, _, _ in self._land), np.array([s for _, s, _ in self._land], np.uint8),
                         np.array([k for _, _, k in self._land], dtype=object))
        feats = DistrictFeatures(frame=self.frame, bbox_local_m=bbox, buildings=self.buildings(), roads=self.roads(),
                                 trees=empty_points("trees"), stops=points(self._stops, Stops, "stops"),
                                 pois=points(self._pois, Pois, "pois"), landcover=land)
        grid = grid_for_bbox(bbox, self.cell_m)
        return build_district(feats, name=name, grid=grid, terrain_m=np.full(grid.shape, self.terrain_m, np.float32))
