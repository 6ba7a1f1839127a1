"""The base population 2019: persons per Gemeinde, sex and single year of age (G, 2, 101).

- The Kreis' single years: the Destatis age groups of 2019-12-31 (``assets/demography_burgenlandkreis_2019.json``)
  spread over single years by a monotone (PCHIP) interpolation of the cumulative distribution (each group's
  total kept exactly); the open group 75+ in proportion to the stationary population of the life table; the sex
  split by the six RKI age groups (``assets/forecast_rates.json``).
- A Gemeinde table (``ags``, ``name`` and persons by age group in columns ``age_<lo>_<hi>`` / ``age_<lo>_plus``,
  or only ``population_2019``) is turned into single years by the Kreis' pattern inside each group.
- Without a region bundle, :func:`gemeinden_from_shared` builds such a table from the Zensus 2011 100 m grid
  (persons by five age classes) inside the VG5000 Gemeinden, scaled per age class to the Kreis' 2019 table;
  Gemeinden with an official 2019 total in the shared town series (Naumburg, Zeitz) keep that total.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from importlib import resources
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from models.forecast.rates import N_AGES, base_rates, life_table, rates_table
from models.people.population import ipf_fit

__all__ = ["BasePopulation", "ForecastInputError", "kreis_single_years", "base_from_table", "parse_age_columns",
           "gemeinden_from_shared", "kreis_age_groups", "gemeinde_shapes",
           "official_gemeinde_totals", "read_gemeinde_table"]

_AGE_COL = re.compile(r"^age_(\d{1,3})_(\d{1,3}|plus)$")
_AGS = re.compile(r"^\d{8}$")


class ForecastInputError(ValueError):
    """Invalid input of the forecast; ``de`` and ``en`` carry the message in both languages."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.de = de
        self.en = en


@dataclass(frozen=True)
class BasePopulation:
    """ags (G,) 8-digit keys, names (G,), persons (G, 2, 101) float64 on 2019-12-31, and how it was made;
    ``in_weights`` (G,): each Gemeinde's in-migration relative to the Kreis level (None: all 1)."""

    ags: tuple[str, ...]
    names: tuple[str, ...]
    persons: np.ndarray
    method: str
    in_weights: np.ndarray | None = None

    @property
    def kreis(self) -> np.ndarray:
        return self.persons.sum(axis=0)


def kreis_age_groups() -> tuple[np.ndarray, np.ndarray]:
    """((17, 2) [lo, hi) bounds, (17,) persons) of the Kreis on 2019-12-31 (Destatis 12411-0017)."""
    data = json.loads(resources.files("assets").joinpath("demography_burgenlandkreis_2019.json").read_text("utf-8"))
    return np.asarray(data["age_bands"], np.int64), np.asarray(data["persons"], np.float64)


def kreis_single_years() -> np.ndarray:
    """(2, 101) persons of the Kreis by sex and single year of age, 2019-12-31 (group totals exact)."""
    bands, persons = kreis_age_groups()
    total = np.zeros(N_AGES)
    # closed groups: PCHIP of the cumulative distribution at the group bounds (monotone: no negative years)
    edges = np.concatenate([[0], bands[:-1, 1]]).astype(float)  # 0, 3, 6, ... 75
    cum = np.concatenate([[0.0], np.cumsum(persons[:-1])])
    f = PchipInterpolator(edges, cum)
    last = int(bands[-1, 0])
    grid = np.arange(last + 1, dtype=float)
    total[:last] = np.diff(f(grid))
    # open group 75+: stationary population of the base life table (sexes pooled by the 80+ sex split)
    r = base_rates()
    split = rates_table()["base_sex_split"]
    w_m = split["male"][-1] / (split["male"][-1] + split["female"][-1])
    big_l = np.zeros(130)
    for k, w in ((0, w_m), (1, 1.0 - w_m)):
        lt = life_table(*r.gm[k])
        big_l[: lt["L"].size] += w * lt["L"]
    tail = big_l[last:].copy()
    w_tail = np.zeros(N_AGES - last)
    w_tail[:-1] = tail[: N_AGES - last - 1]
    w_tail[-1] = tail[N_AGES - last - 1:].sum()
    total[last:] = persons[-1] * w_tail / w_tail.sum()
    # sex split: constant male share inside each RKI group
    out = np.zeros((2, N_AGES))
    for (lo, hi), m, w in zip(split["age_groups"], split["male"], split["female"], strict=True):
        share = m / (m + w)
        out[0, lo: hi + 1] = total[lo: hi + 1] * share
        out[1, lo: hi + 1] = total[lo: hi + 1] * (1.0 - share)
    return out


