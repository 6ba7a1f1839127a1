"""Cross effects of the forecast into a town twin and the region: a forecast year (or a migration scenario)
turns a District's residents into those of that year, and so its synthetic population, access deficits and
traffic demand; :func:`forecast_cells` does the same for the region's inhabited 100 m cells.

The town is taken to change like its Gemeinde: every building's residents are scaled by the Gemeinde's
growth factor from the base year (largest remainders, so the town total is the rounded scaled total), and
the age structure of the town follows the Gemeinde's forecast shares of the 17 Destatis age bands. The
buildings' ``residents_by_age`` are refitted by IPF to both (integer, both marginals exact).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from geodata.district import District, age_bands
from models.forecast.base import ForecastInputError, parse_age_columns
from models.forecast.model import Projection
from models.people.population import Population, integerise, ipf_fit, synthesise_population

__all__ = ["band_persons", "town_targets", "forecast_district", "forecast_population", "forecast_cells"]


def band_persons(pr: Projection, ags: str, year: int) -> np.ndarray:
    """(17,) persons of Gemeinde ``ags`` in ``year`` by the Destatis age bands (both sexes)."""
    p = pr.persons[pr.year_index(year), pr.ags.index(ags)].sum(axis=0)
    out = np.empty(len(age_bands()))
    for i, (lo, hi) in enumerate(age_bands()):
        out[i] = p[lo: min(hi, p.size)].sum() if i < len(age_bands()) - 1 else p[lo:].sum()
    return out


def _largest_remainder(exact: np.ndarray, total: int) -> np.ndarray:
    out = np.floor(exact).astype(np.int64)
    rest = int(total - out.sum())
    if rest > 0:
        order = np.argsort(-(exact - out), kind="stable")
        out[order[:rest]] += 1
    return out


def town_targets(district: District, pr: Projection, ags: str, year: int) -> tuple[np.ndarray, np.ndarray]:
    """(residents per building (N,), persons per age band (17,)) of the town in ``year``, both int64."""
    rows0 = np.asarray(district.buildings.residents, np.float64)
    base = pr.persons[0, pr.ags.index(ags)].sum()
    now = band_persons(pr, ags, year)
    scale = float(now.sum() / base) if base > 0 else 0.0
    total = int(round(rows0.sum() * scale))
    rows = _largest_remainder(rows0 * scale, total) if rows0.sum() > 0 else rows0.astype(np.int64)
    cols = _largest_remainder(now / max(now.sum(), 1e-12) * total, total)
    return rows, cols


def forecast_district(district: District, pr: Projection, ags: str, year: int) -> District:
    """The District with its buildings' residents (and residents by age) of the forecast ``year``."""
    rows, cols = town_targets(district, pr, ags, year)
    b = district.buildings
    seed = np.asarray(b.residents_by_age, np.float64) + 1e-3
    fitted = integerise(ipf_fit(seed, rows, cols), rows, cols) if rows.sum() > 0 else np.zeros_like(seed, np.int64)
    nb = dataclasses.replace(b, residents=rows.astype(np.int32), residents_by_age=fitted.astype(np.int32))
    meta = {**district.meta, "forecast": {"ags": ags, "year": int(year), "scenario": pr.scenario}}
    return dataclasses.replace(district, buildings=nb, meta=meta)


def forecast_population(district: District, pr: Projection, ags: str, year: int, rng: np.random.Generator) -> Population:
    """Synthetic persons of the town in the forecast ``year`` (its residents and its age structure)."""
    fd = forecast_district(district, pr, ags, year)
    return synthesise_population(fd, rng, age_targets=np.asarray(fd.buildings.residents_by_age).sum(axis=0))


def forecast_cells(cells: pd.DataFrame, pr: Projection, year: int) -> pd.DataFrame:
    """The region's inhabited cells (``ags`` and age-group columns ``age_<lo>_<hi>`` / ``age_<lo>_plus`` of the
    base year) in a forecast ``year``: each cell's age group times its Gemeinde's growth of that age group
    since the base year (expected persons, float). Cells of Gemeinden outside the projection keep their
    counts; a group empty in the base year of a Gemeinde stays empty in its cells."""
    cols = parse_age_columns(list(cells.columns))
    if not cols:
        raise ForecastInputError("Zellen ohne Altersgruppen", "cells without age groups")
    k = pr.year_index(year)
    out = cells.copy()
    idx = {a: i for i, a in enumerate(pr.ags)}
    gi = np.array([idx.get(str(a), -1) for a in cells["ags"]])
    known = gi >= 0
    for c, lo, hi in cols:
        now = pr.persons[k][:, :, lo: hi + 1].sum(axis=(1, 2))
        then = pr.persons[0][:, :, lo: hi + 1].sum(axis=(1, 2))
        factor = np.divide(now, then, out=np.zeros_like(now), where=then > 0)
        vals = cells[c].to_numpy(float).copy()
        vals[known] = vals[known] * factor[gi[known]]
        out[c] = vals
    return out
