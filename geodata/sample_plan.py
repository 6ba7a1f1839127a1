"""Town plan of the sample district: zones (what is built where) and the street lines.

A plan is a list of zones (a typology and a polygon, the first zone that contains a point wins) and a
list of street lines with their OSM-style attributes. The main town follows the pattern of an
East-German small town on the Saale: a medieval core of irregular lanes around a market square inside a
ring road on the line of the old town wall, Gründerzeit perimeter blocks around it, a GDR
prefabricated-slab estate (Plattenbau) and an industrial area at the edge, single-family housing
beyond, allotments on the floodplain, and the railway with its station between the river and the town.
Larger districts add smaller towns and villages joined by country roads.

All coordinates are local metres (east, north) of the district frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from geodata.sample_terrain import Valley

__all__ = ["Street", "Zone", "Plan", "make_plan", "ZONE_KINDS", "rail_x_m"]

# Zone typologies: frontage zones get buildings along their streets, area zones are filled whole.
ZONE_KINDS = (
    "market", "core", "park", "platte", "industry", "station", "allotment", "gruenderzeit",
    "single_family", "village",
)

STREET_NAMES = (
    "Lindenstraße", "Jakobsstraße", "Marienstraße", "Herrenstraße", "Salzstraße", "Wenzelsgasse",
    "Kramerstraße", "Domplatz", "Steinweg", "Mühlgasse", "Rosengarten", "Ahornweg", "Birkenweg",
    "Eichendorffstraße", "Goethestraße", "Schillerstraße", "Fichtestraße", "Lessingstraße",
    "Gartenstraße", "Friedensstraße", "Thomas-Müntzer-Straße", "Ernst-Thälmann-Straße", "Am Weinberg",
    "Saaleblick", "Feldstraße", "Wiesenweg", "Bergstraße", "Kirchgasse", "Schulstraße", "Am Anger",
)


@dataclass
class Street:
    """One street line before noding. ``xy`` is (k, 2) local metres."""

    xy: np.ndarray
    road_class: str
    name: str
    lanes: int = 2
    maxspeed_kmh: float = 50.0
    oneway: int = 0


@dataclass
class Zone:
    kind: str
    polygon: Polygon
    settlement: int  # index of the settlement it belongs to, -1 for none


@dataclass
class Plan:
    zones: list[Zone] = field(default_factory=list)
    streets: list[Street] = field(default_factory=list)
    railway: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    station_xy_m: tuple[float, float] = (0.0, 0.0)
    market_angle_rad: float = 0.0
    # churches of the smaller towns and villages: (x, y, angle of the nave in rad, "town" or "village")
    churches: list[tuple[float, float, float, str]] = field(default_factory=list)
    settlements: list[tuple[float, float, float, str]] = field(default_factory=list)  # x, y, radius, name


def rail_x_m(valley: Valley, y: np.ndarray) -> np.ndarray:
    """x of the railway at northing ``y``: parallel to the river, 300 m east of its mean course,
    following a damped copy of its meanders so that it never comes closer than ~250 m."""
    x_mean = valley.centre_xy_m[0] - valley.river_offset_m
    return x_mean + 300.0 + 0.6 * (valley.river_x_m(y) - x_mean)


def _wiggle(a: tuple[float, float], b: tuple[float, float], rng: np.random.Generator, *, amp_m: float,
            step_m: float = 60.0) -> np.ndarray:
    """Polyline from a to b with smooth lateral jitter (ends fixed)."""
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    length = float(np.hypot(*(b_ - a_)))
    n = max(int(length // step_m), 1)
    t = np.linspace(0.0, 1.0, n + 1)
    pts = a_[None, :] + t[:, None] * (b_ - a_)[None, :]
    if n > 1 and amp_m > 0:
        normal = np.array([-(b_ - a_)[1], (b_ - a_)[0]]) / max(length, 1e-9)
        off = rng.normal(0.0, amp_m, n + 1)
        off = np.convolve(off, np.ones(3) / 3.0, mode="same") * np.sin(np.pi * t)
        pts = pts + off[:, None] * normal[None, :]
    return pts


def _ring(c: tuple[float, float], r: float, rng: np.random.Generator, *, n: int = 20, jitter: float = 0.05) -> np.ndarray:
    ang = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False) + rng.uniform(0, 2 * np.pi / n)
    rr = r * (1.0 + rng.uniform(-jitter, jitter, n))
    pts = np.column_stack([c[0] + rr * np.cos(ang), c[1] + rr * np.sin(ang)])
    return np.vstack([pts, pts[:1]])


def _rotated_rect(c: tuple[float, float], w: float, h: float, angle_rad: float) -> Polygon:
    ca, sa = np.cos(angle_rad), np.sin(angle_rad)
    local = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    rot = local @ np.array([[ca, sa], [-sa, ca]])
    return Polygon(rot + np.asarray(c))


def _grid_lines(region: Polygon, c: tuple[float, float], angle_rad: float, sx: float, sy: float,
                rng: np.random.Generator, *, jitter: float = 0.15) -> list[np.ndarray]:
    """Street lines of a rotated grid (spacings sx along the angle, sy across) clipped to ``region``."""
    if region.is_empty:
        return []
    minx, miny, maxx, maxy = region.bounds
    r = float(np.hypot(maxx - minx, maxy - miny)) / 2 + max(sx, sy)
    mx, my = (minx + maxx) / 2, (miny + maxy) / 2
    ca, sa = np.cos(angle_rad), np.sin(angle_rad)
    u = np.array([ca, sa])
    v = np.array([-sa, ca])
    # grid positions anchored at the settlement centre so that neighbouring zones line up
    off = np.array([mx - c[0], my - c[1]])
    lines = []
    for axis, other, s in ((u, v, sy), (v, u, sx)):
        k0 = int(np.floor((off @ other - r) / s))
        k1 = int(np.ceil((off @ other + r) / s))
        for k in range(k0, k1 + 1):
            d = (k + rng.uniform(-jitter, jitter)) * s
            p0 = np.asarray(c) + other * d + axis * ((off @ axis) - r)
            p1 = np.asarray(c) + other * d + axis * ((off @ axis) + r)
            lines.append(LineString([p0, p1]))
    clipped = shapely.intersection(np.array(lines, dtype=object), region.buffer(2.0))
    out: list[np.ndarray] = []
    for g in clipped:
        for part in getattr(g, "geoms", [g]):
            if isinstance(part, LineString) and part.length > 25.0:
                out.append(np.asarray(part.coords)[:, :2])
    return out


def _main_town(plan: Plan, valley: Valley, rng: np.random.Generator, idx: int, radius_m: float) -> None:
    """Core, ring, Gründerzeit, Plattenbau, industry, station, allotments and houses of the main town."""
    cx, cy = valley.centre_xy_m
    c = (cx, cy)
    size = valley.size_m
    names = iter(rng.permutation(STREET_NAMES).tolist() * 40)
    theta = float(rng.uniform(-0.15, 0.15))
    market = _rotated_rect(c, 84.0, 58.0, theta)
    ring = _ring(c, 250.0, rng, n=22, jitter=0.04)
    core = Polygon(ring)
    ry = np.linspace(-50.0, size + 50.0, max(int(size // 25), 20))
    east_of_rail = Polygon(
        np.vstack([np.column_stack([rail_x_m(valley, ry) + 30.0, ry]),
                   [[size + 4000.0, size + 50.0], [size + 4000.0, -50.0]]])
    )
    park = Polygon([c] + [(cx + 430 * np.cos(a), cy + 430 * np.sin(a)) for a in np.radians(np.linspace(195, 250, 8))])
    park = park.difference(core)
    platte = _rotated_rect((cx + 560.0, cy - 620.0), 520.0, 380.0, 0.21)
    industry = _rotated_rect((cx - 130.0, cy + 800.0), 420.0, 300.0, -0.1).intersection(east_of_rail)
    ys = np.linspace(cy - 800.0, cy + 330.0, 30)
    allot = Polygon(np.vstack([
        np.column_stack([valley.river_x_m(ys) + 70.0, ys]),
        np.column_stack([rail_x_m(valley, ys[::-1]) - 30.0, ys[::-1]]),
    ]))
    station_y = cy + 430.0
    station_x = float(rail_x_m(valley, np.array([station_y]))[0]) + 32.0
    station = _rotated_rect((station_x + 45.0, station_y), 130.0, 150.0, 0.0)
    gz = Polygon(_ring(c, 560.0, rng, n=26, jitter=0.06)).intersection(east_of_rail)
    town = Polygon(_ring(c, radius_m, rng, n=20, jitter=0.12)).intersection(east_of_rail)
    for kind, poly in (("market", market), ("core", core), ("park", park), ("platte", platte),
                       ("industry", industry), ("station", station), ("allotment", allot),
                       ("gruenderzeit", gz), ("single_family", town)):
        plan.zones.append(Zone(kind, poly, idx))

    S = plan.streets
    mk = np.asarray(market.exterior.coords)
    S.append(Street(mk, "living_street", "Markt", 1, 10.0, 0))
    S.append(Street(ring, "secondary", "Ring", 2, 50.0, 0))
    # medieval lanes from the market's corners and sides out to the ring, and one inner loop
    # corners and the east and west sides; church and town hall stand north and south of the market
    sides = (mk[:4] + np.roll(mk[:4], -1, axis=0)) / 2
    anchors = np.vstack([mk[:4], sides[np.argsort(sides[:, 0])[[0, -1]]]])
    for a in anchors:
        d = a - np.asarray(c)
        ang = np.arctan2(d[1], d[0]) + rng.uniform(-0.25, 0.25)
        end = (cx + 262.0 * np.cos(ang), cy + 262.0 * np.sin(ang))
        S.append(Street(_wiggle(tuple(a), end, rng, amp_m=9.0, step_m=35.0), "residential", next(names), 1, 20.0,
                        int(rng.choice([0, 1]))))
    inner = _ring(c, 150.0, rng, n=14, jitter=0.12)
    S.append(Street(inner, "residential", next(names), 1, 20.0, 0))
    # main roads: west-east across the river, south-north past the town, plus the station road
    w_y, e_y = cy - 90.0 + rng.uniform(-40, 40), cy + 60.0 + rng.uniform(-40, 40)
    ring_pts = ring[:-1]
    west_pt = tuple(ring_pts[np.argmin(ring_pts[:, 0])])
    east_pt = tuple(ring_pts[np.argmax(ring_pts[:, 0])])
    south_pt = tuple(ring_pts[np.argmin(ring_pts[:, 1])])
    north_pt = tuple(ring_pts[np.argmax(ring_pts[:, 1])])
    S.append(Street(_wiggle((-5.0, w_y), west_pt, rng, amp_m=15.0, step_m=120.0), "primary", "B 87", 2, 50.0, 0))
    S.append(Street(_wiggle(east_pt, (size + 5.0, e_y), rng, amp_m=20.0, step_m=120.0), "primary", "B 87", 2, 50.0, 0))
    S.append(Street(_wiggle((cx + 90.0, -5.0), south_pt, rng, amp_m=20.0, step_m=120.0), "primary", "B 180", 2, 50.0, 0))
    S.append(Street(_wiggle(north_pt, (cx + 260.0, size + 5.0), rng, amp_m=20.0, step_m=120.0), "primary", "B 180", 2,
                    50.0, 0))
    S.append(Street(_wiggle(tuple(ring_pts[np.argmax(ring_pts[:, 1] - ring_pts[:, 0])]), (station_x + 22.0, station_y),
                            rng, amp_m=6.0), "tertiary", "Bahnhofstraße", 2, 50.0, 0))
    # Plattenbau: a perimeter road and access roads between the slab rows; industry: a loop
    pr = np.asarray(platte.exterior.coords)
    S.append(Street(pr, "tertiary", "Straße der Freundschaft", 2, 50.0, 0))
    S.append(Street(_wiggle(east_pt, tuple((pr[2] + pr[3]) / 2), rng, amp_m=5.0), "tertiary", "Salztor", 2, 50.0, 0))
    for t in (0.34, 0.67):
        a, b = pr[0] + t * (pr[3] - pr[0]), pr[1] + t * (pr[2] - pr[1])
        S.append(Street(np.array([a, b]), "residential", next(names), 2, 30.0, 0))
    if not industry.is_empty:
        ind = industry if isinstance(industry, Polygon) else max(industry.geoms, key=lambda g: g.area)
        ir = np.asarray(ind.exterior.coords)
        S.append(Street(ir, "unclassified", "Industriestraße", 2, 50.0, 0))
        mid = np.asarray(ind.centroid.coords)[0]
        S.append(Street(np.array([mid - [200.0, 0.0], mid + [200.0, 0.0]]), "service", "Gewerbepark", 2, 30.0, 0))
    # Gründerzeit blocks and single-family grids in sectors, each with its own orientation
    taken = shapely.union_all([market, core, park, platte, industry, station, allot])
    gz_free = gz.difference(taken.buffer(12.0))
    for s in _grid_lines(gz_free, c, theta + 0.05, 105.0, 95.0, rng):
        S.append(Street(s, "residential", next(names), 2, 30.0, 0))
    sf_free = town.difference(taken.buffer(12.0).union(gz))
    for k in range(5):
        a0, a1 = 2 * np.pi * k / 5, 2 * np.pi * (k + 1) / 5
        sector = Polygon([c] + [(cx + 2 * radius_m * np.cos(a), cy + 2 * radius_m * np.sin(a))
                                for a in np.linspace(a0, a1, 6)])
        region = sf_free.intersection(sector)
        for s in _grid_lines(region, c, float(rng.uniform(0, np.pi)), 125.0, 58.0, rng, jitter=0.05):
            S.append(Street(s, "residential", next(names), 2, 30.0, 0))
    # footpaths: through the park, along the river, across the allotments
    pk = park.buffer(-20.0)
    if not pk.is_empty:
        (x0, y0, x1, y1) = pk.bounds
        for line in (LineString([(x0, y0), (x1, y1)]), LineString([(x0, y1), (x1, y0)])):
            cut = line.intersection(park.buffer(4.0))
            for part in getattr(cut, "geoms", [cut]):
                if isinstance(part, LineString) and part.length > 20:
                    S.append(Street(np.asarray(part.coords), "footway", "Bürgergarten", 1, 5.0, 0))
    yb = np.linspace(-5.0, size + 5.0, max(int(size // 40), 3))
    S.append(Street(np.column_stack([valley.river_x_m(yb) + 45.0, yb]), "path", "Saale-Radweg", 1, 5.0, 0))
    am = allot.centroid
    S.append(Street(np.array([[valley.river_x_m(np.array([am.y]))[0] + 45.0, am.y],
                              [rail_x_m(valley, np.array([am.y]))[0] - 20.0, am.y]]), "footway", "Kleingartenanlage", 1,
                    5.0, 0))
    plan.station_xy_m = (station_x, station_y)
    plan.market_angle_rad = theta
    plan.settlements.append((cx, cy, radius_m, "Naumburg (Saale)"))


VILLAGE_NAMES = (
    "Almrich", "Grochlitz", "Flemmingen", "Boblas", "Roßbach", "Eulau", "Schellsitz", "Großjena", "Kleinjena",
    "Henne", "Meyhen", "Wethau", "Mertendorf", "Crölpa", "Löbitz", "Janisroda", "Prießnitz", "Punkewitz",
    "Possenhain", "Wettaburg", "Gieckau", "Seidewitz", "Taugwitz", "Abtlöbnitz", "Spielberg", "Tultewitz",
)


TOWN_NAMES = ("Bad Kösen", "Schulpforte", "Freyburg", "Goseck", "Laucha", "Stößen", "Osterfeld", "Teuchern")


def _sites(plan: Plan, valley: Valley, rng: np.random.Generator, spacing: float, clear_m: float) -> np.ndarray:
    """Jittered lattice sites off the floodplain and the steep slopes, ``clear_m`` from existing settlements."""
    size = valley.size_m
    ks = np.arange(spacing / 2, size, spacing)
    gx, gy = np.meshgrid(ks, ks)
    pts = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-0.3, 0.3, (gx.size, 2)) * spacing
    d_river = pts[:, 0] - valley.river_x_m(pts[:, 1])
    ok = (d_river > 560.0) | (d_river < -700.0)
    ok &= (pts[:, 0] > 150) & (pts[:, 0] < size - 150) & (pts[:, 1] > 150) & (pts[:, 1] < size - 150)
    for x, y, r, _ in plan.settlements:
        ok &= np.hypot(pts[:, 0] - x, pts[:, 1] - y) > r + clear_m
    return pts[ok]


def _bank_side(valley: Valley, c: tuple[float, float]) -> Polygon:
    """The land on ``c``'s side of the river beyond its floodplain (320 m east, 540 m west of the river)."""
    size = valley.size_m
    ys = np.linspace(-100.0, size + 100.0, 120)
    east = c[0] > float(valley.river_x_m(np.array([c[1]]))[0])
    x = valley.river_x_m(ys) + (320.0 if east else -540.0)
    far = size + 5000.0 if east else -5000.0
    return Polygon(np.vstack([np.column_stack([x, ys]), [[far, ys[-1]], [far, ys[0]]]]))


