"""What of the region may leave the server or the CLI: JSON and GeoJSON views, every person count
published through :mod:`models.privacy` (0, suppressed as ``null`` with ``suppressed: true`` for 1-4,
otherwise rounded to 5). Geometry in WGS84 (lon/lat, 6 decimals)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from geodata.crs import reproject_xy
from models.privacy import UNDER_LABEL, publish_count, publish_kpis
from models.region.access import RegionAccess
from models.region.model import AGE65PLUS, AGE_COLUMNS, UNDER18, Region

__all__ = ["info_json", "gemeinden_geojson", "grid_geojson", "stops_geojson", "hospitals_geojson", "access_json",
           "to_lonlat", "published_row"]

_SUPPRESSED = {"suppressed_label_de": UNDER_LABEL["de"], "suppressed_label_en": UNDER_LABEL["en"]}


def to_lonlat(geom: Any, epsg: int) -> Any:
    """A shapely geometry from the working CRS to lon/lat, rounded to 1e-6 degrees."""
    g = shapely.transform(geom, lambda a: np.column_stack(reproject_xy(a[:, 0], a[:, 1], epsg, 4326)))
    return shapely.set_precision(g, 1e-6)


def _num(v: Any, nd: int = 3) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return round(float(v), nd) if np.isfinite(v) else None
    return v


def published_row(d: dict[str, Any]) -> dict[str, Any]:
    """Counts published, other numbers rounded, a ``suppressed`` flag when a count was withheld."""
    out = {k: _num(v) for k, v in publish_kpis(d).items()}
    out["suppressed"] = any(out.get(k) is None and isinstance(d.get(k), (int, float, np.floating)) and np.isfinite(d[k])
                            for k in d if k not in ("ags", "name"))
    return out


def _share_18_19(region: Region) -> float:
    pop = region.manifest.get("method", {}).get("population", {})
    return float(pop.get("share_18_19_of_18_29", 2.0 / 12.0)) if isinstance(pop, dict) else 2.0 / 12.0


def old_age_ratio(ages: dict[str, float], share_18_19: float) -> float | None:
    """Persons 65+ per 100 aged 20-64 (the Altenquotient); 18-19 year olds are taken out of 18-29 by the
    Kreis' 2019 share of 18-19 within 18-29."""
    working = (ages["age_18_29"] * (1.0 - share_18_19) + ages["age_30_49"] + ages["age_50_64"])
    return 100.0 * sum(ages[c] for c in AGE65PLUS) / working if working > 0 else None


def info_json(region: Region) -> dict[str, Any]:
    """The region's summary with its method, assumptions and sources (counts published)."""
    info = region.info()
    info["population_2019"] = publish_count(info["population_2019"])
    kreis_ages = {c: float(region.gemeinden[c].sum()) for c in AGE_COLUMNS}
    ratio = old_age_ratio(kreis_ages, _share_18_19(region))
    info["old_age_ratio_2019"] = round(ratio, 2) if ratio is not None else None
    m = region.manifest
    method = dict(m.get("method", {}))
    if isinstance(method.get("population"), dict):
        pop = dict(method["population"])
        pop["kreis_targets_2019"] = publish_kpis(pop.get("kreis_targets_2019") or {})
        method["population"] = pop
    return {**info, "base_year": m.get("base_year"), "method": method,
            "sources": [{k: s.get(k) for k in ("key", "licence", "sha256")} for s in m.get("sources", [])],
            "content_hash": m.get("content_hash", ""),
            "interventions_frame": {"crs": region.crs, "origin_e_m": region.local_origin_m[0],
                                    "origin_n_m": region.local_origin_m[1]}, "privacy": {"min_count": 5, "round_to": 5, **_SUPPRESSED}}


def _feature(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}


def _fc(features: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, **extra}


