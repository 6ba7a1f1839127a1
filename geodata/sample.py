"""The embedded sample district: a procedural East-German small town in the Saale valley at Naumburg.

``build_sample_district`` is seeded and deterministic. It places a 2 x 2 km (by default) district at
Naumburg's real position (about 11.81 E, 51.15 N) in ETRS89 / UTM 32N (EPSG:25832), with the local
origin at the south-west corner, and builds it through ``geodata.build.build_district`` like any
imported district. Districts larger than 3 km add villages and country roads around the town
(up to 20 x 20 km for benchmarks).

The pieces: ``sample_terrain`` (valley and river), ``sample_plan`` (zones and streets),
``sample_network`` (the road graph), ``sample_buildings`` (typologies), ``sample_amenities`` (trees,
stops, points of interest) and ``population`` (dwellings, residents, ages).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString

from geodata.build import build_district, grid_for_bbox
from geodata.crs import LocalFrame
from geodata.district import (
    ROAD_WIDTH_M,
    SURFACE,
    Buildings,
    District,
    DistrictFeatures,
    LandCover,
    Roads,
    SourceInfo,
)
from geodata.population import assign_residents, estimate_dwellings
from geodata.sample_amenities import place_pois, place_stops, place_trees
from geodata.sample_buildings import (
    Rects,
    concat_rects,
    fill_allotments,
    fill_industry,
    fill_platte,
    frontage,
    rect_corners,
    single,
)
from geodata.sample_network import road_lines, streets_to_roads
from geodata.sample_plan import Plan, make_plan
from geodata.sample_terrain import RIVER_WIDTH_M, Valley, make_valley, terrain_grid

__all__ = ["build_sample_district", "NAUMBURG_LONLAT", "SampleError"]

# Naumburg (Saale), market square (Marktplatz): 11.8095 E, 51.1545 N.
NAUMBURG_LONLAT = (11.8095, 51.1545)
EPSG = 25832
MAX_SLOPE = 0.35  # steepest ground (rise over run) that is built on

_FRONTAGE_KINDS = ("core", "gruenderzeit", "single_family", "village")
# the zone kinds each building typology may stand in
_ALLOWED_ZONES = {
    "core": ("core",), "gruenderzeit": ("gruenderzeit",), "single_family": ("single_family",),
    "village": ("village",), "garage": ("single_family", "village"), "shed": ("single_family", "village"),
    "barn": ("village",), "stable": ("village",), "platte": ("platte",), "industry": ("industry",),
    "hut": ("allotment",),
}
# land cover painted over each zone (surface name, OSM-style tag)
_ZONE_COVER = {
    "market": ("paving", "place=market"), "core": ("paving", "landuse=residential"),
    "park": ("grass", "leisure=park"), "platte": ("grass", "landuse=residential"),
    "industry": ("paving", "landuse=industrial"), "station": ("paving", "landuse=railway"),
    "allotment": ("garden", "landuse=allotments"), "gruenderzeit": ("garden", "landuse=residential"),
    "single_family": ("garden", "landuse=residential"), "village": ("garden", "landuse=residential"),
}


class SampleError(ValueError):
    """Invalid parameters of the sample district."""


def _frame(size_m: float) -> LocalFrame:
    c = LocalFrame.for_lonlat(*NAUMBURG_LONLAT, epsg=EPSG)
    return LocalFrame(EPSG, float(np.round(c.origin_e_m - size_m / 2)), float(np.round(c.origin_n_m - size_m / 2)))


def zone_index(plan: Plan, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n,) index of the first zone of ``plan`` containing each point, -1 where none does."""
    out = np.full(np.shape(x), -1, dtype=np.int64)
    for i in range(len(plan.zones) - 1, -1, -1):
        poly = plan.zones[i].polygon
        if poly.is_empty:
            continue
        out[shapely.contains_xy(poly, x, y)] = i
    return out


