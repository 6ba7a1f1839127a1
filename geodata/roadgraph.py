"""The road graph from OSM-style ways: ways are split where they share a node, and joined only there.

A graph node is an OSM node that is an end of a way or is used more than once (by another way or by the
same way again). Two edges meet exactly where their ways share an OSM node id, never because their
coordinates happen to coincide. Edge geometry (all intermediate vertices) is kept.

Tag rules (German defaults): ``maxspeed`` numbers, ``mph``, ``DE:urban`` (50), ``DE:rural`` (100),
``DE:motorway`` (130, the advisory speed), ``DE:living_street``/``walk`` (7, walking pace), ``DE:zone30``;
``oneway`` ``yes``/``1``/``true`` (1), ``-1``/``reverse`` (-1), implied by roundabouts and motorways;
``lanes``, else ``lanes:forward`` + ``lanes:backward``, else 1 per direction.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from geodata.district import DRIVABLE_CLASSES, Roads

__all__ = [
    "RoadWay",
    "RoadExtras",
    "ROAD_CLASSES",
    "DEFAULT_SPEED_KMH",
    "parse_maxspeed",
    "parse_oneway",
    "parse_lanes",
    "parse_turn_lanes",
    "lanes_by_direction",
    "build_road_graph",
]

# highway=* values read as roads (linear ways; areas and platforms are not roads).
ROAD_CLASSES = frozenset(DRIVABLE_CLASSES | {
    "pedestrian", "footway", "cycleway", "path", "track", "steps", "bridleway", "busway", "bus_guideway",
})

# Speed when no limit is tagged, km/h. Drivable urban roads: StVO § 3 (3) 1. (50 km/h inside towns);
# living streets: StVO Anlage 3 Zeichen 325.1 (walking pace, taken as 7 km/h); others: typical travel speeds.
DEFAULT_SPEED_KMH = {
    "motorway": 130.0, "motorway_link": 80.0, "trunk": 100.0, "trunk_link": 60.0, "primary": 50.0,
    "primary_link": 50.0, "secondary": 50.0, "secondary_link": 50.0, "tertiary": 50.0, "tertiary_link": 50.0,
    "unclassified": 50.0, "residential": 50.0, "living_street": 7.0, "service": 20.0, "road": 50.0,
    "track": 30.0, "busway": 50.0, "bus_guideway": 50.0, "cycleway": 20.0, "pedestrian": 5.0, "footway": 5.0,
    "path": 5.0, "steps": 2.0, "bridleway": 5.0,
}
_IMPLICIT = {
    "urban": 50.0, "rural": 100.0, "motorway": 130.0, "trunk": 100.0, "living_street": 7.0, "walk": 7.0,
    "bicycle_road": 30.0, "zone30": 30.0, "zone20": 20.0, "zone10": 10.0, "none": 130.0,
}
_SPEED = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class RoadWay:
    """One OSM road way: node ids (k,) int64, vertices (k, 2) local metres, its tags."""

    way_id: int
    node_ids: np.ndarray
    xy_local_m: np.ndarray
    tags: Mapping[str, str]


@dataclass(frozen=True)
class RoadExtras:
    """Per-edge data beyond the ``Roads`` contract, and turn restrictions.

    ``lanes_forward``/``lanes_backward`` (L,) int16: lanes along / against the edge direction;
    ``turn_lanes_forward``/``turn_lanes_backward`` (L,) object: the ``turn:lanes`` values of each
    direction ('' when absent; see :func:`parse_turn_lanes`); ``way_id`` (L,) int64;
    ``restrictions``: (R,) rows of (from_edge, via_node, to_edge) int32 and ``restriction_kind`` (R,)
    object such as ``no_left_turn`` or ``only_straight_on``.
    """

    lanes_forward: np.ndarray
    lanes_backward: np.ndarray
    turn_lanes_forward: np.ndarray
    turn_lanes_backward: np.ndarray
    way_id: np.ndarray
    restrictions: np.ndarray
    restriction_kind: np.ndarray


def parse_maxspeed(value: str | None) -> float | None:
    """A ``maxspeed`` value in km/h, or None when absent or not a limit (``signals``, ``variable``)."""
    if not value:
        return None
    best = None
    for part in value.split(";"):
        part = part.strip()
        m = _SPEED.match(part)
        if m:
            v = float(m.group(1))
            unit = (m.group(2) or "").lower()
            v *= 1.609344 if unit == "mph" else (1.852 if unit == "knots" else 1.0)
        else:
            key = part.split(":", 1)[1] if ":" in part else part
            key = key.lower().replace(":", "")
            if key.startswith("zone") and key[4:].isdigit():
                v = float(key[4:])
            elif key in _IMPLICIT:
                v = _IMPLICIT[key]
            else:
                continue
        if math.isfinite(v) and 0 < v <= 300:
            best = v if best is None else min(best, v)
    return best


def parse_oneway(tags: Mapping[str, str], road_class: str) -> int:
    """1 (way direction only), -1 (against it) or 0 (both)."""
    v = (tags.get("oneway") or "").strip().lower()
    if v in ("yes", "true", "1"):
        return 1
    if v in ("-1", "reverse"):
        return -1
    if v in ("no", "false", "0", "alternating", "reversible"):
        return 0
    if tags.get("junction") in ("roundabout", "circular") or road_class in ("motorway",):
        return 1
    return 0


def _int_tag(value: str | None) -> int | None:
    if not value:
        return None
    best = None
    for part in value.split(";"):
        try:
            f = float(part.strip())
        except ValueError:
            continue
        if math.isfinite(f) and 0 < f <= 20:
            best = int(round(f)) if best is None else max(best, int(round(f)))
    return best


def parse_lanes(tags: Mapping[str, str], oneway: int) -> int:
    """Total lanes of the carriageway: ``lanes``, else forward + backward (+ both_ways), else 1 or 2."""
    n = _int_tag(tags.get("lanes"))
    if n is not None:
        return n
    parts = [_int_tag(tags.get(k)) for k in ("lanes:forward", "lanes:backward", "lanes:both_ways")]
    if any(p is not None for p in parts):
        return max(1, sum(p or 0 for p in parts))
    return 1 if oneway else 2


def lanes_by_direction(tags: Mapping[str, str], oneway: int, total: int) -> tuple[int, int]:
    """(forward, backward) lanes relative to the way's drawing direction."""
    fwd = _int_tag(tags.get("lanes:forward"))
    bwd = _int_tag(tags.get("lanes:backward"))
    if oneway == 1:
        return total, 0
    if oneway == -1:
        return 0, total
    if fwd is None and bwd is None:
        fwd = (total + 1) // 2
    if fwd is None:
        fwd = max(total - bwd, 1)
    if bwd is None:
        bwd = max(total - fwd, 1 if total > fwd else 0)
    return fwd, bwd


