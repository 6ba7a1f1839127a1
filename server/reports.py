"""Reports of the region, per Gemeinde and for the Kreis: a PDF (map, charts, key figures with sources and
date, the assumptions), the same as PNG (the first page) and CSV (the key figures), in German.

Everything a report shows is published data: person counts pass :mod:`models.privacy` (0, suppressed
below 5 as "unter 5", else rounded to 5), shares and ratios are computed from the model's unrounded
figures. The charts are the specs of :mod:`server.charts`, drawn here with matplotlib exactly as the web
viewer draws them as SVG.

The PDF is made with matplotlib's PDF backend (A4 portrait, DejaVu Sans, no creation date in the file, so
the same inputs give the same bytes).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import os
import textwrap
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geodata.crs import reproject_xy
from models.forecast.demand import SERVICES, UNITS, capacities_from_features
from models.forecast.service import ForecastRun, base_from_shared, forecast, housing_for, published_demand
from models.privacy import UNDER_LABEL, publish_count
from models.region.access import RegionAccess, region_access
from models.region.build import build_region
from models.region.bundle import load_region, region_dir
from models.region.model import AGE_COLUMNS, Region
from models.region.views import gemeinden_geojson
from server import charts

__all__ = ["RegionView", "region_view", "load_region_view", "load_forecast", "capacity_vs_demand", "report_content", "report_pdf", "report_png",
           "report_csv", "draw_chart", "ReportError", "KEY_FIGURES", "SERVICES"]

KEY_FIGURES = ("population_2019", "area_km2", "density_per_km2", "share_under18", "share_65plus", "share_80plus",
               "old_age_ratio", "share_deficit_65plus", "share_deficit_under18", "mean_walk_stop_m", "mean_hospital_km")
A4_IN = (8.27, 11.69)
_DRAWING = threading.Lock()  # pyplot's figure manager is not thread-safe; routes run in a thread pool


class ReportError(LookupError):
    """An unknown region or Gemeinde (German / English)."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.de, self.en = de, en


@dataclass(frozen=True)
class RegionView:
    """What the region publishes: the Kreis' figures, one feature per Gemeinde (lon/lat polygons with
    published properties), the sources with their licences, the method, and the data's reference date."""

    name: str
    kreis: dict[str, Any]
    features: list[dict[str, Any]]
    sources: list[dict[str, str]]
    method: list[str]
    data_date: str
    extra: dict[str, Any] = field(default_factory=dict)

    def feature(self, ags: str) -> dict[str, Any]:
        for f in self.features:
            if f["properties"]["ags"] == ags:
                return f
        raise ReportError(f"Gemeinde {ags} gibt es in {self.kreis.get('name', self.name)} nicht",
                          f"no municipality {ags} in {self.kreis.get('name', self.name)}")


def _kreis_props(region: Region, access: RegionAccess) -> dict[str, Any]:
    """The Kreis' published figures, by the very function that publishes each Gemeinde's (the Kreis as
    one area: the sums of its Gemeinden and the Kreis' access figures)."""
    sums = {c: float(region.gemeinden[c].sum()) for c in ("population_2019", "area_km2", *AGE_COLUMNS)}
    row = pd.DataFrame([{"ags": region.kreis_ags, "name": region.kreis_name, "kind": "Kreis", **sums}])
    acc = pd.DataFrame([{**access.kreis, "ags": region.kreis_ags}])
    one = dataclasses.replace(region, gemeinden=row, gemeinde_shapes={region.kreis_ags: region.kreis_outline})
    fc = gemeinden_geojson(one, dataclasses.replace(access, gemeinden=acc))
    return dict(fc["features"][0]["properties"])


def region_view(region: Region) -> RegionView:
    """The published view of a :class:`Region`: each Gemeinde exactly as the region API publishes it
    (:func:`models.region.views.gemeinden_geojson`), the Kreis by the same function, the map layers."""
    access = region_access(region)
    feats = sorted(gemeinden_geojson(region, access)["features"], key=lambda f: str(f["properties"]["name"]))
    kreis = _kreis_props(region, access)
    man = region.manifest or {}
    sources = [{"title": _SOURCE_TITLES.get(str(x.get("key", "")), str(x.get("key", ""))),
                "licence": str(x.get("licence", ""))} for x in man.get("sources", []) if isinstance(x, Mapping)]
    method_list = _method_lines(man.get("method") or {})
    extra = {"grid": {res: _grid(region, res) for res in ("1km", "100m")}, "stops": _stops(region),
             "hospitals": _hospitals(region), "places": _places(region)}
    return RegionView(region.name, kreis, feats, sources, method_list, "31.12.2019", extra)