def _specials(plan: Plan, valley: Valley) -> Rects:
    """Church with its tower and the town hall at the market, the station, and the village churches."""
    cx, cy = valley.centre_xy_m
    th = plan.market_angle_rad
    ct, st = np.cos(th), np.sin(th)

    def at(dx: float, dy: float) -> tuple[float, float]:  # offsets in the market square's frame
        return cx + dx * ct - dy * st, cy + dx * st + dy * ct

    parts = [
        single(*at(4.0, 47.0), 54.0, 22.0, th, 16.0, 31.0, "gabled", "church", 1, "church"),
        single(*at(-29.2, 47.0), 12.0, 12.0, th, 42.0, 66.0, "pyramidal", "church", 1, "church"),
        single(*at(2.0, -45.0), 32.0, 18.0, th, 11.5, 19.0, "hipped", "public", 3, "townhall"),
    ]
    sx, sy = plan.station_xy_m
    parts.append(single(sx, sy, 64.0, 15.0, np.pi / 2, 8.0, 13.0, "hipped", "public", 2, "station"))
    for x, y, a, kind in plan.churches:
        nave, width, tower, h = (40.0, 16.0, 10.0, 48.0) if kind == "town" else (22.0, 11.0, 7.0, 30.0)
        u = np.array([np.cos(a), np.sin(a)])
        parts.append(single(x, y, nave, width, a, 0.45 * h if kind == "town" else 8.0, 0.6 * h if kind == "town"
                            else 15.0, "gabled", "church", 1, "church"))
        t = np.array([x, y]) - u * (nave / 2 + tower / 2 + 0.2)  # the tower at the west end of the nave
        parts.append(single(float(t[0]), float(t[1]), tower, tower, a, 0.65 * h, h, "pyramidal", "church", 1,
                            "church"))
    return concat_rects(parts)


