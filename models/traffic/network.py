"""The District's roads as a directed assignment network: links with length, lanes, speed, capacity by
road class (``assets/road_capacity.csv``, with sources), storage for the queue model, junction
capacities for the queue model's node model (``assets/junction_capacity.csv``), and traffic zones with
connectors.

Node numbering: zones first (``0 .. Z-1``, internal zones then external stations at the boundary), then
the District's road nodes (``Z + m``). Zones are never passed through (``first_thru_node = Z``).
Free-flow times are seconds, capacities vehicles per hour.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from geodata.district import District, Roads
from sim_kernels.assignment import LinkNetwork

__all__ = [
    "NetworkError",
    "Zones",
    "RoadNetwork",
    "road_class_table",
    "junction_capacity_table",
    "turn_delays_s",
    "define_zones",
    "build_network",
    "main_component_nodes",
    "JAM_SPACING_M",
]

# Road length one stopped vehicle occupies (car length plus gap), m: the usual 7.5 m of queue models
# (MATSim and SUMO mesoscopic defaults).
JAM_SPACING_M = 7.5


class NetworkError(ValueError):
    """The road data cannot form a valid network (German / English message naming the road)."""


@lru_cache(maxsize=1)
def road_class_table() -> dict[str, dict[str, float]]:
    """Per road class: capacity_veh_h_per_lane, default_speed_kmh, default_lanes, bpr_alpha, bpr_beta,
    heavy_share_pct, through_share_of_capacity (``assets/road_capacity.csv``)."""
    text = resources.files("assets").joinpath("road_capacity.csv").read_text(encoding="utf-8")
    out: dict[str, dict[str, float]] = {}
    for row in csv.DictReader(text.splitlines()):
        out[row["road_class"]] = {k: float(v) for k, v in row.items() if k not in ("road_class", "source")}
    return out


@lru_cache(maxsize=1)
def junction_capacity_table() -> dict[str, tuple[str, float, float]]:
    """Per road class of a junction's highest-ranked approach: (junction type, node capacity veh/h (0 for
    no junction limit), time lost turning off a link of this class, s) (``assets/junction_capacity.csv``)."""
    text = resources.files("assets").joinpath("junction_capacity.csv").read_text(encoding="utf-8")
    return {
        r["road_class"]: (r["junction_type"], float(r["node_capacity_veh_h"]), float(r["turn_delay_s"]))
        for r in csv.DictReader(text.splitlines())
    }


def turn_delays_s(
    node_xy: np.ndarray,
    link_from: np.ndarray,
    link_to: np.ndarray,
    offsets: np.ndarray,
    links: np.ndarray,
    delay_per_link_s: np.ndarray,
    min_angle_deg: float = 30.0,
) -> np.ndarray:
    """(R,) float64 time lost turning at the end of each route element: ``delay_per_link_s[link]`` where
    the route goes on into a link whose direction (node to node, ``node_xy`` (N, 2) m) differs by more than
    ``min_angle_deg``; 0 for straight on and for the last element. Routes as CSR (``offsets`` (K+1,),
    ``links`` (R,))."""
    links = np.asarray(links, dtype=np.int64)
    out = np.zeros(links.shape[0])
    if links.size < 2:
        return out
    d = node_xy[link_to[links]] - node_xy[link_from[links]]
    heading = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs((heading[1:] - heading[:-1] + np.pi) % (2 * np.pi) - np.pi) > np.radians(min_angle_deg)
    last = np.zeros(links.shape[0], bool)
    last[np.asarray(offsets)[1:] - 1] = True
    turn &= ~last[:-1]
    out[:-1] = np.where(turn, np.asarray(delay_per_link_s, dtype=np.float64)[links[:-1]], 0.0)
    return out


def _junctions(
    link_from: np.ndarray, link_to: np.ndarray, cls: np.ndarray, first_road_node: int, n_road: int
) -> tuple[np.ndarray, np.ndarray]:
    """Junctions at road nodes with three or more neighbours: link_node (L,) int32 (-1: none) for the
    ``n_road`` road links first in the arrays, and node_capacity_veh_h (J,) float64. A junction takes the
    type of its approach with the highest lane capacity; types without a limit (capacity 0) are left out."""
    table = road_class_table()
    jt = junction_capacity_table()
    a, b = link_from[:n_road].astype(np.int64), link_to[:n_road].astype(np.int64)
    pairs = np.unique(np.concatenate([np.column_stack([a, b]), np.column_stack([b, a])]), axis=0)
    n_nodes = int(max(link_to.max(initial=0), link_from.max(initial=0))) + 1
    deg = np.bincount(pairs[:, 0], minlength=n_nodes) if pairs.size else np.zeros(n_nodes, np.int64)
    lane_cap = np.array([table.get(str(c), table["road"])["capacity_veh_h_per_lane"] for c in cls[:n_road]])
    top = np.full(n_nodes, -1.0)
    np.maximum.at(top, b, lane_cap)
    node_cap = np.zeros(n_nodes)
    for lk in np.argsort(-lane_cap, kind="stable"):  # the highest-ranked approach sets the node's type
        v = int(b[lk])
        if node_cap[v] == 0 and lane_cap[lk] == top[v]:
            node_cap[v] = jt.get(str(cls[lk]), jt["road"])[1]
    is_junction = (deg >= 3) & (node_cap > 0) & (np.arange(n_nodes) >= first_road_node)
    index = np.cumsum(is_junction) - 1
    link_node = np.full(link_to.shape[0], -1, dtype=np.int32)
    hit = is_junction[b]
    link_node[:n_road][hit] = index[b[hit]]
    return link_node, node_cap[is_junction].astype(np.float64)


@dataclass(frozen=True)
class Zones:
    """Traffic zones: Z = internal + external; attach nodes are District road node indices."""

    xy_local_m: np.ndarray  # (Z, 2) float64
    external: np.ndarray  # (Z,) bool: a boundary station (through traffic)
    attach_offsets: np.ndarray  # (Z+1,) int32, CSR into attach_nodes
    attach_nodes: np.ndarray  # (A,) int32 road node indices
    building_zone: np.ndarray  # (N_buildings,) int32 zone of each building (-1: none)
    poi_zone: np.ndarray  # (P,) int32
    station_capacity_veh_h: np.ndarray  # (Z,) float64 capacity of the boundary road (0 for internal)
    station_through_share: np.ndarray  # (Z,) float64 through share of capacity at the station

    def __len__(self) -> int:
        return int(self.xy_local_m.shape[0])


def main_component_nodes(roads: Roads) -> np.ndarray:
    """(M,) bool: road nodes in the largest strongly connected part of the drivable graph (one-way
    streets respected). Zones attach only there, so that no zone hangs on an isolated piece of road."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = roads.node_xy_local_m.shape[0]
    drv = roads.drivable
    fwd = drv & (roads.oneway >= 0)
    bwd = drv & (roads.oneway <= 0)
    a = np.concatenate([roads.edge_from[fwd], roads.edge_to[bwd]])
    b = np.concatenate([roads.edge_to[fwd], roads.edge_from[bwd]])
    g = coo_matrix((np.ones(a.size), (a, b)), shape=(m, m)).tocsr()
    _, label = connected_components(g, directed=True, connection="strong")
    deg = _drivable_degree(roads)
    sizes = np.bincount(label[deg > 0], minlength=label.max() + 1) if (deg > 0).any() else np.zeros(1)
    return (label == int(np.argmax(sizes))) & (deg > 0)


