"""OpenStreetMap reader (``.osm.pbf`` and ``.osm`` XML, via pyosmium).

``read_osm(path)`` reads buildings and building parts, roads (as a graph split at shared OSM nodes),
land cover, trees (points and rows), stops, points of interest for social planning, waterways and
railways, and returns ``DistrictFeatures`` in the local frame of the data's ETRS89/UTM zone (EPSG:25833
for Hoyerswerda, EPSG:25832 for the Burgenlandkreis).

Multipolygon areas (closed ways and ``type=multipolygon`` relations) are assembled by libosmium.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium

from geodata.district import DistrictFeatures
from geodata.featureset import FeatureSet, to_district_features
from geodata.osmtags import is_stop, poi_category, stop_mode, surface_for, tree_size_m, waterway_width_m
from geodata.roadgraph import ROAD_CLASSES, RoadExtras
from geodata.sources import DataError, check_file, source_info

__all__ = ["OsmExtract", "read_osm", "collect_osm", "OSM_SUFFIXES", "RAIL_CLASSES"]

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.xml", ".xml")
RAIL_CLASSES = frozenset({"rail", "light_rail", "tram", "narrow_gauge"})


@dataclass(frozen=True)
class OsmExtract:
    """What ``read_osm`` returns: the features plus road data beyond the ``Roads`` contract."""

    features: DistrictFeatures
    road_extras: RoadExtras
    counts: dict[str, int]


def _ring_lonlat(ring) -> np.ndarray:
    return np.array([(n.lon, n.lat) for n in ring], dtype=np.float64)


def _way_nodes(way) -> tuple[np.ndarray, np.ndarray]:
    ids, ll = [], []
    for n in way.nodes:
        loc = n.location
        if loc.valid():
            ids.append(n.ref)
            ll.append((loc.lon, loc.lat))
    return np.asarray(ids, dtype=np.int64), np.asarray(ll, dtype=np.float64).reshape(-1, 2)


def _read_area(obj, fs: FeatureSet) -> None:
    tags = dict(obj.tags)
    src = f"osm:{'way' if obj.from_way() else 'relation'}/{obj.orig_id()}"
    outers = []
    for outer in obj.outer_rings():
        rings = [_ring_lonlat(outer)] + [_ring_lonlat(inner) for inner in obj.inner_rings(outer)]
        outers.append(rings)
    if not outers:
        return
    if "building" in tags or "building:part" in tags:
        if tags.get("building") not in ("no", None) or "building:part" in tags:
            # one building per OSM object: its largest outer ring
            fs.buildings.append((src, tags, max(outers, key=lambda r: len(r[0]))))
    cover = surface_for(tags)
    if cover is not None and "building" not in tags:
        kind, code, prio = cover
        for rings in outers:
            fs.landcover.append((src, kind, code, prio, rings))
    cat = poi_category(tags)
    if cat is not None:
        ring = outers[0][0]
        fs.pois.append((float(ring[:, 0].mean()), float(ring[:, 1].mean()), cat, tags.get("name", ""), src))


def _read_way(obj, fs: FeatureSet) -> None:
    tags = dict(obj.tags)
    if not tags:
        return
    hw = tags.get("highway")
    ww = tags.get("waterway")
    rw = tags.get("railway")
    tree_row = tags.get("natural") == "tree_row"
    if not ((hw in ROAD_CLASSES and tags.get("area") != "yes") or ww or rw in RAIL_CLASSES or tree_row):
        return
    ids, ll = _way_nodes(obj)
    if len(ids) < 2:
        return
    if hw in ROAD_CLASSES and tags.get("area") != "yes":
        fs.roads.append((obj.id, ids, ll, tags))
    if ww:
        width = waterway_width_m(tags)
        if width is not None:
            fs.water_lines.append((ll, width))
    if rw in RAIL_CLASSES and tags.get("tunnel") != "yes":
        fs.railways.append(ll)
    if tree_row:
        fs.tree_rows.append((ll, tags, f"osm:way/{obj.id}"))


def _read_node(obj, fs: FeatureSet) -> None:
    if not len(obj.tags):
        return
    tags = dict(obj.tags)
    loc = obj.location
    if not loc.valid():
        return
    src = f"osm:node/{obj.id}"
    if tags.get("natural") == "tree":
        h, d = tree_size_m(tags)
        sp = tags.get("species:de") or tags.get("species") or tags.get("genus") or ""
        fs.trees.append((loc.lon, loc.lat, h, d, sp, src))
    if is_stop(tags):
        fs.stops.append((loc.lon, loc.lat, tags.get("name", ""), stop_mode(tags), src))
    cat = poi_category(tags)
    if cat is not None:
        fs.pois.append((loc.lon, loc.lat, cat, tags.get("name", ""), src))


def _read_relation(obj, fs: FeatureSet) -> None:
    tags = dict(obj.tags)
    if tags.get("type") != "restriction":
        return
    kind = tags.get("restriction") or tags.get("restriction:motorcar")
    if not kind:
        return
    role = {(m.role, m.type): m.ref for m in obj.members}
    if ("from", "w") in role and ("via", "n") in role and ("to", "w") in role:
        fs.restrictions.append((role[("from", "w")], role[("via", "n")], role[("to", "w")], kind))


def collect_osm(path: str | Path) -> FeatureSet:
    """Read an OSM file into a lon/lat ``FeatureSet``; raises DataError for unreadable files."""
    p = check_file(path, suffixes=OSM_SUFFIXES)
    fs = FeatureSet()
    try:
        proc = osmium.FileProcessor(str(p)).with_locations().with_areas()
        box = proc.header.box()
        if box.valid():
            fs.header_bbox_lonlat = (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)
        for obj in proc:
            if obj.is_area():
                _read_area(obj, fs)
            elif obj.is_node():
                _read_node(obj, fs)
            elif obj.is_way():
                _read_way(obj, fs)
            elif obj.is_relation():
                _read_relation(obj, fs)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - libosmium reports corrupt input as RuntimeError and others
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(p, f"beschädigt oder abgeschnitten ({reason})", f"corrupt or truncated ({reason})") from exc
    return fs


def read_osm(path: str | Path, *, epsg: int | None = None, margin_m: float = 30.0,
             stop_dedupe_m: float = 5.0) -> OsmExtract:
    """Read an OSM file into ``DistrictFeatures`` in the local frame.

    Parameters
    ----------
    path : ``.osm.pbf`` or ``.osm`` (XML) file, WGS84 lon/lat.
    epsg : working CRS; by default the ETRS89/UTM zone of the data's centre.
    margin_m : margin around buildings, roads and stops of the district box, metres.
    stop_dedupe_m : stops of the same name and mode closer than this are one stop.

    Raises
    ------
    DataError : unreadable, corrupt or truncated file, or an empty area (no buildings, roads or stops).
    """
    fs = collect_osm(path)
    if not fs.buildings and not fs.roads and not fs.stops and not fs.railways:
        raise DataError(path, "leeres Gebiet: keine Gebäude, Straßen oder Haltestellen",
                        "empty area: no buildings, roads or stops")
    feats, extras = to_district_features(
        fs, epsg=epsg, margin_m=margin_m, stop_dedupe_m=stop_dedupe_m, sources=(source_info(path, "osm"),)
    )
    counts = {
        "buildings_read": len(fs.buildings), "roads_read": len(fs.roads), "landcover_read": len(fs.landcover),
        "trees_read": len(fs.trees), "tree_rows_read": len(fs.tree_rows), "stops_read": len(fs.stops),
        "pois_read": len(fs.pois), "restrictions_read": len(fs.restrictions),
    }
    return OsmExtract(feats, extras, counts)
