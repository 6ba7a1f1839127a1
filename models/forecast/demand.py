"""Demand that follows from the forecast population, set against capacities where they are known.

Per Gemeinde and year (``assets/forecast_demand.csv``, each rate with its source):

- ``households`` = persons / mean household size (Zensus 2011 1 km grid per Gemeinde where the shared data is
  given, else the Kreis' 1.9); ``dwellings`` needed = households, against the stock: the base year's households
  plus the Zensus 2011 vacancy (stock = households 2019 / (1 - vacancy)), plus the dwellings of scenario
  housing estates from their year on;
- ``kita_krippe``, ``kita`` places (care rates by age), ``school_primary``, ``school_secondary`` places;
- ``care_residential`` places and ``home_care`` clients (care rates by age times the care setting);
- ``gp_contacts`` per year and ``bus_trips`` per day.

Capacities come from a CSV (``ags,service,capacity``); the gap is capacity minus demand (negative: missing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from geodata.interventions import HousingEstate
from models.forecast.base import BasePopulation, ForecastInputError
from models.forecast.model import Projection
from models.forecast.rates import N_AGES

__all__ = ["SERVICES", "UNITS", "HousingBasis", "demand_rates", "housing_basis", "housing_from_shared",
           "compute_demand", "read_capacities", "capacities_from_features"]

SERVICES = ("households", "dwellings", "kita_krippe", "kita", "school_primary", "school_secondary",
            "care_residential", "home_care", "gp_contacts", "bus_trips")
UNITS = {
    "households": "Haushalte / households", "dwellings": "Wohnungen / dwellings",
    "kita_krippe": "Krippenplätze / crèche places", "kita": "Kita-Plätze / kindergarten places",
    "school_primary": "Grundschulplätze / primary school places",
    "school_secondary": "Plätze Sekundarstufe I / lower secondary places",
    "care_residential": "Pflegeheimplätze / care home places", "home_care": "Klienten ambulante Pflege / home-care clients",
    "gp_contacts": "Hausarztkontakte pro Jahr / GP contacts a year", "bus_trips": "ÖV-Fahrten pro Tag / public transport trips a day",
}
_MAX_CAPACITY_BYTES = 5_000_000


@lru_cache(maxsize=1)
def _demand_table() -> pd.DataFrame:
    return pd.read_csv(resources.files("assets").joinpath("forecast_demand.csv").open(encoding="utf-8"))


def demand_rates() -> dict[str, np.ndarray]:
    """service -> (101,) rate per person of each single year of age (both sexes)."""
    out: dict[str, np.ndarray] = {}
    for row in _demand_table().itertuples():
        r = out.setdefault(str(row.service), np.zeros(N_AGES))
        r[int(row.age_lo): int(row.age_hi) + 1] = float(row.rate)
    return out


@dataclass(frozen=True)
class HousingBasis:
    """Mean household size (G,), vacancy rate of dwellings (G,) in the base, and where they come from."""

    hh_size: np.ndarray
    vacancy: np.ndarray
    source: str


def housing_basis(base: BasePopulation, hh_size: float | None = None, vacancy: float = 0.0) -> HousingBasis:
    """The Kreis' household size (``assets/demography_burgenlandkreis_2019.json``) for every Gemeinde."""
    if hh_size is None:
        data = json.loads(resources.files("assets").joinpath("demography_burgenlandkreis_2019.json").read_text("utf-8"))
        hh_size = float(data["mean_household_size"])
    g = len(base.ags)
    return HousingBasis(np.full(g, hh_size), np.full(g, vacancy),
                        "Kreis-Mittel 1,9 Personen je Haushalt, kein Leerstand bekannt / Kreis mean 1.9 persons per "
                        "household, no vacancy known")