def _drivable_degree(roads: Roads) -> np.ndarray:
    drv = roads.drivable
    m = roads.node_xy_local_m.shape[0]
    return np.bincount(roads.edge_from[drv], minlength=m) + np.bincount(roads.edge_to[drv], minlength=m)


def define_zones(
    district: District, *, zone_m: float = 300.0, attach: int = 2, boundary_m: float = 40.0
) -> Zones:
    """Square zones of ``zone_m`` holding buildings or POIs, each attached to its ``attach`` nearest
    junctions of the main (strongly connected) drivable network; plus one external station per drivable
    dead end of that network within ``boundary_m`` of the district edge on a road class with through
    traffic."""
    roads = district.roads
    deg = _drivable_degree(roads)
    main = main_component_nodes(roads)
    nodes = np.nonzero(main)[0]
    if nodes.size < 2:
        raise NetworkError(
            "Das Gebiet hat kein befahrbares Straßennetz / the district has no drivable road network"
        )
    w, s, e, n = district.grid.bbox_local_m
    ncols = max(1, int(np.ceil((e - w) / zone_m)))
    b = district.buildings
    if len(b):
        cxy = np.array([[fp.centroid.x, fp.centroid.y] for fp in b.footprints])
    else:
        cxy = np.zeros((0, 2))
    pxy = district.pois.xy_local_m.reshape(-1, 2)

    def cell(xy: np.ndarray) -> np.ndarray:
        c = np.clip(((xy[:, 0] - w) // zone_m).astype(np.int64), 0, ncols - 1)
        r = np.clip(((xy[:, 1] - s) // zone_m).astype(np.int64), 0, None)
        return r * ncols + c

    bc, pc = cell(cxy), cell(pxy)
    used = np.unique(np.concatenate([bc, pc]))
    zone_of_cell = {int(c): i for i, c in enumerate(used)}
    building_zone = np.array([zone_of_cell[int(c)] for c in bc], dtype=np.int32)
    poi_zone = np.array([zone_of_cell[int(c)] for c in pc], dtype=np.int32)
    xy = np.zeros((used.size, 2))
    cnt = np.zeros(used.size)
    for pts, z in ((cxy, building_zone), (pxy, poi_zone)):
        np.add.at(xy, z, pts)
        np.add.at(cnt, z, 1.0)
    xy /= np.maximum(cnt, 1.0)[:, None]
    nxy = roads.node_xy_local_m[nodes]
    attach_lists = []
    for p in xy:
        d = np.hypot(*(nxy - p).T)
        attach_lists.append(nodes[np.argsort(d, kind="stable")[:attach]])
    # external stations: dead ends at the boundary on classes that carry through traffic
    table = road_class_table()
    drv = roads.drivable
    ext_xy, ext_cap, ext_share = [], [], []
    for node in np.nonzero((deg == 1) & main)[0]:
        p = roads.node_xy_local_m[node]
        if min(p[0] - w, e - p[0], p[1] - s, n - p[1]) > boundary_m:
            continue
        edges = np.nonzero(drv & ((roads.edge_from == node) | (roads.edge_to == node)))[0]
        row = table.get(str(roads.road_class[edges[0]]), table["road"])
        if row["through_share_of_capacity"] <= 0:
            continue
        lanes = max(1, int(roads.lanes[edges[0]]) // (1 if roads.oneway[edges[0]] else 2))
        attach_lists.append(np.array([node]))
        ext_xy.append(p)
        ext_cap.append(row["capacity_veh_h_per_lane"] * lanes)
        ext_share.append(row["through_share_of_capacity"])
    n_int = xy.shape[0]
    all_xy = np.vstack([xy, np.asarray(ext_xy).reshape(-1, 2)])
    offs = np.zeros(len(attach_lists) + 1, dtype=np.int32)
    np.cumsum([len(a) for a in attach_lists], out=offs[1:])
    return Zones(
        xy_local_m=all_xy,
        external=np.arange(all_xy.shape[0]) >= n_int,
        attach_offsets=offs,
        attach_nodes=np.concatenate(attach_lists).astype(np.int32),
        building_zone=building_zone,
        poi_zone=poi_zone,
        station_capacity_veh_h=np.concatenate([np.zeros(n_int), np.asarray(ext_cap, float)]),
        station_through_share=np.concatenate([np.zeros(n_int), np.asarray(ext_share, float)]),
    )


@dataclass(frozen=True)
class RoadNetwork:
    """Directed links (L) over zones and road nodes, with their District edge and attributes."""

    net: LinkNetwork  # free_flow_time in s, capacity in veh/h
    zones: Zones
    node_xy_local_m: np.ndarray  # (N, 2) float64
    link_edge: np.ndarray  # (L,) int32 District edge, -1 for connectors
    link_dir: np.ndarray  # (L,) int8: +1 along the edge geometry, -1 against it, 0 connector
    length_m: np.ndarray  # (L,) float64
    lanes: np.ndarray  # (L,) float32, lanes in this direction (0.5: one shared lane of a two-way street)
    speed_kmh: np.ndarray  # (L,) float64
    capacity_veh_h: np.ndarray  # (L,) float64
    storage_veh: np.ndarray  # (L,) int32
    road_class: np.ndarray  # (L,) object ("connector" for connectors)
    n_edges: int  # edges of the road table the network was built from
    link_node: np.ndarray  # (L,) int32 junction at the link's end (-1: none; connectors never)
    node_capacity_veh_h: np.ndarray  # (J,) float64 throughput capacity of each junction

    @property
    def n_links(self) -> int:
        return int(self.link_edge.shape[0])


def build_network(roads: Roads, zones: Zones, *, closed: np.ndarray | None = None) -> RoadNetwork:
    """Directed links of the drivable, open edges of ``roads`` plus zone connectors.

    Raises ``NetworkError`` for non-positive or non-finite capacity, speed or length.
    """
    table = road_class_table()
    n_edges = len(roads)
    closed = np.zeros(n_edges, bool) if closed is None else np.asarray(closed, bool)
    use = roads.drivable & ~closed
    e_idx = np.nonzero(use)[0]
    cls = roads.road_class[e_idx]
    rows = [table.get(str(c), table["road"]) for c in cls]
    cap_lane = np.array([r["capacity_veh_h_per_lane"] for r in rows])
    speed = roads.maxspeed_kmh[e_idx].astype(np.float64)
    default_speed = np.array([r["default_speed_kmh"] for r in rows])
    speed = np.where(np.isfinite(speed) & (speed > 0), speed, default_speed)
    lanes_tot = roads.lanes[e_idx].astype(np.int64)
    ow = roads.oneway[e_idx]
    # a two-way carriageway shares its lanes; a single-lane two-way street gives each direction half a lane
    lanes_dir = np.where(ow != 0, np.maximum(lanes_tot, 1), np.maximum(lanes_tot / 2.0, 0.5))
    length = roads.length_m[e_idx].astype(np.float64)
    for arr, what_de, what_en in (
        (length, "Länge", "length"),
        (speed, "Geschwindigkeit", "speed"),
        (cap_lane * lanes_dir, "Kapazität", "capacity"),
    ):
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            k = int(e_idx[np.argmax(bad)])
            raise NetworkError(
                f"Straße {k} ({roads.source_id[k]}): {what_de} {arr[np.argmax(bad)]} ist nicht positiv / "
                f"road {k}: {what_en} is not positive"
            )
    fwd = ow >= 0
    bwd = ow <= 0
    z = len(zones)
    a = np.concatenate([roads.edge_from[e_idx][fwd], roads.edge_to[e_idx][bwd]]) + z
    b = np.concatenate([roads.edge_to[e_idx][fwd], roads.edge_from[e_idx][bwd]]) + z
    sel = np.concatenate([np.nonzero(fwd)[0], np.nonzero(bwd)[0]])
    link_dir = np.concatenate([np.ones(fwd.sum(), np.int8), -np.ones(bwd.sum(), np.int8)])
    # connectors, both directions, from each zone to its attach nodes
    zi = np.repeat(np.arange(z), np.diff(zones.attach_offsets))
    node = zones.attach_nodes.astype(np.int64) + z
    con = table["connector"]
    dist = np.maximum(np.hypot(*(zones.xy_local_m[zi] - roads.node_xy_local_m[zones.attach_nodes]).T), 10.0)
    n_con = 2 * zi.size
    link_from = np.concatenate([a, zi, node]).astype(np.int32)
    link_to = np.concatenate([b, node, zi]).astype(np.int32)
    length_l = np.concatenate([length[sel], dist, dist])
    speed_l = np.concatenate([speed[sel], np.full(n_con, con["default_speed_kmh"])])
    lanes_l = np.concatenate([lanes_dir[sel], np.ones(n_con)]).astype(np.float32)
    cap_l = np.concatenate([cap_lane[sel] * lanes_dir[sel], np.full(n_con, con["capacity_veh_h_per_lane"])])
    alpha = np.array([r["bpr_alpha"] for r in rows], dtype=np.float64).reshape(-1)[sel]
    beta = np.array([r["bpr_beta"] for r in rows], dtype=np.float64).reshape(-1)[sel]
    alpha_l = np.concatenate([alpha, np.full(n_con, con["bpr_alpha"])])
    beta_l = np.concatenate([beta, np.full(n_con, con["bpr_beta"])])
    fft_s = length_l / (speed_l / 3.6)
    storage = np.maximum(np.floor(length_l * lanes_l / JAM_SPACING_M), 1).astype(np.int32)
    if n_con:
        storage[-n_con:] = np.iinfo(np.int32).max // 4  # connectors stand for parking: never full
    m = roads.node_xy_local_m.shape[0]
    road_cls = np.concatenate([cls[sel], np.full(n_con, "connector", dtype=object)])
    link_node, node_cap = _junctions(link_from, link_to, road_cls, z, sel.size)
    net = LinkNetwork(
        n_nodes=z + m,
        n_zones=z,
        first_thru_node=z,
        link_from=link_from,
        link_to=link_to,
        free_flow_time=fft_s,
        capacity=cap_l.astype(np.float64),
        alpha=alpha_l.astype(np.float64),
        beta=beta_l.astype(np.float64),
    )
    return RoadNetwork(
        net=net,
        zones=zones,
        node_xy_local_m=np.vstack([zones.xy_local_m, roads.node_xy_local_m]),
        link_edge=np.concatenate([e_idx[sel], -np.ones(n_con, np.int64)]).astype(np.int32),
        link_dir=np.concatenate([link_dir, np.zeros(n_con, np.int8)]),
        length_m=length_l,
        lanes=lanes_l,
        speed_kmh=speed_l,
        capacity_veh_h=cap_l,
        storage_veh=storage,
        road_class=road_cls,
        n_edges=n_edges,
        link_node=link_node,
        node_capacity_veh_h=node_cap,
    )
