"""GeoJSON (RFC 7946, WGS84 lon/lat) of district features, with one set of field names wherever it is written.

``links_collection(district, roads=None, edges=None)``: one LineString per road edge with its attributes
and, when given, traffic results per edge. The field names are those of ``LINK_FIELDS``; the command line
(``twin traffic``) and the server's exports write the same document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["LINK_FIELDS", "lonlat_coords", "links_collection"]

# result per edge -> (property name, decimals); None decimals: a boolean
LINK_FIELDS: dict[str, tuple[str, int | None]] = {
    "closed": ("closed", None),
    "flow_veh_h": ("flow_veh_h", 2),
    "vc": ("vc_ratio", 4),
    "speed_kmh": ("speed_kmh", 2),
    "delay_s": ("delay_s", 2),
    "noise_db": ("noise_lme_db", 1),
}


def lonlat_coords(district: Any, xy_local_m: np.ndarray) -> list[list[float]]:
    """[[lon, lat], ...] (7 decimals, about 1 cm) of local-frame points (n, 2)."""
    xy = np.asarray(xy_local_m, float).reshape(-1, 2)
    lon, lat = district.frame.local_to_lonlat(xy[:, 0], xy[:, 1])
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]


def _value(arr: np.ndarray, i: int, decimals: int | None) -> Any:
    v = arr[i]
    if decimals is None:
        return bool(v)
    f = float(v)
    return round(f, decimals) if np.isfinite(f) else None


def links_collection(district: Any, roads: Any = None, edges: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """FeatureCollection of the road edges of ``roads`` (default: the district's) with the per-edge
    results ``edges`` (keys of ``LINK_FIELDS``, arrays at least as long as the edges they cover; other
    keys are ignored). Values that are not finite (no noise where no traffic) become null."""
    r = district.roads if roads is None else roads
    drivable = np.asarray(r.drivable)
    known = {k: np.asarray(v) for k, v in (edges or {}).items() if k in LINK_FIELDS}
    feats = []
    for i in range(len(r)):
        props: dict[str, Any] = {
            "edge_index": i, "name": str(r.name[i] or ""), "road_class": str(r.road_class[i]),
            "drivable": bool(drivable[i]), "lanes": int(r.lanes[i]), "maxspeed_kmh": float(r.maxspeed_kmh[i]),
            "oneway": int(r.oneway[i]), "length_m": round(float(r.length_m[i]), 2),
        }
        for key, (field, decimals) in LINK_FIELDS.items():
            if key in known and i < len(known[key]):
                props[field] = _value(known[key], i, decimals)
        feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": lonlat_coords(district, r.geometry[i])},
                      "properties": props})
    return {"type": "FeatureCollection", "features": feats}
