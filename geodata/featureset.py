"""A collection of raw features in lon/lat, and its projection into ``DistrictFeatures``.

Readers (OSM, GeoJSON layers) fill a :class:`FeatureSet`; :func:`to_district_features` chooses the UTM
zone (``geodata.crs``), places the local frame at the south-west corner of the data, projects, clips
area features to the district box and resolves building heights (``geodata.heights``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from geodata.crs import LocalFrame, lonlat_to_utm, utm_epsg_for_lonlat
from geodata.district import (
    Buildings,
    DistrictFeatures,
    LandCover,
    Pois,
    Roads,
    SourceInfo,
    Stops,
    Trees,
    age_bands,
)
from geodata.heights import estimate_height
from geodata.osmtags import TREE_ROW_SPACING_M, tree_size_m
from geodata.roadgraph import RoadExtras, RoadWay, build_road_graph

__all__ = ["FeatureSet", "to_district_features", "polygon_from_rings", "largest_polygon", "dedupe_points"]

Rings = list[np.ndarray]  # exterior then holes, each (k, 2) lon/lat


@dataclass
class FeatureSet:
    """Raw features in lon/lat degrees, as readers find them."""

    buildings: list[tuple[str, dict, Rings]] = field(default_factory=list)  # (source id, tags, rings)
    landcover: list[tuple[str, str, int, int, Rings]] = field(default_factory=list)  # (src, kind, code, prio, rings)
    roads: list[tuple[int, np.ndarray, np.ndarray, dict]] = field(default_factory=list)  # (way id, node ids, lonlat, tags)
    restrictions: list[tuple[int, int, int, str]] = field(default_factory=list)
    water_lines: list[tuple[np.ndarray, float]] = field(default_factory=list)
    railways: list[np.ndarray] = field(default_factory=list)
    trees: list[tuple[float, float, float, float, str, str]] = field(default_factory=list)  # lon, lat, h, d, sp, src
    tree_rows: list[tuple[np.ndarray, dict, str]] = field(default_factory=list)
    stops: list[tuple[float, float, str, str, str]] = field(default_factory=list)  # lon, lat, name, mode, src
    pois: list[tuple[float, float, str, str, str]] = field(default_factory=list)  # lon, lat, category, name, src
    header_bbox_lonlat: tuple[float, float, float, float] | None = None

    def extent_points_lonlat(self) -> np.ndarray:
        """(n, 2) lon/lat of everything that defines the district's extent: buildings, roads, railways, stops."""
        pts = [r[0] for _, _, r in self.buildings if len(r)]
        pts += [ll for _, _, ll, _ in self.roads]
        pts += list(self.railways)
        pts += [np.array([[s[0], s[1]]]) for s in self.stops]
        if self.header_bbox_lonlat is not None:
            w, s, e, n = self.header_bbox_lonlat
            pts.append(np.array([[w, s], [e, n]]))
        return np.concatenate(pts) if pts else np.zeros((0, 2))


def polygon_from_rings(rings: list[np.ndarray]) -> Polygon | None:
    """A valid Polygon from an exterior and holes (k, 2), the largest part when repair splits it."""
    if not rings or len(rings[0]) < 4:
        return None
    holes = [h for h in rings[1:] if len(h) >= 4]
    poly = Polygon(rings[0], holes)
    if not poly.is_valid:
        poly = largest_polygon(shapely.make_valid(poly))
    return poly if poly is not None and not poly.is_empty and poly.area > 0 else None


