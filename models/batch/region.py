"""Batches of forecast and migration variants of the region (``twin batch burgenlandkreis``).

A variant is a list of forecast edits (``refugee_intake``, ``housing_estate``, ``out_migration_factor``,
``demographic_path``; see ``models.forecast.scenario``). Each worker builds the base population and the
baseline projection once (``RegionEvaluator``) and projects every variant with the cohort-component model to
the target year. The indicators planners compare, for the Kreis and for each Gemeinde in the target year:

- ``population`` and ``population_change`` (to the baseline projection), ``population_change_pct``;
- ``age67plus_share`` (persons 67+ per person), ``old_age_ratio`` (65+ per 100 aged 20-64);
- ``persons_school_age_6_17`` (children of school age, 6 to 17) and ``persons_67plus``.

Person counts leave the evaluator only published (``models.privacy``: rounded to 5, 1-4 suppressed), so the
ranked table, the Gemeinde tables and the GeoJSON carry no exact counts; shares and ratios are computed from
the projection and published as they are, like the forecast's own summary.

The report (``write_region_report``): ``ranked.csv`` (Kreis indicators, best first), ``gemeinden.csv``
(every variant x Gemeinde), ``gemeinden.geojson`` (the Gemeinden's outlines with the indicators of the
baseline and the best variants), ``best_scenarios/*.json`` (forecast scenario drafts), ``ranking.png``,
``trajectories.png`` (Kreis population and old-age ratio by year), ``map_best.png`` (the best variant's change
of population per Gemeinde against the baseline) and ``summary.json``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodata.interventions import FORECAST_KINDS
from models.batch.evaluate import STATUS_OK, EvalConfig, kind_of, variant_row
from models.batch.report import rank_rows
from models.batch.run import BatchResult, run_variants
from models.batch.variants import BatchSpecError, Variant
from models.forecast.base import BasePopulation
from models.forecast.calibrate import old_age_ratio
from models.forecast.demand import HousingBasis
from models.forecast.scenario import run_forecast
from models.privacy import publish_count, publish_kpis

__all__ = ["RegionSubject", "RegionEvaluator", "region_indicators", "run_region_batch", "write_region_report",
           "REGION_HIGHER_IS_BETTER", "REGION_DEFAULT_RANK"]

REGION_DEFAULT_RANK = "old_age_ratio"
# where more is better; the rest (old-age ratio, 67+ share) ranks lowest first
REGION_HIGHER_IS_BETTER = frozenset({"population", "population_change", "population_change_pct",
                                     "persons_school_age_6_17"})
SCHOOL_AGES = (6, 17)
BASELINE = "Basis / baseline"
_GEMEINDE_KEYS = "_gemeinden"
_SERIES_KEY = "_series"


@dataclass(frozen=True)
class RegionSubject:
    """What each worker projects: the base population (with its in-migration weights), the housing basis
    of the demand model, and the target year."""

    base: BasePopulation
    housing: HousingBasis | None
    to_year: int = 2040


def _raw_indicators(persons: np.ndarray) -> dict[str, float]:
    """Exact indicators of a (..., 2, 101) population (summed over the leading axes)."""
    p = persons.reshape(-1, 2, persons.shape[-1]).sum(axis=0)
    a = p.sum(axis=0)
    total = float(a.sum())
    return {"population": total, "persons_67plus": float(a[67:].sum()),
            "persons_school_age_6_17": float(a[SCHOOL_AGES[0]:SCHOOL_AGES[1] + 1].sum()),
            "age67plus_share": float(a[67:].sum() / total) if total > 0 else float("nan"),
            "old_age_ratio": old_age_ratio(p) if total > 0 else float("nan")}


def region_indicators(persons: np.ndarray, baseline: np.ndarray | None = None) -> dict[str, Any]:
    """Published indicators of a (..., 2, 101) population in the target year, with the change to the
    ``baseline`` population of the same shape: counts through ``models.privacy``, shares and ratios as
    they are (rounded to 4 digits)."""
    raw = _raw_indicators(persons)
    out: dict[str, Any] = {"population": raw["population"], "persons_67plus": raw["persons_67plus"],
                           "persons_school_age_6_17": raw["persons_school_age_6_17"],
                           "age67plus_share": round(raw["age67plus_share"], 4),
                           "old_age_ratio": round(raw["old_age_ratio"], 2)}
    if baseline is not None:
        # the change, absolute and in per cent, from the published totals: it reveals nothing they do not
        pub_now, pub_base = publish_count(raw["population"]), publish_count(float(baseline.sum()))
        known = pub_now is not None and pub_base is not None
        out["population_change"] = pub_now - pub_base if known else None  # type: ignore[operator]
        out["population_change_pct"] = round(100.0 * (pub_now - pub_base) / pub_base, 2) if known and pub_base else None  # type: ignore[operator]
    pub = publish_kpis(out)
    if "population_change" in out:
        pub["population_change"] = out["population_change"]  # already a difference of published counts
    return pub


class RegionEvaluator:
    """The warm baseline of the region's forecast and the evaluation of forecast variants against it."""

    def __init__(self, subject: RegionSubject, config: EvalConfig = EvalConfig()) -> None:
        self.subject = subject
        self.config = config
        self.baseline = run_forecast(subject.base, [], subject.to_year)
        self._k = self.baseline.year_index(subject.to_year)

    def evaluate(self, variant: Variant) -> dict[str, Any]:
        """Published indicators of the Kreis (flat) and per Gemeinde (under ``_gemeinden``), and the Kreis'
        population and old-age ratio by year (under ``_series``); raises on edits that are not forecast edits
        or do not fit the region."""
        t0 = time.perf_counter()
        edits = list(variant.interventions)
        other = sorted({kind_of(e) for e in edits} - FORECAST_KINDS)
        if other:
            raise BatchSpecError(f"Maßnahmen {other} wirken nicht auf die Regionalprognose",
                                 f"interventions {other} do not act on the regional forecast")
        pr = run_forecast(self.subject.base, edits, self.subject.to_year)  # type: ignore[arg-type]
        k = self._k
        base = self.baseline.persons[k]
        row: dict[str, Any] = {"to_year": self.subject.to_year, "edits": len(edits),
                               **region_indicators(pr.persons[k], base)}
        row[_GEMEINDE_KEYS] = [{"ags": a, "name": n, **region_indicators(pr.persons[k, g], base[g])}
                               for g, (a, n) in enumerate(zip(pr.ags, pr.names, strict=True))]
        kreis = pr.kreis()
        row[_SERIES_KEY] = {"years": [int(y) for y in pr.years],
                            "population": [publish_count(kreis[i].sum()) for i in range(len(pr.years))],
                            "old_age_ratio": [round(old_age_ratio(kreis[i]), 2) for i in range(len(pr.years))]}
        row["seconds"] = time.perf_counter() - t0
        return row

    def evaluate_json(self, variant_json: dict[str, Any]) -> dict[str, Any]:
        """``evaluate`` on a variant's JSON form, never raising: a failure comes back as its row."""
        return variant_row(self.evaluate, variant_json)

    def baseline_row(self) -> dict[str, Any]:
        return {"name": BASELINE, "status": STATUS_OK, "error": "", **self.evaluate(Variant(BASELINE, ()))}


