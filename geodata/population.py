"""Dwellings and residents per building, with an age structure that matches the real district's.

Usable for any building table (the sample district, OpenStreetMap imports): it needs only footprint
areas, storeys and uses.

Method
------
1. Dwellings from the gross floor area (footprint x storeys) of residential buildings: a detached or
   semi-detached house (at most 2 storeys and 220 m² footprint) holds one dwelling; larger buildings
   hold ``net floor area / M2_PER_DWELLING`` dwellings, the net floor area being 78 % of the gross
   (DIN 277 ratio of net to gross floor area of housing, 0.75-0.80).
2. Residents: the district's mean household size (``mean_household_size`` of the demography asset,
   1.9 persons) times the dwellings, shifted by building type (houses hold families, flats smaller
   households) with the district mean kept, and integerised by seeded stochastic rounding.
3. Ages: the district total is split over the 17 age bands by largest-remainder allocation of the
   real age shares (Destatis 12411-0017, Burgenlandkreis 2019), so the sample's age shares equal the
   real ones to rounding. Persons are then ranked by a building-type propensity plus noise and the
   bands dealt out in order of age: Plattenbau flats skew older, single-family houses younger, and the
   district totals stay exact.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

__all__ = [
    "M2_PER_DWELLING",
    "load_age_table",
    "largest_remainder",
    "estimate_dwellings",
    "assign_residents",
]

# Mean net floor area per dwelling in multi-family buildings, m² (Statistisches Landesamt
# Sachsen-Anhalt, Gebäude- und Wohnungsbestand 2019: 76.6 m² mean over all dwellings, about 64 m² in
# multi-family buildings; we take 66 m²).
M2_PER_DWELLING = 66.0
NET_TO_GROSS = 0.78
# Household size relative to the district mean, by building type (Mikrozensus: 1-2-family houses
# ~2.5 persons, flats in multi-family buildings ~1.7).
_HOUSEHOLD_FACTOR = {"house": 1.3, "flat": 0.9}


def load_age_table() -> dict:
    """The demography asset: ``age_bands`` (17 [lo, hi) pairs), ``persons`` (17), ``mean_household_size``."""
    text = resources.files("assets").joinpath("demography_burgenlandkreis_2019.json").read_text(encoding="utf-8")
    return json.loads(text)


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers summing to ``total`` proportional to ``weights`` (Hare-Niemeyer / largest remainder).

    Ties are broken by the lower index, so the result is deterministic.
    """
    w = np.asarray(weights, dtype=np.float64)
    if total < 0 or w.ndim != 1 or w.size == 0 or (w < 0).any() or w.sum() <= 0:
        raise ValueError("Ungültige Gewichte oder Summe / invalid weights or total")
    quota = total * w / w.sum()
    base = np.floor(quota).astype(np.int64)
    rest = int(total - base.sum())
    order = np.lexsort((np.arange(w.size), -(quota - base)))
    base[order[:rest]] += 1
    return base


def estimate_dwellings(footprint_area_m2: np.ndarray, storeys: np.ndarray, use: np.ndarray) -> np.ndarray:
    """(N,) int32 dwellings of each building; 0 for non-residential uses."""
    area = np.asarray(footprint_area_m2, dtype=np.float64)
    st = np.maximum(np.asarray(storeys, dtype=np.float64), 1.0)
    res = np.asarray(use, dtype=object) == "residential"
    house = res & (st <= 2) & (area <= 220.0)
    flats = np.floor(area * st * NET_TO_GROSS / M2_PER_DWELLING + 0.5)
    d = np.where(house, 1.0, np.maximum(flats, 1.0))
    return np.where(res & np.isfinite(area) & (area > 0), d, 0.0).astype(np.int32)


def assign_residents(
    footprint_area_m2: np.ndarray,
    storeys: np.ndarray,
    use: np.ndarray,
    rng: np.random.Generator,
    *,
    age_table: dict | None = None,
    age_propensity: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Residents and residents by age band of every building.

    Parameters
    ----------
    footprint_area_m2, storeys, use : (N,) building footprint area (m²), storeys, use ("residential" houses people).
    rng : seeded generator; the same inputs and seed give the same numbers.
    age_table : a dict like the demography asset (``persons`` per band, ``mean_household_size``); default the
        Burgenlandkreis 2019 table.
    age_propensity : (N,) float, optional shift of each building's residents towards older (> 0) or
        younger (< 0) ages, in units of the noise range (about +-0.3 is a clear but mild skew).

    Returns
    -------
    residents : (N,) int32
    residents_by_age : (N, B) int32, rows summing to ``residents``; its column totals are the
        largest-remainder split of the district total over the table's age shares.
    """
    table = age_table or load_age_table()
    persons = np.asarray(table["persons"], dtype=np.float64)
    hh = float(table.get("mean_household_size", 1.9))
    if not np.isfinite(hh) or hh <= 0:
        raise ValueError(f"Ungültige Haushaltsgröße {hh} / invalid household size")
    area = np.asarray(footprint_area_m2, dtype=np.float64)
    st = np.asarray(storeys)
    n = area.shape[0]
    if st.shape != (n,) or np.asarray(use).shape != (n,):
        raise ValueError("footprint_area_m2, storeys und use müssen gleich lang sein / must have equal length")
    dwell = estimate_dwellings(area, st, use).astype(np.float64)
    house = (dwell == 1) & (st <= 2)
    factor = np.where(house, _HOUSEHOLD_FACTOR["house"], _HOUSEHOLD_FACTOR["flat"])
    total_dw = dwell.sum()
    if total_dw > 0:  # keep the district mean household size
        factor = factor * total_dw / float((dwell * factor).sum())
    expected = dwell * hh * factor
    base = np.floor(expected)
    residents = (base + (rng.uniform(size=n) < expected - base)).astype(np.int64)
    residents[(dwell > 0) & (residents == 0)] = 1
    total = int(residents.sum())
    bands = persons.size
    by_age = np.zeros((n, bands), dtype=np.int32)
    if total == 0:
        return residents.astype(np.int32), by_age
    per_band = largest_remainder(total, persons)
    owner = np.repeat(np.arange(n), residents)
    shift = np.zeros(n) if age_propensity is None else np.asarray(age_propensity, dtype=np.float64)
    key = shift[owner] + rng.uniform(size=total)
    order = np.argsort(key, kind="stable")
    band_of_rank = np.repeat(np.arange(bands), per_band)
    band = np.empty(total, dtype=np.int64)
    band[order] = band_of_rank
    counts = np.bincount(owner * bands + band, minlength=n * bands).reshape(n, bands)
    return residents.astype(np.int32), counts.astype(np.int32)
