"""The forecast as one call: base population, projection, demand, and the published tables.

Everything that leaves the model for users (JSON, CSV, API) goes through :mod:`models.privacy`: person counts
are 0, suppressed (1-4, ``None`` / empty cell, shown as "unter 5") or rounded to a multiple of 5. Ratios and
rates are published as they are.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.forecast.base import (
    BasePopulation,
    ForecastInputError,
    base_from_table,
    gemeinden_from_shared,
    official_gemeinde_totals,
    parse_age_columns,
)
from models.forecast.calibrate import calibrate_in_weights, compare_with_targets, old_age_ratio
from models.forecast.demand import HousingBasis, compute_demand, housing_basis, housing_from_shared
from models.forecast.model import Projection
from models.forecast.rates import rates_table
from models.forecast.scenario import ForecastEdit, run_forecast
from models.privacy import publish_count, publish_counts

__all__ = ["ForecastRun", "base_from_shared", "base_from_region", "forecast", "summary", "write_tables",
           "pyramid", "BASE_METHOD_SHARED", "published_demand", "housing_for"]

TREND_YEAR = 2021
BASE_METHOD_SHARED = (
    "Zensus 2011 (100-m-Raster, 5 Altersklassen) je VG5000-Gemeinde, je Altersklasse auf die Kreistabelle 2019 "
    "(Destatis 12411-0017) skaliert, Gemeinden mit amtlicher Einwohnerzahl 2019 (Naumburg, Zeitz) auf diese "
    "gesetzt; Einzeljahre und Geschlecht nach dem Muster des Kreises / Zensus 2011 (100 m grid, 5 age classes) "
    "per VG5000 Gemeinde, each class scaled to the Kreis table 2019 (Destatis 12411-0017), Gemeinden with an "
    "official 2019 total (Naumburg, Zeitz) set to it; single years and sex by the Kreis' pattern")


@dataclass
class ForecastRun:
    """A projection with its demand table and what it rests on."""

    projection: Projection
    demand: pd.DataFrame
    housing: HousingBasis
    base_method: str
    edits: list[ForecastEdit] = field(default_factory=list)

    @property
    def is_baseline(self) -> bool:
        return not self.edits


def base_from_shared(shared_dir: str | Path, gemeinde_table: pd.DataFrame | None = None) -> BasePopulation:
    """The base population built from the shared open data (no region bundle needed), with the in-migration
    weights of the Gemeinden whose later totals are known (:func:`with_observed_trend`).

    ``gemeinde_table`` (:func:`models.forecast.base.read_gemeinde_table`): an official table of 2019. With age
    groups it must list every Gemeinde and is the base as it is; with totals only, the listed Gemeinden keep
    their totals and the grid gives the age structure."""
    if gemeinde_table is not None and parse_age_columns(list(gemeinde_table.columns)):
        grid = gemeinden_from_shared(shared_dir)
        missing = sorted(set(grid["ags"]) - set(gemeinde_table["ags"]))
        if missing:
            raise ForecastInputError(f"Gemeindetabelle mit Altersgruppen: Gemeinde {missing[0]} fehlt",
                                     f"Gemeinde table with age groups: Gemeinde {missing[0]} is missing")
        table = gemeinde_table.drop(columns=["name"], errors="ignore").merge(grid[["ags", "name"]], on="ags")
        method = "Amtliche Gemeindetabelle mit Altersgruppen / official Gemeinde table with age groups"
        return with_observed_trend(base_from_table(table, method=method), shared_dir)
    totals = None
    method = BASE_METHOD_SHARED
    if gemeinde_table is not None:
        totals = {str(a): float(v) for a, v in zip(gemeinde_table["ags"], gemeinde_table["population_2019"], strict=True)}
        method += (f"; {len(totals)} Gemeinden mit Einwohnerzahl aus der amtlichen Gemeindetabelle / {len(totals)} "
                   "Gemeinden with their total from the official Gemeinde table")
    return with_observed_trend(base_from_table(gemeinden_from_shared(shared_dir, totals), method=method), shared_dir)


def with_observed_trend(base: BasePopulation, shared_dir: str | Path) -> BasePopulation:
    """The base with in-migration weights fitted to the observed totals of the towns in the shared town series
    at the end of :data:`TREND_YEAR` (before the intake of 2022 from Ukraine); unchanged without the series."""
    observed = official_gemeinde_totals(shared_dir, TREND_YEAR)
    observed = {a: v for a, v in observed.items() if a in base.ags}
    if not observed:
        return base
    w = calibrate_in_weights(base, observed, TREND_YEAR)
    names = ", ".join(f"{base.names[base.ags.index(a)]} {w[base.ags.index(a)]:.2f}" for a in observed)
    rest = float(np.median(np.delete(w, [base.ags.index(a) for a in observed]))) if len(observed) < len(base.ags) else 1.0
    method = (f"{base.method}; Zuzugsgewichte an die amtliche Entwicklung 2019-{TREND_YEAR} angepasst ({names}; "
              f"übrige Gemeinden {rest:.3f}) / in-migration weights fitted to the official change 2019-{TREND_YEAR} "
              f"({names}; other Gemeinden {rest:.3f})")
    return dataclasses.replace(base, in_weights=w, method=method)


def base_from_region(region: Any) -> BasePopulation:
    """The base population from a Region (its ``gemeinden`` table with ``age_*`` columns of 2019)."""
    method = "Regionsmodell: Personen je Gemeinde und Altersgruppe 2019 / region model: persons per Gemeinde and age group 2019"
    man = getattr(region, "manifest", None)
    if isinstance(man, dict) and man.get("population_method"):
        method += f" ({man['population_method']})"
    return base_from_table(region.gemeinden, method=method)


def forecast(base: BasePopulation, edits: list[ForecastEdit] | tuple = (), to_year: int = 2040, *,
             housing: HousingBasis | None = None, capacities: pd.DataFrame | None = None) -> ForecastRun:
    edits = list(edits)
    pr = run_forecast(base, edits, to_year)
    housing = housing or housing_basis(base)
    return ForecastRun(pr, compute_demand(pr, housing, edits, capacities), housing, base.method, edits)


def housing_for(base: BasePopulation, shared_dir: str | Path | None) -> HousingBasis:
    return housing_from_shared(base, shared_dir) if shared_dir else housing_basis(base)


def _pub(x: float) -> int | None:
    return publish_count(float(x))


def pyramid(pr: Projection, year: int, ags: str | None = None, step: int = 5) -> dict[str, Any]:
    """Published population pyramid: persons by ``step``-year age group (last open) and sex."""
    k = pr.year_index(year)
    p = pr.persons[k].sum(axis=0) if ags is None else pr.persons[k, pr.ags.index(ags)]
    lo = list(range(0, 100, step))
    groups = [f"{a}-{a + step - 1}" for a in lo[:-1]] + [f"{lo[-1]}+"]
    male = [p[0, a: a + step].sum() for a in lo[:-1]] + [p[0, lo[-1]:].sum()]
    female = [p[1, a: a + step].sum() for a in lo[:-1]] + [p[1, lo[-1]:].sum()]
    return {"year": int(year), "ags": ags, "age_groups": groups,
            "persons_male": [_pub(v) for v in male], "persons_female": [_pub(v) for v in female]}


def published_demand(demand: pd.DataFrame) -> pd.DataFrame:
    """The demand table as published: demand rounded to 5 with 1-4 suppressed (it is derived from person
    counts), capacity as given, gap = capacity - published demand."""
    d = demand.copy()
    d["demand"] = publish_counts(d["demand"].to_numpy(float))
    d["capacity"] = d["capacity"].round(1)
    d["gap"] = (d["capacity"] - d["demand"]).round(1)
    return d


def summary(run: ForecastRun, *, with_demand: bool = True) -> dict[str, Any]:
    """The published summary (one JSON object): totals, 67+, old-age ratio per year, per Gemeinde,
    demand per service and year for the Kreis, and the assumptions."""
    pr = run.projection
    years = [int(y) for y in pr.years]
    kreis = pr.kreis()
    tot = pr.total()
    out: dict[str, Any] = {
        "region": "burgenlandkreis",
        "base_year": years[0],
        "to_year": years[-1],
        "total_by_year": {str(y): _pub(kreis[i].sum()) for i, y in enumerate(years)},
        "age67plus_by_year": {str(y): _pub(kreis[i][:, 67:].sum()) for i, y in enumerate(years)},
        "age65plus_by_year": {str(y): _pub(kreis[i][:, 65:].sum()) for i, y in enumerate(years)},
        "under18_by_year": {str(y): _pub(kreis[i][:, :18].sum()) for i, y in enumerate(years)},
        "old_age_ratio_by_year": {str(y): round(old_age_ratio(kreis[i]), 2) for i, y in enumerate(years)},
        "by_gemeinde": {a: {str(y): _pub(tot[i, g]) for i, y in enumerate(years)} for g, a in enumerate(pr.ags)},
        "gemeinde_names": dict(zip(pr.ags, pr.names, strict=True)),
        "old_age_ratio_by_gemeinde": {
            a: {str(y): round(old_age_ratio(pr.persons[i, g]), 2) if pr.persons[i, g].sum() > 0 else None
                for i, y in enumerate(years)} for g, a in enumerate(pr.ags)},
        "components_by_year": {
            str(y): {"births": _pub(pr.births[i - 1].sum()), "deaths": _pub(pr.deaths[i - 1].sum()),
                     "in": _pub(pr.inflow[i - 1].sum()), "out": _pub(pr.outflow[i - 1].sum())}
            for i, y in enumerate(years) if i > 0},
        "scenario": pr.scenario,
        "assumptions": list(pr.assumptions) + [run.base_method, run.housing.source],
        "sources": {"rates": "assets/forecast_rates.json", "demand": "assets/forecast_demand.csv",
                    "survival": rates_table()["survival"]["method"]},
        "privacy": "Personenzahlen auf 5 gerundet, 1-4 unterdrückt (null) / person counts rounded to 5, 1-4 suppressed (null)",
    }
    if run.is_baseline and all(2019 < int(t["year"]) <= years[-1] for t in rates_table()["migration"]["calibration_targets"]):
        out["official_comparison"] = compare_with_targets(pr)
    if with_demand:
        d = run.demand
        kreis_d = d.groupby(["service", "year"], as_index=False)[["demand", "capacity"]].sum(min_count=1)
        out["demand_by_year"] = {
            s: {str(int(r.year)): _pub(r.demand) for r in grp.itertuples()}
            for s, grp in kreis_d.groupby("service")}
    return out


def write_tables(run: ForecastRun, out_dir: str | Path) -> list[Path]:
    """Write the full published tables as CSV into ``out_dir`` (atomically: a temp folder renamed):

    - ``population.csv``: ags, name, year, sex (m/w), age (0..100, 100 = 100+), persons;
    - ``components.csv``: ags, name, year, births, deaths, in_migrants, out_migrants, persons;
    - ``demand.csv``: ags, name, year, service, demand, capacity, gap (capacities as given);
    - ``assumptions.txt``.
    Person counts follow :mod:`models.privacy` (rounded to 5, 1-4 left empty)."""
    pr = run.projection
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    ny, g = pr.persons.shape[:2]
    idx = np.indices(pr.persons.shape).reshape(4, -1)
    pop = pd.DataFrame({
        "ags": np.asarray(pr.ags, dtype=object)[idx[1]], "name": np.asarray(pr.names, dtype=object)[idx[1]],
        "year": pr.years[idx[0]], "sex": np.array(["m", "w"])[idx[2]], "age": idx[3],
        "persons": publish_counts(pr.persons.reshape(-1)),
    })
    pop["persons"] = pop["persons"].astype("Int64")
    comp = pd.DataFrame({
        "ags": np.tile(np.asarray(pr.ags, dtype=object), ny - 1),
        "name": np.tile(np.asarray(pr.names, dtype=object), ny - 1),
        "year": np.repeat(pr.years[1:], g),
        "births": publish_counts(pr.births.sum(axis=(2, 3)).reshape(-1)),
        "deaths": publish_counts(pr.deaths.sum(axis=(2, 3)).reshape(-1)),
        "in_migrants": publish_counts(pr.inflow.sum(axis=(2, 3)).reshape(-1)),
        "out_migrants": publish_counts(pr.outflow.sum(axis=(2, 3)).reshape(-1)),
        "persons": publish_counts(pr.total()[1:].reshape(-1)),
    })
    for c in ("births", "deaths", "in_migrants", "out_migrants", "persons"):
        comp[c] = comp[c].astype("Int64")
    d = published_demand(run.demand)
    lines = list(pr.assumptions) + [run.base_method, run.housing.source,
                                    "Personenzahlen auf 5 gerundet, 1-4 leer (unter 5) / person counts rounded to 5, "
                                    "1-4 empty (under 5)"]
    texts = {
        "population.csv": pop.to_csv(index=False),
        "components.csv": comp.to_csv(index=False),
        "demand.csv": d.to_csv(index=False),
        "assumptions.txt": "\n".join(lines) + "\n",
    }
    written: list[tuple[Path, Path]] = []
    try:
        for name, text in texts.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            written.append((Path(tmp), target / name))
    except BaseException:
        for tmp_path, _ in written:
            tmp_path.unlink(missing_ok=True)
        raise
    for tmp_path, final in written:
        os.replace(tmp_path, final)
    return [final for _, final in written]
