"""Trees, public transport stops and points of interest of the sample district.

Counts of services follow German supply ratios (rounded): one general practitioner per ~1,300
residents (Bedarfsplanungs-Richtlinie, Hausärzte 1:1,609 target, Sachsen-Anhalt actual ~1:1,300),
one pharmacy per ~4,000 (ABDA 2019: 19,075 pharmacies, 83 M people), one school per ~3,000, one
kindergarten per ~1,500, one supermarket per ~3,000 and one care home per ~6,000 residents.
Bus stops stand on main roads inside settlements, about 400 m apart (the usual catchment radius of
a bus stop, VDV-Schrift 4).
"""

from __future__ import annotations

import numpy as np
import shapely

from geodata.district import ROAD_WIDTH_M, Pois, Roads, Stops, Trees
from geodata.population import M2_PER_DWELLING, NET_TO_GROSS
from geodata.sample_buildings import Rects
from geodata.sample_network import road_lines
from geodata.sample_plan import Plan
from geodata.sample_terrain import RIVER_WIDTH_M, Valley

__all__ = ["place_trees", "place_stops", "place_pois", "STOP_SPACING_M"]

STOP_SPACING_M = 400.0
# street and park trees common in Saxony-Anhalt towns: species, height range (m), crown diameter range (m)
SPECIES = (
    ("Tilia cordata", (14.0, 22.0), (8.0, 12.0)),
    ("Acer platanoides", (12.0, 18.0), (7.0, 11.0)),
    ("Quercus robur", (15.0, 24.0), (9.0, 14.0)),
    ("Aesculus hippocastanum", (14.0, 20.0), (9.0, 13.0)),
    ("Betula pendula", (12.0, 18.0), (5.0, 8.0)),
    ("Platanus x hispanica", (15.0, 24.0), (10.0, 14.0)),
)
FRUIT = ("Malus domestica", (4.0, 7.0), (3.5, 6.0))


def _sample_along(line: np.ndarray, step_m: float, offset_m: float) -> np.ndarray:
    """Points every ``step_m`` along a polyline, offset by ``offset_m`` to its left (negative: right)."""
    seg = np.diff(line, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    s = np.arange(step_m / 2, cum[-1] - step_m / 4, step_m)
    if s.size == 0:
        return np.zeros((0, 2))
    i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    t = ((s - cum[i]) / np.maximum(seg_len[i], 1e-9))[:, None]
    tan = seg[i] / np.maximum(seg_len[i], 1e-9)[:, None]
    return line[i] + seg[i] * t + np.column_stack([-tan[:, 1], tan[:, 0]]) * offset_m


def _scatter(poly, density_per_m2: float, rng: np.random.Generator) -> np.ndarray:
    if poly.is_empty:
        return np.zeros((0, 2))
    x0, y0, x1, y1 = poly.bounds
    n = rng.poisson(density_per_m2 * (x1 - x0) * (y1 - y0))
    pts = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
    return pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]