def _trajectory_chart(series: dict[str, dict[str, Any]], folder: Path, to_year: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, s in series.items():
        style = dict(color="black", lw=2.2) if name == BASELINE else dict(lw=1.2)
        pop = [np.nan if v is None else v / 1000.0 for v in s["population"]]
        a1.plot(s["years"], pop, label=name, **style)
        a2.plot(s["years"], s["old_age_ratio"], label=name, **style)
    a1.set_title(f"Einwohner bis {to_year} / population to {to_year}")
    a1.set_ylabel("Tausend / thousand")
    a2.set_title("Altenquotient / old-age ratio (65+ je 100 von 20-64)")
    for ax in (a1, a2):
        ax.set_xlabel("Jahr / year")
        ax.grid(alpha=0.3)
    a2.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(folder / "trajectories.png", dpi=100)
    plt.close(fig)
    return "trajectories.png"


def _ranking_chart(table: pd.DataFrame, rank_by: str, folder: Path, baseline: dict[str, Any]) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    good = table[table["rank"].notna()].head(20)
    if good.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(good) + 1.6))
    ax.barh(good["name"][::-1], good[rank_by].astype(float)[::-1], color="#3b6ea5")
    if baseline.get(rank_by) is not None:
        ax.axvline(float(baseline[rank_by]), color="black", lw=1.2, ls="--", label=BASELINE)
        ax.legend(fontsize=8)
    ax.set_xlabel(rank_by)
    ax.set_title("Beste Varianten / best variants")
    fig.tight_layout()
    fig.savefig(folder / "ranking.png", dpi=100)
    plt.close(fig)
    return "ranking.png"