def _small_towns(plan: Plan, valley: Valley, rng: np.random.Generator) -> None:
    """Smaller towns: a walled core round a market, Gründerzeit blocks and single-family estates."""
    names = iter(TOWN_NAMES)
    for p in _sites(plan, valley, rng, 3400.0, 1500.0)[:len(TOWN_NAMES)]:
        idx = len(plan.settlements)
        radius = float(rng.uniform(800.0, 1050.0))
        name = next(names)
        c = (float(p[0]), float(p[1]))
        plan.settlements.append((c[0], c[1], radius, name))
        theta = float(rng.uniform(0, np.pi))
        market = _rotated_rect(c, 60.0, 44.0, theta)
        ring = _ring(c, 160.0, rng, n=16, jitter=0.05)
        core = Polygon(ring)
        gz = Polygon(_ring(c, 380.0, rng, n=20, jitter=0.08))
        town = Polygon(_ring(c, radius, rng, n=18, jitter=0.15)).intersection(_bank_side(valley, c))
        gz = gz.intersection(town)
        for kind, poly in (("market", market), ("core", core), ("gruenderzeit", gz), ("single_family", town)):
            plan.zones.append(Zone(kind, poly, idx))
        S = plan.streets
        mk = np.asarray(market.exterior.coords)
        S.append(Street(mk, "living_street", f"Markt {name}", 1, 10.0, 0))
        # the town church faces the market from the north side, across the market street
        off = np.array([-np.sin(theta), np.cos(theta)]) * (22.0 + 4.0 + 12.0)
        plan.churches.append((c[0] + off[0], c[1] + off[1], theta, "town"))
        S.append(Street(ring, "secondary", f"Ring {name}", 2, 50.0, 0))
        for a in mk[:4]:
            d = a - np.asarray(c)
            ang = np.arctan2(d[1], d[0]) + rng.uniform(-0.2, 0.2)
            end = (c[0] + 170.0 * np.cos(ang), c[1] + 170.0 * np.sin(ang))
            S.append(Street(_wiggle(tuple(a), end, rng, amp_m=6.0, step_m=30.0), "residential",
                            str(rng.choice(STREET_NAMES)), 1, 20.0, int(rng.choice([0, 1]))))
        for s in _grid_lines(gz.difference(core), c, theta, 100.0, 90.0, rng):
            S.append(Street(s, "residential", str(rng.choice(STREET_NAMES)), 2, 30.0, 0))
        for k in range(4):
            a0, a1 = np.pi / 2 * k, np.pi / 2 * (k + 1)
            sector = Polygon([c] + [(c[0] + 2 * radius * np.cos(a), c[1] + 2 * radius * np.sin(a))
                                    for a in np.linspace(a0, a1, 5)])
            region = town.difference(gz).intersection(sector)
            for s in _grid_lines(region, c, float(rng.uniform(0, np.pi)), 120.0, 56.0, rng, jitter=0.05):
                S.append(Street(s, "residential", str(rng.choice(STREET_NAMES)), 2, 30.0, 0))
        ring_pts = ring[:-1]
        for k in range(4):  # through roads leave the ring towards the four quarters
            a = ring_pts[int(np.argmax(ring_pts @ np.array([np.cos(k * np.pi / 2), np.sin(k * np.pi / 2)])))]
            end = np.asarray(c) + (a - np.asarray(c)) / np.hypot(*(a - np.asarray(c))) * radius * 1.05
            S.append(Street(_wiggle(tuple(a), tuple(end), rng, amp_m=10.0), "tertiary", f"{name}er Straße", 2, 50.0,
                            0))


