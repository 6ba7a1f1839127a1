"""The road graph of the sample district: street lines noded into a connected Roads graph.

Street lines cross wherever the plan draws them; noding splits every line at every crossing so that
edges share a node exactly at junctions (the same coordinate, bit for bit). Short dangling stubs left
by clipping are removed, and components cut off from the main network get a short link to it, first
for the drivable network and then for everything, so that routing reaches every street.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from shapely.geometry import LineString, MultiLineString, Polygon, box

from geodata.district import DRIVABLE_CLASSES, Roads
from geodata.sample_plan import Street

__all__ = ["streets_to_roads", "road_lines", "RURAL_SPEED_KMH"]

# Speed limits outside built-up areas (StVO § 3: 100 km/h on country roads, 50 km/h inside towns).
RURAL_SPEED_KMH = 100.0


def road_lines(geometry: tuple[np.ndarray, ...] | list[np.ndarray]) -> np.ndarray:
    """(L,) shapely LineStrings of polylines (k, 2), built in one vectorised call."""
    if not len(geometry):
        return np.zeros(0, dtype=object)
    lens = np.array([len(g) for g in geometry])
    return shapely.linestrings(np.vstack(geometry), indices=np.repeat(np.arange(lens.size), lens))


def _node(lines: list[np.ndarray], bbox: Polygon) -> tuple[list[np.ndarray], np.ndarray]:
    """Noded pieces (k, 2) and, for each, the index of the line it came from."""
    geoms = shapely.intersection(np.array([LineString(x) for x in lines], dtype=object), bbox)
    parts = [p for g in geoms for p in getattr(g, "geoms", [g]) if isinstance(p, LineString) and not p.is_empty]
    try:
        noded = shapely.node(MultiLineString(parts))
    except shapely.errors.GEOSException:
        # nearly coincident lines can defeat floating-point noding; snap-rounding noding (an overlay on
        # a 1 mm grid) always converges
        noded = shapely.union_all(np.array(parts, dtype=object), grid_size=0.001)
    pieces = [g for g in getattr(noded, "geoms", [noded]) if g.length > 0.01]
    src_tree = shapely.STRtree(geoms)
    mids = shapely.line_interpolate_point(np.array(pieces, dtype=object), 0.5, normalized=True)
    src = src_tree.query_nearest(mids, return_distance=False, all_matches=False)[1]
    return [np.asarray(p.coords)[:, :2] for p in pieces], np.asarray(src, dtype=np.int64)


def _graph(pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node coordinates (M, 2) and edge endpoints (L,), (L,) of pieces keyed by their exact end points."""
    ends = np.array([[p[0, 0], p[0, 1], p[-1, 0], p[-1, 1]] for p in pieces]).reshape(-1, 2)
    _, first, inv = np.unique(np.round(ends, 3), axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1, 2)
    return ends[first], inv[:, 0], inv[:, 1]


def _drop_stubs(pieces: list[np.ndarray], src: np.ndarray, min_m: float = 8.0) -> tuple[list[np.ndarray], np.ndarray]:
    for _ in range(2):
        _, a, b = _graph(pieces)
        deg = np.bincount(np.concatenate([a, b]), minlength=int(max(a.max(), b.max())) + 1)
        length = np.array([np.hypot(*np.diff(p, axis=0).T).sum() for p in pieces])
        keep = ~(((deg[a] == 1) | (deg[b] == 1)) & (length < min_m))
        pieces = [p for p, k in zip(pieces, keep) if k]
        src = src[keep]
    return pieces, src


def _links(pieces: list[np.ndarray], mask: np.ndarray) -> list[np.ndarray]:
    """Straight links that join every component of the pieces under ``mask`` to the largest one."""
    sel = [p for p, m in zip(pieces, mask) if m]
    if not sel:
        return []
    nodes, a, b = _graph(sel)
    n = nodes.shape[0]
    g = coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    ncomp, label = connected_components(g, directed=False)
    if ncomp <= 1:
        return []
    length = np.array([np.hypot(*np.diff(p, axis=0).T).sum() for p in sel])
    comp_len = np.bincount(label[a], weights=length, minlength=ncomp)
    main = int(np.argmax(comp_len))
    tree = cKDTree(nodes[label == main])
    main_nodes = nodes[label == main]
    out = []
    for c in range(ncomp):
        if c == main:
            continue
        pts = nodes[label == c]
        d, j = tree.query(pts)
        k = int(np.argmin(d))
        if d[k] > 1e-6:
            out.append(np.vstack([pts[k], main_nodes[j[k]]]))
    return out