def _map_chart(gem: pd.DataFrame, shapes: dict[str, Any], variant: str, folder: Path, to_year: int) -> str | None:
    """A map of the Gemeinden: the change of population against the baseline in ``to_year`` under the
    best ``variant``, in per cent of the published totals (diverging colours centred on 0)."""
    if not shapes:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Polygon as MplPolygon

    rows = gem[gem["variant"] == variant]
    patches, values = [], []
    for r in rows.itertuples(index=False):
        shape = shapes.get(str(r.ags))
        if shape is None:
            continue
        v = r.population_change_pct
        for poly in getattr(shape, "geoms", [shape]):
            patches.append(MplPolygon(np.asarray(poly.exterior.coords), closed=True))
            values.append(np.nan if v is None else float(v))
    if not patches:
        return None
    vals = np.asarray(values, float)
    lim = max(float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 1.0, 0.1)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    pc = PatchCollection(patches, cmap="RdBu", norm=TwoSlopeNorm(0.0, -lim, lim), edgecolor="#555555", linewidth=0.5)
    pc.set_array(np.ma.masked_invalid(vals))
    ax.add_collection(pc)
    ax.autoscale_view()
    ax.set_aspect(1.0 / math.cos(math.radians(51.1)))
    ax.set_axis_off()
    fig.colorbar(pc, ax=ax, shrink=0.7, label="gegenüber Basis / against the baseline (%)")
    ax.set_title(f"{variant}\nEinwohner je Gemeinde {to_year} / population per Gemeinde", fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "map_best.png", dpi=100)
    plt.close(fig)
    return "map_best.png"


