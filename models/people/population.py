"""Synthetic population: persons with age, household, car availability and home building.

The persons are fitted to two sets of marginals by iterative proportional fitting (IPF):

- rows: residents per building (``District.buildings.residents``);
- columns: persons per Destatis age band, from the real table of the district (``assets/
  demography_burgenlandkreis_2019.json``, transcribed from GENESIS 12411-0017), scaled to the
  district's resident total by largest remainders.

The fitted matrix is rounded to integers so that *both* marginals hold exactly (the rounding never
breaks a row or a column sum). Ages are drawn uniformly inside each band, households are formed inside
each building around its adults, and car availability is drawn by age from ``assets/car_availability.json``
(MiD 2017). Everything is seeded by a ``numpy.random.Generator`` passed in. The persons are synthetic: no
real person is represented, and the table lives only in memory (never written).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from geodata.district import District, age_bands

__all__ = [
    "Population",
    "synthesise_population",
    "ipf_fit",
    "integerise",
    "age_band_targets",
    "car_share_by_age",
    "CAR_SOURCE",
    "newcomers",
]


@lru_cache(maxsize=1)
def _car_table() -> dict:
    return json.loads(resources.files("assets").joinpath("car_availability.json").read_text(encoding="utf-8"))


CAR_SOURCE: str = "MiD 2017 (assets/car_availability.json)"


def car_share_by_age(age_y: np.ndarray) -> np.ndarray:
    """Share (0..1, float64) of persons with a car at their disposal, for ages in years (any shape)."""
    tab = _car_table()
    lo = np.array([b[0] for b in tab["age_bands"]], dtype=np.float64)
    share = np.asarray(tab["share_with_car"], dtype=np.float64)
    idx = np.clip(np.searchsorted(lo, np.asarray(age_y, np.float64), side="right") - 1, 0, len(lo) - 1)
    return share[idx]


def age_band_targets(total: int) -> np.ndarray:
    """Persons per Destatis age band (17,) int64 scaled from the real district table to ``total`` persons.

    Largest-remainder rounding: the result sums to ``total`` exactly and equals the real table when
    ``total`` is the real total (178,846 for the Burgenlandkreis, 2019-12-31).
    """
    data = json.loads(resources.files("assets").joinpath("demography_burgenlandkreis_2019.json").read_text())
    persons = np.asarray(data["persons"], dtype=np.float64)
    exact = persons * (total / persons.sum())
    out = np.floor(exact).astype(np.int64)
    rest = int(total - out.sum())
    if rest > 0:
        order = np.argsort(-(exact - out), kind="stable")
        out[order[:rest]] += 1
    return out


def ipf_fit(
    seed: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, tol: float = 1e-9, max_iter: int = 500
) -> np.ndarray:
    """Iterative proportional fitting of a non-negative seed (N, B) to row sums (N,) and column sums (B,).

    Rows with a zero seed sum but a positive target get a uniform seed. Returns float64 (N, B). When the
    marginals are consistent (equal totals, feasible support) both are met to ``tol`` (relative).
    """
    m = np.asarray(seed, dtype=np.float64).copy()
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    if m.shape != (rows.size, cols.size):
        raise ValueError(f"seed {m.shape} does not match marginals ({rows.size}, {cols.size})")
    if (m < 0).any() or (rows < 0).any() or (cols < 0).any():
        raise ValueError("IPF needs non-negative seed and marginals")
    empty = (m.sum(axis=1) <= 0) & (rows > 0)
    m[empty] = 1.0
    scale = max(float(rows.sum()), 1.0)
    for _ in range(max_iter):
        rs = m.sum(axis=1)
        m *= np.divide(rows, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
        cs = m.sum(axis=0)
        m *= np.divide(cols, cs, out=np.zeros_like(cs), where=cs > 0)[None, :]
        err = np.abs(m.sum(axis=1) - rows).sum() + np.abs(m.sum(axis=0) - cols).sum()
        if err <= tol * scale:
            break
    return m


def integerise(m: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Round a non-negative matrix (N, B) to int64 with the given integer row and column sums exactly.

    Floors the matrix, then hands the missing units to the cells with the largest fractional parts
    where both the row and the column still miss units; whatever remains (inconsistent support) goes
    out by the north-west corner rule on the residuals, which always closes when the totals agree.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if rows.sum() != cols.sum():
        raise ValueError(f"row total {rows.sum()} != column total {cols.sum()}")
    out = np.floor(np.asarray(m, dtype=np.float64) + 1e-9).astype(np.int64)
    out = np.minimum(out, np.minimum(rows[:, None], cols[None, :]))
    # floors may overshoot a row or column after IPF round-off: take units back from the smallest cells
    for axis, target in ((1, rows), (0, cols)):
        over = out.sum(axis=axis) - target
        for i in np.nonzero(over > 0)[0]:
            line = out[i] if axis == 1 else out[:, i]
            for j in np.argsort(line, kind="stable"):
                take = min(int(line[j]), int(over[i]))
                line[j] -= take
                over[i] -= take
                if over[i] == 0:
                    break
    rres = rows - out.sum(axis=1)
    cres = cols - out.sum(axis=0)
    frac = np.asarray(m, dtype=np.float64) - np.floor(np.asarray(m, dtype=np.float64) + 1e-9)
    cand = np.nonzero((rres[:, None] > 0) & (cres[None, :] > 0) & (frac > 1e-12))
    order = np.argsort(-frac[cand], kind="stable")
    ri, ci = cand[0][order].tolist(), cand[1][order].tolist()
    rl, cl = rres.tolist(), cres.tolist()
    for i, j in zip(ri, ci):
        if rl[i] > 0 and cl[j] > 0:
            out[i, j] += 1
            rl[i] -= 1
            cl[j] -= 1
    i = j = 0
    n, b = out.shape
    while i < n and j < b:
        if rl[i] == 0:
            i += 1
            continue
        if cl[j] == 0:
            j += 1
            continue
        take = min(rl[i], cl[j])
        out[i, j] += take
        rl[i] -= take
        cl[j] -= take
    return out


@dataclass(frozen=True)
class Population:
    """Synthetic persons, P rows, in memory only (never exported: results leave as aggregates).

    Attributes
    ----------
    age_y : (P,) int16, age in whole years.
    age_band : (P,) int8, index into ``geodata.district.age_bands()``.
    household_id : (P,) int32, unique over the district.
    home_building : (P,) int32, index into ``District.buildings``.
    has_car : (P,) bool, a car at the person's disposal as a driver.
    car_source : where the car shares come from.
    """

    age_y: np.ndarray
    age_band: np.ndarray
    household_id: np.ndarray
    home_building: np.ndarray
    has_car: np.ndarray
    car_source: str = CAR_SOURCE

    def __len__(self) -> int:
        return int(self.age_y.shape[0])

    def band_counts(self, n_buildings: int) -> np.ndarray:
        """(n_buildings, 17) int64 persons per building and age band."""
        out = np.zeros((n_buildings, len(age_bands())), dtype=np.int64)
        np.add.at(out, (self.home_building, self.age_band), 1)
        return out

    def groups(self) -> dict[str, np.ndarray]:
        """Boolean masks (P,) of the groups that access deficits are reported for."""
        return {
            "age65_no_car": (self.age_y >= 65) & ~self.has_car,
            "under18": self.age_y < 18,
            "all": np.ones(len(self), dtype=bool),
        }


def _households(home: np.ndarray, age: np.ndarray, dwellings: np.ndarray, mean_size: float,
                rng: np.random.Generator) -> np.ndarray:
    """Household ids (P,) int32: each building's persons split into households around its adults.

    A building of n persons holds round(n / mean_size) households (at least 1, at most its dwellings
    when known and its adults when it has any); adults are dealt round-robin in random order, so every
    household gets an adult before any gets a second; minors join a random household of the building.
    """
    home = np.asarray(home, np.int64)
    if home.size == 0:
        return np.zeros(0, np.int32)
    nb = int(home.max()) + 1
    n_b = np.bincount(home, minlength=nb)
    adult = age >= 18
    adults_b = np.bincount(home[adult], minlength=nb)
    n_hh = np.maximum(1, np.round(n_b / mean_size)).astype(np.int64)
    dw = np.zeros(nb, np.int64)
    dw[: min(nb, len(dwellings))] = np.asarray(dwellings, np.int64)[:nb]
    n_hh = np.where(dw > 0, np.minimum(n_hh, dw), n_hh)
    n_hh = np.maximum(np.minimum(n_hh, np.maximum(adults_b, 1)), 1)
    offset = np.cumsum(n_hh) - n_hh
    hh = np.zeros(home.size, np.int64)
    ai = np.nonzero(adult)[0]
    order = ai[np.lexsort((rng.random(ai.size), home[ai]))]
    first = np.searchsorted(home[order], np.arange(nb))
    rank = np.arange(order.size) - first[home[order]]
    hh[order] = offset[home[order]] + rank % n_hh[home[order]]
    mi = np.nonzero(~adult)[0]
    hh[mi] = offset[home[mi]] + np.floor(rng.random(mi.size) * n_hh[home[mi]]).astype(np.int64)
    return hh.astype(np.int32)


def synthesise_population(district: District, rng: np.random.Generator, *,
                          mean_household_size: float = 1.9, age_targets: np.ndarray | None = None) -> Population:
    """Synthetic persons for every resident of ``district``, fitted to the real age table by IPF.

    The building totals are the district's ``residents``; the age marginals are the real table scaled
    to the district's total (``age_band_targets``), or ``age_targets`` (persons per age band, summing to
    the residents; e.g. a forecast year's age structure). ``residents_by_age`` of the buildings is the IPF
    seed, so a district whose buildings already carry consistent age counts is reproduced exactly.
    """
    b = district.buildings
    rows = np.asarray(b.residents, dtype=np.int64)
    if (rows < 0).any():
        raise ValueError("Negative Einwohnerzahl in einem Gebäude / negative residents in a building")
    total = int(rows.sum())
    cols = age_band_targets(total)
    if age_targets is not None:
        cols = np.asarray(age_targets, dtype=np.int64)
        if cols.shape != (len(age_bands()),) or (cols < 0).any() or int(cols.sum()) != total:
            raise ValueError("Altersziele passen nicht zu den Einwohnern / age targets do not fit the residents")
    seed = np.asarray(b.residents_by_age, dtype=np.float64) if len(b) else np.zeros((0, cols.size))
    if seed.shape != (len(b), cols.size):
        seed = np.zeros((len(b), cols.size))
    seed = seed + 1e-3 * (cols / max(total, 1))[None, :]
    counts = integerise(ipf_fit(seed, rows, cols), rows, cols)
    bi, band = np.nonzero(counts)
    reps = counts[bi, band]
    home = np.repeat(bi, reps).astype(np.int32)
    band_of = np.repeat(band, reps).astype(np.int8)
    bands = np.asarray(age_bands(), dtype=np.int64)
    lo = bands[band_of, 0]
    hi = np.minimum(bands[band_of, 1], 96)
    age = (lo + np.floor(rng.random(home.size) * (hi - lo))).astype(np.int16)
    has_car = rng.random(home.size) < car_share_by_age(age)
    hh = _households(home, age, np.asarray(b.dwellings), mean_household_size, rng)
    return Population(age_y=age, age_band=band_of, household_id=hh, home_building=home, has_car=has_car)


def newcomers(residents: np.ndarray, rng: np.random.Generator, *, first_home: int,
              first_household: int, mean_household_size: float = 1.9) -> Population:
    """Synthetic persons moving into H new homes (``residents`` (H,) persons each), with the district's
    age structure (largest-remainder shares of the real table) and car availability by age.
    Home indices start at ``first_home``, household ids at ``first_household``."""
    residents = np.asarray(residents, dtype=np.int64)
    if residents.size == 0 or residents.sum() == 0:
        z = np.zeros(0)
        return Population(z.astype(np.int16), z.astype(np.int8), z.astype(np.int32), z.astype(np.int32), z.astype(bool))
    cols = age_band_targets(int(residents.sum()))
    seed = np.tile(cols.astype(np.float64) + 1e-3, (residents.size, 1))
    counts = integerise(ipf_fit(seed, residents, cols), residents, cols)
    bi, band = np.nonzero(counts)
    reps = counts[bi, band]
    home = np.repeat(bi, reps).astype(np.int32)
    band_of = np.repeat(band, reps).astype(np.int8)
    bands = np.asarray(age_bands(), dtype=np.int64)
    lo, hi = bands[band_of, 0], np.minimum(bands[band_of, 1], 96)
    age = (lo + np.floor(rng.random(home.size) * (hi - lo))).astype(np.int16)
    has_car = rng.random(home.size) < car_share_by_age(age)
    hh = _households(home, age, np.zeros(residents.size, np.int64), mean_household_size, rng) + first_household
    return Population(age, band_of, hh.astype(np.int32), (home + first_home).astype(np.int32), has_car)
