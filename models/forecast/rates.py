"""Rates of the cohort-component forecast, built from ``assets/forecast_rates.json``.

Ages are single years 0..100 (index 100 = 100 and older), sexes ``0 = male``, ``1 = female``.

- Survival: a parametric Gompertz-Makeham life table per sex, mu(x) = a + b exp(c x), with b and c fitted so
  that the table reproduces the published life expectancy at birth and at 65 of Sachsen-Anhalt (the file
  says which). Projection ratios: ``s[a] = L(a+1)/L(a)``, the open group ``T(101)/T(100)``, births
  ``L(0)/l(0)``.
- Fertility: a Hadwiger schedule with the given TFR and mean age at childbirth.
- Migration: Rogers-Castro model schedules for out-migration rates and the age profile of in-migrants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from scipy.optimize import brentq, least_squares

__all__ = ["N_AGES", "AGES", "Rates", "rates_table", "life_table", "fit_gompertz", "survival_ratios",
           "hadwiger_asfr", "rogers_castro", "base_rates", "refit_b"]

N_AGES = 101
AGES = np.arange(N_AGES)
_MAX_AGE = 125  # the life table runs to here (l(x) is negligible beyond)


@lru_cache(maxsize=1)
def rates_table() -> dict[str, Any]:
    """The parsed ``assets/forecast_rates.json``."""
    return json.loads(resources.files("assets").joinpath("forecast_rates.json").read_text(encoding="utf-8"))


# --- survival ----------------------------------------------------------------------------------------
def life_table(a: float, b: float, c: float, q0: float) -> dict[str, np.ndarray]:
    """Gompertz-Makeham life table on ages 0.._MAX_AGE: ``l`` (radix 1), ``L``, ``T`` and ``e``."""
    x = np.arange(_MAX_AGE + 1, dtype=np.float64)
    integral = a + (b / c) * (np.exp(c * (x + 1.0)) - np.exp(c * x))
    q = 1.0 - np.exp(-np.minimum(integral, 700.0))
    q[0] = q0
    q[-1] = 1.0
    l_ = np.ones(_MAX_AGE + 2)
    l_[1:] = np.cumprod(1.0 - q)
    big_l = 0.5 * (l_[:-1] + l_[1:])
    big_l[0] = l_[1] + 0.1 * (l_[0] - l_[1])  # infant deaths early in the first year (a0 = 0.1)
    t = np.cumsum(big_l[::-1])[::-1]
    e = t / np.maximum(l_[:-1], 1e-300)
    return {"l": l_[:-1], "L": big_l, "T": t, "e": e, "q": q}


def fit_gompertz(e0: float, e65: float, a: float, q0: float) -> tuple[float, float]:
    """(b, c) of the Gompertz-Makeham table with Makeham term ``a`` and infant ``q0`` reproducing e0 and e65."""
    def resid(p: np.ndarray) -> np.ndarray:
        lt = life_table(a, float(np.exp(p[0])), float(p[1]), q0)
        return np.array([lt["e"][0] - e0, lt["e"][65] - e65])

    sol = least_squares(resid, x0=np.array([np.log(3e-5), 0.1]), bounds=([-20.0, 0.04], [-3.0, 0.2]),
                        xtol=1e-12, ftol=1e-12)
    if np.max(np.abs(sol.fun)) > 1e-3:
        raise ValueError(f"Sterbetafel nicht anpassbar / life table does not fit e0={e0}, e65={e65}")
    return float(np.exp(sol.x[0])), float(sol.x[1])


def refit_b(e0: float, a: float, c: float, q0: float) -> float:
    """b of the table with shape ``c`` kept that gives life expectancy ``e0`` (a level shift of mortality)."""
    lb = brentq(lambda lb: life_table(a, float(np.exp(lb)), c, q0)["e"][0] - e0, -25.0, -3.0, xtol=1e-12)
    return float(np.exp(lb))


def survival_ratios(lt: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
    """(s (101,), s_birth): survival from age a at the start of a year to a+1 at its end; births to age 0."""
    big_l, t = lt["L"], lt["T"]
    s = np.empty(N_AGES)
    s[:100] = big_l[1:101] / big_l[0:100]
    s[100] = t[101] / t[100]
    return s, float(big_l[0] / lt["l"][0])


# --- fertility ---------------------------------------------------------------------------------------
def hadwiger_asfr(tfr: float, mean_age: float, h: float) -> np.ndarray:
    """(101,) births per woman aged a (completed years, exposure at a + 0.5) in one year; sums to ``tfr``."""
    age = AGES[15:50] + 0.5

    def shape(t: float) -> np.ndarray:
        return (t / age) ** 1.5 * np.exp(-h * h * (t / age + age / t - 2.0))

    def mean_of(t: float) -> float:
        w = shape(t)
        return float((w * age).sum() / w.sum())

    t = brentq(lambda t: mean_of(t) - mean_age, 20.0, 40.0, xtol=1e-10)
    w = shape(t)
    out = np.zeros(N_AGES)
    out[15:50] = tfr * w / w.sum()
    return out


# --- migration ---------------------------------------------------------------------------------------
def rogers_castro(p: dict[str, float]) -> np.ndarray:
    """(101,) Rogers-Castro model schedule at ages 0..100 (childhood, labour force, retirement, level)."""
    x = AGES.astype(np.float64)
    m = p.get("a1", 0.0) * np.exp(-p.get("alpha1", 0.0) * x) + p.get("c", 0.0)
    if p.get("a2", 0.0):
        z = x - p["mu2"]
        m = m + p["a2"] * np.exp(-p["alpha2"] * z - np.exp(-p["lambda2"] * z))
    if p.get("a3", 0.0):
        z = x - p["mu3"]
        m = m + p["a3"] * np.exp(-p["alpha3"] * z - np.exp(-p["lambda3"] * z))
    return m


@dataclass(frozen=True)
class Rates:
    """Base rates (before scenario edits).

    gm : per sex (a, b, c, q0) of the Gompertz-Makeham table for the base year.
    e0 : (2,) life expectancy at birth of the base table; e0_gain : (2,) years gained per calendar year.
    asfr : (101,) fertility rates of the base year; tfr, mean_age, hadwiger_h; srb : boys per girl at birth.
    out_shape : (2, 101) out-migration rate per unit level (population-weighted mean 1 over the base Kreis).
    out_level : the Kreis' gross out-migration rate; in_profile : (2, 101) in-migrant age-sex shares (sum 1);
    in_level : in-migrants per year per person of the population at the start of the year.
    assumptions : the stated assumptions (for the output and the UI).
    """

    gm: tuple[tuple[float, float, float, float], tuple[float, float, float, float]]
    e0: np.ndarray
    e0_gain: np.ndarray
    asfr: np.ndarray
    tfr: float
    mean_age: float
    hadwiger_h: float
    srb: float
    out_shape: np.ndarray
    out_level: float
    in_profile: np.ndarray
    in_level: float
    assumptions: tuple[str, ...]

    def survival(self, e0_by_sex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((2, 101) s, (2,) s_birth) for the given life expectancies at birth (refitting b, keeping c)."""
        s = np.empty((2, N_AGES))
        sb = np.empty(2)
        for k in range(2):
            a, b, c, q0 = self.gm[k]
            if abs(float(e0_by_sex[k]) - float(self.e0[k])) > 1e-9:
                b = refit_b(float(e0_by_sex[k]), a, c, q0)
            s[k], sb[k] = survival_ratios(life_table(a, b, c, q0))
        return s, sb


