"""Roads, stops and areas of the desktop viewer's overlays, as plain arrays in local metres.

The server publishes the road links and stops of a district as GeoJSON in WGS84
(``/api/districts/{name}/links.geojson``, ``stops.geojson``); the tileset names the district's UTM
zone and origin. Here they become segments and points in the local frame (metres east, north of the
origin), with the nearest-road search the road tools need and the colours of each overlay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from viewer.desktop.layers import RAMPS, TRANSIT_CLASSES, colour_values, ramp_rgb

__all__ = ["Roads", "Stops", "roads_from_geojson", "stops_from_geojson", "road_colours", "stop_colours",
           "deficit_quads", "nearest_edge", "cooling_from_geojson", "building_colours"]


@dataclass
class Roads:
    """Road edges as segments: ``seg_xy`` (S, 2, 2) local metres, ``seg_edge`` (S,) edge index of each."""

    seg_xy: np.ndarray
    seg_edge: np.ndarray
    n_edges: int


@dataclass
class Stops:
    xy: np.ndarray  # (N, 2) local metres, in stop_index order
    names: list[str]


def _to_local(lonlat: np.ndarray, epsg: int, origin_utm_m: tuple[float, float]) -> np.ndarray:
    from geodata.crs import lonlat_to_utm

    e, n = lonlat_to_utm(lonlat[:, 0], lonlat[:, 1], epsg)
    return np.stack([e - origin_utm_m[0], n - origin_utm_m[1]], axis=1)


def roads_from_geojson(doc: dict[str, Any], epsg: int, origin_utm_m: tuple[float, float]) -> Roads:
    """Segments of the ``links.geojson`` of a district (features carry ``edge_index``)."""
    segs: list[np.ndarray] = []
    edges: list[np.ndarray] = []
    n_edges = 0
    for f in doc.get("features", []):
        geom = f.get("geometry") or {}
        if geom.get("type") != "LineString":
            continue
        k = int(f["properties"]["edge_index"])
        ll = np.asarray(geom["coordinates"], dtype=np.float64).reshape(-1, 2)
        if len(ll) < 2:
            continue
        xy = _to_local(ll, epsg, origin_utm_m)
        segs.append(np.stack([xy[:-1], xy[1:]], axis=1))
        edges.append(np.full(len(xy) - 1, k, np.int64))
        n_edges = max(n_edges, k + 1)
    if not segs:
        return Roads(np.zeros((0, 2, 2)), np.zeros(0, np.int64), 0)
    return Roads(np.concatenate(segs), np.concatenate(edges), n_edges)


def stops_from_geojson(doc: dict[str, Any], epsg: int, origin_utm_m: tuple[float, float]) -> Stops:
    rows = sorted(((int(f["properties"]["stop_index"]), f) for f in doc.get("features", [])
                   if (f.get("geometry") or {}).get("type") == "Point"), key=lambda r: r[0])
    if not rows:
        return Stops(np.zeros((0, 2)), [])
    ll = np.array([f["geometry"]["coordinates"][:2] for _, f in rows], dtype=np.float64)
    return Stops(_to_local(ll, epsg, origin_utm_m), [str(f["properties"].get("name", "")) for _, f in rows])


def nearest_edge(roads: Roads, x: float, y: float, *, reach_m: float = 25.0) -> int:
    """The edge index of the road segment nearest to (x, y) within ``reach_m``; -1 when none is."""
    if len(roads.seg_edge) == 0:
        return -1
    a, b = roads.seg_xy[:, 0], roads.seg_xy[:, 1]
    d = b - a
    ll = np.maximum((d * d).sum(1), 1e-12)
    t = np.clip(((np.array([x, y]) - a) * d).sum(1) / ll, 0.0, 1.0)
    dist = np.hypot(*(a + t[:, None] * d - np.array([x, y])).T)
    i = int(np.argmin(dist))
    return int(roads.seg_edge[i]) if dist[i] <= reach_m else -1


def road_colours(layer: str, edges: dict[str, np.ndarray], seg_edge: np.ndarray) -> np.ndarray:
    """Colour (S, 3) uint8 of every segment for the ``traffic`` (vehicles/h) or ``vc`` layer; segments of
    edges without a value are grey."""
    key = "flow_veh_h" if layer == "traffic" else "vc_ratio"
    vals = np.asarray(edges.get(key, np.zeros(0)), np.float64)
    out = np.full((len(seg_edge), 3), 150, np.uint8)
    ok = seg_edge < len(vals)
    out[ok] = colour_values(layer, vals[seg_edge[ok]])
    return out


def stop_colours(quality: np.ndarray | None, n: int) -> np.ndarray:
    """Colour (n, 3) uint8 of stops by quality class code 0 = A .. 5 = F (grey when unknown)."""
    out = np.full((n, 3), 120, np.uint8)
    if quality is not None:
        q = np.asarray(quality, np.int64)[:n]
        out[: len(q)] = np.asarray(TRANSIT_CLASSES.colours, np.uint8)[np.clip(q, 0, 5)]
    return out


def deficit_quads(deficits: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Squares of access deficit areas: corners (A, 4, 2) local metres and colours (A, 3) by the mean
    time to a doctor (the access ramp, minutes)."""
    if not deficits:
        return np.zeros((0, 4, 2)), np.zeros((0, 3), np.uint8)
    boxes, times = [], []
    for a in deficits:
        w, s, e, n = (float(v) for v in a.bbox_local_m)
        if e <= w or n <= s:  # no box: a square of 100 m around the centre
            x, y = a.xy_local_m
            w, s, e, n = x - 50, y - 50, x + 50, y + 50
        boxes.append([(w, s), (e, s), (e, n), (w, n)])
        times.append(a.time_min if a.time_min >= 0 else RAMPS["access"].hi)
    return np.asarray(boxes, np.float64), ramp_rgb(RAMPS["access"], np.asarray(times))