def housing_from_shared(base: BasePopulation, shared_dir: str | Path) -> HousingBasis:
    """Household size and vacancy per Gemeinde from the Zensus 2011 1 km grid (cells by their centre),
    weighted by inhabitants; Gemeinden without usable cells get the Kreis mean."""
    import shapely

    root = Path(shared_dir)
    grid = root / "zensus2011_grid_burgenlandkreis" / "zensus2011_1km_burgenlandkreis_bbox.csv"
    gj = root / "burgenlandkreis_admin_boundaries_vg5000" / "burgenlandkreis_gemeinden.geojson"
    if not grid.is_file() or not gj.is_file():
        return housing_basis(base)
    try:
        cells = pd.read_csv(grid)
        feats = {str(f["properties"]["AGS"]): shapely.geometry.shape(f["geometry"])
                 for f in json.loads(gj.read_text(encoding="utf-8"))["features"]}
        lon, lat = cells["lon"].to_numpy(float), cells["lat"].to_numpy(float)
        pop = cells["Einwohner"].to_numpy(float)
        hh = cells["HHGroesse_D"].to_numpy(float)
        vac = cells["Leerstandsquote"].to_numpy(float)
    except (KeyError, ValueError) as exc:
        raise ForecastInputError(f"Zensus-Raster nicht lesbar: {exc}", f"census grid not readable: {exc}") from None
    fallback = housing_basis(base)
    sizes, vacs = fallback.hh_size.copy(), fallback.vacancy.copy()
    ok_h = (pop > 0) & (hh > 0)
    ok_v = (pop > 0) & (vac >= 0)
    for i, a in enumerate(base.ags):
        shp = feats.get(a)
        if shp is None:
            continue
        inside = shapely.contains_xy(shp, lon, lat)
        m = inside & ok_h
        if pop[m].sum() > 0:
            sizes[i] = pop[m].sum() / (pop[m] / hh[m]).sum()
        m = inside & ok_v
        if pop[m].sum() > 0:
            vacs[i] = float(np.average(vac[m], weights=pop[m])) / 100.0
    return HousingBasis(sizes, np.clip(vacs, 0.0, 0.9),
                        "Zensus 2011, 1-km-Raster: Haushaltsgröße und Leerstandsquote je Gemeinde (einwohnergewichtet) "
                        "/ Zensus 2011 1 km grid: household size and vacancy per Gemeinde (weighted by inhabitants)")