@lru_cache(maxsize=4)
def base_rates(in_level: float | None = None) -> Rates:
    """The base rates from the asset (``in_level`` overrides the calibrated in-migration level)."""
    tab = rates_table()
    sv, fe, mi = tab["survival"], tab["fertility"], tab["migration"]
    gm = []
    for sex in ("male", "female"):
        a, q0 = float(sv["makeham_a"][sex]), float(sv["q0"][sex])
        b, c = fit_gompertz(float(sv["e0"][sex]), float(sv["e65"][sex]), a, q0)
        gm.append((a, b, c, q0))
    e0 = np.array([sv["e0"]["male"], sv["e0"]["female"]], float)
    gain = np.array([sv["e0_gain_per_year"]["male"], sv["e0_gain_per_year"]["female"]], float)
    asfr = hadwiger_asfr(float(fe["tfr"]), float(fe["mean_age_at_birth"]), float(fe["hadwiger_h"]))
    out = rogers_castro(mi["out_schedule"])
    out_shape = np.vstack([out, out])
    out_shape[1, 18:30] *= float(mi["young_women_out_factor"])
    inn = rogers_castro(mi["in_schedule"])
    in_profile = np.vstack([inn, inn])
    in_profile /= in_profile.sum()
    assumptions = (
        "Sterblichkeit: Gompertz-Makeham-Sterbetafel, angepasst an die Lebenserwartung Sachsen-Anhalts "
        "(Sterbetafel 2017/2019) / mortality: Gompertz-Makeham life table fitted to Sachsen-Anhalt's life "
        "expectancy (life table 2017/2019)",
        "Geburten: Hadwiger-Verteilung mit TFR und mittlerem Gebäralter Sachsen-Anhalts 2019 / births: Hadwiger "
        "schedule with Sachsen-Anhalt's 2019 TFR and mean age at birth",
        "Wanderung: Rogers-Castro-Modellverläufe, Niveau an die amtlichen Prognosen kalibriert / migration: "
        "Rogers-Castro model schedules, level calibrated to the official forecasts",
        "Gleiche Raten in allen Gemeinden (keine Gemeindetabellen zu Alter und Wanderung verfügbar); Zuzüge nach "
        "Einwohnerzahl verteilt, gewichtet, wo die Entwicklung einer Gemeinde bekannt ist / the same rates in every "
        "Gemeinde (no Gemeinde tables of age and migration available); in-migrants allocated by population, "
        "weighted where a Gemeinde's recent change is known",
    )
    return Rates(
        gm=(gm[0], gm[1]), e0=e0, e0_gain=gain, asfr=asfr, tfr=float(fe["tfr"]),
        mean_age=float(fe["mean_age_at_birth"]), hadwiger_h=float(fe["hadwiger_h"]),
        srb=float(fe["sex_ratio_at_birth"]), out_shape=out_shape, out_level=float(mi["out_level"]),
        in_profile=in_profile, in_level=float(mi["in_level"] if in_level is None else in_level),
        assumptions=assumptions,
    )
