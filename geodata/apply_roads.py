"""Road interventions applied to a District's road graph: closure, speed limit, lane change, new link,
one-way change.

``apply_road_interventions`` returns an edited copy of the ``Roads`` table (new links appended after the
District's edges, so every District edge keeps its index) and a mask of closed edges. The District itself
is never touched; on the first invalid edit a ``RoadEditError`` (German / English) is raised and nothing is
returned, so a bad scenario changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from geodata.district import DRIVABLE_CLASSES, Roads
from geodata.interventions import (
    Intervention,
    InterventionError,
    LaneChange,
    NewLink,
    OneWayChange,
    RoadClosure,
    SpeedLimit,
)

__all__ = [
    "RoadEditError",
    "RoadEdit",
    "apply_road_interventions",
    "is_road_edit",
    "ROAD_KINDS",
    "SNAP_DISTANCE_M",
]

ROAD_KINDS = frozenset({"road_closure", "speed_limit", "lane_change", "new_link", "oneway_change"})
SNAP_DISTANCE_M = 50.0  # a new link's end must lie this close to a junction of the drivable network


def is_road_edit(obj: object) -> bool:
    """Whether an intervention is one of the road kinds (by its msgspec tag)."""
    cfg = getattr(type(obj), "__struct_config__", None)
    return getattr(cfg, "tag", None) in ROAD_KINDS


class RoadEditError(InterventionError):
    """A road intervention that cannot be applied (names the intervention and the reason)."""


@dataclass(frozen=True)
class RoadEdit:
    """The edited road graph: ``roads`` has L' >= L edges (new links last), ``closed`` (L',) bool."""

    roads: Roads
    closed: np.ndarray
    n_original: int

    @property
    def new_edges(self) -> np.ndarray:
        return np.arange(self.n_original, len(self.roads))


def _err(obj: Intervention, de: str, en: str) -> RoadEditError:
    return RoadEditError(f"Maßnahme {obj.id}: {de}", f"intervention {obj.id}: {en}")


def _drivable_nodes(roads: Roads, closed: np.ndarray) -> np.ndarray:
    ok = roads.drivable & ~closed
    return np.unique(np.concatenate([roads.edge_from[ok], roads.edge_to[ok]]))


def _check_edge(obj: Intervention, roads: Roads, closed: np.ndarray, edge: int) -> None:
    if not 0 <= edge < len(roads):
        raise _err(obj, f"Straße {edge} existiert nicht", f"road {edge} does not exist")
    if roads.road_class[edge] not in DRIVABLE_CLASSES:
        raise _err(
            obj,
            f"Straße {edge} ({roads.road_class[edge]}) ist nicht für Kfz befahrbar",
            f"road {edge} ({roads.road_class[edge]}) does not carry motor traffic",
        )
    if closed[edge]:
        raise _err(obj, f"Straße {edge} ist bereits gesperrt", f"road {edge} is already closed")


def apply_road_interventions(
    roads: Roads,
    interventions: Sequence[Intervention],
    *,
    bbox_local_m: tuple[float, float, float, float] | None = None,
) -> RoadEdit:
    """Apply the road kinds among ``interventions`` in order; other kinds are skipped.

    Parameters
    ----------
    roads : the District's road graph (local metres).
    bbox_local_m : (west, south, east, north); new links must lie inside it.

    Raises
    ------
    RoadEditError : unknown or non-drivable road, edit on a closed road, a new link that does not reach the
        drivable network or leaves the district.
    """
    n0 = len(roads)
    lanes = roads.lanes.astype(np.int16).copy()
    speed = roads.maxspeed_kmh.astype(np.float32).copy()
    oneway = roads.oneway.astype(np.int8).copy()
    closed = np.zeros(n0, dtype=bool)
    new_from: list[int] = []
    new_to: list[int] = []
    new_geom: list[np.ndarray] = []
    new_class: list[str] = []
    new_lanes: list[int] = []
    new_speed: list[float] = []
    new_src: list[str] = []
    cur = roads
    for obj in interventions:
        if not is_road_edit(obj):
            continue
        if isinstance(obj, NewLink):
            line = np.asarray(obj.line_local_m, dtype=np.float64)
            if bbox_local_m is not None:
                w, s, e, n = bbox_local_m
                if (
                    (line[:, 0] < w).any()
                    or (line[:, 0] > e).any()
                    or (line[:, 1] < s).any()
                    or (line[:, 1] > n).any()
                ):
                    raise _err(obj, "die neue Straße verlässt das Gebiet", "the new link leaves the district")
            cand = _drivable_nodes(cur, np.concatenate([closed, np.zeros(len(cur) - closed.size, bool)]))
            ends = []
            for p in (line[0], line[-1]):
                d = np.hypot(*(cur.node_xy_local_m[cand] - p).T) if cand.size else np.array([np.inf])
                j = int(np.argmin(d))
                if d[j] > SNAP_DISTANCE_M:
                    raise _err(
                        obj,
                        f"Endpunkt ({p[0]:.0f}, {p[1]:.0f}) liegt mehr als {SNAP_DISTANCE_M:.0f} m vom Straßennetz entfernt",
                        f"end point ({p[0]:.0f}, {p[1]:.0f}) is more than {SNAP_DISTANCE_M:.0f} m from the road network",
                    )
                ends.append(int(cand[j]))
            if ends[0] == ends[1]:
                raise _err(
                    obj, "Anfang und Ende treffen denselben Knoten", "both ends snap to the same junction"
                )
            geom = line.copy()
            geom[0] = cur.node_xy_local_m[ends[0]]
            geom[-1] = cur.node_xy_local_m[ends[1]]
            new_from.append(ends[0])
            new_to.append(ends[1])
            new_geom.append(geom)
            new_class.append(obj.road_class)
            new_lanes.append(obj.lanes)
            new_speed.append(obj.maxspeed_kmh)
            new_src.append(f"scenario:{obj.id}")
            lanes = np.append(lanes, np.int16(obj.lanes))
            speed = np.append(speed, np.float32(obj.maxspeed_kmh))
            oneway = np.append(oneway, np.int8(0))
            closed = np.append(closed, False)
            cur = _with_new_edges(roads, new_from, new_to, new_geom, new_class, new_src, lanes, speed, oneway)
            continue
        edge = int(obj.edge_index)  # type: ignore[attr-defined]
        _check_edge(obj, cur, closed, edge)
        if isinstance(obj, RoadClosure):
            closed[edge] = True
        elif isinstance(obj, SpeedLimit):
            speed[edge] = np.float32(obj.maxspeed_kmh)
        elif isinstance(obj, LaneChange):
            lanes[edge] = np.int16(obj.lanes)
        elif isinstance(obj, OneWayChange):
            oneway[edge] = np.int8(obj.oneway)
    cur = _with_new_edges(roads, new_from, new_to, new_geom, new_class, new_src, lanes, speed, oneway)
    return RoadEdit(roads=cur, closed=closed, n_original=n0)


def _with_new_edges(roads, new_from, new_to, new_geom, new_class, new_src, lanes, speed, oneway) -> Roads:
    if not new_from:
        return replace(roads, lanes=lanes, maxspeed_kmh=speed, oneway=oneway)
    xy = roads.node_xy_local_m
    length = np.array([float(np.hypot(*np.diff(g, axis=0).T).sum()) for g in new_geom])
    return replace(
        roads,
        edge_from=np.concatenate([roads.edge_from, np.asarray(new_from, np.int32)]),
        edge_to=np.concatenate([roads.edge_to, np.asarray(new_to, np.int32)]),
        length_m=np.concatenate([roads.length_m, np.maximum(length, 1.0)]),
        road_class=np.concatenate([roads.road_class, np.asarray(new_class, dtype=object)]),
        lanes=lanes,
        maxspeed_kmh=speed,
        oneway=oneway,
        name=np.concatenate([roads.name, np.full(len(new_from), "", dtype=object)]),
        source_id=np.concatenate([roads.source_id, np.asarray(new_src, dtype=object)]),
        geometry=tuple(roads.geometry) + tuple(new_geom),
        node_xy_local_m=xy,
    )