def cooling_from_geojson(doc: Any) -> dict[str, np.ndarray]:
    """Per building id (dense arrays, NaN / False where a building is missing) of the server's
    ``buildings_cooling.geojson``: ``kwh`` (kWh/day), ``base`` (the same without interventions) and
    ``cooled`` (whether the use is cooled at all)."""
    rows = []
    for f in (doc or {}).get("features", []):
        p = f.get("properties") or {}
        try:
            rows.append((int(p["building_id"]), float(p["cooling_kwh_day"]), float(p["cooling_kwh_day_baseline"]),
                         bool(p.get("cooled", True))))
        except (KeyError, TypeError, ValueError):
            continue
    n = max((r[0] for r in rows), default=-1) + 1
    out = {"kwh": np.full(n, np.nan), "base": np.full(n, np.nan), "cooled": np.zeros(n, bool)}
    for i, kwh, base, cooled in rows:
        if i >= 0:
            out["kwh"][i], out["base"][i], out["cooled"][i] = kwh, base, cooled
    return out


def building_colours(layer: str, values: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """Colours of buildings by id for the ``cooling`` (kWh/day) or ``cooling_change`` (against the
    baseline) layer: (N, 4) uint8, sRGB in the first three columns (uses without cooling in grey) and 1
    in the last where the building has a value (elsewhere the caller keeps the building's own colour)."""
    ids = np.asarray(ids, np.int64)
    n = len(values["kwh"])
    ok = (ids >= 0) & (ids < n)
    safe = np.where(ok, ids, 0)
    kwh = np.where(ok, values["kwh"][safe] if n else np.nan, np.nan)
    has = ok & np.isfinite(kwh)
    v = kwh if layer == "cooling" else kwh - np.where(ok, values["base"][safe] if n else np.nan, np.nan)
    rgb = ramp_rgb(RAMPS[layer], np.where(np.isfinite(v), v, 0.0))
    cooled = np.where(ok, values["cooled"][safe] if n else False, False)
    rgb[has & ~cooled] = 150
    out = np.zeros((len(ids), 4), np.uint8)
    out[:, :3] = rgb
    out[:, 3] = has
    return out
