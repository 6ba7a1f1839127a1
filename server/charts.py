"""Chart specifications: one description of a chart, computed here as JSON and drawn twice: by the web
viewer's small SVG renderer (``viewer/web/src/region_charts.ts``) and by matplotlib in the reports
(:mod:`server.reports`). Both draw the same numbers with the same colours, labels and order, so a chart in
the browser and the one in the printed report cannot disagree.

A spec is a plain dict (JSON):

``{"id", "kind": "bars" | "columns" | "lines", "title": {"de", "en"}, "unit": {"de", "en"},
"categories": [{"de", "en"}], "series": [{"label": {"de", "en"}, "values": [float | None], "colour"}],
"reference": {"label", "values", "colour"} | None, "highlight": int | None, "percent": bool,
"source": {"de", "en"}, "note": {"de", "en"} | None}``

- ``bars``: horizontal bars, one row per category (an age structure, indicators of one Gemeinde against
  the Kreis, a ranking of Gemeinden); ``reference`` values are drawn as ticks across the bars.
- ``columns``: vertical grouped bars (demand against capacity).
- ``lines``: one line per series over the categories (years).

``None`` is a suppressed value (a count of 1-4 persons, shown as "unter 5") or one that is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["INDICATORS", "Indicator", "age_structure", "indicators_vs_kreis", "ranking", "trend", "capacity_vs_demand",
           "AGE_LABELS", "PALETTE", "CLASS_COLOURS5", "label"]

CLASS_COLOURS5 = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")  # viridis, 5 classes
PALETTE = {"main": "#1f5f99", "reference": "#b3361b", "second": "#e69f00", "gap": "#b3361b", "muted": "#8c8c8c",
           "highlight": "#e69f00"}


class Indicator(dict):
    """{"key", "de", "en", "unit_de", "unit_en", "percent"}."""


def _ind(key: str, de: str, en: str, unit_de: str = "", unit_en: str = "", percent: bool = False) -> Indicator:
    return Indicator(key=key, de=de, en=en, unit_de=unit_de, unit_en=unit_en, percent=percent)


# the indicators the region view and the reports know by name (others are shown with their key)
INDICATORS: dict[str, Indicator] = {i["key"]: i for i in (
    _ind("population_2019", "Einwohner 2019", "inhabitants 2019", "Personen", "persons"),
    _ind("share_under18", "Anteil unter 18 Jahren", "share under 18", "%", "%", True),
    _ind("share_65plus", "Anteil 65 Jahre und älter", "share aged 65+", "%", "%", True),
    _ind("share_80plus", "Anteil 80 Jahre und älter", "share aged 80+", "%", "%", True),
    _ind("old_age_ratio", "Altenquotient (65+ je 100 im Erwerbsalter)", "old-age ratio (65+ per 100 of working age)"),
    _ind("density_per_km2", "Einwohner je km²", "inhabitants per km²", "je km²", "per km²"),
    _ind("share_deficit_65plus", "Anteil 65+ ohne gute Haltestelle (Klasse D oder besser) in 600 m",
         "share 65+ without a good stop (class D or better) within 600 m", "%", "%", True),
    _ind("share_deficit_under18", "Anteil unter 18 ohne gute Haltestelle in 600 m",
         "share under 18 without a good stop within 600 m", "%", "%", True),
    _ind("mean_walk_stop_m", "mittlerer Fußweg zur nächsten Haltestelle", "mean walk to the next stop", "m", "m"),
    _ind("mean_hospital_km", "mittlere Entfernung zum nächsten Krankenhaus", "mean distance to the next hospital",
         "km", "km"),
)}


def label(key: str) -> dict[str, str]:
    ind = INDICATORS.get(key)
    if ind is not None:
        return {"de": ind["de"], "en": ind["en"]}
    if key.startswith("age_"):
        return AGE_LABELS.get(key, {"de": key, "en": key})
    return {"de": key.replace("_", " "), "en": key.replace("_", " ")}


def _age_label(col: str) -> dict[str, str]:
    parts = col.split("_")
    if len(parts) == 3 and parts[2] == "plus":
        return {"de": f"{parts[1]} und älter", "en": f"{parts[1]} and older"}
    if len(parts) == 3:
        return {"de": f"{parts[1]}–{parts[2]}", "en": f"{parts[1]}–{parts[2]}"}
    return {"de": col, "en": col}


AGE_LABELS: dict[str, dict[str, str]] = {}


def _age_columns(props: Mapping[str, Any]) -> list[str]:
    cols = [k for k in props if k.startswith("age_") and k.count("_") == 2]

    def lo(c: str) -> int:
        try:
            return int(c.split("_")[1])
        except ValueError:
            return 999
    cols = sorted(cols, key=lo)
    for c in cols:
        AGE_LABELS.setdefault(c, _age_label(c))
    return cols


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _share(values: Sequence[float | None]) -> list[float | None]:
    known = [v for v in values if v is not None]
    total = sum(known)
    return [None if v is None or total <= 0 else 100.0 * v / total for v in values]


def age_structure(props: Mapping[str, Any], kreis: Mapping[str, Any], *, source: Mapping[str, str]) -> dict[str, Any]:
    """Share of each age group in the Gemeinde (bars) against the Kreis (reference ticks), in %.
    ``props``/``kreis`` carry published counts ``age_<lo>_<hi>`` (None where suppressed)."""
    cols = _age_columns(props)
    mine = _share([_num(props.get(c)) for c in cols])
    ref = _share([_num(kreis.get(c)) for c in cols])
    suppressed = any(props.get(c) is None for c in cols)
    return {
        "id": "age_structure", "kind": "bars", "percent": True,
        "title": {"de": f"Altersaufbau {props.get('name', '')}".strip(), "en": f"Age structure {props.get('name', '')}".strip()},
        "unit": {"de": "% der Einwohner", "en": "% of inhabitants"},
        "categories": [AGE_LABELS[c] for c in cols],
        "series": [{"label": {"de": str(props.get("name", "Gemeinde")), "en": str(props.get("name", "municipality"))},
                    "values": _r(mine), "colour": PALETTE["main"]}],
        "reference": {"label": {"de": "Kreis", "en": "Kreis"}, "values": _r(ref), "colour": PALETTE["reference"]},
        "highlight": None, "source": dict(source),
        "note": {"de": "Gruppen unter 5 Personen nicht ausgewiesen", "en": "groups under 5 persons not shown"} if suppressed else None,
    }


def _r(vals: Sequence[float | None], nd: int = 2) -> list[float | None]:
    return [None if v is None else round(float(v), nd) for v in vals]


def _scaled(key: str, v: float | None) -> float | None:
    if v is None:
        return None
    return 100.0 * v if INDICATORS.get(key, {}).get("percent") and abs(v) <= 1.0 else v


def indicators_vs_kreis(props: Mapping[str, Any], kreis: Mapping[str, Any], keys: Sequence[str], *,
                        source: Mapping[str, str]) -> dict[str, Any]:
    """Shares (in %) of one Gemeinde against the Kreis, one bar per indicator (those both sides know)."""
    keys = [k for k in keys if _num(props.get(k)) is not None and _num(kreis.get(k)) is not None]
    return {
        "id": "indicators", "kind": "bars", "percent": True,
        "title": {"de": "Kennzahlen im Vergleich zum Kreis", "en": "Key figures against the Kreis"},
        "unit": {"de": "%", "en": "%"},
        "categories": [label(k) for k in keys],
        "series": [{"label": {"de": str(props.get("name", "")), "en": str(props.get("name", ""))},
                    "values": _r([_scaled(k, _num(props.get(k))) for k in keys]), "colour": PALETTE["main"]}],
        "reference": {"label": {"de": "Kreis", "en": "Kreis"},
                      "values": _r([_scaled(k, _num(kreis.get(k))) for k in keys]), "colour": PALETTE["reference"]},
        "highlight": None, "source": dict(source), "note": None,
    }


def ranking(features: Sequence[Mapping[str, Any]], key: str, *, highlight_ags: str | None,
            source: Mapping[str, str], top: int = 33) -> dict[str, Any]:
    """All Gemeinden ordered by one indicator (largest first), the chosen one highlighted."""
    rows = [(str(f.get("name", "")), str(f.get("ags", "")), _scaled(key, _num(f.get(key)))) for f in features]
    rows = sorted(rows, key=lambda r: (r[2] is None, -(r[2] or 0.0), r[0]))[:top]
    hi = next((i for i, r in enumerate(rows) if r[1] == highlight_ags), None)
    ind = INDICATORS.get(key)
    return {
        "id": f"ranking_{key}", "kind": "bars", "percent": bool(ind and ind["percent"]),
        "title": {"de": f"{label(key)['de']} je Gemeinde", "en": f"{label(key)['en']} by municipality"},
        "unit": {"de": ind["unit_de"] if ind else "", "en": ind["unit_en"] if ind else ""},
        "categories": [{"de": r[0], "en": r[0]} for r in rows],
        "series": [{"label": label(key), "values": _r([r[2] for r in rows]), "colour": PALETTE["main"]}],
        "reference": None, "highlight": hi, "source": dict(source),
        "note": {"de": "Werte unter 5 Personen nicht ausgewiesen", "en": "values under 5 persons not shown"}
        if any(r[2] is None for r in rows) else None,
    }


def trend(years: Sequence[int], series: Mapping[str, Sequence[float | None]], *, title: Mapping[str, str],
          source: Mapping[str, str], index_base: bool = True) -> dict[str, Any]:
    """Lines over years; with ``index_base`` each series is shown as an index (first year = 100) so that a
    Gemeinde and the Kreis share one axis."""
    colours = [PALETTE["main"], PALETTE["reference"], PALETTE["second"], PALETTE["muted"]]
    out = []
    for i, (name, vals) in enumerate(series.items()):
        v = [_num(x) for x in vals]
        if index_base and v and v[0]:
            base = v[0]
            v = [None if x is None else 100.0 * x / base for x in v]
        out.append({"label": {"de": name, "en": name}, "values": _r(v, 1), "colour": colours[i % len(colours)]})
    return {
        "id": "trend", "kind": "lines", "percent": False, "title": dict(title),
        "unit": {"de": "Index (2019 = 100)", "en": "index (2019 = 100)"} if index_base else {"de": "Personen", "en": "persons"},
        "categories": [{"de": str(y), "en": str(y)} for y in years], "series": out, "reference": None,
        "highlight": None, "source": dict(source), "note": None,
    }


def capacity_vs_demand(rows: Sequence[Mapping[str, Any]], *, service: Mapping[str, str], unit: Mapping[str, str],
                       source: Mapping[str, str]) -> dict[str, Any]:
    """Columns of demand and capacity per Gemeinde (``rows``: name, demand, capacity); the gap is their
    difference, shown in the table beside the chart."""
    return {
        "id": "capacity", "kind": "columns", "percent": False,
        "title": {"de": f"{service['de']}: Bedarf und Kapazität", "en": f"{service['en']}: demand and capacity"},
        "unit": dict(unit),
        "categories": [{"de": str(r["name"]), "en": str(r["name"])} for r in rows],
        "series": [
            {"label": {"de": "Bedarf", "en": "demand"}, "values": _r([_num(r.get("demand")) for r in rows], 0),
             "colour": PALETTE["main"]},
            {"label": {"de": "Kapazität", "en": "capacity"}, "values": _r([_num(r.get("capacity")) for r in rows], 0),
             "colour": PALETTE["second"]},
        ],
        "reference": None, "highlight": None, "source": dict(source), "note": None,
    }