def place_trees(plan: Plan, roads: Roads, footprints: np.ndarray, valley: Valley, rng: np.random.Generator) -> Trees:
    """Street trees on main and some residential streets, and trees in parks, estates, allotments, gardens."""
    built = shapely.union_all([z.polygon for z in plan.zones if not z.polygon.is_empty])
    share = {"secondary": 1.0, "primary": 0.8, "tertiary": 0.5, "residential": 0.3, "living_street": 0.0}
    pts: list[np.ndarray] = []
    fruit: list[np.ndarray] = []
    for g, c in zip(roads.geometry, roads.road_class):
        p = share.get(str(c), 0.0)
        if p <= 0 or rng.uniform() >= p:
            continue
        off = ROAD_WIDTH_M.get(str(c), 6.0) / 2 + 1.8
        for side in (1.0, -1.0):
            q = _sample_along(g, 13.0, side * off)
            pts.append(q[shapely.contains_xy(built, q[:, 0], q[:, 1])] if q.size else q)
    density = {"park": 1 / 260.0, "platte": 1 / 700.0, "single_family": 1 / 1100.0, "village": 1 / 1300.0,
               "gruenderzeit": 1 / 1600.0}
    for z in plan.zones:
        if z.kind in density:
            pts.append(_scatter(z.polygon, density[z.kind], rng))
        elif z.kind == "allotment":
            fruit.append(_scatter(z.polygon, 1 / 280.0, rng))
    xy = np.vstack(pts + [np.zeros((0, 2))])
    xy_fruit = np.vstack(fruit + [np.zeros((0, 2))])
    n_s, n_f = xy.shape[0], xy_fruit.shape[0]
    all_xy = np.vstack([xy, xy_fruit])
    keep = np.ones(all_xy.shape[0], dtype=bool)
    if all_xy.shape[0]:
        pts_geom = shapely.points(all_xy)
        widths = np.array([ROAD_WIDTH_M.get(str(c), 4.0) / 2 + 0.8 for c in roads.road_class])
        for geoms, dist in ((footprints, np.full(len(footprints), 2.5)),
                            (road_lines(roads.geometry), widths)):
            if len(geoms):
                tree = shapely.STRtree(shapely.buffer(geoms, dist))
                hit, _ = tree.query(pts_geom, predicate="intersects")
                keep[np.unique(hit)] = False
        d_river = np.abs(all_xy[:, 0] - valley.river_x_m(all_xy[:, 1]))
        keep &= d_river > RIVER_WIDTH_M / 2 + 3.0
        size = valley.size_m
        keep &= (all_xy[:, 0] > 1) & (all_xy[:, 1] > 1) & (all_xy[:, 0] < size - 1) & (all_xy[:, 1] < size - 1)
    kind = np.r_[np.zeros(n_s, dtype=np.int64), np.ones(n_f, dtype=np.int64)][keep]
    all_xy = all_xy[keep]
    n = all_xy.shape[0]
    sp = rng.integers(0, len(SPECIES), n)
    u = rng.uniform(size=(n, 2))
    h = np.empty(n)
    d = np.empty(n)
    species = np.empty(n, dtype=object)
    for k, (name, (h0, h1), (d0, d1)) in enumerate(SPECIES):
        m = (sp == k) & (kind == 0)
        h[m] = h0 + (h1 - h0) * u[m, 0]
        d[m] = d0 + (d1 - d0) * u[m, 1]
        species[m] = name
    m = kind == 1
    name, (h0, h1), (d0, d1) = FRUIT
    h[m] = h0 + (h1 - h0) * u[m, 0]
    d[m] = d0 + (d1 - d0) * u[m, 1]
    species[m] = name
    return Trees(
        xy_local_m=all_xy.astype(np.float64),
        height_m=h.astype(np.float32),
        crown_diameter_m=d.astype(np.float32),
        species=species,
        source_id=np.array([f"sample:tree/{i}" for i in range(1, n + 1)], dtype=object),
    )


def place_stops(plan: Plan, roads: Roads, rng: np.random.Generator) -> Stops:
    """Bus stops about 400 m apart on the main roads inside settlements, and the railway station."""
    zones = [(z.polygon, plan.settlements[z.settlement][3]) for z in plan.zones
             if z.kind not in ("allotment", "park") and not z.polygon.is_empty and z.settlement >= 0]
    rank = {"primary": 0, "secondary": 1, "tertiary": 2}
    cand, names, town = [], [], []
    for g, c, nm in zip(roads.geometry, roads.road_class, roads.name):
        if str(c) not in rank:
            continue
        q = _sample_along(g, 25.0, -(ROAD_WIDTH_M[str(c)] / 2 + 1.5))
        for poly, tname in zones:
            inside = shapely.contains_xy(poly, q[:, 0], q[:, 1]) if q.size else np.zeros(0, bool)
            if inside.any():
                cand.append(q[inside])
                names += [str(nm)] * int(inside.sum())
                town += [tname] * int(inside.sum())
    xy = np.vstack(cand + [np.zeros((0, 2))])
    chosen: list[int] = []
    for i in range(xy.shape[0]):
        if not chosen or np.min(np.hypot(*(xy[chosen] - xy[i]).T)) >= STOP_SPACING_M:
            chosen.append(i)
    out_xy = [xy[i] for i in chosen]
    seen: dict[str, int] = {}
    out_names = []
    for i in chosen:
        base = f"{town[i].split(' (')[0]}, {names[i]}"
        seen[base] = seen.get(base, 0) + 1
        out_names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
    modes = ["bus"] * len(out_xy)
    out_xy.append(np.asarray(plan.station_xy_m))
    out_names.append(f"{plan.settlements[0][3]} Hbf")
    modes.append("rail")
    n = len(out_xy)
    return Stops(
        xy_local_m=np.asarray(out_xy, dtype=np.float64).reshape(n, 2),
        name=np.asarray(out_names, dtype=object),
        mode=np.asarray(modes, dtype=object),
        source_id=np.array([f"sample:stop/{i}" for i in range(1, n + 1)], dtype=object),
    )


