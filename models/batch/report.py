"""The results of a batch as files: a ranked table (CSV), the best variants as GeoJSON and as scenario
files the server and ``twin`` accept, charts (PNG), and a summary (JSON).

Ranking: by one KPI column, best first; ties by variant name, so the table depends on the results only.
Failed variants follow at the end with their error and no rank.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodata.district import District
from geodata.geojson import lonlat_coords
from models.batch.evaluate import STATUS_OK, kind_of
from models.batch.variants import Variant

__all__ = ["rank_rows", "write_report", "HIGHER_IS_BETTER", "default_rank_by"]

# KPIs where more is better; every other KPI ranks lowest first
HIGHER_IS_BETTER = frozenset({
    "heat_stressed_cooling_person_k", "heat_cooling_utci_k_per_1000_eur", "heat_cooling_air_k_per_1000_eur",
    "stressed_cooling_person_k_per_1000_eur",
})


def default_rank_by(rows: Sequence[dict[str, Any]]) -> str:
    """The cooling of heat-stressed residents when heat was computed, else the first KPI column."""
    cols = [k for r in rows if r.get("status") == STATUS_OK for k in r]
    if "heat_stressed_cooling_person_k" in cols:
        return "heat_stressed_cooling_person_k"
    for k in cols:
        if k.startswith(("traffic_", "access_")):
            return k
    return "cost_eur"


def rank_rows(rows: Sequence[dict[str, Any]], rank_by: str, *, descending: bool | None = None) -> pd.DataFrame:
    """The rows as a table ranked by ``rank_by`` (rank 1 = best); failed variants last without rank."""
    df = pd.DataFrame(list(rows))
    for col in ("name", "status", "error"):
        if col not in df:
            df[col] = ""
    ok = df["status"] == STATUS_OK
    if "cost_eur" in df and "heat_stressed_cooling_person_k" in df:
        cost = df["cost_eur"].astype(float)
        per = df["heat_stressed_cooling_person_k"].astype(float) / cost.where(cost > 0, np.nan) * 1000.0
        df["stressed_cooling_person_k_per_1000_eur"] = per.where(cost > 0, 0.0).where(ok, np.nan)
    if ok.any() and rank_by not in df:
        raise KeyError(f"Kennzahl {rank_by!r} nicht berechnet / KPI {rank_by!r} not computed")
    desc = rank_by in HIGHER_IS_BETTER if descending is None else descending
    good = df[ok].copy()
    if len(good):
        key = good[rank_by].astype(float)
        good = good.assign(_k=-key if desc else key).sort_values(["_k", "name"], kind="mergesort").drop(columns="_k")
        good.insert(0, "rank", np.arange(1, len(good) + 1))
    bad = df[~ok].sort_values("name", kind="mergesort").copy()
    bad.insert(0, "rank", pd.NA)
    front = ["rank", "name", "status", "error", "cost_eur", rank_by]
    out = pd.concat([good, bad], ignore_index=True) if len(bad) else good.reset_index(drop=True)
    cols = [c for c in front if c in out] + sorted(c for c in out.columns if c not in front)
    return out[cols]


def _geometry(obj: Any, district: District) -> dict[str, Any] | None:
    if hasattr(obj, "xy_local_m"):
        return {"type": "Point", "coordinates": lonlat_coords(district, np.array(obj.xy_local_m))[0]}
    if getattr(obj, "line_local_m", None):
        return {"type": "LineString", "coordinates": lonlat_coords(district, np.array(obj.line_local_m))}
    if getattr(obj, "polygon_local_m", None):
        ring = list(obj.polygon_local_m) + [obj.polygon_local_m[0]]
        return {"type": "Polygon", "coordinates": [lonlat_coords(district, np.array(ring))]}
    if hasattr(obj, "building_id"):
        try:
            fp = district.buildings.footprints[district.buildings.index_of(obj.building_id)]
        except (KeyError, IndexError, ValueError):
            return None
        return {"type": "Polygon", "coordinates": [lonlat_coords(district, np.asarray(fp.exterior.coords))]}
    return None


def best_geojson(table: pd.DataFrame, variants: dict[str, Variant], district: District, n_best: int,
                 rank_by: str) -> dict[str, Any]:
    """The interventions of the ``n_best`` first-ranked variants as a GeoJSON FeatureCollection (WGS84)."""
    feats = []
    for _, row in table[table["rank"].notna()].head(n_best).iterrows():
        for obj in variants[row["name"]].interventions:
            feats.append({"type": "Feature", "geometry": _geometry(obj, district),
                          "properties": {"variant": row["name"], "rank": int(row["rank"]), "kind": kind_of(obj),
                                         "id": obj.id, rank_by: _json_number(row[rank_by])}})
    return {"type": "FeatureCollection", "features": feats}


def _json_number(v: Any) -> float | None:
    f = float(v)
    return f if math.isfinite(f) else None


def _charts(table: pd.DataFrame, rank_by: str, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    good = table[table["rank"].notna()]
    if good.empty:
        return []
    top = good.head(20)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(top) + 1.5))
    ax.barh(top["name"][::-1], top[rank_by].astype(float)[::-1], color="#2a7f62")
    ax.set_xlabel(rank_by)
    ax.set_title("Beste Varianten / best variants")
    fig.tight_layout()
    fig.savefig(folder / "ranking.png", dpi=100)
    plt.close(fig)
    names = ["ranking.png"]
    if "cost_eur" in good and (good["cost_eur"].astype(float) > 0).any():
        fig, ax = plt.subplots(figsize=(6, 4.5))
        ax.scatter(good["cost_eur"].astype(float) / 1000.0, good[rank_by].astype(float), s=18, color="#b0413e")
        for _, r in good.head(5).iterrows():
            ax.annotate(str(r["name"]), (float(r["cost_eur"]) / 1000.0, float(r[rank_by])), fontsize=7)
        ax.set_xlabel("Kosten / cost (1000 EUR)")
        ax.set_ylabel(rank_by)
        ax.set_title("Wirkung je Kosten / effect against cost")
        fig.tight_layout()
        fig.savefig(folder / "cost_effect.png", dpi=100)
        plt.close(fig)
        names.append("cost_effect.png")
    return names


def write_report(folder: Path, rows: Sequence[dict[str, Any]], variants: Sequence[Variant], district: District, *,
                 rank_by: str, descending: bool | None = None, n_best: int = 5,
                 summary: dict[str, Any] | None = None) -> pd.DataFrame:
    """Write ``ranked.csv``, ``best.geojson``, ``best_scenarios/<rank>_<name>.json``, charts and
    ``summary.json`` into ``folder`` (which exists and is empty); returns the ranked table."""
    table = rank_rows(rows, rank_by, descending=descending)
    table.to_csv(folder / "ranked.csv", index=False, float_format="%.6g")
    by_name = {v.name: v for v in variants}
    (folder / "best.geojson").write_text(json.dumps(best_geojson(table, by_name, district, n_best, rank_by)),
                                         encoding="utf-8")
    drafts = folder / "best_scenarios"
    drafts.mkdir()
    for _, row in table[table["rank"].notna()].head(n_best).iterrows():
        v = by_name[row["name"]]
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in v.name)
        (drafts / f"{int(row['rank']):02d}_{safe}.json").write_text(
            json.dumps(v.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    charts = _charts(table, rank_by, folder)
    failed = table[table["rank"].isna()]
    info = {**(summary or {}), "rank_by": rank_by, "variants": len(table), "failed": int(len(failed)),
            "best": None if table["rank"].isna().all() else str(table.iloc[0]["name"]), "charts": charts}
    (folder / "summary.json").write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    return table