def gemeinden_geojson(region: Region, access: RegionAccess) -> dict[str, Any]:
    """Gemeinden with population by age, shares, old-age ratio and access indicators (WGS84)."""
    acc = access.gemeinden.set_index("ags")
    feats = []
    share = _share_18_19(region)
    for g in region.gemeinden.itertuples(index=False):
        pop = float(g.population_2019)
        ages = {c: float(getattr(g, c)) for c in AGE_COLUMNS}
        u18, o65 = sum(ages[c] for c in UNDER18), sum(ages[c] for c in AGE65PLUS)
        a = acc.loc[g.ags].to_dict()
        props = {"ags": g.ags, "name": g.name, "kind": g.kind, "area_km2": round(float(g.area_km2), 2),
                 "population_2019": pop, **ages,
                 "share_under18": u18 / pop if pop else 0.0, "share_65plus": o65 / pop if pop else 0.0,
                 "share_80plus": ages["age_80_plus"] / pop if pop else 0.0,
                 "old_age_ratio": old_age_ratio(ages, share),
                 "density_per_km2": pop / float(g.area_km2) if g.area_km2 else None,
                 **{k: v for k, v in a.items() if k not in ("name", "population_2019")}}
        feats.append(_feature(to_lonlat(region.gemeinde_shapes[g.ags], region.epsg), published_row(props)))
    return _fc(feats, base_year=2019, **_SUPPRESSED)


def grid_geojson(region: Region, res: str = "1km", access: RegionAccess | None = None) -> dict[str, Any]:
    """Inhabited cells of 100 m or 1 km (INSPIRE grid, EPSG:3035) with published counts by age group."""
    if res not in ("100m", "1km"):
        raise ValueError("res muss 100m oder 1km sein / res must be 100m or 1km")
    size = 100.0 if res == "100m" else 1000.0
    c = region.cells
    df = pd.DataFrame({"x0": np.floor(c["x_3035"].to_numpy() / size) * size,
                       "y0": np.floor(c["y_3035"].to_numpy() / size) * size})
    for col in AGE_COLUMNS:
        df[col] = c[col].to_numpy(float)
    if access is not None:
        df["deficit_65plus"] = access.cells["deficit_65plus"].to_numpy()
        df["deficit_under18"] = access.cells["deficit_under18"].to_numpy()
    agg = df.groupby(["x0", "y0"], sort=True).sum().reset_index()
    feats = []
    x0, y0 = agg["x0"].to_numpy(), agg["y0"].to_numpy()
    xs = np.stack([x0, x0 + size, x0 + size, x0, x0], axis=1)
    ys = np.stack([y0, y0, y0 + size, y0 + size, y0], axis=1)
    lon, lat = reproject_xy(xs.ravel(), ys.ravel(), 3035, 4326)
    lon, lat = np.round(lon.reshape(xs.shape), 6), np.round(lat.reshape(xs.shape), 6)
    for i, r in enumerate(agg.itertuples(index=False)):
        vals = {col: float(getattr(r, col)) for col in agg.columns if col not in ("x0", "y0")}
        props = {"cell_id": f"{res}N{int(r.y0 // size)}E{int(r.x0 // size)}",
                 "population_2019": sum(vals[c] for c in AGE_COLUMNS), **vals}
        geom = {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(lon[i], lat[i])]]}
        feats.append({"type": "Feature", "geometry": geom, "properties": published_row(props)})
    return _fc(feats, res=res, base_year=2019, **_SUPPRESSED)


def stops_geojson(region: Region) -> dict[str, Any]:
    """Stops with products, service class (estimated or from departures) and interval."""
    feats = []
    for s in region.stops.itertuples(index=False):
        props = {"stop_id": s.stop_id, "name": s.name, "products": s.products, "service_class": s.service_class,
                 "class_estimated": bool(s.class_estimated), "interval_min": _num(s.interval_min, 1),
                 "in_kreis": bool(s.in_kreis), "ags": s.ags}
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(s.lon, 6), round(s.lat, 6)]},
                      "properties": props})
    return _fc(feats)


def hospitals_geojson(region: Region) -> dict[str, Any]:
    feats = []
    for h in region.hospitals.itertuples(index=False):
        props = {"id": h.id, "name": h.name, "site": h.site, "city": h.city, "in_kreis": bool(h.in_kreis)}
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(h.lon, 6), round(h.lat, 6)]},
                      "properties": props})
    return _fc(feats, licence="© Eurostat GISCO; source: InEK GmbH")


def access_json(access: RegionAccess) -> dict[str, Any]:
    """Access figures per Gemeinde and for the Kreis, with the assumptions used (counts published)."""
    return {"kreis": published_row(access.kreis),
            "gemeinden": [published_row(r) for r in access.gemeinden.to_dict(orient="records")],
            "assumptions": access.assumptions, **_SUPPRESSED}