def parse_turn_lanes(value: str | None) -> tuple[tuple[str, ...], ...]:
    """``turn:lanes`` as one tuple of turns per lane, left to right (``none`` for an empty lane)."""
    if not value:
        return ()
    return tuple(tuple(t.strip() or "none" for t in lane.split(";")) for lane in value.split("|"))


def _speed_for(tags: Mapping[str, str], road_class: str) -> float:
    for key in ("maxspeed", "zone:maxspeed", "source:maxspeed", "zone:traffic"):
        v = parse_maxspeed(tags.get(key))
        if v is not None:
            return v
    fwd = parse_maxspeed(tags.get("maxspeed:forward"))
    bwd = parse_maxspeed(tags.get("maxspeed:backward"))
    if fwd is not None or bwd is not None:
        return min(v for v in (fwd, bwd) if v is not None)
    return DEFAULT_SPEED_KMH.get(road_class, 30.0)


def _split_points(ids: np.ndarray, counts: Counter) -> list[int]:
    cut = [0]
    for i in range(1, len(ids) - 1):
        if counts[int(ids[i])] >= 2:
            cut.append(i)
    cut.append(len(ids) - 1)
    return cut


def build_road_graph(
    ways: Sequence[RoadWay], restrictions: Sequence[tuple[int, int, int, str]] = ()
) -> tuple[Roads, RoadExtras]:
    """Split ``ways`` at shared OSM nodes into a graph.

    Parameters
    ----------
    ways : road ways with node ids and local vertices (consecutive repeated node ids are dropped).
    restrictions : (from_way_id, via_node_id, to_way_id, kind) turn restrictions (relation
        ``type=restriction`` with a via node); ones whose ways are not in the graph are skipped.
    """
    clean: list[tuple[RoadWay, np.ndarray, np.ndarray]] = []
    counts: Counter = Counter()
    for w in ways:
        ids = np.asarray(w.node_ids, dtype=np.int64)
        xy = np.asarray(w.xy_local_m, dtype=np.float64)
        if len(ids) < 2:
            continue
        keep = np.ones(len(ids), dtype=bool)
        keep[1:] = ids[1:] != ids[:-1]
        ids, xy = ids[keep], xy[keep]
        if len(ids) < 2:
            continue
        clean.append((w, ids, xy))
        counts.update(int(i) for i in ids)

    node_index: dict[int, int] = {}
    node_xy: list[tuple[float, float]] = []

    def node(osm_id: int, xy: np.ndarray) -> int:
        if osm_id not in node_index:
            node_index[osm_id] = len(node_xy)
            node_xy.append((float(xy[0]), float(xy[1])))
        return node_index[osm_id]

    cols: dict[str, list] = {k: [] for k in (
        "from", "to", "len", "cls", "lanes", "speed", "oneway", "name", "src", "geom", "turn_f", "turn_b", "lanes_f", "lanes_b", "way")}
    way_edges: dict[int, list[int]] = {}
    for w, ids, xy in clean:
        cls = str(w.tags.get("highway", "road"))
        oneway = parse_oneway(w.tags, cls)
        lanes = parse_lanes(w.tags, oneway)
        speed = _speed_for(w.tags, cls)
        lanes_fb = lanes_by_direction(w.tags, oneway, lanes)
        turn_f = str(w.tags.get("turn:lanes:forward") or (w.tags.get("turn:lanes", "") if oneway >= 0 else ""))
        cut = _split_points(ids, counts)
        spans = []
        for a, b in zip(cut[:-1], cut[1:]):
            if ids[a] == ids[b]:  # a loop closed on itself: split it in the middle
                if b - a < 2:
                    continue
                m = (a + b) // 2
                spans += [(a, m), (m, b)]
            else:
                spans.append((a, b))
        for a, b in spans:
            g = xy[a:b + 1]
            cols["from"].append(node(int(ids[a]), xy[a]))
            cols["to"].append(node(int(ids[b]), xy[b]))
            cols["len"].append(float(np.hypot(*np.diff(g, axis=0).T).sum()))
            cols["cls"].append(cls)
            cols["lanes"].append(lanes)
            cols["speed"].append(speed)
            cols["oneway"].append(oneway)
            cols["name"].append(str(w.tags.get("name", "")))
            cols["src"].append(f"osm:way/{w.way_id}")
            cols["geom"].append(g.copy())
            cols["turn_f"].append(turn_f)
            cols["turn_b"].append(str(w.tags.get("turn:lanes:backward", "")))
            cols["lanes_f"].append(lanes_fb[0])
            cols["lanes_b"].append(lanes_fb[1])
            cols["way"].append(w.way_id)
            way_edges.setdefault(w.way_id, []).append(len(cols["from"]) - 1)

    frm = np.asarray(cols["from"], dtype=np.int32)
    to = np.asarray(cols["to"], dtype=np.int32)
    roads = Roads(
        node_xy_local_m=np.asarray(node_xy, dtype=np.float64).reshape(-1, 2),
        node_source_id=np.asarray(list(node_index), dtype=np.int64),
        edge_from=frm,
        edge_to=to,
        length_m=np.asarray(cols["len"], dtype=np.float64),
        road_class=np.asarray(cols["cls"], dtype=object),
        lanes=np.asarray(cols["lanes"], dtype=np.int16),
        maxspeed_kmh=np.asarray(cols["speed"], dtype=np.float32),
        oneway=np.asarray(cols["oneway"], dtype=np.int8),
        name=np.asarray(cols["name"], dtype=object),
        source_id=np.asarray(cols["src"], dtype=object),
        geometry=tuple(cols["geom"]),
    )
    rows, kinds = [], []
    for from_way, via, to_way, kind in restrictions:
        v = node_index.get(int(via))
        if v is None:
            continue
        fe = [e for e in way_edges.get(int(from_way), []) if v in (frm[e], to[e])]
        te = [e for e in way_edges.get(int(to_way), []) if v in (frm[e], to[e])]
        if fe and te:
            rows.append((fe[0], v, te[0]))
            kinds.append(kind)
    extras = RoadExtras(
        lanes_forward=np.asarray(cols["lanes_f"], dtype=np.int16),
        lanes_backward=np.asarray(cols["lanes_b"], dtype=np.int16),
        turn_lanes_forward=np.asarray(cols["turn_f"], dtype=object),
        turn_lanes_backward=np.asarray(cols["turn_b"], dtype=object),
        way_id=np.asarray(cols["way"], dtype=np.int64),
        restrictions=np.asarray(rows, dtype=np.int32).reshape(-1, 3),
        restriction_kind=np.asarray(kinds, dtype=object),
    )
    return roads, extras