SURNAMES = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
            "Krüger", "Richter", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Lange", "Krause", "Lehmann", "Köhler")


def place_pois(r: Rects, use: np.ndarray, storeys: np.ndarray, footprints: np.ndarray,
               rng: np.random.Generator) -> Pois:
    """Doctors, pharmacies, schools, kindergartens, supermarkets and care homes in suitable buildings.

    Schools and kindergartens change the ``use`` (and ``storeys``, heights) of their building in place, so
    no one is counted as living there; a supermarket in an industrial hall makes it a single-storey store,
    elsewhere it takes the ground floor of a residential building; doctors, pharmacies and care homes
    share residential buildings.
    """
    res = use == "residential"
    est = float((r.length_m * r.width_m * storeys)[res].sum() * NET_TO_GROSS / M2_PER_DWELLING * 1.9)
    want = {
        "doctor": max(2, round(est / 1300)), "pharmacy": max(1, round(est / 4000)),
        "school": max(1, round(est / 3000)), "kindergarten": max(1, round(est / 1500)),
        "supermarket": max(1, round(est / 3000)), "care_home": max(1, round(est / 6000)),
    }
    pools = {
        "doctor": ("core", "gruenderzeit", "village"), "pharmacy": ("core", "gruenderzeit", "village"),
        "school": ("platte", "gruenderzeit", "village"), "kindergarten": ("single_family", "gruenderzeit", "village"),
        "supermarket": ("industry", "platte", "gruenderzeit"), "care_home": ("gruenderzeit", "platte", "village"),
    }
    taken = np.zeros(len(r), dtype=bool)
    xy, cat, names = [], [], []
    for category, n in want.items():
        ok = np.isin(r.kind, pools[category]) & ~taken & ((use == "residential") | (r.kind == "industry"))
        idx = np.nonzero(ok)[0]
        if idx.size == 0:
            continue
        pick = rng.choice(idx, size=min(n, idx.size), replace=False)
        taken[pick] = True
        for k, i in enumerate(pick, start=1):
            xy.append((r.cx[i], r.cy[i]))
            cat.append(category)
            sn = SURNAMES[int(rng.integers(len(SURNAMES)))]
            names.append({"doctor": f"Hausarztpraxis Dr. {sn}", "pharmacy": f"{sn}-Apotheke",
                          "school": f"Grundschule {k}", "kindergarten": f"Kita {sn}straße",
                          "supermarket": f"Supermarkt {k}", "care_home": f"Seniorenheim {k}"}[category])
            if category in ("school", "kindergarten"):
                use[i] = "public"
                new = min(int(storeys[i]), 4)
                drop = (int(storeys[i]) - new) * 2.8  # keep the heights in step with the storeys
                r.eave_m[i] -= drop
                r.ridge_m[i] -= drop
                storeys[i] = new
            elif category == "supermarket" and r.kind[i] == "industry":
                use[i] = "commercial"  # a single-storey store (GDR "Kaufhalle" or a discounter)
                storeys[i] = 1
                r.eave_m[i] = r.ridge_m[i] = 6.5
    n = len(xy)
    return Pois(
        xy_local_m=np.asarray(xy, dtype=np.float64).reshape(n, 2),
        category=np.asarray(cat, dtype=object),
        name=np.asarray(names, dtype=object),
        source_id=np.array([f"sample:poi/{i}" for i in range(1, n + 1)], dtype=object),
    )
