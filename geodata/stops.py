"""Real public-transport stops: the DB/HAFAS stop list of the Burgenlandkreis (no timetables).

``read_stop_table(path)`` reads the GTFS-stops-like CSV of ``../shared/data/burgenlandkreis_transit_stops_db``
(``stop_id, stop_name, stop_lat, stop_lon, location_type, parent_station, ifopt, products, in_district,
gemeinde_ags, gemeinde``; WGS84) and validates it. ``stops_in_frame`` projects the stops into a
district's local frame and keeps those inside its area as a ``geodata.district.Stops`` table; a stop's
mode is ``rail`` when any rail product serves it, else ``bus``; ``taxi`` (on-demand, "Rufbus") is kept
in ``on_demand``. Platforms are folded into their parent station when both are present, so one place
is one stop.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geodata.crs import LocalFrame
from geodata.district import Stops

__all__ = ["StopTable", "StopDataError", "read_stop_table", "stops_in_frame", "RAIL_PRODUCTS"]

RAIL_PRODUCTS = frozenset({"regional", "regionalExpress", "suburban", "national", "nationalExpress"})
_COLUMNS = ("stop_id", "stop_name", "stop_lat", "stop_lon", "location_type", "parent_station", "products")


class StopDataError(ValueError):
    """A rejected stop file; ``de`` and ``en`` carry the message."""

    def __init__(self, where: str, de: str, en: str) -> None:
        super().__init__(f"{where}: {de} / {en}")
        self.de = de
        self.en = en


@dataclass(frozen=True)
class StopTable:
    stop_id: np.ndarray  # (S,) object
    name: np.ndarray  # (S,) object
    lonlat: np.ndarray  # (S, 2) float64, WGS84
    is_station: np.ndarray  # (S,) bool, location_type 1
    parent: np.ndarray  # (S,) object, parent station id or ""
    products: np.ndarray  # (S,) object, ';'-separated
    in_district: np.ndarray  # (S,) bool
    municipality: np.ndarray  # (S,) object

    def __len__(self) -> int:
        return int(self.stop_id.shape[0])

    @property
    def mode(self) -> np.ndarray:
        return np.array(["rail" if RAIL_PRODUCTS & set(p.split(";")) else "bus" for p in self.products], dtype=object)

    @property
    def on_demand(self) -> np.ndarray:
        return np.array(["taxi" in p.split(";") for p in self.products], dtype=bool)


def read_stop_table(path: str | Path) -> StopTable:
    """Read and validate the stop CSV (UTF-8, comma-separated, header as described above)."""
    p = Path(path)
    if not p.is_file():
        raise StopDataError(str(p), "Datei nicht gefunden", "file not found")
    with p.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise StopDataError(str(p), f"Spalten fehlen: {', '.join(missing)}", f"missing columns: {', '.join(missing)}")
        rows = list(reader)
    ids, seen = [], set()
    lonlat = np.zeros((len(rows), 2))
    for i, r in enumerate(rows):
        sid = r["stop_id"].strip()
        if not sid or sid in seen:
            raise StopDataError(f"{p}:{i + 2}", f"Haltestellen-ID {sid!r} leer oder doppelt", f"stop_id {sid!r} empty or duplicate")
        seen.add(sid)
        ids.append(sid)
        try:
            lonlat[i] = float(r["stop_lon"]), float(r["stop_lat"])
        except ValueError:
            lonlat[i] = np.nan
        if not (np.isfinite(lonlat[i]).all() and -180 <= lonlat[i, 0] <= 180 and -90 <= lonlat[i, 1] <= 90):
            raise StopDataError(f"{p}:{i + 2}", f"ungültige Koordinate bei {sid!r}", f"invalid coordinate of {sid!r}")
    return StopTable(
        stop_id=np.asarray(ids, object),
        name=np.asarray([r["stop_name"] for r in rows], object),
        lonlat=lonlat,
        is_station=np.array([r["location_type"].strip() == "1" for r in rows], bool),
        parent=np.asarray([r["parent_station"].strip() for r in rows], object),
        products=np.asarray([r["products"].strip() for r in rows], object),
        in_district=np.array([r.get("in_district", "").strip() == "1" for r in rows], bool),
        municipality=np.asarray([r.get("gemeinde", "") for r in rows], object),
    )


def stops_in_frame(table: StopTable, frame: LocalFrame, bbox_local_m: tuple[float, float, float, float] | None = None,
                   *, fold_platforms: bool = True) -> Stops:
    """The stops as a ``Stops`` table in ``frame`` (local metres), those inside ``bbox_local_m`` (west,
    south, east, north) when given. Platforms whose parent station is in the table are folded into it
    (the station keeps the union of the products)."""
    keep = np.ones(len(table), bool)
    products = table.products.copy()
    if fold_platforms:
        index = {s: i for i, s in enumerate(table.stop_id)}
        for i, par in enumerate(table.parent):
            if par and par in index:
                j = index[par]
                products[j] = ";".join(sorted(set(products[j].split(";")) | set(products[i].split(";")) - {""}))
                keep[i] = False
    x, y = frame.lonlat_to_local(table.lonlat[:, 0], table.lonlat[:, 1])
    if bbox_local_m is not None:
        w, s, e, n = bbox_local_m
        keep &= (x >= w) & (x <= e) & (y >= s) & (y <= n)
    sel = np.nonzero(keep)[0]
    mode = np.array(["rail" if RAIL_PRODUCTS & set(products[i].split(";")) else "bus" for i in sel], dtype=object)
    return Stops(
        xy_local_m=np.stack([x[sel], y[sel]], axis=1).reshape(-1, 2),
        name=table.name[sel].copy(),
        mode=mode,
        source_id=np.array([f"hafas:{table.stop_id[i]}" for i in sel], dtype=object),
    )