def largest_polygon(geom: object) -> Polygon | None:
    """The largest Polygon part of any geometry (None when it has no area)."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
    flat = [p for g in parts for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    flat = [p for p in flat if p.area > 0]
    return max(flat, key=lambda p: p.area) if flat else None


def dedupe_points(xy: np.ndarray, keys: list[str], radius_m: float) -> np.ndarray:
    """Indices to keep: a point is dropped when an earlier kept point has the same key within radius."""
    keep: list[int] = []
    seen: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        near = [j for j in seen.get(k, []) if np.hypot(*(xy[i] - xy[j])) <= radius_m]
        if near:
            continue
        keep.append(i)
        seen.setdefault(k, []).append(i)
    return np.asarray(keep, dtype=np.int64)


def _norm_name(name: str) -> str:
    return " ".join(name.lower().replace(",", " ").split())


_USE_BY_LANDUSE = {
    "landuse=residential": "residential", "landuse=retail": "commercial", "landuse=commercial": "commercial",
    "landuse=industrial": "industrial",
}


def _use_from_landuse(uses: list[str], tags: list[dict], polys: list[Polygon], landcover: list, proj) -> list[str]:
    """Untyped buildings (``building=yes``) take the use of the land-use area their centroid lies in."""
    zones = [(polygon_from_rings([proj(r) for r in rings]), _USE_BY_LANDUSE[kind])
             for _, kind, _, _, rings in landcover if kind in _USE_BY_LANDUSE]
    zones = [(p, u) for p, u in zones if p is not None]
    if not zones:
        return uses
    tree = shapely.STRtree([p for p, _ in zones])
    out = list(uses)
    for i, (u, t, fp) in enumerate(zip(uses, tags, polys)):
        if u != "other" or t.get("building", "yes") != "yes" or t.get("amenity") or t.get("shop"):
            continue
        c = fp.centroid
        hits = [j for j in tree.query(c) if zones[j][0].contains(c)]
        if hits:
            out[i] = zones[min(hits, key=lambda j: zones[j][0].area)][1]
    return out


def to_district_features(
    fs: FeatureSet,
    *,
    epsg: int | None = None,
    margin_m: float = 30.0,
    stop_dedupe_m: float = 5.0,
    sources: tuple[SourceInfo, ...] = (),
) -> tuple[DistrictFeatures, RoadExtras]:
    """Project ``fs`` into a local frame and build the typed feature tables.

    The district box covers all buildings, roads, railways and stops (and the file's header box) plus
    ``margin_m``; land cover, water and railways are clipped to it; trees and points of interest
    outside it are dropped. Stops of the same (normalised) name closer than ``stop_dedupe_m`` are one.
    Residents are zero here (``geodata.population`` fills them).
    """
    ext = fs.extent_points_lonlat()
    if ext.shape[0] == 0:
        raise ValueError("no buildings, roads or stops")
    lon_c, lat_c = (ext.min(axis=0) + ext.max(axis=0)) / 2.0
    code = epsg or utm_epsg_for_lonlat(float(lon_c), float(lat_c))
    e, n = lonlat_to_utm(ext[:, 0], ext[:, 1], code)
    frame = LocalFrame(code, float(np.floor(e.min() - margin_m)), float(np.floor(n.min() - margin_m)))
    bbox = (0.0, 0.0, float(np.ceil(e.max() + margin_m - frame.origin_e_m)),
            float(np.ceil(n.max() + margin_m - frame.origin_n_m)))
    area = box(*bbox)

    def proj(ll: np.ndarray) -> np.ndarray:
        ll = np.asarray(ll, dtype=np.float64).reshape(-1, 2)
        x, y = frame.lonlat_to_local(ll[:, 0], ll[:, 1])
        return np.column_stack([x, y])

    def inside(xy: np.ndarray) -> bool:
        return bool(bbox[0] <= xy[0] <= bbox[2] and bbox[1] <= xy[1] <= bbox[3])

    # buildings (building:part areas replace the outline they cover)
    polys, tags_l, srcs = [], [], []
    for src, tags, rings in fs.buildings:
        p = polygon_from_rings([proj(r) for r in rings])
        if p is not None:
            polys.append(p)
            tags_l.append(tags)
            srcs.append(src)
    is_part = np.array(["building:part" in t and "building" not in t for t in tags_l], dtype=bool)
    keep = np.ones(len(polys), dtype=bool)
    if is_part.any():
        parts = shapely.union_all([polys[i] for i in np.nonzero(is_part)[0]])
        for i in np.nonzero(~is_part)[0]:
            if polys[i].intersection(parts).area >= 0.5 * polys[i].area:
                keep[i] = False
    idx = np.nonzero(keep)[0]
    est = [estimate_height(tags_l[i], polys[i]) for i in idx]
    uses = _use_from_landuse(
        [h.use for h in est], [tags_l[i] for i in idx], [polys[i] for i in idx], fs.landcover, proj
    )
    nb = len(idx)
    buildings = Buildings(
        building_id=np.arange(1, nb + 1, dtype=np.int64),
        footprints=tuple(polys[i] for i in idx),
        base_m=np.zeros(nb, np.float32),
        height_m=np.array([h.height_m for h in est], np.float32),
        eave_height_m=np.array([h.eave_height_m for h in est], np.float32),
        roof_shape=np.array([h.roof_shape for h in est], dtype=object),
        use=np.array(uses, dtype=object),
        storeys=np.array([h.storeys for h in est], np.int16),
        dwellings=np.zeros(nb, np.int32),
        residents=np.zeros(nb, np.int32),
        residents_by_age=np.zeros((nb, len(age_bands())), np.int32),
        source_id=np.array([srcs[i] for i in idx], dtype=object),
        height_source=np.array([h.height_source for h in est], dtype=object),
    )

    # land cover, in paint order (priority, then large before small)
    lc = []
    for _src, kind, code_, prio, rings in fs.landcover:
        p = polygon_from_rings([proj(r) for r in rings])
        if p is None or not p.intersects(area):
            continue
        clipped = p.intersection(area)
        for part in getattr(clipped, "geoms", [clipped]):
            if isinstance(part, Polygon) and part.area > 0:
                lc.append((prio, -part.area, part, code_, kind))
    lc.sort(key=lambda t: (t[0], t[1]))
    landcover = LandCover(
        polygons=tuple(t[2] for t in lc),
        surface_code=np.array([t[3] for t in lc], dtype=np.uint8),
        kind=np.array([t[4] for t in lc], dtype=object),
    )

    roads, extras = build_road_graph(
        [RoadWay(w, ids, proj(ll), t) for w, ids, ll, t in fs.roads], fs.restrictions
    )

    def clip_lines(lines: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for ll in lines:
            g = LineString(proj(ll)).intersection(area) if len(ll) >= 2 else None
            for part in getattr(g, "geoms", [g]) if g is not None else []:
                if isinstance(part, LineString) and part.length > 0:
                    out.append(np.asarray(part.coords)[:, :2])
        return out

    water, widths = [], []
    for ll, w in fs.water_lines:
        parts = clip_lines([ll])
        water += parts
        widths += [float(w)] * len(parts)
    railways = tuple(clip_lines(fs.railways))

    # trees: points and rows
    t_xy, t_h, t_d, t_sp, t_src = [], [], [], [], []

    def add_tree(xy: np.ndarray, h: float, d: float, sp: str, src: str) -> None:
        t_xy.append(xy)
        t_h.append(h)
        t_d.append(d)
        t_sp.append(sp)
        t_src.append(src)
    for lon, lat, h, d, sp, src in fs.trees:
        xy = proj(np.array([[lon, lat]]))[0]
        if inside(xy):
            add_tree(xy, h, d, sp, src)
    for ll, tags, src in fs.tree_rows:
        line = LineString(proj(ll))
        if line.length <= 0:
            continue
        h, d = tree_size_m(tags)
        k = max(1, int(round(line.length / TREE_ROW_SPACING_M)))
        for j in range(k):
            pt = line.interpolate((j + 0.5) * line.length / k)
            xy = np.array([pt.x, pt.y])
            if inside(xy):
                add_tree(xy, h, d, tags.get("species", ""), src)
    trees = Trees(
        np.asarray(t_xy, np.float64).reshape(-1, 2), np.asarray(t_h, np.float32), np.asarray(t_d, np.float32),
        np.asarray(t_sp, dtype=object), np.asarray(t_src, dtype=object),
    )

    def points(rows: list[tuple], key_of, radius: float) -> tuple[np.ndarray, list[tuple]]:
        xy = proj(np.array([[r[0], r[1]] for r in rows])) if rows else np.zeros((0, 2))
        ok = [i for i in range(len(rows)) if inside(xy[i])]
        xy, rows = xy[ok], [rows[i] for i in ok]
        keep_i = dedupe_points(xy, [key_of(r) for r in rows], radius)
        return xy[keep_i].reshape(-1, 2), [rows[i] for i in keep_i]

    s_xy, s_rows = points(fs.stops, lambda r: f"{r[3]}|{_norm_name(r[2])}", stop_dedupe_m)
    stops = Stops(s_xy, np.array([r[2] for r in s_rows], dtype=object),
                  np.array([r[3] for r in s_rows], dtype=object), np.array([r[4] for r in s_rows], dtype=object))
    p_xy, p_rows = points(fs.pois, lambda r: f"{r[2]}|{_norm_name(r[3]) or r[4]}", 50.0)
    pois = Pois(p_xy, np.array([r[2] for r in p_rows], dtype=object),
                np.array([r[3] for r in p_rows], dtype=object), np.array([r[4] for r in p_rows], dtype=object))

    feats = DistrictFeatures(
        frame=frame, bbox_local_m=bbox, buildings=buildings, roads=roads, trees=trees, stops=stops, pois=pois,
        landcover=landcover, water_lines=tuple(water), water_line_width_m=tuple(widths), railways=railways,
        sources=sources,
    )
    return feats, extras


def empty_roads() -> Roads:
    """A road table with no edges."""
    return build_road_graph([])[0]