def _grid(region: Region, res: str) -> dict[str, Any]:
    """Inhabited cells (INSPIRE grid, EPSG:3035) at ``res`` (1km or 100m): the south-west and north-east
    corners in lon/lat and the published persons and persons 80+ (rounded to 5, None below 5)."""
    size = 1000 if res == "1km" else 100
    c = region.cells
    kx = (c["x_3035"].to_numpy() // size).astype(np.int64)
    ky = (c["y_3035"].to_numpy() // size).astype(np.int64)
    persons = c[list(AGE_COLUMNS)].sum(axis=1).to_numpy()
    old = c["age_80_plus"].to_numpy()
    keys, inv = np.unique(np.column_stack([kx, ky]), axis=0, return_inverse=True)
    inv = inv.ravel()
    p = np.bincount(inv, weights=persons, minlength=len(keys))
    o = np.bincount(inv, weights=old, minlength=len(keys))
    x0, y0 = keys[:, 0] * float(size), keys[:, 1] * float(size)
    lon0, lat0 = reproject_xy(x0, y0, 3035, 4326)
    lon1, lat1 = reproject_xy(x0 + size, y0 + size, 3035, 4326)
    cells = [[round(float(a), 5), round(float(b), 5), round(float(cc), 5), round(float(d), 5), publish_count(pp),
              publish_count(oo)] for a, b, cc, d, pp, oo in zip(lon0, lat0, lon1, lat1, p, o)]
    return {"res": res, "cell_m": size, "crs": "EPSG:3035", "columns": ["west", "south", "east", "north", "persons",
                                                                        "persons_80plus"], "cells": cells}


def _stops(region: Region) -> dict[str, Any]:
    s = region.stops[region.stops["in_kreis"]]
    return {"columns": ["lon", "lat", "name", "service_class", "class_estimated"],
            "stops": [[round(float(r.lon), 6), round(float(r.lat), 6), str(r.name), str(r.service_class),
                       bool(r.class_estimated)] for r in s.itertuples()]}


def _places(region: Region) -> dict[str, Any]:
    """The named settlements (places for the search): name, lon, lat of the population-weighted centre, AGS
    of their Gemeinde. Numbered parts of a place ("Schnaudertal 4") are left out."""
    st = region.settlements
    keep = ~st["settlement"].astype(str).str.contains(r" \d+$", regex=True)
    st = st[keep]
    lon, lat = reproject_xy(st["x_m"].to_numpy(), st["y_m"].to_numpy(), region.epsg, 4326)
    return {"columns": ["name", "lon", "lat", "ags"],
            "places": [[str(n), round(float(a), 5), round(float(b), 5), str(g)]
                       for n, a, b, g in zip(st["settlement"], lon, lat, st["ags"])]}


def _hospitals(region: Region) -> dict[str, Any]:
    h = region.hospitals[region.hospitals["in_kreis"]]
    return {"columns": ["lon", "lat", "name"],
            "hospitals": [[round(float(r.lon), 6), round(float(r.lat), 6), str(r.name)] for r in h.itertuples()]}


_SOURCE_TITLES = {
    "kreis": "Kreisgrenze: BKG VG5000", "gemeinden": "Gemeindegrenzen: BKG VG5000",
    "zensus_100m": "Zensus 2011, 100-m-Gitter, Altersklassen", "zensus_100m_young_old": "Zensus 2011, 100-m-Gitter, unter 10 / 80+",
    "zensus_1km": "Zensus 2011, 1-km-Gitter", "kreis_ages_2019": "Destatis 12411-0017, Bevölkerung nach Altersgruppen, 31.12.2019",
    "kreis_80plus_2019": "Destatis/RKI, Bevölkerung 80+ 2019", "stops": "Haltestellen: DB/HAFAS",
    "hospitals": "Krankenhäuser: Eurostat GISCO / InEK", "gtfs": "Fahrplan (GTFS)",
}


def _method_lines(method: Any) -> list[str]:
    """German lines of the region manifest's method (dicts with ``de``, "deutsch / english" strings, and
    numbers of the assumptions)."""
    out: list[str] = []
    if isinstance(method, str):
        return [method.split(" / ")[0]]
    if not isinstance(method, Mapping):
        return out
    for key, v in method.items():
        if isinstance(v, Mapping) and "de" in v:
            out.append(str(v["de"]))
        elif isinstance(v, str):
            out.append(v.split(" / ")[0])
        elif isinstance(v, Mapping):
            nums = [f"{k} = {x}" for k, x in v.items() if isinstance(x, int | float | str) and not str(k).endswith("_source")
                    and len(str(x)) < 40]
            if nums:
                out.append(f"{key}: " + ", ".join(nums))
    return out


def load_region_view(shared_data: str, data_dir: str | None = None, name: str = "burgenlandkreis") -> RegionView:
    """The view of the region: from its bundle in ``data_dir`` (``twin region build``; what the region API
    serves) when there is one, else built from the open data below ``shared_data``. Cached per source."""
    if data_dir is not None:
        manifest = region_dir(data_dir, name) / "manifest.json"
        if manifest.is_file():
            return _view_of(("bundle", str(Path(data_dir).resolve()), name, manifest.stat().st_mtime_ns))
    return _view_of(("shared", shared_data, name, 0))


@lru_cache(maxsize=4)
def _view_of(key: tuple[str, str, str, int]) -> RegionView:
    kind, where, name, _ = key
    return region_view(load_region(name, where) if kind == "bundle" else build_region(where))


@lru_cache(maxsize=2)
def _forecast_inputs(shared_data: str) -> tuple[Any, Any]:
    base = base_from_shared(shared_data)
    return base, housing_for(base, shared_data)


@lru_cache(maxsize=2)
def load_forecast(shared_data: str, to_year: int = 2040) -> ForecastRun:
    """The baseline forecast (:mod:`models.forecast`) of the region below ``shared_data`` (cached)."""
    base, housing = _forecast_inputs(shared_data)
    return forecast(base, [], to_year, housing=housing)


_FORECAST_SOURCE = {"de": "Bevölkerungsprognose des Zwillings (Basisvariante, Kohorten-Komponenten-Modell)",
                    "en": "the twin's population forecast (baseline, cohort-component model)"}


def _trend(view: RegionView, run: ForecastRun, ags: str | None) -> dict[str, Any]:
    pr = run.projection
    years = [int(y) for y in pr.years]
    tot = pr.total()  # (years, Gemeinden) persons
    kreis = [publish_count(float(v)) for v in tot.sum(axis=1)]
    series: dict[str, list[float | None]] = {}
    if ags is not None and ags in pr.ags:
        g = list(pr.ags).index(ags)
        series[view.feature(ags)["properties"]["name"]] = [publish_count(float(v)) for v in tot[:, g]]
    series[str(view.kreis.get("name", "Kreis"))] = kreis
    return charts.trend(years, series, title={"de": "Einwohner bis 2040 (Prognose)", "en": "inhabitants to 2040 (forecast)"},
                        source=_FORECAST_SOURCE)


def capacity_vs_demand(view: RegionView, shared_data: str, features: list[dict[str, Any]], *, service: str,
                       field: str, year: int, to_year: int = 2040) -> dict[str, Any]:
    """Capacities of ``service`` from a department layer's features (``field`` summed per Gemeinde: an
    ``ags`` property or points inside the outline) against the forecast's demand in ``year``, per Gemeinde:
    rows (published demand, capacity, gap = capacity - demand) and the chart spec. Raises ValueError
    (ForecastInputError, German / English) for an unknown service or a field that is not a number."""
    shapes = {f["properties"]["ags"]: shapely.geometry.shape(f["geometry"]) for f in view.features}
    base, housing = _forecast_inputs(shared_data)
    if not 2019 <= year <= to_year:
        raise ReportError(f"Jahr {year} liegt außerhalb der Prognose", f"year {year} is outside the forecast")
    caps = capacities_from_features(features, service, field, tuple(base.ags), shapes)
    run2 = forecast(base, [], to_year, housing=housing, capacities=caps)
    d = published_demand(run2.demand[(run2.demand.year == year) & (run2.demand.service == service)])
    rows = [{"ags": r.ags, "name": r.name, "demand": None if np.isnan(r.demand) else float(r.demand),
             "capacity": None if np.isnan(r.capacity) else float(r.capacity),
             "gap": None if np.isnan(r.gap) else float(r.gap)} for r in d.sort_values("name").itertuples()]
    unit_de, _, unit_en = UNITS[service].partition(" / ")
    spec = charts.capacity_vs_demand([r for r in rows if r["capacity"] is not None], service={"de": unit_de, "en": unit_en},
                                     unit={"de": unit_de, "en": unit_en},
                                     source={"de": f"Bedarf: {_FORECAST_SOURCE['de']}, {year}; Kapazität: Ebene",
                                             "en": f"demand: {_FORECAST_SOURCE['en']}, {year}; capacity: layer"})
    known = [r for r in rows if r["capacity"] is not None and r["demand"] is not None]
    return {"service": service, "field": field, "year": year, "rows": rows, "chart": spec,
            "kreis": {"demand": sum(r["demand"] for r in known), "capacity": sum(r["capacity"] for r in known),
                      "gap": sum(r["capacity"] - r["demand"] for r in known)}}


def default_shared_data() -> str:
    return str(Path(os.environ.get("LANDTWIN_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"))


# --- content ---------------------------------------------------------------------------------------------
_SOURCE = {"de": "Destatis 12411-0017 (31.12.2019), Zensus 2011 (100-m-Gitter), BKG VG5000",
           "en": "Destatis 12411-0017 (31 Dec 2019), Zensus 2011 (100 m grid), BKG VG5000"}


def _fmt_value(key: str, v: Any) -> str:
    if v is None:
        return UNDER_LABEL["de"] if key.startswith(("age_", "population")) else "–"
    ind = charts.INDICATORS.get(key)
    if ind and ind["percent"]:
        return f"{100.0 * float(v):.1f} %".replace(".", ",")
    if key == "area_km2":
        return f"{float(v):.1f} km²".replace(".", ",")
    unit = f" {ind['unit_de']}" if ind and ind["unit_de"] in ("m", "km") else ""
    if key == "mean_walk_stop_m":
        return f"{float(v):,.0f}".replace(",", ".") + unit
    if isinstance(v, float) and not float(v).is_integer():
        return f"{v:.1f}".replace(".", ",") + unit
    return f"{int(v):,}".replace(",", ".") + unit


def _key_rows(props: Mapping[str, Any], kreis: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = list(KEY_FIGURES) + [c for c in AGE_COLUMNS]
    rows = []
    for k in keys:
        if k not in props:
            continue
        lab = charts.label(k)
        if k.startswith("age_"):
            lab = {"de": f"Personen {lab['de']}" + ("" if "älter" in lab["de"] else " Jahre"),
                   "en": f"persons aged {lab['en']}"}
        if k == "area_km2":
            lab = {"de": "Fläche", "en": "area"}
        rows.append({"key": k, "label": lab, "value": props.get(k), "kreis": kreis.get(k),
                     "text": _fmt_value(k, props.get(k)), "kreis_text": _fmt_value(k, kreis.get(k))})
    return rows


def report_content(view: RegionView, ags: str | None, run: ForecastRun | None = None) -> dict[str, Any]:
    """The key figures and chart specs of one Gemeinde (``ags``) or of the Kreis (``None``), as the web
    viewer's chart panel and the reports show them; with ``run`` (a forecast) the trend to its last year."""
    feats = [f["properties"] for f in view.features]
    if ags is None:
        props = view.kreis
        chart_list = [
            charts.ranking(feats, "share_65plus", highlight_ags=None, source=_SOURCE),
            charts.ranking(feats, "population_2019", highlight_ags=None, source=_SOURCE),
            charts.age_structure(props, view.kreis, source=_SOURCE),
        ]
    else:
        props = view.feature(ags)["properties"]
        chart_list = [
            charts.age_structure(props, view.kreis, source=_SOURCE),
            charts.indicators_vs_kreis(props, view.kreis, ["share_under18", "share_65plus", "share_80plus",
                                                           "share_deficit_65plus", "share_deficit_under18"], source=_SOURCE),
            charts.ranking(feats, "share_65plus", highlight_ags=ags, source=_SOURCE),
        ]
    if run is not None:
        chart_list.append(_trend(view, run, ags))
    return {"region": view.name, "ags": props["ags"], "name": props["name"], "kind": props.get("kind", ""),
            "data_date": view.data_date, "key_figures": _key_rows(props, view.kreis), "charts": chart_list,
            "sources": view.sources, "method": view.method}


# --- drawing ---------------------------------------------------------------------------------------------
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def draw_chart(ax: Any, spec: Mapping[str, Any], lang: str = "de") -> None:
    """Draw one chart spec of :mod:`server.charts` into a matplotlib axes (the same layout as the web
    viewer's SVG: bars top-down in category order, reference ticks, the highlighted row in orange)."""
    cats = [c[lang] for c in spec["categories"]]
    kind = spec["kind"]
    ax.set_title(spec["title"][lang], fontsize=10, loc="left", fontweight="bold")
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    ax.tick_params(labelsize=7)
    if kind == "bars":
        y = np.arange(len(cats))
        vals = spec["series"][0]["values"]
        colours = [spec["series"][0]["colour"]] * len(cats)
        if spec.get("highlight") is not None:
            colours[spec["highlight"]] = charts.PALETTE["highlight"]
        ax.barh(y, [0.0 if v is None else v for v in vals], color=colours, height=0.7)
        for i, v in enumerate(vals):
            if v is None:
                ax.text(0, i, " " + UNDER_LABEL[lang], va="center", fontsize=6, color="#444444")
        ref = spec.get("reference")
        if ref:
            for i, v in enumerate(ref["values"]):
                if v is not None:
                    ax.plot([v, v], [i - 0.42, i + 0.42], color=ref["colour"], lw=2)
            ax.plot([], [], color=ref["colour"], lw=2, label=ref["label"][lang])
            ax.barh([], [], color=spec["series"][0]["colour"], label=spec["series"][0]["label"][lang])
            ax.legend(fontsize=7, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2)
        ax.set_yticks(y, [textwrap.fill(c, 32) for c in cats])  # long indicator names on two lines, not cut off
        ax.invert_yaxis()
        ax.set_xlabel(spec["unit"][lang], fontsize=7)
    elif kind == "columns":
        x = np.arange(len(cats))
        n = len(spec["series"])
        w = 0.8 / max(n, 1)
        for k, s in enumerate(spec["series"]):
            ax.bar(x - 0.4 + w * (k + 0.5), [0.0 if v is None else v for v in s["values"]], w, color=s["colour"],
                   label=s["label"][lang])
        ax.set_xticks(x, cats, rotation=45, ha="right")
        ax.set_ylabel(spec["unit"][lang], fontsize=7)
        ax.legend(fontsize=7, frameon=False)
    else:
        x = np.arange(len(cats))
        for s in spec["series"]:
            v = np.array([np.nan if q is None else q for q in s["values"]], dtype=float)
            ax.plot(x, v, color=s["colour"], lw=2, label=s["label"][lang])
        step = max(1, len(cats) // 8)
        ax.set_xticks(x[::step], cats[::step])
        ax.set_ylabel(spec["unit"][lang], fontsize=7)
        ax.legend(fontsize=7, frameon=False)
    note = spec.get("note")
    src = f"Quelle: {spec['source'][lang]}" if lang == "de" else f"Source: {spec['source'][lang]}"
    ax.annotate(src + (f" · {note[lang]}" if note else ""), (0, 0), xycoords="axes fraction", xytext=(0, -26),
                textcoords="offset points", fontsize=6, color="#444444", va="top")


def _polys(geom: Mapping[str, Any]) -> list[np.ndarray]:
    coords = geom["coordinates"]
    rings = [coords[0]] if geom["type"] == "Polygon" else [p[0] for p in coords]
    return [np.asarray(r, dtype=float) for r in rings]


def draw_map(ax: Any, view: RegionView, key: str, highlight_ags: str | None) -> None:
    """Choropleth of the Gemeinden by ``key`` (5 quantile classes, viridis), the chosen one outlined."""
    from matplotlib.collections import PolyCollection

    vals = np.array([np.nan if f["properties"].get(key) is None else float(f["properties"][key]) for f in view.features])
    finite = vals[np.isfinite(vals)]
    edges = np.quantile(finite, np.linspace(0, 1, 6)) if finite.size else np.array([0.0, 1.0])
    colours = [charts.CLASS_COLOURS5[i] for i in range(5)]
    polys, fc = [], []
    for f, v in zip(view.features, vals):
        k = 0 if not np.isfinite(v) else int(np.clip(np.searchsorted(edges, v, side="right") - 1, 0, 4))
        for ring in _polys(f["geometry"]):
            polys.append(ring)
            fc.append(colours[k] if np.isfinite(v) else "#dddddd")
    lat0 = float(np.mean([r[:, 1].mean() for r in polys]))
    ax.add_collection(PolyCollection(polys, facecolors=fc, edgecolors="white", linewidths=0.5))
    if highlight_ags is not None:
        f = view.feature(highlight_ags)
        ax.add_collection(PolyCollection(_polys(f["geometry"]), facecolors="none", edgecolors="#e69f00", linewidths=2.5))
    for f in view.features:
        if f["properties"].get("kind") == "Stadt" and (f["properties"].get("population_2019") or 0) > 15000:
            c = np.concatenate(_polys(f["geometry"])).mean(axis=0)
            ax.text(c[0], c[1], f["properties"]["name"].split(" (")[0], fontsize=6, ha="center", color="black",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.autoscale_view()
    ax.set_aspect(1.0 / np.cos(np.radians(lat0)))
    ax.set_axis_off()
    handles = []
    from matplotlib.patches import Patch

    pct = bool(charts.INDICATORS.get(key, {}).get("percent"))
    for i in range(len(edges) - 1):
        lo, hi = edges[i], edges[i + 1]
        t = (f"{100 * lo:.1f} – {100 * hi:.1f} %" if pct else f"{lo:,.0f} – {hi:,.0f}").replace(".", ",")
        handles.append(Patch(facecolor=colours[i], label=t))
    ax.legend(handles=handles, title=charts.label(key)["de"], fontsize=6, title_fontsize=7, loc="lower left",
              frameon=True, framealpha=0.9)


def _page1(plt: Any, view: RegionView, content: Mapping[str, Any], created: str) -> Any:
    fig = plt.figure(figsize=A4_IN)
    is_kreis = content["kind"] == "Kreis"
    heading = content["name"] if is_kreis else f"{content['kind']} {content['name']}".strip()
    fig.text(0.07, 0.955, heading, fontsize=18, fontweight="bold")
    fig.text(0.07, 0.935, f"Bericht zur Bevölkerung · {view.kreis['name']} · Datenstand {content['data_date']} · "
                          f"erstellt am {created}", fontsize=8, color="#333333")
    ax = fig.add_axes((0.05, 0.47, 0.9, 0.44))
    draw_map(ax, view, "share_65plus", None if is_kreis else content["ags"])
    ax.set_title("Anteil 65 Jahre und älter je Gemeinde" + ("" if is_kreis else f" ({content['name']} umrandet)"),
                 fontsize=10, loc="left", fontweight="bold")
    tab = fig.add_axes((0.07, 0.05, 0.86, 0.38))
    tab.set_axis_off()
    rows = content["key_figures"]
    tab.text(0, 1.0, "Kennzahlen", fontsize=11, fontweight="bold", va="top")
    tab.text(0.62, 1.0, "" if is_kreis else content["name"], fontsize=8, fontweight="bold", va="top", ha="right")
    tab.text(0.86, 1.0, "Kreis", fontsize=8, fontweight="bold", va="top", ha="right")
    step = 0.92 / max(len(rows), 1)
    for i, r in enumerate(rows):
        y = 0.93 - i * step
        if i % 2 == 0:
            tab.add_patch(plt.Rectangle((0, y - step * 0.75), 0.88, step, color="#f0f3f7", lw=0))
        tab.text(0, y, r["label"]["de"], fontsize=8, va="center")
        tab.text(0.62, y, "" if is_kreis else r["text"], fontsize=8, va="center", ha="right")
        tab.text(0.86, y, r["kreis_text"], fontsize=8, va="center", ha="right")
    tab.set_xlim(0, 1)
    tab.set_ylim(0, 1)
    fig.text(0.07, 0.025, "Personenzahlen auf 5 gerundet, Werte unter 5 als „unter 5“; Anteile aus ungerundeten "
                          "Zahlen. Quellen und Annahmen: Seite 3.", fontsize=6.5, color="#333333")
    return fig


def _page_charts(plt: Any, content: Mapping[str, Any]) -> Any:
    fig = plt.figure(figsize=A4_IN)
    fig.text(0.07, 0.955, f"{content['name']}: Diagramme", fontsize=14, fontweight="bold")
    specs = content["charts"]
    boxes = [(0.3, 0.72, 0.62, 0.19), (0.3, 0.555, 0.62, 0.1), (0.3, 0.2, 0.62, 0.29), (0.12, 0.04, 0.8, 0.1)]
    for spec, box in zip(specs, boxes):
        draw_chart(fig.add_axes(box), spec, "de")
    return fig


def _page_sources(plt: Any, view: RegionView, content: Mapping[str, Any], created: str) -> Any:
    fig = plt.figure(figsize=A4_IN)
    fig.text(0.07, 0.955, "Quellen, Stand und Annahmen", fontsize=14, fontweight="bold")
    lines = [f"Datenstand der Bevölkerung: {content['data_date']}; Bericht erstellt am {created}.", "", "Quellen:"]
    lines += [f"  • {s['title']}" + (f" (Lizenz: {s['licence']})" if s.get("licence") else "") for s in view.sources]
    lines += ["", "Annahmen und Methode:"]
    lines += [f"  • {m}" for m in view.method] or ["  • –"]
    lines += [
        "  • Altersgruppen je Gemeinde: das Muster des Zensus 2011 (100-m-Gitter) auf die Kreistabelle 2019 skaliert;",
        "    für einzelne Gemeinden liegt hier keine amtliche Altersstatistik vor.",
        "  • Altenquotient: Personen 65+ je 100 Personen von 20 bis 64 Jahren (18–19 als 2 der 12 Jahrgänge 18–29).",
        "  • Personenzahlen sind auf 5 gerundet; 1 bis 4 Personen werden als „unter 5“ ausgewiesen (Datenschutz).",
    ]
    y = 0.92
    for ln in lines:
        for part in textwrap.wrap(ln, 110, subsequent_indent="    ") or [""]:
            fig.text(0.07, y, part, fontsize=8, va="top")
            y -= 0.018
    return fig


def _today() -> str:
    return dt.date.today().strftime("%d.%m.%Y")


def report_pdf(view: RegionView, ags: str | None, *, created: str | None = None, run: ForecastRun | None = None) -> bytes:
    """The PDF report (3 A4 pages: map and key figures; charts; sources and assumptions)."""
    plt = _plt()
    content = report_content(view, ags, run)
    created = created or _today()
    buf = io.BytesIO()
    with _DRAWING:
        _write_pdf(plt, buf, view, content, created)
    return buf.getvalue()


def _write_pdf(plt: Any, buf: io.BytesIO, view: RegionView, content: Mapping[str, Any], created: str) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    meta = {"Title": f"Bericht {content['name']}", "Creator": "landtwin", "CreationDate": None, "Producer": None}
    with PdfPages(buf, metadata=meta) as pdf:
        for fig in (_page1(plt, view, content, created), _page_charts(plt, content),
                    _page_sources(plt, view, content, created)):
            pdf.savefig(fig)
            plt.close(fig)


def report_png(view: RegionView, ags: str | None, *, created: str | None = None, dpi: int = 110) -> bytes:
    """The first page of the report (map and key figures) as a PNG."""
    plt = _plt()
    content = report_content(view, ags)
    buf = io.BytesIO()
    with _DRAWING:
        fig = _page1(plt, view, content, created or _today())
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        plt.close(fig)
    return buf.getvalue()


def report_csv(view: RegionView, ags: str | None) -> str:
    """The key figures as CSV (``;``-separated, decimal comma as in German spreadsheets): key, label,
    value (published, empty where suppressed), Kreis value, shown text."""
    content = report_content(view, ags)
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\n")
    w.writerow(["ags", "name", "kennzahl", "bezeichnung", "wert", "wert_kreis", "anzeige", "datenstand"])
    for r in content["key_figures"]:
        w.writerow([content["ags"], content["name"], r["key"], r["label"]["de"],
                    "" if r["value"] is None else r["value"], "" if r["kreis"] is None else r["kreis"], r["text"],
                    content["data_date"]])
    return out.getvalue()
