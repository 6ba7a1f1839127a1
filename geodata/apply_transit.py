"""Transit and access interventions applied to a public-transport network and the district's services.

``TransitNetwork`` is the frequency view of public transport that the access engine needs: stops,
lines (an ordered stop sequence per direction, the riding time between consecutive stops and the
departures per hour of day) and on-demand (Rufbus) zones. It comes from a GTFS feed
(``geodata.gtfs.feed_to_network``), from the District's stops alone (``network_from_district``) or is
empty, and scenarios change it with ``apply_transit``:

- ``new_stop``: a stop, served by the nearest line within ``ATTACH_RADIUS_M`` (inserted where it
  lengthens the line least), else a stop without service;
- ``move_stop``: the stop moves, riding times of its lines follow the new distances;
- ``bus_line``: a new line in both directions through the given points (snapped to stops within
  ``SNAP_M``, else new stops), ``headway_min`` between ``first_hour`` and ``last_hour``;
- ``headway_change``: every direction of the line runs at the new headway inside its service hours;
- ``on_demand_zone``: a zone with lead time and service window; a zone without a street is refused;
- ``facility``: opens a point of interest or closes one; ``housing``: new homes with residents.

Nothing is mutated: every function returns new objects, and a bad intervention raises
``TransitError`` (German / English) before anything is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from shapely.geometry import Point, Polygon

from geodata.district import District
from geodata.interventions import (
    BusLine,
    Facility,
    HeadwayChange,
    HousingDevelopment,
    MoveStop,
    NewStop,
    OnDemandZone,
    validate_against,
)

__all__ = [
    "Line",
    "Zone",
    "TransitNetwork",
    "ServicePoints",
    "TransitError",
    "network_from_district",
    "apply_transit",
    "BUS_SPEED_KMH",
    "DETOUR_FACTOR",
]

# Mean operating speed of regional buses incl. dwell times (VDV-Statistik 2019: 20-25 km/h rural lines).
BUS_SPEED_KMH = 22.0
# Road distance over straight-line distance in German rural networks (typical 1.2-1.4).
DETOUR_FACTOR = 1.3
ATTACH_RADIUS_M = 400.0
SNAP_M = 25.0


class TransitError(ValueError):
    """A rejected transit input; ``de`` and ``en`` carry the message in both languages."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.de = de
        self.en = en


@dataclass(frozen=True)
class Line:
    """One direction of a line. ``stop_index`` (k,) int32 into the network's stops, ``hop_s`` (k-1,)
    float64 riding time between consecutive stops, ``departures_per_h`` (24,) float64 by local hour."""

    line_id: str
    name: str
    mode: str  # bus, rail, tram
    stop_index: np.ndarray
    hop_s: np.ndarray
    departures_per_h: np.ndarray


@dataclass(frozen=True)
class Zone:
    """An on-demand zone: polygon in local metres, booking lead time and service hours [first, last)."""

    zone_id: str
    polygon: Polygon
    lead_time_min: float
    first_hour: int
    last_hour: int


@dataclass(frozen=True)
class TransitNetwork:
    stop_xy_local_m: np.ndarray  # (S, 2) float64
    stop_name: np.ndarray  # (S,) object
    stop_mode: np.ndarray  # (S,) object: bus, rail, tram
    lines: tuple[Line, ...] = ()
    zones: tuple[Zone, ...] = ()

    @property
    def n_stops(self) -> int:
        return int(self.stop_xy_local_m.shape[0])

    def departures_at_stops(self, hour: int) -> np.ndarray:
        """(S,) float64 departures per hour at each stop in ``hour`` (all lines and directions)."""
        out = np.zeros(self.n_stops)
        for ln in self.lines:
            np.add.at(out, ln.stop_index[:-1], ln.departures_per_h[hour])
        return out


@dataclass(frozen=True)
class ServicePoints:
    """Destinations and extra homes after facility and housing interventions."""

    poi_xy_local_m: np.ndarray  # (P, 2)
    poi_category: np.ndarray  # (P,) object
    home_xy_local_m: np.ndarray  # (H, 2) new homes (centroids of housing developments)
    home_residents: np.ndarray  # (H,) int64


def network_from_district(district: District) -> TransitNetwork:
    """A network with the District's stops and no lines (stops without a timetable)."""
    s = district.stops
    return TransitNetwork(np.asarray(s.xy_local_m, float).reshape(-1, 2), np.asarray(s.name, object),
                          np.asarray(s.mode, object))


