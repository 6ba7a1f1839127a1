"""Readers for the open data of a whole Kreis (the region level), each validated.

Every reader takes a path, checks the file (exists, not empty, the columns it needs, values in range,
a known CRS) and returns a small table; bad input raises :class:`geodata.sources.DataError` with a
German / English message naming the file and the problem. Coordinates come back as stated in each
docstring (lon/lat WGS84 or EPSG:3035 metres for the Zensus grid); nothing is reprojected here except
through :mod:`geodata.crs`.

Files (see the SOURCE.md beside each in ``../shared/data``):

- VG5000 Kreis and Gemeinde outlines (GeoJSON, CRS84) -> :func:`read_areas`
- Zensus 2011 100 m persons by age class (``age5``) -> :func:`read_zensus_100m`
- Zensus 2011 100 m under-10 / 80+ -> :func:`read_zensus_100m_young_old`
- Zensus 2011 1 km key figures -> :func:`read_zensus_1km`
- Destatis 12411-0017 Kreis age groups 2019 -> :func:`read_kreis_ages`
- RKI regrouping of the 2019 population (80+ by Kreis) -> :func:`read_kreis_80plus`
- DB/HAFAS stops CSV -> :func:`read_stops_frame` (through :func:`geodata.stops.read_stop_table`)
- Eurostat GISCO hospital sites -> :func:`read_hospitals`
- an official Gemeinde population table (CSV with AGS keys, optional age groups) -> :func:`read_gemeinde_table`
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from geodata.crs import crs_from_any, reproject_xy
from geodata.sources import DataError, check_file
from geodata.stops import StopDataError, read_stop_table

__all__ = ["Areas", "read_areas", "read_zensus_100m", "read_zensus_100m_young_old", "read_zensus_1km",
           "read_kreis_ages", "read_kreis_80plus", "read_stops_frame", "read_hospitals", "read_gemeinde_table",
           "ZENSUS_AGE_CLASSES", "GERMANY_LONLAT_BBOX"]

# the five ALTER_KURZ classes of the Zensus 2011 100 m grid, in file order
ZENSUS_AGE_CLASSES = ("age_under18", "age_18_29", "age_30_49", "age_50_64", "age_65plus")
# (west, south, east, north) in degrees: every input of a German Kreis lies inside
GERMANY_LONLAT_BBOX = (5.5, 47.0, 15.5, 55.2)
_AGS = re.compile(r"^\d{8}$")


def _in_germany(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    w, s, e, n = GERMANY_LONLAT_BBOX
    return (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)


@dataclass(frozen=True)
class Areas:
    """Areas of one outline file: key (AGS), name, kind (Stadt/Gemeinde/Landkreis), geometry in lon/lat."""

    key: tuple[str, ...]
    name: tuple[str, ...]
    kind: tuple[str, ...]
    polygons_lonlat: tuple[Any, ...]

    def __len__(self) -> int:
        return len(self.key)


def _geojson_epsg(path: Path, doc: dict) -> int:
    """EPSG code of a GeoJSON document: CRS84 / 4326 when it states none; DataError when it states one we
    cannot read."""
    crs = doc.get("crs")
    if crs is None:
        return 4326
    name = str(((crs or {}).get("properties") or {}).get("name", ""))
    if "CRS84" in name.upper():
        return 4326
    epsg = crs_from_any(name)
    if epsg is None:
        raise DataError(path, f"unbekanntes Koordinatenbezugssystem {name!r}", f"unknown CRS {name!r}")
    return epsg


def read_areas(path: str | Path, *, key_field: str = "AGS", name_field: str = "GEN", kind_field: str = "BEZ",
               key_digits: Sequence[int] = (5, 8)) -> Areas:
    """(Multi)Polygons of a GeoJSON file with their official keys, reprojected to lon/lat.

    key_digits : accepted lengths of the key (5 for a Kreis, 8 for a Gemeinde AGS).
    Raises DataError for a missing or corrupt file, an unknown CRS, a missing or duplicate key, an invalid
    polygon or coordinates outside Germany.
    """
    p = check_file(path, suffixes=(".geojson", ".json"))
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        feats = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
        geoms = [shape(f["geometry"]) if f.get("geometry") else None for f in feats]
        props = [dict(f.get("properties") or {}) for f in feats]
    except (ValueError, KeyError, TypeError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise DataError(p, f"beschädigt oder abgeschnitten ({exc})", f"corrupt or truncated ({exc})") from exc
    epsg = _geojson_epsg(p, doc)
    keys: list[str] = []
    names: list[str] = []
    kinds: list[str] = []
    polys: list[Any] = []
    for g, pr in zip(geoms, props):
        if g is None or g.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        key = str(pr.get(key_field, "") or "").strip()
        if not key.isdigit() or len(key) not in key_digits:
            raise DataError(p, f"Schlüssel {key_field}={key!r} fehlt oder ist ungültig",
                            f"key {key_field}={key!r} is missing or invalid")
        if key in keys:
            raise DataError(p, f"Schlüssel {key} doppelt", f"duplicate key {key}")
        if epsg != 4326:
            g = shapely.transform(g, lambda a: np.column_stack(reproject_xy(a[:, 0], a[:, 1], epsg, 4326)))
        b = np.asarray(g.bounds)
        if not np.isfinite(b).all() or not _in_germany(b[[0, 2]], b[[1, 3]]).all():
            raise DataError(p, f"Koordinaten von {key} liegen nicht in Deutschland (falsches Bezugssystem?)",
                            f"coordinates of {key} lie outside Germany (wrong CRS?)")
        if not g.is_valid:
            g = shapely.make_valid(g)
        if g.is_empty or g.area <= 0:
            raise DataError(p, f"Fläche {key} ist ungültig", f"area {key} is invalid")
        keys.append(key)
        names.append(str(pr.get(name_field, "") or key))
        kinds.append(str(pr.get(kind_field, "") or ""))
        polys.append(g)
    if not polys:
        raise DataError(p, "keine Flächen (Polygone) gefunden", "no areas (polygons) found")
    return Areas(tuple(keys), tuple(names), tuple(kinds), tuple(polys))


def _read_csv(path: str | Path, columns: Iterable[str], *, sep: str = ",", **kw: Any) -> pd.DataFrame:
    p = check_file(path, suffixes=(".csv", ".csv.gz", ".txt"))
    try:
        df = pd.read_csv(p, sep=sep, **kw)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(p, f"beschädigt oder kein CSV ({exc})", f"corrupt or not a CSV ({exc})") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(p, f"Spalten fehlen: {', '.join(missing)}", f"missing columns: {', '.join(missing)}")
    return df


def _numeric(df: pd.DataFrame, cols: Iterable[str], path: str | Path, *, allow_nan: bool = False,
             min_value: float | None = 0.0) -> pd.DataFrame:
    """Columns as float64; DataError (naming the first bad row) for text, NaN (unless allowed) or values
    below ``min_value``."""
    out = df.copy()
    for c in cols:
        v = pd.to_numeric(out[c], errors="coerce")
        bad = v.isna() & (~out[c].isna() if allow_nan else True)
        if min_value is not None:
            bad |= v < min_value
        if bad.any():
            i = int(np.nonzero(bad.to_numpy())[0][0])
            raise DataError(path, f"Zeile {i + 2}: ungültiger Wert in {c!r}: {df[c].iloc[i]!r}",
                            f"row {i + 2}: invalid value in {c!r}: {df[c].iloc[i]!r}")
        out[c] = v.astype(np.float64)
    return out


def read_zensus_100m(path: str | Path) -> pd.DataFrame:
    """Zensus 2011 100 m cells with persons by the five ALTER_KURZ classes.

    Returns columns ``x_3035``, ``y_3035`` (lower-left corner, EPSG:3035 metres, multiples of 100),
    and :data:`ZENSUS_AGE_CLASSES` (persons, float64, >= 0). Duplicate cells are an error.
    """
    cols = ("x_3035", "y_3035", *ZENSUS_AGE_CLASSES)
    df = _numeric(_read_csv(path, cols), cols, path, min_value=None)
    df = df[list(cols)]
    if (df[list(ZENSUS_AGE_CLASSES)] < 0).to_numpy().any():
        raise DataError(path, "negative Personenzahl", "negative count of persons")
    if len(df) == 0:
        raise DataError(path, "keine Zellen", "no cells")
    if ((df["x_3035"] % 100) != 0).any() or ((df["y_3035"] % 100) != 0).any():
        raise DataError(path, "Zellecken liegen nicht im 100-m-Raster (EPSG:3035)",
                        "cell corners are not on the 100 m grid (EPSG:3035)")
    x, y = df["x_3035"].to_numpy(), df["y_3035"].to_numpy()
    if not ((x > 2.5e6) & (x < 7.5e6) & (y > 1.3e6) & (y < 5.5e6)).all():
        raise DataError(path, "Koordinaten nicht in EPSG:3035 (LAEA Europa)", "coordinates not in EPSG:3035 (LAEA Europe)")
    if df.duplicated(["x_3035", "y_3035"]).any():
        raise DataError(path, "Zelle doppelt", "duplicate cell")
    return df.reset_index(drop=True)


def read_zensus_100m_young_old(path: str | Path) -> pd.DataFrame:
    """Zensus 2011 100 m persons under 10 and 80+ (columns ``x``, ``y`` = cell centre in EPSG:3035).

    Returns ``x_3035``, ``y_3035`` (lower-left corner), ``age_under10``, ``age_80plus`` (NaN = not
    published for that cell)."""
    cols = ("x", "y", "age_under10", "age_80plus")
    df = _numeric(_read_csv(path, cols), ("x", "y"), path, min_value=None)
    df = _numeric(df, ("age_under10", "age_80plus"), path, allow_nan=True)
    if (((df["x"] - 50) % 100) != 0).any() or (((df["y"] - 50) % 100) != 0).any():
        raise DataError(path, "Zellmitten liegen nicht im 100-m-Raster (EPSG:3035)",
                        "cell centres are not on the 100 m grid (EPSG:3035)")
    return pd.DataFrame({"x_3035": df["x"] - 50.0, "y_3035": df["y"] - 50.0,
                         "age_under10": df["age_under10"], "age_80plus": df["age_80plus"]})


def read_zensus_1km(path: str | Path) -> pd.DataFrame:
    """Zensus 2011 1 km cells: ``x_3035``, ``y_3035`` (centre) and the key figures; the codes -1 (no value)
    and -9 (withheld) become NaN."""
    figures = ("Einwohner", "Alter_D", "unter18_A", "ab65_A", "HHGroesse_D", "Leerstandsquote", "Wohnfl_Bew_D")
    df = _numeric(_read_csv(path, ("x", "y", *figures)), ("x", "y", *figures), path, min_value=-9.0)
    out = pd.DataFrame({"x_3035": df["x"], "y_3035": df["y"]})
    for c in figures:
        v = df[c].to_numpy(copy=True)
        v[v < 0] = np.nan
        out[c] = v
    return out


def _destatis_number(v: Any) -> float:
    s = str(v).strip().replace(" ", "")
    return float(s) if s.replace(".", "", 1).isdigit() else float("nan")


def read_kreis_ages(path: str | Path, kreis_ags: str) -> dict[str, float]:
    """Persons by the 17 Destatis age groups of table 12411-0017 for one Kreis (``;``-separated).

    Returns ``{group label: persons}`` in file order plus ``"Insgesamt"``; DataError when the Kreis is
    missing, a value is not a number, or the groups do not add up to the total."""
    df = _read_csv(path, ("Schlüssel", "Insgesamt"), sep=";", dtype=str)
    key = str(int(kreis_ags)) if kreis_ags.isdigit() else kreis_ags
    rows = df[df["Schlüssel"].astype(str).str.strip() == key]
    if len(rows) != 1:
        raise DataError(path, f"Kreis {kreis_ags} fehlt", f"Kreis {kreis_ags} is missing")
    row = rows.iloc[0]
    groups = [c for c in df.columns if c not in ("Schlüssel", "Name", "Insgesamt")]
    out = {g: _destatis_number(row[g]) for g in groups}
    total = _destatis_number(row["Insgesamt"])
    if not all(np.isfinite(v) and v >= 0 for v in out.values()) or not np.isfinite(total):
        raise DataError(path, f"Kreis {kreis_ags}: Werte fehlen oder sind keine Zahlen",
                        f"Kreis {kreis_ags}: values missing or not numbers")
    if abs(sum(out.values()) - total) > 0.5:
        raise DataError(path, f"Kreis {kreis_ags}: Altersgruppen ergeben nicht die Summe",
                        f"Kreis {kreis_ags}: age groups do not add up to the total")
    out["Insgesamt"] = total
    return out


def read_kreis_80plus(path: str | Path, kreis_ags: str) -> float:
    """Persons aged 80+ in one Kreis (RKI regrouping of the Destatis 2019 population, ``AG_rki`` 6)."""
    df = _read_csv(path, ("Kreis", "AG_rki", "ges"), sep=";", dtype=str)
    sel = df[(pd.to_numeric(df["Kreis"], errors="coerce") == int(kreis_ags))
             & (df["AG_rki"].astype(str).str.strip() == "6")]
    if len(sel) != 1:
        raise DataError(path, f"Kreis {kreis_ags}: Altersgruppe 80+ fehlt", f"Kreis {kreis_ags}: age group 80+ missing")
    v = _destatis_number(sel["ges"].iloc[0])
    if not np.isfinite(v) or v < 0:
        raise DataError(path, f"Kreis {kreis_ags}: 80+ ist keine Zahl", f"Kreis {kreis_ags}: 80+ is not a number")
    return v


def read_stops_frame(path: str | Path) -> pd.DataFrame:
    """DB/HAFAS stops as a DataFrame: ``stop_id``, ``name``, ``lon``, ``lat``, ``products``
    (``;``-separated), ``parent``, ``is_station``, ``in_district`` (as published), ``ifopt``."""
    try:
        t = read_stop_table(path)
    except StopDataError as exc:
        raise DataError(path, exc.de, exc.en) from exc
    if len(t) == 0:
        raise DataError(path, "keine Haltestellen", "no stops")
    if not _in_germany(t.lonlat[:, 0], t.lonlat[:, 1]).all():
        raise DataError(path, "Haltestellen liegen nicht in Deutschland (falsches Bezugssystem?)",
                        "stops lie outside Germany (wrong CRS?)")
    ifopt = pd.read_csv(path, dtype=str, usecols=lambda c: c in ("stop_id", "ifopt")).fillna("")
    by_id = dict(zip(ifopt["stop_id"].str.strip(), ifopt.get("ifopt", pd.Series([""] * len(ifopt)))))
    return pd.DataFrame({
        "stop_id": t.stop_id.astype(str), "name": t.name.astype(str), "lon": t.lonlat[:, 0], "lat": t.lonlat[:, 1],
        "products": t.products.astype(str), "parent": t.parent.astype(str), "is_station": t.is_station,
        "in_district_published": t.in_district, "ifopt": [str(by_id.get(s, "")) for s in t.stop_id],
    })


def read_hospitals(path: str | Path) -> pd.DataFrame:
    """Hospital sites (Eurostat GISCO healthcare CSV): ``id``, ``name``, ``site``, ``city``, ``lon``, ``lat``."""
    df = _read_csv(path, ("id", "hospital_name", "lat", "lon"), dtype={"id": str})
    df = _numeric(df, ("lat", "lon"), path, min_value=None)
    if not _in_germany(df["lon"].to_numpy(), df["lat"].to_numpy()).all():
        raise DataError(path, "Standorte liegen nicht in Deutschland (falsches Bezugssystem?)",
                        "sites lie outside Germany (wrong CRS?)")
    if df["id"].duplicated().any():
        raise DataError(path, "Standort-ID doppelt", "duplicate site id")
    site = df["site_name"] if "site_name" in df.columns else pd.Series([""] * len(df))
    city = df["city"] if "city" in df.columns else pd.Series([""] * len(df))
    return pd.DataFrame({"id": df["id"].astype(str), "name": df["hospital_name"].astype(str),
                         "site": site.fillna("").astype(str), "city": city.fillna("").astype(str),
                         "lon": df["lon"], "lat": df["lat"]}).reset_index(drop=True)


def read_gemeinde_table(path: str | Path, known_ags: Iterable[str], age_columns: Sequence[str]) -> pd.DataFrame:
    """An official Gemeinde population table (CSV, ``,`` or ``;``): column ``ags`` (8 digits) and
    ``population``, optionally every column of ``age_columns`` (persons by age group; then they must add
    up to ``population`` within 1 %).

    Returns ``ags`` (str) and float64 columns. DataError for an unknown or duplicate AGS, a negative or
    non-numeric count, or age groups given only in part."""
    p = check_file(path, suffixes=(".csv",))
    head = p.read_text(encoding="utf-8-sig", errors="replace").split("\n", 1)[0]
    sep = ";" if head.count(";") > head.count(",") else ","
    df = _read_csv(p, ("ags", "population"), sep=sep, dtype={"ags": str}, encoding="utf-8-sig")
    known = set(known_ags)
    for i, a in enumerate(df["ags"].astype(str).str.strip()):
        if not _AGS.match(a):
            raise DataError(p, f"Zeile {i + 2}: AGS {a!r} ist kein 8-stelliger Schlüssel",
                            f"row {i + 2}: AGS {a!r} is not an 8-digit key")
        if a not in known:
            raise DataError(p, f"Zeile {i + 2}: unbekannter AGS {a} (nicht im Kreis)",
                            f"row {i + 2}: unknown AGS {a} (not in the Kreis)")
    df["ags"] = df["ags"].astype(str).str.strip()
    if df["ags"].duplicated().any():
        raise DataError(p, f"AGS doppelt: {df['ags'][df['ags'].duplicated()].iloc[0]}",
                        f"duplicate AGS: {df['ags'][df['ags'].duplicated()].iloc[0]}")
    given = [c for c in age_columns if c in df.columns]
    if given and len(given) != len(age_columns):
        missing = [c for c in age_columns if c not in df.columns]
        raise DataError(p, f"Altersgruppen unvollständig, es fehlen: {', '.join(missing)}",
                        f"age groups incomplete, missing: {', '.join(missing)}")
    df = _numeric(df, ("population", *given), p)
    if given:
        s = df[list(given)].sum(axis=1)
        off = (s - df["population"]).abs() > 0.01 * df["population"].clip(lower=100)
        if off.any():
            a = df["ags"][off].iloc[0]
            raise DataError(p, f"AGS {a}: Altersgruppen ergeben nicht die Einwohnerzahl",
                            f"AGS {a}: age groups do not add up to the population")
    if len(df) == 0:
        raise DataError(p, "keine Gemeinden", "no Gemeinden")
    return df[["ags", "population", *given]].reset_index(drop=True)
