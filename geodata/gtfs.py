"""GTFS reader with validation, and the frequency view of a feed for the access engine.

``read_gtfs(path)`` reads a GTFS feed (a folder or a .zip) into a ``Feed`` of arrays and checks it:
the four required files and their columns, unique stop ids, stop coordinates, every trip with at least
two stop times, no stop time for an unknown trip or stop, times as H:MM:SS (hours past 24 are service
after midnight and kept as seconds > 86,400), times that do not run backwards, and calendar days.
Intermediate stop times left empty (GTFS allows it for non-timepoints) are interpolated linearly by
sequence. Every problem raises ``GtfsError`` with the file, the line and a German and English message.

``feed_to_network(feed, district)`` groups the trips of a weekday into stop patterns and turns them into
``TransitNetwork`` lines: departures per hour (from the first stop's departure; after-midnight service
counts in the early hours) and the median riding time between consecutive stops. Stops outside the
district's area are dropped; a pattern keeps its stops inside, with the riding time between them.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geodata.apply_transit import Line, TransitNetwork
from geodata.district import District

__all__ = ["Feed", "GtfsError", "read_gtfs", "feed_to_network", "parse_time_s", "route_mode"]

REQUIRED = {
    "stops.txt": ("stop_id", "stop_name", "stop_lat", "stop_lon"),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"),
}
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class GtfsError(ValueError):
    """A rejected GTFS feed; ``de`` and ``en`` carry the message in both languages."""

    def __init__(self, where: str, de: str, en: str) -> None:
        super().__init__(f"{where}: {de} / {en}")
        self.de = de
        self.en = en


@dataclass(frozen=True)
class Feed:
    """A validated GTFS feed. Stop times are sorted by trip and sequence."""

    stop_id: np.ndarray  # (S,) object
    stop_name: np.ndarray  # (S,) object
    stop_lonlat: np.ndarray  # (S, 2) float64 WGS84
    route_id: np.ndarray  # (R,) object
    route_name: np.ndarray  # (R,) object
    route_type: np.ndarray  # (R,) int64
    trip_id: np.ndarray  # (T,) object
    trip_route: np.ndarray  # (T,) int64 index into routes
    trip_service: np.ndarray  # (T,) object
    st_trip: np.ndarray  # (M,) int64 index into trips
    st_stop: np.ndarray  # (M,) int64 index into stops
    st_arrival_s: np.ndarray  # (M,) float64 seconds after the service day's midnight
    st_departure_s: np.ndarray  # (M,) float64
    services_by_day: dict[str, frozenset[str]]  # weekday -> service ids running (empty without calendar.txt)
    source: str = ""


def parse_time_s(text: str) -> float | None:
    """Seconds of a GTFS time 'H:MM:SS' (hours may exceed 23); None for an empty field."""
    t = text.strip()
    if not t:
        return None
    parts = t.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(t)
    h, m, s = (int(p) for p in parts)
    if m > 59 or s > 59 or h > 47:
        raise ValueError(t)
    return float(h * 3600 + m * 60 + s)


def route_mode(route_type: int) -> str:
    """bus, tram or rail from a GTFS (or extended) route_type."""
    if route_type in (0, 5, 900) or 900 <= route_type < 1000:
        return "tram"
    if route_type in (1, 2, 12) or 100 <= route_type < 500:
        return "rail"
    return "bus"


def _open(path: Path) -> dict[str, list[dict[str, str]]]:
    files: dict[str, str] = {}
    if path.is_dir():
        for f in path.iterdir():
            if f.suffix == ".txt":
                files[f.name] = f.read_text(encoding="utf-8-sig")
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for n in z.namelist():
                if n.endswith(".txt"):
                    files[Path(n).name] = z.read(n).decode("utf-8-sig")
    else:
        raise GtfsError(str(path), "kein GTFS-Ordner und keine ZIP-Datei", "not a GTFS folder or zip file")
    out = {}
    for name, text in files.items():
        out[name] = list(csv.DictReader(io.StringIO(text)))
    for name, cols in REQUIRED.items():
        if name not in out:
            raise GtfsError(str(path), f"Datei {name} fehlt", f"file {name} is missing")
        header = set(csv.DictReader(io.StringIO(files[name])).fieldnames or ())
        miss = [c for c in cols if c not in header]
        if miss:
            raise GtfsError(f"{path}/{name}", f"Spalten fehlen: {', '.join(miss)}", f"missing columns: {', '.join(miss)}")
    return out


def read_gtfs(path: str | Path) -> Feed:
    """Read and validate a GTFS feed (folder or .zip). Raises ``GtfsError`` on the first problem."""
    p = Path(path)
    t = _open(p)
    stops = t["stops.txt"]
    sid = [r["stop_id"].strip() for r in stops]
    seen: set[str] = set()
    for i, s in enumerate(sid):
        if not s or s in seen:
            raise GtfsError(f"{p}/stops.txt:{i + 2}", f"Haltestellen-ID {s!r} leer oder doppelt", f"stop_id {s!r} empty or duplicate")
        seen.add(s)
    lonlat = np.zeros((len(stops), 2))
    for i, r in enumerate(stops):
        try:
            lonlat[i] = float(r["stop_lon"]), float(r["stop_lat"])
        except ValueError:
            lonlat[i] = np.nan
        if not (np.isfinite(lonlat[i]).all() and -180 <= lonlat[i, 0] <= 180 and -90 <= lonlat[i, 1] <= 90):
            raise GtfsError(f"{p}/stops.txt:{i + 2}", f"ungültige Koordinate bei {sid[i]!r}", f"invalid coordinate of {sid[i]!r}")
    stop_ix = {s: i for i, s in enumerate(sid)}
    routes = t["routes.txt"]
    rid = [r["route_id"].strip() for r in routes]
    rix = {r: i for i, r in enumerate(rid)}
    rtype = []
    for i, r in enumerate(routes):
        try:
            rtype.append(int(r["route_type"]))
        except ValueError:
            raise GtfsError(f"{p}/routes.txt:{i + 2}", "route_type ist keine Zahl", "route_type is not a number") from None
    trips = t["trips.txt"]
    tid = [r["trip_id"].strip() for r in trips]
    tix = {s: i for i, s in enumerate(tid)}
    if len(tix) != len(tid):
        raise GtfsError(f"{p}/trips.txt", "doppelte trip_id", "duplicate trip_id")
    troute = np.zeros(len(trips), np.int64)
    for i, r in enumerate(trips):
        if r["route_id"].strip() not in rix:
            raise GtfsError(f"{p}/trips.txt:{i + 2}", f"Fahrt {tid[i]!r} nennt unbekannte Linie {r['route_id']!r}",
                            f"trip {tid[i]!r} names unknown route {r['route_id']!r}")
        troute[i] = rix[r["route_id"].strip()]
    st_trip, st_stop, seq, arr, dep = [], [], [], [], []
    for i, r in enumerate(t["stop_times.txt"]):
        where = f"{p}/stop_times.txt:{i + 2}"
        tr, st = r["trip_id"].strip(), r["stop_id"].strip()
        if tr not in tix:
            raise GtfsError(where, f"unbekannte Fahrt {tr!r}", f"unknown trip {tr!r}")
        if st not in stop_ix:
            raise GtfsError(where, f"Fahrt {tr!r} hält an nicht vorhandener Haltestelle {st!r}",
                            f"trip {tr!r} calls at stop {st!r} that does not exist")
        try:
            a, d = parse_time_s(r["arrival_time"]), parse_time_s(r["departure_time"])
            sq = int(r["stop_sequence"])
        except ValueError as exc:
            raise GtfsError(where, f"ungültige Zeit oder Reihenfolge {exc}", f"invalid time or sequence {exc}") from None
        st_trip.append(tix[tr])
        st_stop.append(stop_ix[st])
        seq.append(sq)
        arr.append(np.nan if a is None else a)
        dep.append(d if d is not None else (np.nan if a is None else a))
    trip_a = np.asarray(st_trip, np.int64)
    order = np.lexsort((np.asarray(seq), trip_a))
    trip_a, stop_a = trip_a[order], np.asarray(st_stop, np.int64)[order]
    arr_a, dep_a = np.asarray(arr, float)[order], np.asarray(dep, float)[order]
    counts = np.bincount(trip_a, minlength=len(tid))
    if (counts < 2).any():
        bad = [tid[i] for i in np.nonzero(counts < 2)[0][:5]]
        raise GtfsError(f"{p}/stop_times.txt", f"Fahrten ohne (ausreichende) Haltezeiten: {', '.join(bad)}",
                        f"trips with missing stop_times: {', '.join(bad)}")
    first = np.concatenate([[0], np.cumsum(counts)])
    for k in range(len(tid)):
        a, b = first[k], first[k + 1]
        _fill(arr_a[a:b], dep_a[a:b], f"{p}/stop_times.txt", tid[k])
    days = {d: frozenset() for d in DAYS}
    if "calendar.txt" in t:
        days = {d: frozenset(r["service_id"].strip() for r in t["calendar.txt"] if r.get(d, "0").strip() == "1") for d in DAYS}
    return Feed(np.asarray(sid, object), np.asarray([r["stop_name"] for r in stops], object), lonlat,
                np.asarray(rid, object),
                np.asarray([r.get("route_short_name") or r.get("route_long_name") or r["route_id"] for r in routes], object),
                np.asarray(rtype, np.int64), np.asarray(tid, object), troute,
                np.asarray([r["service_id"].strip() for r in trips], object), trip_a, stop_a, arr_a, dep_a, days, str(p))


def _fill(arr: np.ndarray, dep: np.ndarray, where: str, trip: str) -> None:
    """Interpolate empty intermediate times in place and check that times do not run backwards."""
    known = np.isfinite(dep)
    if not (known[0] and known[-1]):
        raise GtfsError(where, f"Fahrt {trip!r}: erste und letzte Haltezeit fehlen", f"trip {trip!r}: first or last time missing")
    idx = np.arange(dep.size)
    if not known.all():
        dep[~known] = np.interp(idx[~known], idx[known], dep[known])
        arr[~known] = dep[~known]
    arr[~np.isfinite(arr)] = dep[~np.isfinite(arr)]
    seq = np.stack([arr, dep], axis=1).ravel()
    if (np.diff(seq) < 0).any():
        raise GtfsError(where, f"Fahrt {trip!r}: Zeiten laufen rückwärts", f"trip {trip!r}: times run backwards")


def feed_to_network(feed: Feed, district: District, *, weekday: str = "tuesday") -> TransitNetwork:
    """Frequency view of the feed's ``weekday`` inside the district (see the module docstring)."""
    x, y = district.frame.lonlat_to_local(feed.stop_lonlat[:, 0], feed.stop_lonlat[:, 1])
    xy = np.stack([x, y], axis=1)
    inside = district.grid.inside(x, y)
    keep = np.nonzero(inside)[0]
    new_ix = np.full(feed.stop_id.size, -1, np.int64)
    new_ix[keep] = np.arange(keep.size)
    running = feed.services_by_day.get(weekday, frozenset())
    use_trip = np.array([not running or s in running for s in feed.trip_service], bool)
    patterns: dict[tuple, list[tuple[float, np.ndarray]]] = defaultdict(list)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(feed.st_trip, minlength=feed.trip_id.size))])
    for k in np.nonzero(use_trip)[0]:
        a, b = bounds[k], bounds[k + 1]
        stops = feed.st_stop[a:b]
        ins = new_ix[stops] >= 0
        if ins.sum() < 2:
            continue
        s_in = new_ix[stops[ins]]
        arr_in, dep_in = feed.st_arrival_s[a:b][ins], feed.st_departure_s[a:b][ins]
        hops = np.maximum(arr_in[1:] - dep_in[:-1], 1.0)
        patterns[(int(feed.trip_route[k]), tuple(s_in.tolist()))].append((float(dep_in[0]), hops))
    lines = []
    modes = np.full(keep.size, "bus", dtype=object)
    for n, ((route, seq), runs) in enumerate(sorted(patterns.items())):
        deps = np.zeros(24)
        for t0, _ in runs:
            deps[int(t0 // 3600) % 24] += 1.0
        hop = np.median(np.stack([h for _, h in runs]), axis=0)
        idx = np.asarray(seq, np.int32)
        mode = route_mode(int(feed.route_type[route]))
        modes[idx] = np.where(modes[idx] == "rail", "rail", mode)
        lines.append(Line(f"{feed.route_id[route]}@{n}", str(feed.route_name[route]), mode, idx, hop, deps))
    return TransitNetwork(xy[keep], feed.stop_name[keep], modes, tuple(lines))
