"""Calibration of the baseline to the official forecasts, and the indicators compared with them.

One parameter is fitted: the in-migration level (in-migrants per resident and year). Survival, fertility
and the out-migration schedule stay as published / assumed. The objective is the sum of squared errors of
the targets in ``assets/forecast_rates.json`` (``calibration_targets``), each divided by its tolerance, so
that every target counts in units of its allowed deviation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from models.forecast.base import BasePopulation
from models.forecast.model import Projection
from models.forecast.rates import Rates, base_rates, rates_table
from models.forecast.scenario import run_forecast

__all__ = ["indicator", "targets", "compare_with_targets", "calibrate_in_level", "old_age_ratio", "calibrate_in_weights"]


def old_age_ratio(kreis_year: np.ndarray) -> float:
    """Persons 65+ per 100 persons aged 20-64 of a (2, 101) table."""
    a = kreis_year.sum(axis=0)
    return float(100.0 * a[65:].sum() / max(a[20:65].sum(), 1e-9))


def indicator(pr: Projection, name: str, year: int) -> float:
    """The Kreis' value of a target indicator in ``year``."""
    k = pr.kreis()[pr.year_index(year)]
    if name == "population_total":
        return float(k.sum())
    if name == "population_age_67plus":
        return float(k[:, 67:].sum())
    if name == "old_age_dependency_ratio":
        return old_age_ratio(k)
    raise KeyError(name)


def targets() -> list[dict[str, Any]]:
    return list(rates_table()["migration"]["calibration_targets"])


def compare_with_targets(pr: Projection) -> list[dict[str, Any]]:
    """Each target with the model's value, the deviation and whether it lies within its tolerance."""
    rows = []
    for t in targets():
        v = indicator(pr, t["indicator"], int(t["year"]))
        if "tolerance_points" in t:
            dev = v - t["value"]
            ok = abs(dev) <= t["tolerance_points"]
            rows.append({**t, "model": round(v, 1), "deviation_points": round(dev, 2), "within": bool(ok)})
        else:
            dev = v / t["value"] - 1.0
            ok = abs(dev) <= t["tolerance"]
            rows.append({**t, "model": round(v), "deviation_pct": round(100 * dev, 2), "within": bool(ok)})
    return rows


def _objective(pr: Projection) -> float:
    err = 0.0
    for t in targets():
        v = indicator(pr, t["indicator"], int(t["year"]))
        if "tolerance_points" in t:
            err += ((v - t["value"]) / t["tolerance_points"]) ** 2
        else:
            err += ((v / t["value"] - 1.0) / t["tolerance"]) ** 2
    return err


def calibrate_in_level(base: BasePopulation, rates: Rates | None = None) -> tuple[float, float]:
    """(in_level, objective) minimising the tolerance-weighted squared errors of the targets."""
    rates = rates or base_rates()
    to_year = max(int(t["year"]) for t in targets())

    def f(level: float) -> float:
        return _objective(run_forecast(base, (), to_year, dataclasses.replace(rates, in_level=float(level))))

    res = minimize_scalar(f, bounds=(0.0, 0.1), method="bounded", options={"xatol": 1e-7})
    return float(res.x), float(res.fun)


def calibrate_in_weights(base: BasePopulation, observed: dict[str, float], year: int,
                         rates: Rates | None = None) -> np.ndarray:
    """(G,) in-migration weights: Gemeinden with an observed total in ``year`` get the weight that reproduces it
    (a Gemeinde's total depends only on its own weight: out-migration and deaths are rates, births follow its
    women); all others share one weight so that the Kreis' in-migrants of the base year stay unchanged."""
    from scipy.optimize import brentq

    rates = rates or base_rates()
    g = len(base.ags)
    w = np.ones(g)
    pop0 = base.persons.sum(axis=(1, 2))
    fitted = np.zeros(g, bool)
    for ags, value in observed.items():
        if ags not in base.ags:
            continue
        i = base.ags.index(ags)

        def miss(wi: float, i: int = i, value: float = value) -> float:
            trial = w.copy()
            trial[i] = wi
            pr = run_forecast(dataclasses.replace(base, in_weights=trial), (), year, rates)
            return float(pr.total()[-1, i] - value)

        lo, hi = 0.0, 10.0
        if miss(lo) > 0 or miss(hi) < 0:
            continue  # not reachable by in-migration alone: keep the Kreis level
        w[i] = brentq(miss, lo, hi, xtol=1e-10)
        fitted[i] = True
    if fitted.any() and (~fitted).any():
        rest = pop0.sum() - (w[fitted] * pop0[fitted]).sum()
        w[~fitted] = max(rest, 0.0) / max(pop0[~fitted].sum(), 1e-9)
    return w
