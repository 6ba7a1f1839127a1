"""Build a Region from the open data of a Kreis (``../shared/data`` layout).

Population method (stated in the manifest and shown in the UI):

1. Zensus 2011 100 m cells whose centre lies inside the Kreis outline (VG5000) are the inhabited cells;
   each is assigned to the Gemeinde containing its centre (the nearest Gemeinde where the generalised
   outlines leave a gap).
2. The five Zensus age classes are split into the seven groups of :data:`AGE_COLUMNS`: under 18 into
   0-9 / 10-17 and 65+ into 65-79 / 80+ by the cell's own 2011 shares of under-10 and 80+ (100 m
   ALTER_10JG file) where published, the Kreis-wide 2011 share otherwise.
3. Each age group is scaled by one factor so that the Kreis adds up to the Destatis table 12411-0017 of
   31.12.2019 (80+ from the RKI regrouping of the same 2019 population): the 2011 spatial pattern with the
   2019 age structure. Cells are expected values (floats), never published unrounded.
4. With an official Gemeinde table (AGS, population, optional age groups) the cells of each Gemeinde in it
   are scaled to its figures instead (per age group where given).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geodata.crs import reproject_xy, utm_epsg_for_lonlat
from geodata.gtfs import GtfsError, read_gtfs
from geodata.region_data import (
    Areas,
    read_areas,
    read_gemeinde_table,
    read_hospitals,
    read_kreis_80plus,
    read_kreis_ages,
    read_stops_frame,
    read_zensus_100m,
    read_zensus_100m_young_old,
)
from geodata.sources import DataError, sha256_of
from models.region.model import AGE_COLUMNS, BASE_YEAR, Region
from models.region.service import assumptions, classes_from_interval, estimate_interval, gtfs_intervals
from models.region.settlements import cluster_cells, name_settlements

__all__ = ["build_region", "region_files", "SOURCES"]

# file layout below the shared data folder: key -> (relative path, licence / attribution)
SOURCES: dict[str, tuple[str, str]] = {
    "kreis": ("burgenlandkreis_admin_boundaries_vg5000/burgenlandkreis_kreis.geojson",
              "dl-de/by-2.0, © GeoBasis-DE / BKG 2021 (Daten verändert)"),
    "gemeinden": ("burgenlandkreis_admin_boundaries_vg5000/burgenlandkreis_gemeinden.geojson",
                  "dl-de/by-2.0, © GeoBasis-DE / BKG 2021 (Daten verändert)"),
    "zensus_100m": ("zensus2011_grid_burgenlandkreis/zensus2011_100m_age5_burgenlandkreis_bbox.csv",
                    "Zensus 2011, © Statistisches Bundesamt, Wiesbaden 2018"),
    "zensus_100m_young_old": ("zensus2011_grid_burgenlandkreis/zensus2011_100m_age_under10_80plus_bbox.csv",
                              "dl-de/by-2-0, © Statistische Ämter des Bundes und der Länder, Zensus 2011"),
    "kreis_ages_2019": ("demography_burgenlandkreis/destatis_12411-0017_kreise_altersgruppen_2019-12-31.csv",
                        "dl-de/by-2.0, Statistisches Bundesamt (Destatis), GENESIS-Online, 12411-0017"),
    "kreis_80plus_2019": ("demography_burgenlandkreis/rki_altersgruppen_geschlecht_kreise_2019.csv",
                          "dl-de/by-2.0, Destatis (regrouped by RKI)"),
    "stops": ("burgenlandkreis_transit_stops_db/hafas_stops_burgenlandkreis.csv",
              "CC BY 4.0, © DB InfraGO AG; © OpenStreetMap contributors (ODbL)"),
    "hospitals": ("hospitals_burgenlandkreis/hospitals_burgenlandkreis_bbox_buffer.csv",
                  "© Eurostat GISCO; source: InEK GmbH"),
}

Progress = Callable[[str, float], None]


def region_files(shared_data_dir: str | Path) -> dict[str, Path]:
    """The input files of a region below ``shared_data_dir`` (DataError naming the first one missing)."""
    root = Path(shared_data_dir)
    if not root.is_dir():
        raise DataError(root, "Datenordner fehlt", "data folder is missing")
    out = {k: root / rel for k, (rel, _) in SOURCES.items()}
    for p in out.values():
        if not p.is_file():
            raise DataError(p, "Eingabedatei fehlt", "input file is missing")
    return out


def _kreis_targets_2019(ages: dict[str, float], plus80: float) -> dict[str, float]:
    """2019 persons of the Kreis per AGE_COLUMNS from the 17 Destatis groups and the RKI 80+."""
    lows: list[tuple[int, float]] = []
    for label, v in ages.items():
        if label == "Insgesamt":
            continue
        tok = label.split()
        lo = 0 if tok[0] == "unter" else int(tok[0])
        lows.append((lo, v))

    def band(a: int, b: int) -> float:
        return float(sum(v for lo, v in lows if a <= lo < b))

    over65 = band(65, 200)
    if plus80 > over65:
        raise DataError(None, "80+ größer als 65+ in den Bevölkerungstabellen", "80+ larger than 65+ in the population tables")
    return {"share_18_19_of_18_29": band(18, 20) / band(18, 30) if band(18, 30) > 0 else 2.0 / 12.0,
            "age_0_9": band(0, 10), "age_10_17": band(10, 18), "age_18_29": band(18, 30), "age_30_49": band(30, 50),
            "age_50_64": band(50, 65), "age_65_79": over65 - plus80, "age_80_plus": plus80}


def _to_working(geom: Any, epsg: int) -> Any:
    return shapely.transform(geom, lambda a: np.column_stack(reproject_xy(a[:, 0], a[:, 1], 4326, epsg)))


def _split_classes(cells: pd.DataFrame, yo: pd.DataFrame) -> pd.DataFrame:
    """Seven age groups (2011 persons) from the five Zensus classes and the under-10 / 80+ file."""
    m = cells.merge(yo, on=["x_3035", "y_3035"], how="left")
    u18, o65 = m["age_under18"].to_numpy(), m["age_65plus"].to_numpy()
    u10, o80 = m["age_under10"].to_numpy(), m["age_80plus"].to_numpy()
    k10 = np.isfinite(u10) & (u18 > 0)
    k80 = np.isfinite(o80) & (o65 > 0)
    r10_kreis = float(np.minimum(u10[k10], u18[k10]).sum() / max(u18[k10].sum(), 1.0))
    r80_kreis = float(np.minimum(o80[k80], o65[k80]).sum() / max(o65[k80].sum(), 1.0))
    r10 = np.where(k10, np.clip(u10 / np.where(u18 > 0, u18, 1.0), 0.0, 1.0), r10_kreis)
    r80 = np.where(k80, np.clip(o80 / np.where(o65 > 0, o65, 1.0), 0.0, 1.0), r80_kreis)
    out = pd.DataFrame(index=cells.index)
    out["age_0_9"] = u18 * r10
    out["age_10_17"] = u18 * (1.0 - r10)
    out["age_18_29"] = m["age_18_29"].to_numpy()
    out["age_30_49"] = m["age_30_49"].to_numpy()
    out["age_50_64"] = m["age_50_64"].to_numpy()
    out["age_65_79"] = o65 * (1.0 - r80)
    out["age_80_plus"] = o65 * r80
    return out


def _locate(areas: Areas, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    out = np.full(lon.shape, -1, np.int64)
    for i, poly in enumerate(areas.polygons_lonlat):
        hit = (out < 0) & shapely.contains_xy(poly, lon, lat)
        out[hit] = i
    return out


def _calibrate(cells: pd.DataFrame, table: pd.DataFrame) -> list[str]:
    """Scale the cells of each Gemeinde in ``table`` to its figures (in place); notes on what was done."""
    notes: list[str] = []
    by_age = all(c in table.columns for c in AGE_COLUMNS)
    for row in table.itertuples(index=False):
        sel = (cells["ags"] == row.ags).to_numpy()
        if not sel.any():
            notes.append(f"{row.ags}: keine bewohnte Zelle, Tabelle nicht verteilt / no inhabited cell, table not placed")
            continue
        block = cells.loc[sel, list(AGE_COLUMNS)].to_numpy(copy=True)
        if by_age:
            for j, c in enumerate(AGE_COLUMNS):
                target = float(getattr(row, c))
                s = block[:, j].sum()
                if s > 0:
                    block[:, j] *= target / s
                else:  # no one of that age in the 2011 pattern: spread by the cells' persons
                    tot = block.sum(axis=1)
                    block[:, j] = target * (tot / tot.sum() if tot.sum() > 0 else 1.0 / len(tot))
        else:
            s = block.sum()
            if s > 0:
                block *= float(row.population) / s
        cells.loc[sel, list(AGE_COLUMNS)] = block
    return notes


def _centres(settlements: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for c in assumptions()["centres"]:
        s = settlements[settlements["ags"] == c["ags"]]
        if len(s) == 0:
            continue
        top = s.sort_values("persons").iloc[-1]
        rows.append({"name": c["name"], "ags": c["ags"], "level": c["level"], "x_m": float(top["x_m"]),
                     "y_m": float(top["y_m"])})
    return pd.DataFrame(rows, columns=["name", "ags", "level", "x_m", "y_m"])


def build_region(shared_data_dir: str | Path, *, gemeinde_table: str | Path | None = None,
                 progress: Progress | None = None, gtfs: str | Path | None = None,
                 name: str = "burgenlandkreis", osm: str | Path | None = None) -> Region:
    """The Region from the files below ``shared_data_dir`` (layout :data:`SOURCES`).

    gemeinde_table : optional official CSV (``ags``, ``population`` [, AGE_COLUMNS]) to calibrate to.
    gtfs : optional GTFS feed (folder or .zip): stop classes by the ARE method from its departures.
    osm : optional OSM extract (.osm.pbf / .osm): its walking network is kept with the region, and walks
        go along its streets (access, proposals) where it reaches.
    progress : called with (step, fraction done) as the build goes.
    Raises DataError for any bad input; nothing is written.
    """
    def step(msg: str, frac: float) -> None:
        if progress is not None:
            progress(msg, frac)

    files = region_files(shared_data_dir)
    step("Grenzen / boundaries", 0.0)
    kreis_areas = read_areas(files["kreis"], key_digits=(5,))
    if len(kreis_areas) != 1:
        raise DataError(files["kreis"], f"erwartet 1 Kreis, gefunden {len(kreis_areas)}",
                        f"expected 1 Kreis, found {len(kreis_areas)}")
    kreis_ags, kreis_name = kreis_areas.key[0], kreis_areas.name[0]
    gem = read_areas(files["gemeinden"], key_digits=(8,))
    foreign = [a for a in gem.key if not a.startswith(kreis_ags)]
    if foreign:
        raise DataError(files["gemeinden"], f"Gemeinde {foreign[0]} gehört nicht zum Kreis {kreis_ags}",
                        f"Gemeinde {foreign[0]} is not in Kreis {kreis_ags}")
    outline_ll = kreis_areas.polygons_lonlat[0]
    c = outline_ll.centroid
    epsg = utm_epsg_for_lonlat(c.x, c.y)
    outline = _to_working(outline_ll, epsg)
    shapes = {a: _to_working(p, epsg) for a, p in zip(gem.key, gem.polygons_lonlat)}

    step("Zensus 2011 100 m", 0.15)
    z = read_zensus_100m(files["zensus_100m"])
    yo = read_zensus_100m_young_old(files["zensus_100m_young_old"])
    cx3035, cy3035 = z["x_3035"].to_numpy() + 50.0, z["y_3035"].to_numpy() + 50.0
    lon, lat = reproject_xy(cx3035, cy3035, 3035, 4326)
    inside = shapely.contains_xy(outline_ll, lon, lat)
    if not inside.any():
        raise DataError(files["zensus_100m"], "keine Zelle liegt im Kreis", "no cell lies inside the Kreis")
    z = z[inside].reset_index(drop=True)
    lon, lat = lon[inside], lat[inside]
    xm, ym = reproject_xy(lon, lat, 4326, epsg)
    gi = _locate(gem, lon, lat)
    if (gi < 0).any():  # generalised outlines: a cell in the Kreis but in no Gemeinde goes to the nearest
        miss = np.nonzero(gi < 0)[0]
        pts = shapely.points(xm[miss], ym[miss])
        dist = np.stack([shapely.distance(shapes[a], pts) for a in gem.key], axis=1)
        gi[miss] = np.argmin(dist, axis=1)
    ags = np.asarray(gem.key, dtype=object)[gi]
    ages2011 = _split_classes(z, yo)

    step("Bevölkerung 2019 / population 2019", 0.35)
    targets = _kreis_targets_2019(read_kreis_ages(files["kreis_ages_2019"], kreis_ags),
                                  read_kreis_80plus(files["kreis_80plus_2019"], kreis_ags))
    share_18_19 = targets.pop("share_18_19_of_18_29")
    cells = pd.DataFrame({
        "cell_id": [f"100mN{int(y) // 100}E{int(x) // 100}" for x, y in zip(z["x_3035"], z["y_3035"])],
        "x_m": xm, "y_m": ym, "x_3035": z["x_3035"].to_numpy(), "y_3035": z["y_3035"].to_numpy(),
        "ags": ags.astype(str),
    })
    factors = {}
    for col in AGE_COLUMNS:
        s = float(ages2011[col].sum())
        factors[col] = targets[col] / s if s > 0 else 0.0
        cells[col] = ages2011[col].to_numpy() * factors[col]
    table_notes: list[str] = []
    if gemeinde_table is not None:
        table = read_gemeinde_table(gemeinde_table, gem.key, AGE_COLUMNS)
        table_notes = _calibrate(cells, table)

    step("Siedlungen / settlements", 0.5)
    stops = read_stops_frame(files["stops"])
    sx, sy = reproject_xy(stops["lon"].to_numpy(), stops["lat"].to_numpy(), 4326, epsg)
    stops["x_m"], stops["y_m"] = sx, sy
    stops["in_kreis"] = shapely.contains_xy(outline_ll, stops["lon"].to_numpy(), stops["lat"].to_numpy())
    sgi = _locate(gem, stops["lon"].to_numpy(), stops["lat"].to_numpy())
    stops["ags"] = np.where((sgi >= 0) & stops["in_kreis"].to_numpy(), np.asarray(gem.key, object)[np.maximum(sgi, 0)], "")
    persons = cells[list(AGE_COLUMNS)].sum(axis=1).to_numpy()
    label = cluster_cells(cells["x_3035"].to_numpy(), cells["y_3035"].to_numpy())
    cell_xy = np.column_stack([xm, ym])
    ins = stops["in_kreis"].to_numpy()
    settlements = name_settlements(label, cell_xy, persons, ags.astype(str), dict(zip(gem.key, gem.name)),
                                   dict(zip(gem.key, gem.kind)), np.column_stack([sx, sy])[ins],
                                   stops["name"].to_numpy()[ins])
    cells["settlement"] = settlements["settlement"].to_numpy()[label]

    step("Haltestellen / stops", 0.7)
    town_min = float(assumptions()["town_min_persons"])
    _, near_cell = cKDTree(cell_xy).query(np.column_stack([sx, sy]), distance_upper_bound=400.0)
    has = near_cell < len(cells)
    stop_settle_persons = np.zeros(len(stops))
    stop_settle_persons[has] = settlements["persons"].to_numpy()[label[near_cell[has]]]
    town = stop_settle_persons >= town_min
    est = [estimate_interval(p, bool(t)) for p, t in zip(stops["products"], town)]
    interval = np.array([e[0] for e in est])
    kind = np.array([e[1] for e in est], dtype=object)
    estimated = np.ones(len(stops), bool)
    gtfs_note = "keine Fahrplandaten: Klassen aus Verkehrsmitteln geschätzt / no timetable: classes estimated from products"
    if gtfs is not None:
        try:
            feed = read_gtfs(gtfs)
        except GtfsError as exc:
            raise DataError(gtfs, exc.de, exc.en) from exc
        fx, fy = reproject_xy(feed.stop_lonlat[:, 0], feed.stop_lonlat[:, 1], 4326, epsg)
        g_int, g_kind, matched = gtfs_intervals(feed, np.column_stack([sx, sy]), np.column_stack([fx, fy]))
        interval = np.where(matched, g_int, interval)
        kind = np.where(matched, g_kind, kind)
        estimated = ~matched
        gtfs_note = (f"GTFS {Path(gtfs).name}: {int(matched.sum())} von {len(stops)} Haltestellen nach ARE-Methode / "
                     f"{int(matched.sum())} of {len(stops)} stops by the ARE method")
    _, cls = classes_from_interval(interval, kind)
    stops["service_class"] = cls.astype(str)
    stops["class_estimated"] = estimated
    stops["interval_min"] = interval
    stops["service_kind"] = kind.astype(str)
    stops = stops[["stop_id", "name", "x_m", "y_m", "lon", "lat", "products", "service_class", "class_estimated",
                   "interval_min", "service_kind", "in_kreis", "ags", "is_station", "parent", "ifopt"]]

    step("Krankenhäuser / hospitals", 0.85)
    hosp = read_hospitals(files["hospitals"])
    hx, hy = reproject_xy(hosp["lon"].to_numpy(), hosp["lat"].to_numpy(), 4326, epsg)
    hosp["x_m"], hosp["y_m"] = hx, hy
    hosp["in_kreis"] = shapely.contains_xy(outline_ll, hosp["lon"].to_numpy(), hosp["lat"].to_numpy())

    gdf = pd.DataFrame({"ags": list(gem.key), "name": list(gem.name), "kind": list(gem.kind),
                        "area_km2": [shapes[a].area / 1e6 for a in gem.key]})
    sums = cells.groupby("ags")[list(AGE_COLUMNS)].sum()
    for col in AGE_COLUMNS:
        gdf[col] = gdf["ags"].map(sums[col]).fillna(0.0).to_numpy()
    gdf["population_2019"] = gdf[list(AGE_COLUMNS)].sum(axis=1)
    gdf = gdf[["ags", "name", "kind", "area_km2", "population_2019", *AGE_COLUMNS]]

    a = assumptions()
    manifest: dict[str, Any] = {
        "base_year": BASE_YEAR,
        "sources": [{"key": k, "path": str(files[k]), "sha256": sha256_of(files[k]), "licence": lic}
                    for k, (_, lic) in SOURCES.items()],
        "method": {
            "population": {
                "de": "Zensus-2011-Muster (100-m-Zellen, Zellmitte im Kreis) mit je einem Faktor pro Altersgruppe auf "
                      "die Kreistabelle 12411-0017 vom 31.12.2019 hochgerechnet (80+ aus der RKI-Gruppierung derselben "
                      "Bevölkerung); unter 18 und 65+ nach den Anteilen unter 10 / 80+ der Zelle geteilt, sonst nach "
                      "dem Kreisanteil. Zellwerte sind Erwartungswerte, veröffentlicht nur gerundet (5er) und ab 5.",
                "en": "Zensus 2011 pattern (100 m cells, centre inside the Kreis) scaled per age group by one factor to "
                      "the Kreis table 12411-0017 of 31 Dec 2019 (80+ from the RKI regrouping of the same population); "
                      "under 18 and 65+ split by the cell's own under-10 / 80+ shares, else the Kreis share. Cell values "
                      "are expectations, published only rounded to 5 and from 5 up.",
                "factors_2011_to_2019": {f"factor_{k}": v for k, v in factors.items()},
                "kreis_targets_2019": targets,
                "share_18_19_of_18_29": share_18_19,
                "calibrated_to_gemeinde_table": gemeinde_table is not None,
                "gemeinde_table": str(gemeinde_table) if gemeinde_table is not None else None,
                "notes": table_notes,
            },
            "settlements": "Zellen mit höchstens einer leeren Zelle Abstand bilden eine Siedlung, benannt nach den "
                           "Haltestellennamen / cells at most one empty cell apart form a settlement, named after stop names",
            "service_classes": gtfs_note,
            "accessibility": {k: a[k] for k in ("detour_factor_walk", "detour_factor_walk_source", "detour_factor_road",
                                                 "detour_factor_road_source", "deficit_max_walk_m",
                                                 "deficit_max_walk_m_source", "deficit_min_class",
                                                 "deficit_min_class_source", "town_min_persons_source")},
            "elevation": "Kein Höhenmodell für den ganzen Kreis (SRTM-Kachel N50E011 deckt nur den Süden): Entfernungen "
                         "ohne Steigung / no elevation for the whole Kreis (the SRTM tile covers only the south): "
                         "distances without slope",
            "road_network": "ohne Straßennetz: Luftlinie mal Umwegfaktor / without a road network: straight line times "
                            "a detour factor",
        },
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if gemeinde_table is not None:
        manifest["sources"].append({"key": "gemeinde_table", "path": str(gemeinde_table),
                                    "sha256": sha256_of(gemeinde_table), "licence": "see the table's provider"})
    if gtfs is not None:
        manifest["sources"].append({"key": "gtfs", "path": str(gtfs), "sha256": sha256_of(gtfs) if Path(gtfs).is_file()
                                    else "", "licence": "see the feed (DELFI: CC BY 4.0)"})
    network = None
    if osm is not None:
        from models.region.network import MAX_JOIN_M, read_walk_network

        step("Straßennetz / walking network", 0.95)
        network = read_walk_network(osm, epsg)
        manifest["sources"].append({"key": "osm", "path": str(osm), "sha256": sha256_of(osm),
                                    "licence": "ODbL 1.0, © OpenStreetMap contributors"})
        manifest["method"]["road_network"] = (
            f"Fußwege entlang der Straßen des OSM-Auszugs ({network.n_nodes} Knoten, ohne Autobahnen und "
            f"Kraftfahrstraßen); weiter als {MAX_JOIN_M:.0f} m vom Netz Luftlinie mal Umwegfaktor / walks along the "
            f"streets of the OSM extract ({network.n_nodes} nodes, motorways and trunk roads excluded); farther than "
            f"{MAX_JOIN_M:.0f} m from it straight line times the detour factor")
    step("fertig / done", 1.0)
    return Region(name=name, crs=f"EPSG:{epsg}", kreis_ags=kreis_ags, kreis_name=kreis_name, kreis_outline=outline,
                  gemeinden=gdf, gemeinde_shapes=shapes, cells=cells, settlements=settlements, stops=stops,
                  hospitals=hosp, centres=_centres(settlements), manifest=manifest, network=network)