def _ride_s(a: np.ndarray, b: np.ndarray, speed_kmh: float = BUS_SPEED_KMH) -> float:
    return float(np.hypot(*(np.asarray(b) - np.asarray(a))) * DETOUR_FACTOR / (speed_kmh / 3.6))


def _hops(xy: np.ndarray, idx: np.ndarray, speed_kmh: float) -> np.ndarray:
    return np.array([max(_ride_s(xy[a], xy[b], speed_kmh), 1.0) for a, b in zip(idx[:-1], idx[1:])])


def _line_speed_kmh(ln: Line, xy: np.ndarray) -> float:
    dist = sum(np.hypot(*(xy[b] - xy[a])) * DETOUR_FACTOR for a, b in zip(ln.stop_index[:-1], ln.stop_index[1:]))
    total = float(ln.hop_s.sum())
    return float(dist / total * 3.6) if total > 0 and dist > 0 else BUS_SPEED_KMH


def _attach(net: TransitNetwork, stop: int) -> tuple[Line, ...]:
    """Insert ``stop`` into the nearest line (within ATTACH_RADIUS_M) where it adds the least length."""
    xy = net.stop_xy_local_m
    p = xy[stop]
    best: tuple[float, int, int] | None = None
    for li, ln in enumerate(net.lines):
        for k in range(ln.stop_index.size - 1):
            a, b = xy[ln.stop_index[k]], xy[ln.stop_index[k + 1]]
            extra = np.hypot(*(p - a)) + np.hypot(*(b - p)) - np.hypot(*(b - a))
            if extra / 2 <= ATTACH_RADIUS_M and (best is None or extra < best[0]):
                best = (float(extra), li, k)
    if best is None:
        return net.lines
    _, li, k = best
    lines = list(net.lines)
    for j, ln in enumerate(net.lines):  # insert in every direction of that line
        if ln.line_id.split("@")[0] != net.lines[li].line_id.split("@")[0]:
            continue
        seq = ln.stop_index
        pos = k if j == li else _best_slot(xy, seq, p)
        new_idx = np.insert(seq, pos + 1, stop).astype(np.int32)
        lines[j] = replace(ln, stop_index=new_idx, hop_s=_hops(xy, new_idx, _line_speed_kmh(ln, xy)))
    return tuple(lines)


def _best_slot(xy: np.ndarray, seq: np.ndarray, p: np.ndarray) -> int:
    extra = [np.hypot(*(p - xy[a])) + np.hypot(*(xy[b] - p)) - np.hypot(*(xy[b] - xy[a])) for a, b in zip(seq[:-1], seq[1:])]
    return int(np.argmin(extra))


def _snap_or_add(xy: list[np.ndarray], names: list[str], modes: list[str], p: tuple[float, float], label: str) -> int:
    arr = np.asarray(xy).reshape(-1, 2)
    if arr.size:
        d = np.hypot(arr[:, 0] - p[0], arr[:, 1] - p[1])
        if d.min() <= SNAP_M:
            return int(np.argmin(d))
    xy.append(np.asarray(p, float))
    names.append(label)
    modes.append("bus")
    return len(xy) - 1