def proposal_geojson(region: Region, proposal: Any) -> dict[str, Any]:
    """A proposal (``models.region.proposals.RegionProposal``) as GeoJSON: points for stops, polygons for
    zones, each with the persons it newly serves (published); ``summary`` and the scenario edits."""
    feats = []
    for it in proposal.items:
        if "polygon" in it:
            geom = to_lonlat(shapely.Polygon(it["polygon"]), region.epsg)
        else:
            geom = to_lonlat(shapely.Point(it["x_m"], it["y_m"]), region.epsg)
        props = {"rank": it["rank"], "name": it["name"], "kind": proposal.kind,
                 "persons_covered": publish_count(it["persons_covered"])}
        feats.append(_feature(geom, props))
    summary = {"kind": proposal.kind, "method": proposal.method, "status": proposal.status,
               "persons_covered": publish_count(proposal.objective),
               "greedy_persons_covered": publish_count(proposal.greedy_objective),
               "deficit_persons_before": publish_count(proposal.deficit_before),
               "deficit_persons_after": publish_count(proposal.deficit_after),
               "runtime_s": round(proposal.runtime_s, 3), "notes": proposal.notes,
               "interventions_frame": {"crs": region.crs, "origin_e_m": region.local_origin_m[0],
                                        "origin_n_m": region.local_origin_m[1]}}
    return _fc(feats, summary=summary, interventions=proposal.interventions, **_SUPPRESSED)


def settlements_geojson(region: Region) -> dict[str, Any]:
    """Settlements (named clusters of inhabited cells) as points at their population-weighted centre, with
    the Gemeinde and the published number of persons: the gazetteer for searching places by name."""
    lon, lat = reproject_xy(region.settlements["x_m"].to_numpy(float), region.settlements["y_m"].to_numpy(float),
                            region.epsg, 4326)
    gname = dict(zip(region.gemeinden["ags"], region.gemeinden["name"]))
    feats = []
    for i, s in enumerate(region.settlements.itertuples(index=False)):
        props = published_row({"name": s.settlement, "ags": s.ags, "gemeinde": gname.get(s.ags, ""),
                               "population_2019": float(s.persons), "cells": int(s.cells)})
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(float(lon[i]), 6),
                                                                                        round(float(lat[i]), 6)]},
                      "properties": props})
    return _fc(feats, base_year=2019, **_SUPPRESSED)


def grid_raster(region: Region, res: str, column: str) -> tuple[np.ndarray, tuple[float, float, float], int]:
    """One published count per cell of the INSPIRE grid (EPSG:3035) as a float32 raster: (array (rows, cols),
    row 0 at the north; (west, north, cell size) of the upper-left corner in EPSG:3035 metres; EPSG code).
    NaN where the count is suppressed (1-4 persons) and where no one lives."""
    from models.privacy import publish_counts

    if res not in ("100m", "1km"):
        raise ValueError("res muss 100m oder 1km sein / res must be 100m or 1km")
    cols_ok = (*AGE_COLUMNS, "population_2019", "under18", "age_65_plus")
    if column not in cols_ok:
        raise ValueError(f"unbekannte Größe {column!r} / unknown quantity (one of {', '.join(cols_ok)})")
    size = 100.0 if res == "100m" else 1000.0
    c = region.cells
    if column == "population_2019":
        v = c[list(AGE_COLUMNS)].to_numpy(float).sum(axis=1)
    elif column == "under18":
        v = c[list(UNDER18)].to_numpy(float).sum(axis=1)
    elif column == "age_65_plus":
        v = c[list(AGE65PLUS)].to_numpy(float).sum(axis=1)
    else:
        v = c[column].to_numpy(float)
    x0 = np.floor(c["x_3035"].to_numpy() / size) * size
    y0 = np.floor(c["y_3035"].to_numpy() / size) * size
    west, north = float(x0.min()), float(y0.max() + size)
    col = np.round((x0 - west) / size).astype(np.int64)
    row = np.round((north - size - y0) / size).astype(np.int64)
    acc = np.zeros((int(row.max()) + 1, int(col.max()) + 1))
    np.add.at(acc, (row, col), v)
    has = np.zeros(acc.shape, bool)
    has[row, col] = True
    out = publish_counts(acc).astype(np.float32)
    out[~has] = np.nan
    return out, (west, north, size), 3035