def parse_age_columns(columns: list[str]) -> list[tuple[str, int, int]]:
    """(column, lo, hi inclusive) of the age columns, checked to partition the ages 0..100+ (hi 100 = open)."""
    found = []
    for c in columns:
        m = _AGE_COL.match(str(c))
        if m:
            lo = int(m.group(1))
            hi = N_AGES - 1 if m.group(2) == "plus" else int(m.group(2))
            found.append((str(c), lo, hi))
    found.sort(key=lambda t: t[1])
    if not found:
        return []
    nxt = 0
    for c, lo, hi in found:
        if lo != nxt or hi < lo or hi > N_AGES - 1:
            raise ForecastInputError(
                f"Altersspalten überlappen oder lassen Lücken (bei {c})",
                f"age columns overlap or leave gaps (at {c})")
        nxt = hi + 1
    if not found[-1][0].endswith("_plus"):
        raise ForecastInputError("Die letzte Altersgruppe muss offen sein (age_<lo>_plus)",
                                 "the last age group must be open-ended (age_<lo>_plus)")
    return found


def base_from_table(gemeinden: pd.DataFrame, kreis: np.ndarray | None = None, *, method: str = "") -> BasePopulation:
    """The base population from a Gemeinde table (``ags``, ``name``, age-group columns or ``population_2019``).

    Inside each age group a Gemeinde gets the Kreis' single-year and sex pattern of that group (``kreis``,
    default :func:`kreis_single_years`). Raises :class:`ForecastInputError` on bad keys or counts.
    """
    if kreis is None:
        kreis = kreis_single_years()
    if "ags" not in gemeinden.columns:
        raise ForecastInputError("Die Gemeindetabelle hat keine Spalte 'ags'", "the Gemeinde table has no column 'ags'")
    ags = [str(a) for a in gemeinden["ags"]]
    bad = [a for a in ags if not _AGS.match(a)]
    if bad:
        raise ForecastInputError(f"Ungültiger Gemeindeschlüssel {bad[0]!r} (8 Ziffern erwartet)",
                                 f"invalid Gemeinde key {bad[0]!r} (8 digits expected)")
    if len(set(ags)) != len(ags):
        raise ForecastInputError("Gemeindeschlüssel kommen doppelt vor", "Gemeinde keys are not unique")
    if not ags:
        raise ForecastInputError("Die Gemeindetabelle ist leer", "the Gemeinde table is empty")
    names = tuple(str(n) for n in gemeinden["name"]) if "name" in gemeinden.columns else tuple(ags)
    cols = parse_age_columns(list(gemeinden.columns))
    if cols:
        groups = [(lo, hi) for _, lo, hi in cols]
        counts = gemeinden[[c for c, _, _ in cols]].to_numpy(dtype=np.float64)
    elif "population_2019" in gemeinden.columns:
        groups = [(0, N_AGES - 1)]
        counts = gemeinden[["population_2019"]].to_numpy(dtype=np.float64)
        method = (method + "; " if method else "") + (
            "Altersstruktur des Kreises in jeder Gemeinde (keine Altersgruppen gegeben) / the Kreis' age structure "
            "in every Gemeinde (no age groups given)")
    else:
        raise ForecastInputError("Die Gemeindetabelle hat weder Altersgruppen noch population_2019",
                                 "the Gemeinde table has neither age groups nor population_2019")
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise ForecastInputError("Negative oder fehlende Personenzahlen in der Gemeindetabelle",
                                 "negative or missing person counts in the Gemeinde table")
    persons = np.zeros((len(ags), 2, N_AGES))
    for j, (lo, hi) in enumerate(groups):
        pattern = kreis[:, lo: hi + 1]
        tot = pattern.sum()
        if tot <= 0:
            raise ForecastInputError(f"Altersgruppe {lo}-{hi} ist im Kreis leer", f"age group {lo}-{hi} is empty in the Kreis")
        persons[:, :, lo: hi + 1] = counts[:, j, None, None] * (pattern / tot)[None]
    return BasePopulation(ags=tuple(ags), names=names, persons=persons, method=method)