def _villages(plan: Plan, valley: Valley, rng: np.random.Generator) -> None:
    """Villages on a jittered lattice: a main street, side lanes, and houses and farmsteads along them."""
    names = iter(list(VILLAGE_NAMES) * 20)
    for p in _sites(plan, valley, rng, 1000.0, 420.0):
        idx = len(plan.settlements)
        big = rng.uniform() < 0.3
        r = float(rng.uniform(420, 600) if big else rng.uniform(260, 420))
        name = next(names)
        plan.settlements.append((float(p[0]), float(p[1]), r, name))
        ang = float(rng.uniform(0, np.pi))
        d = np.array([np.cos(ang), np.sin(ang)])
        a, b = p - d * r * 1.1, p + d * r * 1.1
        main = _wiggle(tuple(a), tuple(b), rng, amp_m=12.0, step_m=50.0)
        lines = [Street(main, "tertiary", f"Dorfstraße {name}", 2, 50.0, 0)]
        # the village church stands beside the main street, a little off the middle
        k = len(main) // 2
        tan = main[k + 1] - main[k]
        tan = tan / max(float(np.hypot(*tan)), 1e-9)
        site = main[k] + tan * 8.0 + np.array([-tan[1], tan[0]]) * 16.0
        plan.churches.append((float(site[0]), float(site[1]), float(np.arctan2(tan[1], tan[0])), "village"))
        n_side = int(rng.integers(5, 11 if big else 8))
        for _ in range(n_side):
            t = rng.uniform(-0.75, 0.75)
            start = p + d * r * t
            side = np.array([-d[1], d[0]]) * rng.choice([-1.0, 1.0])
            turn = rng.uniform(-0.5, 0.5)
            dirn = side * np.cos(turn) + d * np.sin(turn)
            end = start + dirn * rng.uniform(0.5, 1.0) * r
            lines.append(Street(_wiggle(tuple(start), tuple(end), rng, amp_m=8.0, step_m=40.0), "residential",
                                str(rng.choice(STREET_NAMES)), 2, 30.0, 0))
        plan.streets.extend(lines)
        # the village is the land along its streets, not the whole circle around it
        along = shapely.union_all([LineString(s.xy).buffer(75.0) for s in lines])
        plan.zones.append(Zone("village", along.intersection(Point(p).buffer(r * 1.1, 16)), idx))


