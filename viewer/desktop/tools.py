"""The planner's intervention tools of the desktop viewer as a small state machine without a window.

A tool takes clicks (what was hit: a point on the ground, a building, the nearest road edge) and
turns them into an intervention of :mod:`geodata.interventions`. Point, building and road tools
finish on the first click; line and area tools collect clicks until :meth:`ToolSession.finish`
(Enter in the window). The same tools as the web viewer, with the same defaults.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from geodata.interventions import (
    BusLine,
    GreenRoof,
    NewStop,
    OnDemandZone,
    Park,
    RoadClosure,
    SpeedLimit,
    Tree,
    TreeRow,
    Unseal,
)

__all__ = ["ToolSpec", "TOOLS", "TOOL_KEYS", "Hit", "ToolSession", "new_id"]


@dataclass(frozen=True)
class ToolSpec:
    id: str
    label_de: str
    label_en: str
    input: str  # point, line, polygon, building, road
    min_points: int = 1


TOOLS: dict[str, ToolSpec] = {s.id: s for s in (
    ToolSpec("tree", "Baum", "Tree", "point"),
    ToolSpec("tree_row", "Baumreihe", "Tree row", "line", 2),
    ToolSpec("park", "Park", "Park", "polygon", 3),
    ToolSpec("unseal", "Entsiegeln", "Unseal", "polygon", 3),
    ToolSpec("green_roof", "Gründach", "Green roof", "building"),
    ToolSpec("road_closure", "Straße sperren", "Close a road", "road"),
    ToolSpec("tempo30", "Tempo 30", "Tempo 30", "road"),
    ToolSpec("bus_line", "Buslinie", "Bus line", "line", 2),
    ToolSpec("new_stop", "Haltestelle", "New stop", "point"),
    ToolSpec("on_demand", "Rufbus-Zone", "On-demand zone", "polygon", 3),
)}
# keys that choose a tool in the window (``i`` goes back to inspecting)
TOOL_KEYS: dict[str, str] = {"1": "tree", "2": "tree_row", "3": "park", "4": "unseal", "5": "green_roof",
                             "6": "road_closure", "7": "tempo30", "8": "bus_line", "9": "new_stop", "0": "on_demand"}

_counter = itertools.count(1)


def new_id(kind: str) -> str:
    """A new intervention id, unique within a scenario (clients choose ids, as the protocol asks)."""
    return f"{kind}-d{int(time.time() * 1000):x}-{next(_counter)}"


@dataclass
class Hit:
    """What a click met: the local point (m east, north), a building id (-1 none), the nearest road edge
    within reach (-1 none)."""

    xy_local_m: tuple[float, float]
    building_id: int = -1
    edge_index: int = -1


@dataclass
class ToolSession:
    """One tool in use: :meth:`tap` for each click; ('add', intervention), ('remove', object id),
    ('pending', None) or ('ignored', reason de / en)."""

    tool: str
    headway_min: float = 20.0
    green_roofs: dict[int, str] = field(default_factory=dict)  # building id -> green roof intervention id
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def spec(self) -> ToolSpec:
        return TOOLS[self.tool]

    def tap(self, hit: Hit) -> tuple[str, Any]:
        xy = (round(float(hit.xy_local_m[0]), 2), round(float(hit.xy_local_m[1]), 2))
        kind = self.spec.input
        if kind == "point":
            if hit.building_id >= 0:
                return "ignored", "Auf einem Gebäude nicht möglich / not possible on a building"
            if self.tool == "new_stop":
                return "add", NewStop(id=new_id("stop"), xy_local_m=xy)
            return "add", Tree(id=new_id("tree"), xy_local_m=xy)
        if kind == "building":
            if hit.building_id < 0:
                return "ignored", "Kein Gebäude getroffen / no building hit"
            existing = self.green_roofs.get(hit.building_id)
            if existing:
                return "remove", existing
            return "add", GreenRoof(id=new_id("roof"), building_id=int(hit.building_id))
        if kind == "road":
            if hit.edge_index < 0:
                return "ignored", "Keine Straße in der Nähe / no road nearby"
            if self.tool == "road_closure":
                return "add", RoadClosure(id=new_id("closure"), edge_index=int(hit.edge_index))
            return "add", SpeedLimit(id=new_id("tempo30"), edge_index=int(hit.edge_index), maxspeed_kmh=30.0)
        self.points.append(xy)
        return "pending", None

    def back(self) -> None:
        """Drop the last collected point."""
        if self.points:
            self.points.pop()

    def can_finish(self) -> bool:
        return len(self.points) >= self.spec.min_points

    def finish(self) -> Any:
        """The intervention of a line or area tool (the points are used up); None with too few points."""
        if not self.can_finish() or self.spec.input not in ("line", "polygon"):
            return None
        pts, self.points = list(self.points), []
        if self.tool == "tree_row":
            return TreeRow(id=new_id("row"), line_local_m=pts, spacing_m=10.0)
        if self.tool == "park":
            return Park(id=new_id("park"), polygon_local_m=pts, tree_cover=0.3)
        if self.tool == "unseal":
            return Unseal(id=new_id("unseal"), polygon_local_m=pts)
        if self.tool == "on_demand":
            return OnDemandZone(id=new_id("zone"), polygon_local_m=pts, lead_time_min=60.0, first_hour=6, last_hour=20)
        return BusLine(id=new_id("line"), stops_local_m=pts, headway_min=self.headway_min, first_hour=6, last_hour=20)