def _gemeinden_geojson(gem: pd.DataFrame, shapes: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """One feature per Gemeinde and variant of ``names`` (baseline first), its outline (WGS84) and indicators."""
    import shapely

    feats = []
    for name in names:
        for r in gem[gem["variant"] == name].itertuples(index=False):
            shape = shapes.get(str(r.ags))
            props = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r._asdict().items()}
            feats.append({"type": "Feature", "geometry": None if shape is None else shapely.geometry.mapping(shape),
                          "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def write_region_report(folder: Path, rows: Sequence[dict[str, Any]], variants: Sequence[Variant],
                        baseline: dict[str, Any], *, rank_by: str = REGION_DEFAULT_RANK, descending: bool | None = None,
                        n_best: int = 5, shapes: dict[str, Any] | None = None,
                        summary: dict[str, Any] | None = None) -> pd.DataFrame:
    """Write the region batch's files (see the module docstring) into ``folder``; returns the ranked table."""
    flat = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    desc = rank_by in REGION_HIGHER_IS_BETTER if descending is None else descending
    table = rank_rows(flat, rank_by, descending=desc)
    table.to_csv(folder / "ranked.csv", index=False, float_format="%.6g")
    per_gemeinde = [{"variant": BASELINE, "rank": 0, **g} for g in baseline[_GEMEINDE_KEYS]]
    ranks = {str(n): r for n, r in zip(table["name"], table["rank"], strict=True)}
    by_row = {r["name"]: r for r in rows}
    for name in table["name"]:  # in the ranked table's order: the file depends on the results only
        for g in by_row[name].get(_GEMEINDE_KEYS, []):
            per_gemeinde.append({"variant": name, "rank": ranks.get(str(name)), **g})
    gem = pd.DataFrame(per_gemeinde)
    gem.to_csv(folder / "gemeinden.csv", index=False, float_format="%.6g")
    best = [str(n) for n in table[table["rank"].notna()].head(n_best)["name"]]
    (folder / "gemeinden.geojson").write_text(json.dumps(_gemeinden_geojson(gem, shapes or {}, [BASELINE, *best]),
                                                         ensure_ascii=False), encoding="utf-8")
    by_name = {v.name: v for v in variants}
    drafts = folder / "best_scenarios"
    drafts.mkdir()
    for i, name in enumerate(best):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        (drafts / f"{i + 1:02d}_{safe}.json").write_text(json.dumps(by_name[name].to_json(), ensure_ascii=False,
                                                                    indent=1), encoding="utf-8")
    series = {BASELINE: baseline[_SERIES_KEY], **{n: r[_SERIES_KEY] for n in best for r in rows if r["name"] == n}}
    to_year = int(baseline["to_year"])
    charts = [c for c in (_ranking_chart(table, rank_by, folder, baseline), _trajectory_chart(series, folder, to_year),
                          _map_chart(gem, shapes or {}, best[0], folder, to_year) if best else None) if c]
    base_flat = {k: v for k, v in baseline.items() if not k.startswith("_") and k not in ("status", "error", "seconds")}
    info = {**(summary or {}), "rank_by": rank_by, "order": "desc" if desc else "asc", "to_year": to_year,
            "variants": len(table), "failed": int(table["rank"].isna().sum()), "best": best[0] if best else None,
            "baseline": base_flat, "charts": charts,
            "privacy": "Personenzahlen auf 5 gerundet, 1-4 unterdrückt (leer) / person counts rounded to 5, "
                       "1-4 suppressed (empty)"}
    (folder / "summary.json").write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    return table


def run_region_batch(subject: RegionSubject, variants: Sequence[Variant], out: str | Path, *, workers: int = 2,
                     ray_address: str | None = None, use_ray: bool = False, rank_by: str | None = None,
                     descending: bool | None = None, n_best: int = 5, shapes: dict[str, Any] | None = None,
                     progress: bool = True, on_row: Any = None) -> BatchResult:
    """Project every variant on local processes or Ray (as ``run_batch``) and write the region report into
    ``out`` all at once. Raises KeyError for an unknown ``rank_by``."""
    key = rank_by or REGION_DEFAULT_RANK
    baseline = RegionEvaluator(subject).baseline_row()
    if key not in baseline:
        raise KeyError(f"Kennzahl {key!r} nicht berechnet (bekannt: {', '.join(sorted(_rankable(baseline)))}) / "
                       f"KPI {key!r} not computed")

    def report(tmp: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> pd.DataFrame:
        summary = {k: v for k, v in summary.items() if k not in ("hours", "arch")}
        return write_region_report(tmp, rows, variants, baseline, rank_by=key, descending=descending, n_best=n_best,
                                   shapes=shapes, summary={**summary, "region": "burgenlandkreis"})

    return run_variants(subject, RegionEvaluator, variants, out, report, workers=workers, ray_address=ray_address,
                        use_ray=use_ray, progress=progress, on_row=on_row)


def _rankable(row: dict[str, Any]) -> list[str]:
    return [k for k, v in row.items() if not k.startswith("_") and isinstance(v, (int, float))
            and k not in ("seconds", "to_year", "edits")]