BASE_YEAR_TOTALS = 2019


def official_gemeinde_totals(shared_dir: str | Path, year: int) -> dict[str, float]:
    """AGS -> official population at the end of ``year`` of the towns in the shared data's town series
    (``demography_burgenlandkreis/town_population_series_2008_2024.csv``; empty when absent)."""
    path = Path(shared_dir) / "demography_burgenlandkreis" / "town_population_series_2008_2024.csv"
    if not path.is_file():
        return {}
    try:
        df = pd.read_csv(path, dtype={"ags": str})
        df = df[(df["year"] == year) & df["population_end_of_year"].notna()]
        return {str(a): float(v) for a, v in zip(df["ags"], df["population_end_of_year"], strict=True)
                if _AGS.match(str(a)) and float(v) > 0}
    except (KeyError, ValueError) as exc:
        raise ForecastInputError(f"Zeitreihe der Städte nicht lesbar: {exc}", f"town series not readable: {exc}") from None


def read_gemeinde_table(data: bytes, known: set[str] | None = None) -> pd.DataFrame:
    """An official Gemeinde table from CSV (``,`` or ``;``): ``ags`` and ``population`` (or
    ``population_2019``), optionally age groups ``age_<lo>_<hi>`` .. ``age_<lo>_plus``. Unknown keys, negative
    or missing counts and oversized files are refused (German / English)."""
    if len(data) > 5_000_000:
        raise ForecastInputError("Gemeindetabelle ist zu groß (> 5 MB)", "Gemeinde table is too large (> 5 MB)")
    try:
        text = data.decode("utf-8-sig")
        df = pd.read_csv(StringIO(text), sep=None, engine="python", dtype={"ags": str, "AGS": str})
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise ForecastInputError(f"Gemeindetabelle nicht lesbar: {exc}", f"Gemeinde table not readable: {exc}") from None
    df = df.rename(columns={c: str(c).strip().lower() for c in df.columns})
    if "population" in df.columns and "population_2019" not in df.columns:
        df = df.rename(columns={"population": "population_2019"})
    if "ags" not in df.columns or ("population_2019" not in df.columns and not parse_age_columns(list(df.columns))):
        raise ForecastInputError("Gemeindetabelle braucht ags und population (oder Altersgruppen)",
                                 "Gemeinde table needs ags and population (or age groups)")
    df["ags"] = df["ags"].astype(str).str.strip()
    bad = [a for a in df["ags"] if not _AGS.match(a) or (known is not None and a not in known)]
    if bad:
        raise ForecastInputError(f"Gemeindetabelle: unbekannter Gemeindeschlüssel {bad[0]!r}",
                                 f"Gemeinde table: unknown Gemeinde key {bad[0]!r}")
    if df["ags"].duplicated().any():
        raise ForecastInputError("Gemeindetabelle: Schlüssel doppelt", "Gemeinde table: duplicate keys")
    num = [c for c in df.columns if c == "population_2019" or _AGE_COL.match(c)]
    vals = df[num].apply(pd.to_numeric, errors="coerce")
    if vals.isna().any().any() or (vals < 0).any().any():
        raise ForecastInputError("Gemeindetabelle: negative oder fehlende Personenzahlen",
                                 "Gemeinde table: negative or missing person counts")
    df[num] = vals.astype(float)
    return df