def _candidate_buildings(plan: Plan, roads: Roads, valley: Valley, rng: np.random.Generator) -> Rects:
    parts = [_specials(plan, valley)]
    for z in plan.zones:
        polys = getattr(z.polygon, "geoms", [z.polygon])
        for poly in polys:
            if poly.is_empty or poly.area < 400.0:
                continue
            if z.kind == "platte":
                parts.append(fill_platte(poly, rng))
            elif z.kind == "industry":
                parts.append(fill_industry(poly, rng))
            elif z.kind == "allotment":
                parts.append(fill_allotments(poly, rng))
    # frontage along both sides of every street that carries houses, main roads first
    rank = {"primary": 0, "secondary": 1, "tertiary": 2, "unclassified": 3, "living_street": 4, "residential": 5}
    order = sorted((rank[c], i) for i, c in enumerate(roads.road_class) if c in rank)
    idx = np.array([i for _, i in order], dtype=np.int64)
    if idx.size:
        geoms = [roads.geometry[i] for i in idx]
        mids = np.array([g[len(g) // 2] if len(g) > 2 else g.mean(axis=0) for g in geoms])
        tang = np.array([g[min(len(g) // 2 + 1, len(g) - 1)] - g[max(len(g) // 2 - 1, 0)] for g in geoms])
        tang /= np.maximum(np.hypot(tang[:, 0], tang[:, 1]), 1e-9)[:, None]
        nrm = np.column_stack([-tang[:, 1], tang[:, 0]])
        hw = np.array([ROAD_WIDTH_M.get(str(roads.road_class[i]), 6.0) / 2 for i in idx])
        kinds = np.array([z.kind for z in plan.zones] + ["none"], dtype=object)
        for side in (1.0, -1.0):
            probe = mids + nrm * (side * (hw + 12.0))[:, None]
            zk = kinds[zone_index(plan, probe[:, 0], probe[:, 1])]
            for kind in _FRONTAGE_KINDS:
                sel = np.nonzero(zk == kind)[0]
                if sel.size:
                    parts.extend(frontage([geoms[i] for i in sel], hw[sel], side, kind, rng))
    return concat_rects(parts)


def _resolve(r: Rects, plan: Plan, roads: Roads, valley: Valley, size_m: float) -> np.ndarray:
    """Indices of the candidate buildings that stand: no conflicts, earlier ones win."""
    corners = rect_corners(r)
    fps = shapely.polygons(np.concatenate([corners, corners[:, :1]], axis=1))
    keep = np.ones(len(r), dtype=bool)
    inside = (corners[..., 0].min(1) > 1.0) & (corners[..., 1].min(1) > 1.0)
    inside &= (corners[..., 0].max(1) < size_m - 1.0) & (corners[..., 1].max(1) < size_m - 1.0)
    keep &= inside
    zi = zone_index(plan, r.cx, r.cy)
    kinds = np.array([z.kind for z in plan.zones] + ["none"], dtype=object)[zi]
    for typ, allowed in _ALLOWED_ZONES.items():
        sel = r.kind == typ
        keep[sel] &= np.isin(kinds[sel], allowed)
    keep &= (valley.slope(r.cx, r.cy) <= MAX_SLOPE) | (r.kind == "church")
    d_river = r.cx - valley.river_x_m(r.cy)
    frontage_kind = np.isin(r.kind, list(_FRONTAGE_KINDS) + ["garage", "shed", "barn", "stable"])
    keep &= ~frontage_kind | (d_river > 300.0) | (d_river < -520.0)
    widths = np.array([ROAD_WIDTH_M.get(str(c), 4.0) + 2.0 for c in roads.road_class])
    barriers = list(shapely.buffer(road_lines(roads.geometry), widths / 2, cap_style="flat"))
    barriers.append(LineString(valley.river_line()).buffer(RIVER_WIDTH_M / 2 + 15.0))
    barriers.append(LineString(plan.railway).buffer(ROAD_WIDTH_M["rail"] / 2 + 8.0))
    tree = shapely.STRtree(barriers)
    hit_fp, _ = tree.query(fps, predicate="intersects")
    keep[np.unique(hit_fp)] = False
    # overlaps among the survivors: process pairs by the later index, the earlier building wins
    alive = np.nonzero(keep)[0]
    btree = shapely.STRtree(fps[alive])
    a, b = btree.query(fps[alive], predicate="intersects")
    sel = a < b
    a, b = alive[a[sel]], alive[b[sel]]
    order = np.lexsort((a, b))
    for i, j in zip(a[order], b[order]):
        if keep[i] and keep[j]:
            keep[j] = False
    return np.nonzero(keep)[0]


def _landcover(plan: Plan, valley: Valley, rng: np.random.Generator) -> LandCover:
    """Rural patchwork (fields, meadows, forest on steep ground, vineyards on south-west slopes), then zones."""
    size = valley.size_m
    ang = float(rng.uniform(-0.3, 0.3))
    pw, ph = 380.0, 240.0  # the large fields of former collective farms (LPG), 5-15 ha
    ca, sa = np.cos(ang), np.sin(ang)
    r = size * 0.75 + 400.0
    gu = np.arange(-r, r, pw)
    gv = np.arange(-r, r, ph)
    pu, pv = [g.ravel() for g in np.meshgrid(gu, gv)]
    c = np.array([size / 2, size / 2])
    u, v = np.array([ca, sa]), np.array([-sa, ca])
    local = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph], [0, 0]], dtype=float)
    corners = (c[None, None, :] + (pu[:, None, None] + local[None, :, 0, None]) * u
               + (pv[:, None, None] + local[None, :, 1, None]) * v)
    centre = corners[:, :4].mean(axis=1)
    ok = (centre[:, 0] > -pw) & (centre[:, 0] < size + pw) & (centre[:, 1] > -pw) & (centre[:, 1] < size + pw)
    corners, centre = corners[ok], centre[ok]
    s = valley.slope(centre[:, 0], centre[:, 1])
    d_river = centre[:, 0] - valley.river_x_m(centre[:, 1])
    roll = rng.uniform(size=centre.shape[0])
    cover = np.full(centre.shape[0], "field", dtype=object)
    cover[roll < 0.12] = "grass"
    cover[(roll > 0.9) | (s > 0.15)] = "forest"
    vine = (s > 0.15) & (d_river < 0) & (roll < 0.3)
    flood = (d_river > -110.0) & (d_river < 330.0)
    cover[flood] = "grass"  # floodplain meadows
    tags = {"field": "landuse=farmland", "grass": "landuse=meadow", "forest": "landuse=forest"}
    polys = list(shapely.polygons(corners))
    codes = [SURFACE[k] for k in cover]
    kinds = [tags[k] for k in cover]
    for i in np.nonzero(vine & ~flood)[0]:
        codes[i], kinds[i] = SURFACE["garden"], "landuse=vineyard"
    # the steep west slope of the valley: hanging woods with vineyards in between, in 250 m stretches
    ys = np.arange(-250.0, size + 250.0, 250.0)
    for y0 in ys:
        yy = np.linspace(y0, y0 + 250.0, 6)
        xr = valley.river_x_m(yy)
        band = shapely.Polygon(np.vstack([np.column_stack([xr - 110.0, yy]), np.column_stack([xr - 460.0, yy])[::-1]]))
        vineyard = rng.uniform() < 0.3
        polys.append(band)
        codes.append(SURFACE["garden"] if vineyard else SURFACE["forest"])
        kinds.append("landuse=vineyard" if vineyard else "landuse=forest")
    for z in reversed(plan.zones):  # the first zone wins, so paint it last
        if z.polygon.is_empty:
            continue
        name, tag = _ZONE_COVER[z.kind]
        polys.append(z.polygon)
        codes.append(SURFACE[name])
        kinds.append(tag)
    return LandCover(tuple(polys), np.asarray(codes, dtype=np.uint8), np.asarray(kinds, dtype=object))


def build_sample_district(*, size_km: float = 2.0, seed: int = 0, cell_m: float = 2.0, name: str = "sample") -> District:
    """Build the sample district.

    Parameters
    ----------
    size_km : side of the square district, 0.5 to 20 km.
    seed : the seed of every random choice; the same seed gives the same district.
    cell_m : raster cell size in metres (0.5 to 20).
    name : the district's name.
    """
    if not (isinstance(size_km, int | float) and np.isfinite(size_km) and 0.5 <= size_km <= 20.0):
        raise SampleError(f"Größe {size_km!r} km außerhalb 0.5..20 km / size out of range")
    if not (isinstance(cell_m, int | float) and np.isfinite(cell_m) and 0.5 <= cell_m <= 20.0):
        raise SampleError(f"Zellgröße {cell_m!r} m außerhalb 0.5..20 m / cell size out of range")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise SampleError(f"Seed {seed!r} muss eine ganze Zahl >= 0 sein / seed must be an integer >= 0")
    size_m = float(size_km) * 1000.0
    rng = np.random.default_rng(int(seed))
    valley = make_valley(size_m, rng)
    plan = make_plan(valley, rng)
    grid = grid_for_bbox((0.0, 0.0, size_m, size_m), float(cell_m))
    terrain = terrain_grid(valley, grid)
    built_up = shapely.union_all([z.polygon for z in plan.zones if not z.polygon.is_empty])
    roads = streets_to_roads(plan.streets, size_m=size_m, built_up=built_up)
    cand = _candidate_buildings(plan, roads, valley, rng)
    keep = _resolve(cand, plan, roads, valley, size_m)
    r = Rects(*(getattr(cand, f)[keep] for f in Rects.__dataclass_fields__))
    corners = rect_corners(r)
    footprints = shapely.polygons(np.concatenate([corners, corners[:, :1]], axis=1))
    area = r.length_m * r.width_m
    use = r.use.copy()
    storeys = r.storeys.copy()
    pois = place_pois(r, use, storeys, footprints, rng)
    # Plattenbau flats skew older (first tenants of the 1970s-80s aged in place), houses younger
    propensity = np.where(r.kind == "platte", 0.3, np.where(r.kind == "single_family", -0.2, 0.0))
    residents, by_age = assign_residents(area, storeys, use, rng, age_propensity=propensity)
    n = len(r)
    buildings = Buildings(
        building_id=np.arange(1, n + 1, dtype=np.int64),
        footprints=tuple(footprints),
        base_m=np.zeros(n, np.float32),
        height_m=r.ridge_m.astype(np.float32),
        eave_height_m=r.eave_m.astype(np.float32),
        roof_shape=r.roof.astype(object),
        use=use.astype(object),
        storeys=storeys.astype(np.int16),
        dwellings=estimate_dwellings(area, storeys, use),
        residents=residents,
        residents_by_age=by_age,
        source_id=np.array([f"sample:{k}/{i}" for i, k in enumerate(r.kind, start=1)], dtype=object),
        height_source=np.full(n, "sample", dtype=object),
    )
    trees = place_trees(plan, roads, footprints, valley, rng)
    stops = place_stops(plan, roads, rng)
    landcover = _landcover(plan, valley, rng)
    river = valley.river_line()
    features = DistrictFeatures(
        frame=_frame(size_m),
        bbox_local_m=(0.0, 0.0, size_m, size_m),
        buildings=buildings,
        roads=roads,
        trees=trees,
        stops=stops,
        pois=pois,
        landcover=landcover,
        water_lines=(river,),
        water_line_width_m=(RIVER_WIDTH_M,),
        railways=(plan.railway,),
        sources=(SourceInfo(path=f"sample:size_km={size_km},seed={seed}", sha256="", kind="sample",
                            licence="generated by landtwin (CC0)"),),
    )
    meta = {"generator": "geodata.sample", "size_km": float(size_km), "seed": int(seed),
            "river_level_m": float(valley.river_level_m(np.array([size_m / 2]))[0]),
            "settlements": [s[3] for s in plan.settlements]}
    return build_district(features, name=name, grid=grid, terrain_m=terrain, meta=meta)
