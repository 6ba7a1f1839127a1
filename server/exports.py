"""Exports: GeoTIFF of a result field, GeoJSON of links, stops, interventions, comments and buildings'
cooling demand, CSV of KPIs.

GeoTIFFs are in the district's UTM CRS (EPSG:258xx) on the district grid; GeoJSON is WGS84 lon/lat
(RFC 7946) with local-frame properties where useful. All functions return bytes or text, no files.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from geodata.district import District
from geodata.files import district_geo, geotiff_bytes
from geodata.geojson import links_collection, lonlat_coords
from geodata.interventions import Intervention, encode_intervention

__all__ = ["field_geotiff", "links_geojson", "stops_geojson", "interventions_geojson", "comments_geojson", "kpis_csv",
           "buildings_cooling_geojson"]


def field_geotiff(district: District, values: np.ndarray, *, name: str, unit: str) -> bytes:
    """A single-band float32 GeoTIFF of ``values`` (rows, cols) on the district grid; NaN is nodata."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.shape != district.grid.shape:
        raise ValueError(f"field shape {arr.shape} != grid {district.grid.shape}")
    return geotiff_bytes(arr, names=[name], tags={"unit": unit, "layer": name}, **district_geo(district))


def _lonlat(district: District, xy: np.ndarray) -> list[list[float]]:
    return lonlat_coords(district, xy)


def _collection(features: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def links_geojson(district: District, edges: dict[str, np.ndarray] | None = None) -> str:
    """Road links as LineStrings with class, lanes, speed limit and (when given) traffic results
    (``geodata.geojson.links_collection``: the same fields as ``twin traffic`` writes)."""
    return json.dumps(links_collection(district, edges=edges), ensure_ascii=False)


def stops_geojson(district: District, quality: np.ndarray | None = None) -> str:
    s = district.stops
    feats = []
    for i in range(s.xy_local_m.shape[0]):
        props: dict[str, Any] = {"stop_index": i, "name": str(s.name[i] or ""), "mode": str(s.mode[i])}
        if quality is not None and i < len(quality):
            props["quality_class"] = "ABCDEF"[min(int(quality[i]), 5)]
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": _lonlat(district, s.xy_local_m[i])[0]},
                      "properties": props})
    return _collection(feats)


def _geometry(district: District, obj: Intervention) -> dict[str, Any] | None:
    if hasattr(obj, "polygon_local_m"):
        ring = _lonlat(district, np.asarray(obj.polygon_local_m))
        return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
    for name in ("line_local_m", "stops_local_m"):
        if hasattr(obj, name):
            return {"type": "LineString", "coordinates": _lonlat(district, np.asarray(getattr(obj, name)))}
    if hasattr(obj, "xy_local_m"):
        return {"type": "Point", "coordinates": _lonlat(district, np.asarray(obj.xy_local_m))[0]}
    if hasattr(obj, "edge_index") and obj.edge_index < len(district.roads):
        return {"type": "LineString", "coordinates": _lonlat(district, district.roads.geometry[obj.edge_index])}
    if hasattr(obj, "building_id"):
        try:
            fp = district.buildings.footprints[district.buildings.index_of(obj.building_id)]
        except KeyError:
            return None
        ring = _lonlat(district, np.asarray(fp.exterior.coords))
        return {"type": "Polygon", "coordinates": [ring]}
    return None


def interventions_geojson(district: District, interventions: list[Intervention]) -> str:
    feats = []
    for obj in interventions:
        props = {k: v for k, v in encode_intervention(obj).items() if not k.endswith("_local_m")}
        feats.append({"type": "Feature", "geometry": _geometry(district, obj), "properties": props})
    return _collection(feats)


def comments_geojson(district: District, comments: list[Any]) -> str:
    """Visible comments (no e-mail addresses) as points; ``z_m`` is the height in the local frame."""
    feats = []
    for c in comments:
        x, y, z = c.xyz_local_m
        feats.append({
            "type": "Feature", "geometry": {"type": "Point", "coordinates": _lonlat(district, np.array([x, y]))[0]},
            "properties": {"comment_id": c.comment_id, "kind": c.kind, "text": c.text, "author_name": c.author_name,
                           "votes": c.votes, "answer": c.answer, "scenario_version": c.scenario_version,
                           "z_m": z, "created_utc": c.created_utc},
        })
    return _collection(feats)


def buildings_cooling_geojson(district: District, cooling_kwh_day: np.ndarray, baseline_kwh_day: np.ndarray,
                              cooled: np.ndarray | None = None) -> str:
    """Buildings as footprint polygons with their cooling demand over the design day (kWh/day) in the
    scenario (``cooling_kwh_day``) and without interventions (``cooling_kwh_day_baseline``), the change
    (``cooling_diff_kwh_day``, scenario minus baseline) and whether the building's use is cooled at all.

    Raises
    ------
    ValueError
        when an array does not hold one value per building of ``district``.
    """
    b = district.buildings
    n = len(b.footprints)
    now = np.asarray(cooling_kwh_day, float)
    base = np.asarray(baseline_kwh_day, float)
    on = np.ones(n, bool) if cooled is None else np.asarray(cooled, bool)
    if now.shape != (n,) or base.shape != (n,) or on.shape != (n,):
        raise ValueError(f"cooling arrays {now.shape}, {base.shape}, {on.shape} != ({n},) buildings")
    feats = []
    for i, fp in enumerate(b.footprints):
        rings = [fp.exterior, *fp.interiors] if fp.geom_type == "Polygon" else [fp.exterior]
        coords = []
        for ring in rings:
            ll = _lonlat(district, np.asarray(ring.coords)[:, :2])
            coords.append(ll if ll[0] == ll[-1] else ll + [ll[0]])
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": coords},
                      "properties": {"building_id": int(b.building_id[i]), "use": str(b.use[i]), "cooled": bool(on[i]),
                                     "cooling_kwh_day": round(float(now[i]), 3),
                                     "cooling_kwh_day_baseline": round(float(base[i]), 3),
                                     "cooling_diff_kwh_day": round(float(now[i] - base[i]), 3)}})
    return _collection(feats)


def kpis_csv(rows: list[tuple[str, int, dict[str, dict[str, float | None]]]]) -> str:
    """CSV with columns scenario_id, scenario_version, engine, kpi, value (one line per figure); the
    figures are published ones (a suppressed person count, 1-4, is an empty value)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scenario_id", "scenario_version", "engine", "kpi", "value"])
    for sid, version, kpis in rows:
        for engine in sorted(kpis):
            for k in sorted(kpis[engine]):
                v = kpis[engine][k]
                w.writerow([sid, version, engine, k, "" if v is None else repr(float(v))])
    return buf.getvalue()