def _country_roads(plan: Plan, valley: Valley, rng: np.random.Generator) -> None:
    """Join every settlement to its nearest neighbours (a minimum spanning tree plus short extra links)."""
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import distance_matrix

    s = np.array([(x, y) for x, y, _, _ in plan.settlements])
    if len(s) < 2:
        return
    dm = distance_matrix(s, s)
    mst = minimum_spanning_tree(dm).toarray()
    pairs = {(min(i, j), max(i, j)) for i, j in zip(*np.nonzero(mst))}
    for i in range(len(s)):
        order = np.argsort(dm[i])[1:3]
        for j in order:
            if dm[i, j] < 1900.0:
                pairs.add((min(i, int(j)), max(i, int(j))))
    for i, j in sorted(pairs):
        cls = "secondary" if (i == 0 or j == 0) else "tertiary"
        a, b = s[i].copy(), s[j].copy()
        # enter a town only to its outer streets, never across the old town
        if plan.settlements[i][2] >= 700.0:
            a = a + (b - a) / max(float(np.hypot(*(b - a))), 1e-9) * plan.settlements[i][2] * 0.8
        if plan.settlements[j][2] >= 700.0:
            b = b + (a - b) / max(float(np.hypot(*(a - b))), 1e-9) * plan.settlements[j][2] * 0.8
        line = _wiggle(tuple(a), tuple(b), rng, amp_m=35.0, step_m=150.0)
        plan.streets.append(Street(line, cls, f"K {2200 + i * 7 + j}", 2, 100.0, 0))


def make_plan(valley: Valley, rng: np.random.Generator) -> Plan:
    """The whole district's plan: the main town, villages and country roads (for districts > 3 km)."""
    plan = Plan()
    _main_town(plan, valley, rng, 0, 1150.0 if valley.size_m <= 3000.0 else 1700.0)
    if valley.size_m > 3000.0:
        _small_towns(plan, valley, rng)
        _villages(plan, valley, rng)
        _country_roads(plan, valley, rng)
    ys = np.arange(-20.0, valley.size_m + 40.0, 20.0)
    plan.railway = np.column_stack([rail_x_m(valley, ys), ys])
    bounds = box(0.0, 0.0, valley.size_m, valley.size_m)
    for z in plan.zones:
        z.polygon = z.polygon.intersection(bounds)
    return plan