def apply_transit(
    district: District,
    network: TransitNetwork,
    interventions: Sequence[object],
) -> tuple[TransitNetwork, ServicePoints]:
    """Apply the transit and access interventions (in order) to ``network`` and the District's POIs.

    Other kinds are ignored. Raises ``TransitError`` or ``InterventionError`` on the first bad one;
    the inputs are never changed.
    """
    xy = [np.asarray(p, float) for p in network.stop_xy_local_m]
    names = [str(n) for n in network.stop_name]
    modes = [str(m) for m in network.stop_mode]
    net = network
    poi_xy = [np.asarray(p, float) for p in district.pois.xy_local_m]
    poi_cat = [str(c) for c in district.pois.category]
    closed: set[int] = set()
    homes: list[tuple[float, float]] = []
    residents: list[int] = []

    def rebuild(lines: tuple[Line, ...] | None = None, zones: tuple[Zone, ...] | None = None) -> TransitNetwork:
        return TransitNetwork(np.asarray(xy, float).reshape(-1, 2), np.asarray(names, object), np.asarray(modes, object),
                              net.lines if lines is None else lines, net.zones if zones is None else zones)

    for obj in interventions:
        if isinstance(obj, (NewStop, BusLine, OnDemandZone, Facility, HousingDevelopment)):
            validate_against(obj, district)
        if isinstance(obj, NewStop):
            xy.append(np.asarray(obj.xy_local_m, float))
            names.append(obj.name or obj.id)
            modes.append("bus")
            net = rebuild()
            net = rebuild(lines=_attach(net, net.n_stops - 1))
        elif isinstance(obj, MoveStop):
            # stop indices refer to the network's stops (a GTFS feed's or the District's)
            if obj.stop_index >= len(xy):
                raise TransitError(f"Haltestelle {obj.stop_index} existiert nicht", f"Stop {obj.stop_index} does not exist")
            if not bool(district.grid.inside(np.array([obj.xy_local_m[0]]), np.array([obj.xy_local_m[1]]))[0]):
                raise TransitError("Neuer Ort der Haltestelle liegt außerhalb des Gebiets",
                                   "The stop's new place is outside the district")
            old = np.asarray(xy, float)
            xy[obj.stop_index] = np.asarray(obj.xy_local_m, float)
            arr = np.asarray(xy, float)
            lines = tuple(
                replace(ln, hop_s=_hops(arr, ln.stop_index, _line_speed_kmh(ln, old)))
                if obj.stop_index in set(ln.stop_index.tolist()) else ln
                for ln in net.lines
            )
            net = rebuild(lines=lines)
        elif isinstance(obj, BusLine):
            idx = np.array([_snap_or_add(xy, names, modes, p, f"{obj.name or obj.id} {k + 1}")
                            for k, p in enumerate(obj.stops_local_m)], dtype=np.int32)
            if np.unique(idx).size < 2:
                raise TransitError("Die Linie braucht mindestens zwei verschiedene Haltestellen",
                                   "The line needs at least two distinct stops")
            arr = np.asarray(xy, float)
            deps = np.zeros(24)
            deps[obj.first_hour:obj.last_hour] = 60.0 / obj.headway_min
            new = tuple(
                Line(f"{obj.id}@{d}", obj.name or obj.id, "bus", seq, _hops(arr, seq, BUS_SPEED_KMH), deps.copy())
                for d, seq in (("out", idx), ("back", idx[::-1].copy()))
            )
            net = rebuild(lines=net.lines + new)
        elif isinstance(obj, HeadwayChange):
            ids = {ln.line_id.split("@")[0] for ln in net.lines}
            if obj.line_id not in ids:
                raise TransitError(f"Linie {obj.line_id!r} existiert nicht", f"Line {obj.line_id!r} does not exist")
            lines = tuple(
                replace(ln, departures_per_h=np.where(ln.departures_per_h > 0, 60.0 / obj.headway_min, 0.0))
                if ln.line_id.split("@")[0] == obj.line_id else ln
                for ln in net.lines
            )
            net = rebuild(lines=lines)
        elif isinstance(obj, OnDemandZone):
            poly = Polygon(obj.polygon_local_m)
            nodes = district.roads.node_xy_local_m
            inside = [poly.contains(Point(float(x), float(y))) for x, y in nodes] if len(nodes) else []
            if not any(inside):
                raise TransitError(
                    f"Rufbus-Zone {obj.id!r} enthält keine Straße und ist nicht erreichbar",
                    f"On-demand zone {obj.id!r} contains no street and cannot be reached",
                )
            zone = Zone(obj.id, poly, obj.lead_time_min, obj.first_hour, obj.last_hour)
            net = rebuild(zones=net.zones + (zone,))
        elif isinstance(obj, Facility):
            if obj.action == "open":
                poi_xy.append(np.asarray(obj.xy_local_m, float))
                poi_cat.append(obj.category)
            else:
                closed.add(obj.poi_index)
        elif isinstance(obj, HousingDevelopment):
            c = Polygon(obj.polygon_local_m).centroid
            homes.append((c.x, c.y))
            residents.append(int(round(obj.dwellings * obj.persons_per_dwelling)))
    keep = [i for i in range(len(poi_xy)) if i not in closed]
    services = ServicePoints(
        poi_xy_local_m=np.asarray([poi_xy[i] for i in keep], float).reshape(-1, 2),
        poi_category=np.asarray([poi_cat[i] for i in keep], object),
        home_xy_local_m=np.asarray(homes, float).reshape(-1, 2),
        home_residents=np.asarray(residents, np.int64),
    )
    return net, services