def gemeinden_from_shared(shared_dir: str | Path, totals: dict[str, float] | None = None) -> pd.DataFrame:
    """A Gemeinde table (``ags``, ``name``, ``age_0_17`` .. ``age_65_plus``, ``population_2019``) from the
    shared open data: Zensus 2011 100 m persons by age class summed per VG5000 Gemeinde (cell centres), each
    class scaled so that the Kreis matches its 2019 Destatis age table. Gemeinden with an official 2019 total
    (the shared town series, or ``totals`` from an official Gemeinde table, which win) keep it."""
    import shapely

    root = Path(shared_dir)
    gj = root / "burgenlandkreis_admin_boundaries_vg5000" / "burgenlandkreis_gemeinden.geojson"
    grid = root / "zensus2011_grid_burgenlandkreis" / "zensus2011_100m_age5_burgenlandkreis_bbox.csv"
    for p in (gj, grid):
        if not p.is_file():
            raise ForecastInputError(f"Datei fehlt: {p}", f"file missing: {p}")
    try:
        feats = json.loads(gj.read_text(encoding="utf-8"))["features"]
        shapes = [shapely.geometry.shape(f["geometry"]) for f in feats]
        ags = [str(f["properties"]["AGS"]) for f in feats]
        names = [str(f["properties"]["GEN"]) for f in feats]
        cells = pd.read_csv(grid)
        cls = ["age_under18", "age_18_29", "age_30_49", "age_50_64", "age_65plus"]
        vals = cells[cls].to_numpy(np.float64)
        lon, lat = cells["lon"].to_numpy(float), cells["lat"].to_numpy(float)
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ForecastInputError(f"Offene Daten nicht lesbar: {exc}", f"open data not readable: {exc}") from None
    sums = np.zeros((len(ags), len(cls)))
    for g, shp in enumerate(shapes):
        inside = shapely.contains_xy(shp, lon, lat)
        sums[g] = vals[inside].sum(axis=0)
    bounds = [(0, 17), (18, 29), (30, 49), (50, 64), (65, 100)]
    kreis = kreis_single_years().sum(axis=0)
    target = np.array([kreis[lo: hi + 1].sum() for lo, hi in bounds])
    scaled = sums * (target / np.maximum(sums.sum(axis=0), 1.0))[None, :]
    official = official_gemeinde_totals(root, BASE_YEAR_TOTALS)
    official.update(totals or {})
    pinned = {a: v for a, v in official.items() if a in ags}
    if pinned:
        # Gemeinden with an official 2019 total keep it; the others share the rest of the Kreis in proportion
        # to the grid; IPF then restores the Kreis' age-class totals (both marginals met)
        rows = scaled.sum(axis=1)
        is_pinned = np.array([a in pinned for a in ags])
        fixed = np.array([pinned.get(a, 0.0) for a in ags])
        if is_pinned.all():
            target = target * (fixed.sum() / target.sum())
        free = target.sum() - fixed.sum()
        if free < 0:
            raise ForecastInputError(
                "Die Gemeindetabelle hat mehr Einwohner als der Kreis 2019, deckt aber nicht alle Gemeinden ab",
                "the Gemeinde table holds more persons than the Kreis in 2019 but does not cover every Gemeinde")
        rows = np.where(is_pinned, fixed, rows * free / max(rows[~is_pinned].sum(), 1e-9))
        scaled = ipf_fit(scaled, rows, target, tol=1e-12, max_iter=2000)
    cols = ["age_0_17", "age_18_29", "age_30_49", "age_50_64", "age_65_plus"]
    df = pd.DataFrame(scaled, columns=cols)
    df.insert(0, "name", names)
    df.insert(0, "ags", ags)
    df["population_2019"] = scaled.sum(axis=1)
    return df.sort_values("ags").reset_index(drop=True)


def gemeinde_shapes(shared_dir: str | Path) -> dict[str, object]:
    """AGS -> outline (shapely, WGS84) of the VG5000 Gemeinden in the shared data (empty when absent)."""
    import shapely

    gj = Path(shared_dir) / "burgenlandkreis_admin_boundaries_vg5000" / "burgenlandkreis_gemeinden.geojson"
    if not gj.is_file():
        return {}
    try:
        feats = json.loads(gj.read_text(encoding="utf-8"))["features"]
        return {str(f["properties"]["AGS"]): shapely.geometry.shape(f["geometry"]) for f in feats}
    except (KeyError, ValueError, TypeError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise ForecastInputError(f"Gemeindegrenzen nicht lesbar: {exc}", f"Gemeinde outlines not readable: {exc}") from None