def read_capacities(data: bytes | str, ags: tuple[str, ...]) -> pd.DataFrame:
    """Capacities from CSV text (``ags,service,capacity``); unknown keys, services or bad numbers refused."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > _MAX_CAPACITY_BYTES:
        raise ForecastInputError("Kapazitätsdatei ist zu groß (> 5 MB)", "capacity file is too large (> 5 MB)")
    try:
        df = pd.read_csv(StringIO(raw.decode("utf-8-sig")), dtype={"ags": str})
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ForecastInputError(f"Kapazitätsdatei nicht lesbar: {exc}", f"capacity file not readable: {exc}") from None
    missing = {"ags", "service", "capacity"} - set(df.columns)
    if missing:
        raise ForecastInputError(f"Kapazitätsdatei: Spalten fehlen: {sorted(missing)}",
                                 f"capacity file: columns missing: {sorted(missing)}")
    known = set(ags)
    bad = [a for a in df["ags"].astype(str) if a not in known]
    if bad:
        raise ForecastInputError(f"Kapazitätsdatei: Gemeinde {bad[0]} unbekannt", f"capacity file: Gemeinde {bad[0]} unknown")
    bad = [s for s in df["service"].astype(str) if s not in SERVICES]
    if bad:
        raise ForecastInputError(f"Kapazitätsdatei: Leistung {bad[0]!r} unbekannt ({', '.join(SERVICES)})",
                                 f"capacity file: service {bad[0]!r} unknown ({', '.join(SERVICES)})")
    cap = pd.to_numeric(df["capacity"], errors="coerce")
    if cap.isna().any() or (cap < 0).any() or not np.isfinite(cap).all():
        raise ForecastInputError("Kapazitätsdatei: Kapazitäten müssen Zahlen >= 0 sein",
                                 "capacity file: capacities must be numbers >= 0")
    out = pd.DataFrame({"ags": df["ags"].astype(str), "service": df["service"].astype(str), "capacity": cap.astype(float)})
    return out.groupby(["ags", "service"], as_index=False)["capacity"].sum()


def compute_demand(pr: Projection, housing: HousingBasis, edits: list | tuple = (),
                   capacities: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table: ``ags``, ``name``, ``year``, ``service``, ``demand``, ``capacity`` (NaN unknown), ``gap``."""
    rates = demand_rates()
    by_age = pr.persons.sum(axis=2)  # (Y, G, 101)
    tot = by_age.sum(axis=2)  # (Y, G)
    ny, g = tot.shape
    values: dict[str, np.ndarray] = {}
    for s, r in rates.items():
        if s != "households":
            values[s] = by_age @ r
    values["households"] = tot / housing.hh_size[None, :]
    values["dwellings"] = values["households"]
    stock = np.repeat((tot[0] / housing.hh_size / np.maximum(1.0 - housing.vacancy, 1e-6))[None, :], ny, axis=0)
    idx = {a: i for i, a in enumerate(pr.ags)}
    for e in edits:
        if isinstance(e, HousingEstate) and e.ags in idx:
            per_year = e.dwellings / e.years
            for k, y in enumerate(pr.years):
                built = min(max(int(y) - e.year + 1, 0), e.years)
                stock[k, idx[e.ags]] += per_year * built
    cap = {s: np.full((ny, g), np.nan) for s in SERVICES}
    cap["dwellings"] = stock
    if capacities is not None:
        for row in capacities.itertuples():
            if row.ags in idx and row.service != "dwellings":
                cap[str(row.service)][:, idx[str(row.ags)]] = float(row.capacity)
    frames = []
    years = np.repeat(pr.years, g)
    ags = np.tile(np.asarray(pr.ags, dtype=object), ny)
    names = np.tile(np.asarray(pr.names, dtype=object), ny)
    for s in SERVICES:
        d = values[s].reshape(-1)
        c = cap[s].reshape(-1)
        frames.append(pd.DataFrame({"ags": ags, "name": names, "year": years, "service": s, "demand": d,
                                    "capacity": c, "gap": c - d}))
    return pd.concat(frames, ignore_index=True)


def capacities_from_features(features: list[dict], service: str, field: str, ags: tuple[str, ...],
                             shapes: dict[str, object] | None = None) -> pd.DataFrame:
    """Capacities of ``service`` per Gemeinde from a department layer's GeoJSON features: the numeric
    property ``field`` summed per Gemeinde, the Gemeinde taken from an ``ags`` property or, for points, from
    the Gemeinde outline (``shapes``: AGS -> shapely geometry in WGS84) that contains it."""
    import shapely

    if service not in SERVICES:
        raise ForecastInputError(f"Leistung {service!r} unbekannt ({', '.join(SERVICES)})",
                                 f"service {service!r} unknown ({', '.join(SERVICES)})")
    known = set(ags)
    sums: dict[str, float] = {}
    for f in features:
        props = f.get("properties") or {}
        if field not in props:
            raise ForecastInputError(f"Feld {field!r} fehlt in der Ebene", f"field {field!r} missing in the layer")
        v = props.get(field)
        if v is None or v == "":
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise ForecastInputError(f"Feld {field!r} ist keine Zahl ({v!r})", f"field {field!r} is not a number ({v!r})") from None
        if not np.isfinite(x) or x < 0:
            raise ForecastInputError(f"Feld {field!r}: Kapazität {v!r} ungültig", f"field {field!r}: capacity {v!r} invalid")
        key = str(props.get("ags") or props.get("AGS") or "")
        if key not in known and shapes:
            geom = f.get("geometry")
            if geom and geom.get("type") == "Point":
                lon, lat = geom["coordinates"][:2]
                key = next((a for a, s in shapes.items() if shapely.contains_xy(s, lon, lat)), "")
        if key in known:
            sums[key] = sums.get(key, 0.0) + x
    return pd.DataFrame({"ags": list(sums), "service": service, "capacity": list(sums.values())})
