"""The cohort-component projection: per Gemeinde, sex and single year of age, yearly from 2019-12-31.

One step from the end of year t-1 to the end of year t, for every Gemeinde at once (numpy, (G, 2, 101)):

1. out-migrants ``O = P * o`` (rates by age, sex, and optionally Gemeinde);
2. deaths of those staying ``D = (P - O) * (1 - s)``; survivors move one year up (100+ stays open);
3. births ``B = sum_a F[a] * asfr[a]`` of the women at the start of the year, split by the sex ratio at
   birth; infants who die in their first year ``B * (1 - s_birth)`` count as deaths;
4. in-migrants ``I`` (age at the end of the year): the Kreis-wide level times each Gemeinde's population at
   the start of the year, spread by the in-migrant age profile, plus the scenario's extra persons.

Persons are expected values (float64), never negative: out-migration and death rates are below one and the
survivors are what remains. The accounting identity ``P_t = P_{t-1} + B - D + I - O`` holds per Gemeinde in
every year (to float64 rounding) and the Kreis is the sum of its Gemeinden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.forecast.base import BasePopulation
from models.forecast.rates import N_AGES, Rates

__all__ = ["BASE_YEAR", "YearRates", "Projection", "year_rates", "project"]

BASE_YEAR = 2019


@dataclass
class YearRates:
    """The rates of one projection year (after scenario edits).

    s : (2, 101) survival; sb : (2,) survival of births; asfr : (101,) or (G, 101) fertility;
    out : (2, 101) or (G, 2, 101) out-migration rates; in_level : float or (G,) in-migrants per resident;
    extra_in : (G, 2, 101) additional in-migrants (scenarios) or None.
    """

    s: np.ndarray
    sb: np.ndarray
    asfr: np.ndarray
    out: np.ndarray
    in_level: float | np.ndarray
    extra_in: np.ndarray | None = None


@dataclass
class Projection:
    """Result: ``years`` (Y+1,) from the base year; ``persons`` (Y+1, G, 2, 101) at each year's end;
    components (Y, G, 2, 101) ``births`` (age 0 only), ``deaths``, ``inflow``, ``outflow`` of each year."""

    ags: tuple[str, ...]
    names: tuple[str, ...]
    years: np.ndarray
    persons: np.ndarray
    births: np.ndarray
    deaths: np.ndarray
    inflow: np.ndarray
    outflow: np.ndarray
    assumptions: tuple[str, ...] = ()
    scenario: list[dict] = field(default_factory=list)

    def total(self) -> np.ndarray:
        """(Y+1, G) persons per Gemeinde."""
        return self.persons.sum(axis=(2, 3))

    def kreis(self) -> np.ndarray:
        """(Y+1, 2, 101) the Kreis as the sum of its Gemeinden."""
        return self.persons.sum(axis=1)

    def year_index(self, year: int) -> int:
        i = int(year) - int(self.years[0])
        if not 0 <= i < self.years.size:
            raise KeyError(year)
        return i


def year_rates(rates: Rates, year: int, *, e0_offset: np.ndarray | None = None, tfr: float | None = None,
               out_factor: np.ndarray | None = None, base_kreis: np.ndarray | None = None) -> YearRates:
    """Rates of ``year``: life expectancy rising by the asset's yearly gain (plus ``e0_offset``), the TFR
    (``tfr`` replaces the base), out-migration times ``out_factor`` ((2, 101) or (G, 2, 101))."""
    e0 = rates.e0 + rates.e0_gain * (year - BASE_YEAR - 0.5)
    if e0_offset is not None:
        e0 = e0 + e0_offset
    s, sb = _survival_cached(rates, tuple(np.round(e0, 9)))
    asfr = rates.asfr if tfr is None else rates.asfr * (tfr / rates.tfr)
    out = rates.out_level * rates.out_shape / _out_norm(rates, base_kreis)
    if out_factor is not None:
        out = out * out_factor
    return YearRates(s=s, sb=sb, asfr=asfr, out=out, in_level=rates.in_level)


_SURV: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _survival_cached(rates: Rates, e0: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    key = (rates.gm, e0)
    hit = _SURV.get(key)
    if hit is None:
        hit = rates.survival(np.asarray(e0))
        if len(_SURV) > 4096:
            _SURV.clear()
        _SURV[key] = hit
    return hit


def _out_norm(rates: Rates, base_kreis: np.ndarray | None) -> float:
    """Population-weighted mean of the out-migration shape over the base Kreis (so ``out_level`` is the
    Kreis' overall out-migration rate in the base year)."""
    if base_kreis is None:
        from models.forecast.base import kreis_single_years

        base_kreis = kreis_single_years()
    return float((rates.out_shape * base_kreis).sum() / base_kreis.sum())


def project(base: BasePopulation, rates: Rates, per_year: dict[int, YearRates], to_year: int) -> Projection:
    """Project ``base`` (end of 2019) to the end of ``to_year`` with the rates of each year."""
    if not BASE_YEAR < to_year <= 2100:
        raise ValueError(f"Zieljahr {to_year} ungültig / target year {to_year} invalid")
    p = base.persons.astype(np.float64, copy=True)
    g = p.shape[0]
    n = to_year - BASE_YEAR
    persons = np.empty((n + 1, g, 2, N_AGES))
    births = np.zeros((n, g, 2, N_AGES))
    deaths = np.empty((n, g, 2, N_AGES))
    inflow = np.empty((n, g, 2, N_AGES))
    outflow = np.empty((n, g, 2, N_AGES))
    persons[0] = p
    srb = rates.srb
    sex_share = np.array([srb / (1.0 + srb), 1.0 / (1.0 + srb)])
    for k in range(n):
        yr = per_year[BASE_YEAR + 1 + k]
        out = np.minimum(p * yr.out, p)
        stay = p - out
        surv = stay * yr.s
        dead = stay - surv
        asfr = yr.asfr if yr.asfr.ndim == 2 else yr.asfr[None, :]
        b = (p[:, 1, :] * asfr).sum(axis=1)  # (G,)
        b_sex = b[:, None] * sex_share[None, :]  # (G, 2)
        b_surv = b_sex * yr.sb[None, :]
        inn = (np.asarray(yr.in_level, float).reshape(-1, 1, 1) * p.sum(axis=(1, 2))[:, None, None]) * rates.in_profile[None]
        if yr.extra_in is not None:
            inn = inn + yr.extra_in
        nxt = np.empty_like(p)
        nxt[:, :, 0] = b_surv
        nxt[:, :, 1:] = surv[:, :, :-1]
        nxt[:, :, -1] += surv[:, :, -1]
        nxt += inn
        dead[:, :, 0] += b_sex - b_surv  # infant deaths counted with the age-0 cohort's deaths
        births[k, :, :, 0] = b_sex
        deaths[k] = dead
        inflow[k] = inn
        outflow[k] = out
        persons[k + 1] = nxt
        p = nxt
    years = np.arange(BASE_YEAR, to_year + 1)
    return Projection(ags=base.ags, names=base.names, years=years, persons=persons, births=births,
                      deaths=deaths, inflow=inflow, outflow=outflow, assumptions=rates.assumptions)