def streets_to_roads(streets: list[Street], *, size_m: float, built_up: Polygon) -> Roads:
    """Node the street lines of a plan into the Roads graph of a square district of ``size_m``.

    Country-road classes (primary, secondary, tertiary) outside ``built_up`` get the rural speed limit.
    """
    bbox = box(0.0, 0.0, size_m, size_m)
    lines = [s.xy for s in streets]
    attrs = list(streets)
    pieces, src = _node(lines, bbox)
    pieces, src = _drop_stubs(pieces, src)
    drivable = np.array([attrs[i].road_class in DRIVABLE_CLASSES for i in src])
    for cls in ("residential", "footway"):
        for _ in range(6):  # a link may cross other streets; re-noding keeps it connected
            mask = drivable if cls == "residential" else np.ones(len(pieces), bool)
            links = _links(pieces, mask)
            if not links:
                break
            for ln in links:
                attrs.append(Street(ln, cls, "Verbindungsweg" if cls == "footway" else "Zufahrt",
                                    2 if cls != "footway" else 1, 30.0 if cls != "footway" else 5.0, 0))
                lines.append(ln)
            pieces, src = _node(lines, bbox)
            drivable = np.array([attrs[i].road_class in DRIVABLE_CLASSES for i in src])
    # whatever is still cut off (possible after snap-rounding) is joined by direct links between nodes
    for cls in ("residential", "footway"):
        for _ in range(6):
            mask = drivable if cls == "residential" else np.ones(len(pieces), bool)
            links = _links(pieces, mask)
            if not links:
                break
            for ln in links:
                attrs.append(Street(ln, cls, "Verbindungsweg" if cls == "footway" else "Zufahrt",
                                    2 if cls != "footway" else 1, 30.0 if cls != "footway" else 5.0, 0))
            pieces = pieces + links
            src = np.concatenate([src, np.arange(len(attrs) - len(links), len(attrs))])
            drivable = np.array([attrs[i].road_class in DRIVABLE_CLASSES for i in src])
    nodes, a, b = _graph(pieces)
    loops = a == b
    if loops.any():  # a closed street with one junction: split it in two halves at its middle vertex
        extra_p: list[np.ndarray] = []
        extra_s: list[int] = []
        for i in np.nonzero(loops)[0]:
            p = pieces[i]
            if len(p) < 3:
                continue
            m = max(len(p) // 2, 1)
            extra_p += [p[: m + 1], p[m:]]
            extra_s += [int(src[i])] * 2
        pieces = [p for p, lp in zip(pieces, loops) if not lp] + extra_p
        src = np.concatenate([src[~loops], np.array(extra_s, dtype=np.int64)])
        nodes, a, b = _graph(pieces)
    cls = np.array([attrs[i].road_class for i in src], dtype=object)
    speed = np.array([attrs[i].maxspeed_kmh for i in src], dtype=np.float32)
    mids = shapely.points([p[len(p) // 2] for p in pieces])
    rural = ~shapely.contains(built_up, mids) & np.isin(cls, ["primary", "secondary", "tertiary"])
    speed[rural] = RURAL_SPEED_KMH
    # snap the geometry ends to the node coordinates so that edges share their junction exactly
    geometry = []
    for p, i, j in zip(pieces, a, b):
        q = p.copy()
        q[0], q[-1] = nodes[i], nodes[j]
        geometry.append(q)
    length = np.array([np.hypot(*np.diff(q, axis=0).T).sum() for q in geometry])
    return Roads(
        node_xy_local_m=nodes.astype(np.float64),
        node_source_id=np.full(nodes.shape[0], -1, dtype=np.int64),
        edge_from=a.astype(np.int32),
        edge_to=b.astype(np.int32),
        length_m=length.astype(np.float64),
        road_class=cls,
        lanes=np.array([attrs[i].lanes for i in src], dtype=np.int16),
        maxspeed_kmh=speed,
        oneway=np.array([attrs[i].oneway for i in src], dtype=np.int8),
        name=np.array([attrs[i].name for i in src], dtype=object),
        source_id=np.array([f"sample:street/{i}" for i in src], dtype=object),
        geometry=tuple(geometry),
    )
