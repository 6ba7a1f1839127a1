"""Scenario edits of the forecast and the forecast run.

The edits are the interventions of kinds ``refugee_intake``, ``housing_estate``, ``out_migration_factor`` and
``demographic_path`` (``geodata.interventions``), so they live in the same scenario system as every other
edit (fork, compare, comments, undo). :func:`run_forecast` turns them into the rates of each year:

- refugee intake: extra in-migrants each year, allocated to the listed Gemeinden (or all) in proportion to
  their base population, with an age-sex profile (``assets/forecast_rates.json`` ``newcomer_profiles``);
- housing estate: ``dwellings x persons_per_dwelling`` extra in-migrants into one Gemeinde, spread evenly over
  ``years`` from ``year``;
- out-migration factor: out-migration rates of an age range (in some Gemeinden) times a factor;
- demographic path: TFR and life expectancy moving linearly to their 2040 values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import numpy as np

from geodata.interventions import (
    FORECAST_KINDS,
    DemographicPath,
    HousingEstate,
    InterventionError,
    OutMigrationFactor,
    RefugeeIntake,
    decode_intervention,
    encode_intervention,
)
from models.forecast.base import BasePopulation, ForecastInputError
from models.forecast.model import BASE_YEAR, Projection, YearRates, project, year_rates
from models.forecast.rates import N_AGES, Rates, base_rates, rates_table

__all__ = ["ForecastEdit", "decode_scenario", "newcomer_profile", "build_year_rates", "run_forecast",
           "PATH_END_YEAR"]

ForecastEdit = RefugeeIntake | HousingEstate | OutMigrationFactor | DemographicPath
PATH_END_YEAR = 2040


def decode_scenario(data: bytes | str | list | dict) -> list[ForecastEdit]:
    """Forecast edits from JSON (a list of interventions, or an object with ``interventions``).

    Raises :class:`ForecastInputError` (German / English) on anything that is not a valid forecast edit."""
    try:
        obj = json.loads(data) if isinstance(data, (bytes, str)) else data
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ForecastInputError(f"Szenario ist kein gültiges JSON: {exc}", f"scenario is not valid JSON: {exc}") from None
    if isinstance(obj, dict):
        obj = obj.get("interventions")
    if not isinstance(obj, list):
        raise ForecastInputError("Szenario: eine Liste von Maßnahmen erwartet", "scenario: a list of interventions expected")
    if len(obj) > 1000:
        raise ForecastInputError("Szenario: mehr als 1000 Maßnahmen", "scenario: more than 1000 interventions")
    out: list[ForecastEdit] = []
    for item in obj:
        if not isinstance(item, dict):
            raise ForecastInputError("Szenario: jede Maßnahme ist ein Objekt", "scenario: every intervention is an object")
        try:
            iv = decode_intervention(item)
        except InterventionError as exc:
            raise ForecastInputError(exc.de, exc.en) from None
        tag = iv.__struct_config__.tag  # type: ignore[union-attr]
        if tag not in FORECAST_KINDS:
            raise ForecastInputError(f"Maßnahme {tag!r} wirkt nicht auf die Prognose",
                                     f"intervention {tag!r} does not act on the forecast")
        out.append(iv)  # type: ignore[arg-type]
    return out


def newcomer_profile(name: str, kreis: np.ndarray) -> np.ndarray:
    """(2, 101) age-sex shares (sum 1) of the persons a scenario moves in."""
    if name == "kreis":
        return kreis / kreis.sum()
    prof = rates_table()["newcomer_profiles"][name]
    out = np.zeros((2, N_AGES))
    m = float(prof["male_share"])
    for (lo, hi), share in zip(prof["age_groups"], prof["shares"], strict=True):
        n = hi - lo + 1
        out[0, lo: hi + 1] = share * m / n
        out[1, lo: hi + 1] = share * (1.0 - m) / n
    return out


def _gemeinde_index(base: BasePopulation, keys: Sequence[str], what: str) -> np.ndarray:
    idx = {a: i for i, a in enumerate(base.ags)}
    missing = [k for k in keys if k not in idx]
    if missing:
        raise ForecastInputError(f"{what}: Gemeinde {missing[0]} gibt es im Kreis nicht",
                                 f"{what}: Gemeinde {missing[0]} is not in the Kreis")
    return np.array([idx[k] for k in keys], dtype=np.int64)


def build_year_rates(base: BasePopulation, edits: Iterable[ForecastEdit], to_year: int,
                     rates: Rates | None = None) -> dict[int, YearRates]:
    """The rates of every year 2020..``to_year`` with the edits applied."""
    rates = rates or base_rates()
    edits = list(edits)
    g = len(base.ags)
    kreis = base.kreis
    years = range(BASE_YEAR + 1, to_year + 1)
    extra = {y: np.zeros((g, 2, N_AGES)) for y in years}
    out_factor = {y: np.ones((g, 2, N_AGES)) for y in years}
    any_factor = False
    e0_off = {y: np.zeros(2) for y in years}
    tfr: dict[int, float | None] = {y: None for y in years}
    base_tot = base.persons.sum(axis=(1, 2))
    for e in edits:
        if isinstance(e, RefugeeIntake):
            gi = _gemeinde_index(base, e.gemeinden, e.id) if e.gemeinden else np.arange(g)
            w = base_tot[gi] / max(base_tot[gi].sum(), 1e-9) if base_tot[gi].sum() > 0 else np.full(gi.size, 1.0 / gi.size)
            prof = newcomer_profile(e.age_profile, kreis)
            for y in range(e.first_year, e.last_year + 1):
                if y in extra:
                    extra[y][gi] += e.persons_per_year * w[:, None, None] * prof[None]
        elif isinstance(e, HousingEstate):
            gi = _gemeinde_index(base, [e.ags], e.id)[0]
            prof = newcomer_profile(e.age_profile, kreis)
            per_year = e.dwellings * e.persons_per_dwelling / e.years
            for y in range(e.year, e.year + e.years):
                if y in extra:
                    extra[y][gi] += per_year * prof
        elif isinstance(e, OutMigrationFactor):
            gi = _gemeinde_index(base, e.gemeinden, e.id) if e.gemeinden else np.arange(g)
            any_factor = True
            for y in years:
                if y >= e.first_year:
                    out_factor[y][np.ix_(gi, [0, 1], np.arange(e.age_from, e.age_to + 1))] *= e.factor
        elif isinstance(e, DemographicPath):
            for y in years:
                if y < e.first_year:
                    continue
                w = min(1.0, (y - e.first_year + 1) / max(PATH_END_YEAR - e.first_year + 1, 1))
                e0_off[y] = e0_off[y] + w * np.array([e.e0_change_2040_male, e.e0_change_2040_female])
                if e.tfr_2040 is not None:
                    tfr[y] = rates.tfr + w * (e.tfr_2040 - rates.tfr)
    per_year: dict[int, YearRates] = {}
    for y in years:
        yr = year_rates(rates, y, e0_offset=e0_off[y] if e0_off[y].any() else None, tfr=tfr[y],
                        out_factor=out_factor[y] if any_factor else None, base_kreis=kreis)
        if base.in_weights is not None:
            yr.in_level = rates.in_level * np.asarray(base.in_weights, float)
        if extra[y].any():
            yr.extra_in = extra[y]
        per_year[y] = yr
    return per_year


def run_forecast(base: BasePopulation, edits: Iterable[ForecastEdit] = (), to_year: int = 2040,
                 rates: Rates | None = None) -> Projection:
    """The projection of ``base`` to ``to_year`` with the scenario ``edits``."""
    if not isinstance(to_year, int) or not BASE_YEAR < to_year <= 2100:
        raise ForecastInputError(f"Zieljahr {to_year} ungültig (2020-2100)", f"target year {to_year} invalid (2020-2100)")
    rates = rates or base_rates()
    edits = list(edits)
    pr = project(base, rates, build_year_rates(base, edits, to_year, rates), to_year)
    pr.scenario = [encode_intervention(e) for e in edits]
    return pr


def edits_to_json(edits: Iterable[ForecastEdit]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(e) for e in edits]
