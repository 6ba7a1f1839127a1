"""Triangle geometry of the district's 3D scene, built vectorised in the local frame (x east, y north, z up).

Buildings, roads, water and trees become *triangle soups*: (T, 3, 3) float32 corner positions in
metres (z in m a.s.l.), a (T, 4) uint8 RGBA colour and a (T,) int64 owner id per triangle (the
building id, or -1), plus (T, 2) float64 anchor points that decide which tile a triangle goes to (a
building's centroid, a road quad's midpoint), so that no building is ever split between tiles.
Flat shading: every triangle has its own three vertices; its normal follows from its winding, which
is made to face outwards (walls), upwards (roofs, roads) or away from the crown centre (trees).
"""

from __future__ import annotations

from dataclasses import dataclass

import mapbox_earcut
import numpy as np
import shapely
from scipy.ndimage import map_coordinates

from geodata.district import ROAD_WIDTH_M, SURFACE, District

__all__ = ["Soup", "concat_soups", "sample_terrain", "building_soup", "road_soup", "water_soup", "tree_soup",
           "SURFACE_RGB"]

# Colours (sRGB 0-255) of land cover on the terrain: a muted map palette.
SURFACE_RGB = {
    "asphalt": (92, 92, 96), "paving": (168, 162, 150), "roof": (150, 150, 140), "grass": (118, 160, 84),
    "field": (196, 182, 112), "forest": (58, 98, 52), "water": (64, 110, 160), "bare_soil": (150, 122, 92),
    "gravel": (130, 122, 112), "green_roof": (100, 150, 80), "cool_surface": (220, 220, 215),
    "garden": (104, 150, 78),
}
WALL_RGB = {
    "residential": ((232, 222, 196), (222, 206, 172), (238, 230, 214), (214, 196, 176), (226, 214, 190)),
    "platte": ((206, 204, 194), (214, 208, 188), (196, 198, 196)),
    "industrial": ((172, 178, 184), (150, 160, 170), (186, 184, 176)),
    "church": ((196, 176, 140),),
    "public": ((226, 210, 170), (232, 200, 160)),
    "other": ((186, 170, 150), (176, 166, 152), (200, 186, 160)),
}
ROOF_RGB = ((164, 72, 52), (146, 64, 48), (124, 60, 48), (176, 96, 64), (104, 76, 66))
FLAT_ROOF_RGB = ((112, 112, 112), (96, 98, 100), (128, 126, 120))
ROAD_RGB = {"drivable": (78, 78, 82), "main": (66, 66, 70), "foot": (196, 184, 160)}
ROAD_LIFT_M = {"primary": 0.45, "secondary": 0.42, "tertiary": 0.4, "residential": 0.3, "living_street": 0.3}


@dataclass
class Soup:
    """A triangle soup: positions (T, 3, 3) float32 local m, rgba (T, 4) uint8, owner (T,) int64, anchor (T, 2)."""

    tri: np.ndarray
    rgba: np.ndarray
    owner: np.ndarray
    anchor_xy: np.ndarray

    def __len__(self) -> int:
        return int(self.tri.shape[0])


def empty_soup() -> Soup:
    return Soup(np.zeros((0, 3, 3), np.float32), np.zeros((0, 4), np.uint8), np.zeros(0, np.int64), np.zeros((0, 2)))


def concat_soups(soups: list[Soup]) -> Soup:
    soups = [s for s in soups if len(s)]
    if not soups:
        return empty_soup()
    return Soup(*(np.concatenate([getattr(s, f) for s in soups]) for f in ("tri", "rgba", "owner", "anchor_xy")))


def _orient(tri: np.ndarray, hint: np.ndarray) -> np.ndarray:
    """Swap the last two corners of triangles whose normal points against ``hint`` (T, 3)."""
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", n, hint) < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri


def _soup(tri: np.ndarray, hint: np.ndarray, rgb: np.ndarray, owner: np.ndarray, anchor: np.ndarray) -> Soup:
    """Oriented, non-degenerate triangles with their colours, owners and anchors."""
    tri = np.asarray(tri, dtype=np.float64)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    ok = np.einsum("ij,ij->i", n, n) > 1e-12  # drop zero-area triangles (a pyramid's collapsed ridge)
    tri, hint, owner, anchor = tri[ok], np.asarray(hint, np.float64)[ok], np.asarray(owner)[ok], np.asarray(anchor)[ok]
    rgb = np.asarray(rgb).reshape(-1, 3)[ok]
    tri = _orient(tri, hint)
    rgba = np.concatenate([np.asarray(rgb, dtype=np.uint8).reshape(-1, 3), np.full((tri.shape[0], 1), 255, np.uint8)],
                          axis=1)
    return Soup(tri.astype(np.float32), rgba, np.asarray(owner, np.int64), np.asarray(anchor, np.float64))


def sample_terrain(d: District, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear terrain elevation (m a.s.l.) at local points; clamped at the grid edge."""
    w, _, _, n = d.grid.bbox_local_m
    col = (np.asarray(x, float) - w) / d.grid.cell_m - 0.5
    row = (n - np.asarray(y, float)) / d.grid.cell_m - 0.5
    return map_coordinates(d.terrain_m, [row.ravel(), col.ravel()], order=1, mode="nearest").reshape(np.shape(x))


def _pick(palette: tuple, key: np.ndarray) -> np.ndarray:
    return np.asarray(palette, dtype=np.uint8)[np.asarray(key, np.int64) % len(palette)]


def _quads(a, b, c, d) -> np.ndarray:
    """Two triangles (2Q, 3, 3) per quad a-b-c-d (each (Q, 3))."""
    return np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


def building_soup(d: District) -> Soup:
    """Walls and roofs of every building, standing on ``base_m``; roofs follow ``roof_shape``.

    Footprints that are (nearly) rectangles get exact gabled, hipped or pyramidal roofs built on their
    minimum rotated rectangle; other footprints get walls along every ring and a flat roof (earcut) at
    the mean of eave and ridge height (their ``height_m`` when flat).
    """
    b = d.buildings
    n = len(b)
    if n == 0:
        return empty_soup()
    fps = np.array(b.footprints, dtype=object)
    ids = b.building_id.astype(np.int64)
    base = b.base_m.astype(np.float64)
    eave = base + b.eave_height_m.astype(np.float64)
    ridge = base + b.height_m.astype(np.float64)
    shape = np.array([str(s) for s in b.roof_shape], dtype=object)
    shape = np.where(np.isin(shape, ["half-hipped", "mansard"]), "hipped", shape)
    shape = np.where(np.isin(shape, ["gambrel", "saltbox"]), "gabled", shape)
    pitched = np.isin(shape, ["gabled", "hipped", "pyramidal"]) & (ridge > eave + 0.05)
    mrr = shapely.oriented_envelope(fps)
    is_rect = (shapely.get_num_coordinates(fps) == 5) & (shapely.area(fps) >= 0.98 * shapely.area(mrr))
    cent = shapely.get_coordinates(shapely.centroid(fps))
    key = (ids * 2654435761) % 9973
    use = np.array([str(u) for u in b.use], dtype=object)
    slab = (use == "residential") & (shape == "flat") & (b.storeys >= 5)
    wall_rgb = np.zeros((n, 3), np.uint8)
    for u, pal in WALL_RGB.items():
        sel = use == u
        wall_rgb[sel] = _pick(pal, key[sel])
    other = ~np.isin(use, list(WALL_RGB))
    wall_rgb[other] = _pick(WALL_RGB["other"], key[other])
    wall_rgb[slab] = _pick(WALL_RGB["platte"], key[slab])
    roof_rgb = np.where(pitched[:, None], _pick(ROOF_RGB, key // 7), _pick(FLAT_ROOF_RGB, key // 7))
    soups = [_rect_buildings(np.nonzero(is_rect)[0], fps, shape, pitched, base, eave, ridge, wall_rgb, roof_rgb,
                             ids, cent)]
    gen = np.nonzero(~is_rect)[0]
    if gen.size:
        top = np.where(pitched, (eave + ridge) / 2, ridge)
        soups.append(_general_buildings(gen, fps, base, top, wall_rgb, roof_rgb, ids, cent))
    return concat_soups(soups)


def _rect_buildings(idx, fps, shape, pitched, base, eave, ridge, wall_rgb, roof_rgb, ids, cent) -> Soup:
    if idx.size == 0:
        return empty_soup()
    ring = shapely.get_coordinates(shapely.orient_polygons(fps[idx])).reshape(idx.size, 5, 2)[:, :4]
    # put a long side first: P0->P1 long, P1->P2 short
    l01 = np.hypot(*(ring[:, 1] - ring[:, 0]).T)
    l12 = np.hypot(*(ring[:, 2] - ring[:, 1]).T)
    roll = l01 < l12
    ring[roll] = ring[roll][:, [1, 2, 3, 0]]
    bz, ez, rz = base[idx], eave[idx], ridge[idx]
    sh = shape[idx]
    pit = pitched[idx]
    top = np.where(pit, ez, rz)  # walls reach the eave of pitched roofs, the top of flat ones
    c2 = cent[idx]

    def p3(xy, z):
        return np.concatenate([xy, np.asarray(z)[:, None]], axis=1)

    tris, hints, rgb, own, anc = [], [], [], [], []

    def add(t, hint, colour, sel):
        tris.append(t)
        hints.append(hint)
        k = t.shape[0] // max(int(sel.sum()), 1)
        rgb.append(np.tile(colour[sel], (k, 1)))
        own.append(np.tile(ids[idx][sel], k))
        anc.append(np.tile(c2[sel], (k, 1)))

    allm = np.ones(idx.size, bool)
    for k in range(4):
        a, b2 = ring[:, k], ring[:, (k + 1) % 4]
        t = _quads(p3(a, bz), p3(b2, bz), p3(b2, top), p3(a, top))
        out = np.column_stack([(b2 - a)[:, 1], -(b2 - a)[:, 0], np.zeros(idx.size)])
        add(t, np.tile(out, (2, 1)), wall_rgb[idx], allm)
    up = np.array([0.0, 0.0, 1.0])
    flat = ~pit
    if flat.any():
        r = ring[flat]
        t = _quads(p3(r[:, 0], rz[flat]), p3(r[:, 1], rz[flat]), p3(r[:, 2], rz[flat]), p3(r[:, 3], rz[flat]))
        add(t, np.tile(up, (t.shape[0], 1)), roof_rgb[idx], flat)
    u = ring[:, 1] - ring[:, 0]
    half_len = np.hypot(*u.T) / 2
    u = u / np.maximum(2 * half_len, 1e-9)[:, None]
    half_w = np.hypot(*(ring[:, 2] - ring[:, 1]).T) / 2
    m0 = (ring[:, 0] + ring[:, 3]) / 2
    m1 = (ring[:, 1] + ring[:, 2]) / 2
    hip = (sh == "hipped") | (sh == "pyramidal")
    inset = np.where(sh == "pyramidal", half_len, np.where(hip, np.minimum(half_w, half_len), 0.0))
    r0 = m0 + u * inset[:, None]
    r1 = m1 - u * inset[:, None]
    sel = pit
    if sel.any():
        P = [p3(ring[sel, k], ez[sel]) for k in range(4)]
        R0, R1 = p3(r0[sel], rz[sel]), p3(r1[sel], rz[sel])
        cen = np.concatenate([c2[sel], ((ez + rz) / 2)[sel, None]], axis=1)
        # two long roof planes (quads; a hip's quad is a trapezoid, a pyramid's a triangle pair)
        for a, b2, c, dd in ((P[0], P[1], R1, R0), (P[2], P[3], R0, R1)):
            t = _quads(a, b2, c, dd)
            add(t, t.mean(axis=1) - np.tile(cen, (2, 1)) + [0, 0, 0.01], roof_rgb[idx], sel)
        # the short ends: gable walls (gabled) or hip triangles (hipped, pyramidal)
        for a, b2, c in ((P[1], P[2], R1), (P[3], P[0], R0)):
            t = np.stack([a, b2, c], 1)
            gab = ~hip[sel]
            colour = np.where(gab[:, None], wall_rgb[idx][sel], roof_rgb[idx][sel])
            tris.append(t)
            hints.append(t.mean(axis=1) - cen)
            rgb.append(colour)
            own.append(ids[idx][sel])
            anc.append(c2[sel])
    return _soup(np.concatenate(tris), np.concatenate(hints), np.concatenate(rgb), np.concatenate(own),
                 np.concatenate(anc))


def _general_buildings(idx, fps, base, top, wall_rgb, roof_rgb, ids, cent) -> Soup:
    """Walls along every ring (exterior CCW, holes CW) and an earcut flat roof."""
    geoms = shapely.orient_polygons(fps[idx])
    rings, ring_owner = shapely.get_rings(geoms, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[:-1] == ring_of[1:]
    a = coords[:-1][same]
    b2 = coords[1:][same]
    o = ring_owner[ring_of[:-1][same]]
    keep = np.hypot(*(b2 - a).T) > 1e-6
    a, b2, o = a[keep], b2[keep], o[keep]
    bz, tz = base[idx][o], top[idx][o]
    t = _quads(np.column_stack([a, bz]), np.column_stack([b2, bz]), np.column_stack([b2, tz]), np.column_stack([a, tz]))
    out = np.column_stack([(b2 - a)[:, 1], -(b2 - a)[:, 0], np.zeros(a.shape[0])])
    soups = [_soup(t, np.tile(out, (2, 1)), np.tile(wall_rgb[idx][o], (2, 1)), np.tile(ids[idx][o], 2),
                   np.tile(cent[idx][o], (2, 1)))]
    roof_t, roof_o = [], []
    for k, g in enumerate(geoms):
        verts, ends = [], []
        for r in [g.exterior, *g.interiors]:
            xy = np.asarray(r.coords)[:-1, :2]
            verts.append(xy)
            ends.append((ends[-1] if ends else 0) + xy.shape[0])
        v = np.vstack(verts)
        tri = mapbox_earcut.triangulate_float64(v, np.asarray(ends, dtype=np.uint32)).reshape(-1, 3)
        if tri.size:
            roof_t.append(np.concatenate([v[tri], np.full((tri.shape[0], 3, 1), top[idx][k])], axis=2))
            roof_o.append(np.full(tri.shape[0], k))
    if roof_t:
        rt, ro = np.concatenate(roof_t), np.concatenate(roof_o)
        soups.append(_soup(rt, np.tile([0.0, 0.0, 1.0], (rt.shape[0], 1)), roof_rgb[idx][ro], ids[idx][ro],
                           cent[idx][ro]))
    return concat_soups(soups)


def _densify(line: np.ndarray, step_m: float) -> np.ndarray:
    seg = np.diff(line, axis=0)
    n = np.maximum(np.ceil(np.hypot(*seg.T) / step_m).astype(int), 1)
    t = np.concatenate([np.arange(k) / k for k in n])
    i = np.repeat(np.arange(len(seg)), n)
    return np.vstack([line[i] + seg[i] * t[:, None], line[-1:]])


def _ribbon(d: District, line: np.ndarray, width_m: float, lift_m: float, step_m: float = 8.0,
            z: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Quads (2(k-1), 3, 3) of a ribbon draped over the terrain, and their anchor midpoints."""
    p = _densify(np.asarray(line, float), step_m)
    if p.shape[0] < 2:
        return np.zeros((0, 3, 3)), np.zeros((0, 2))
    tan = np.gradient(p, axis=0)
    tan /= np.maximum(np.hypot(*tan.T), 1e-9)[:, None]
    nrm = np.column_stack([-tan[:, 1], tan[:, 0]]) * (width_m / 2)
    if z is None:
        z = sample_terrain(d, p[:, 0], p[:, 1])
        r, c = d.grid.xy_to_rowcol(p[:, 0], p[:, 1])
        wet = d.surface_class[np.clip(r, 0, d.grid.rows - 1), np.clip(c, 0, d.grid.cols - 1)] == SURFACE["water"]
        if wet.any() and (~wet).any():  # a bridge: straight from bank to bank, clear of the water
            s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
            z = np.where(wet, np.interp(s, s[~wet], z[~wet]) + 1.0, z)
    z = z + lift_m
    left = np.column_stack([p + nrm, z])
    right = np.column_stack([p - nrm, z])
    t = _quads(right[:-1], right[1:], left[1:], left[:-1])
    mid = (p[:-1] + p[1:]) / 2
    return t, np.tile(mid, (2, 1))


def road_soup(d: District) -> Soup:
    """Roads as ribbons of their class width draped over the terrain (bridges span the water)."""
    tris, anc, rgb = [], [], []
    for g, cls in zip(d.roads.geometry, d.roads.road_class):
        if len(g) < 2 or cls == "rail":
            continue
        c = str(cls)
        t, a = _ribbon(d, g, ROAD_WIDTH_M.get(c, 4.0), ROAD_LIFT_M.get(c, 0.22))
        kind = "main" if c in ("primary", "secondary", "trunk", "motorway") else (
            "foot" if c in ("footway", "path", "cycleway", "pedestrian", "track", "steps") else "drivable")
        tris.append(t)
        anc.append(a)
        rgb.append(np.tile(ROAD_RGB[kind], (t.shape[0], 1)))
    for line in d.railways:
        if len(line) >= 2:
            t, a = _ribbon(d, line, ROAD_WIDTH_M["rail"], 0.35)
            tris.append(t)
            anc.append(a)
            rgb.append(np.tile((112, 100, 92), (t.shape[0], 1)))
    if not tris:
        return empty_soup()
    t = np.concatenate(tris)
    return _soup(t, np.tile([0.0, 0.0, 1.0], (t.shape[0], 1)), np.concatenate(rgb), np.full(t.shape[0], -1),
                 np.concatenate(anc))


def water_soup(d: District) -> Soup:
    """River surfaces: ribbons of the water lines at the level of the ground on their centre line."""
    tris, anc = [], []
    for line, w in zip(d.water_lines, d.water_line_width_m):
        if len(line) < 2:
            continue
        p = _densify(np.asarray(line, float), 8.0)
        z = sample_terrain(d, p[:, 0], p[:, 1])
        t, a = _ribbon(d, p, float(w) + 4.0, 0.4, step_m=8.0, z=np.minimum.accumulate(z) if z[0] > z[-1] else z)
        tris.append(t)
        anc.append(a)
    if not tris:
        return empty_soup()
    t = np.concatenate(tris)
    return _soup(t, np.tile([0.0, 0.0, 1.0], (t.shape[0], 1)), np.tile(SURFACE_RGB["water"], (t.shape[0], 1)),
                 np.full(t.shape[0], -1), np.concatenate(anc))


def tree_soup(d: District, *, forest_spacing_m: float = 16.0, max_forest_trees: int = 200_000) -> Soup:
    """Low-poly trees: a six-sided bipyramid crown on a three-sided trunk for every tree of the district,
    and crowns without trunks on a jittered grid over forest land cover (their canopy height)."""
    xy = np.asarray(d.trees.xy_local_m, float).reshape(-1, 2)
    h = np.asarray(d.trees.height_m, float)
    cd = np.asarray(d.trees.crown_diameter_m, float)
    fr = d.surface_class == SURFACE["forest"]
    step = max(1, int(round(forest_spacing_m / d.grid.cell_m)))
    rr, cc = np.nonzero(fr[::step, ::step])
    if rr.size > max_forest_trees:
        keep = np.linspace(0, rr.size - 1, max_forest_trees).astype(np.int64)
        rr, cc = rr[keep], cc[keep]
    rr, cc = rr * step, cc * step
    fx, fy = d.grid.rowcol_to_xy(rr, cc)
    jit = ((rr * 73856093) ^ (cc * 19349663)) % 1000 / 1000.0
    fx = fx + (jit - 0.5) * forest_spacing_m * 0.6
    fy = fy + (((rr * 19349663) ^ (cc * 83492791)) % 1000 / 1000.0 - 0.5) * forest_spacing_m * 0.6
    canopy = np.where(d.canopy_m[rr, cc] > 0, d.canopy_m[rr, cc], 18.0)
    fh = canopy * (0.8 + 0.35 * jit)
    fd = forest_spacing_m * (0.95 + 0.4 * jit)
    all_xy = np.vstack([xy, np.column_stack([fx, fy])])
    all_h = np.concatenate([h, fh])
    all_d = np.concatenate([cd, fd])
    trunk = np.concatenate([np.ones(xy.shape[0], bool), np.zeros(fx.size, bool)])
    n = all_xy.shape[0]
    if n == 0:
        return empty_soup()
    z0 = sample_terrain(d, all_xy[:, 0], all_xy[:, 1])
    r = all_d / 2
    crown_mid = z0 + np.maximum(all_h - r, all_h * 0.55)
    top = z0 + all_h
    bottom = crown_mid - (top - crown_mid) * 0.8
    k = 6
    ang = np.arange(k) * 2 * np.pi / k
    ring = np.stack([all_xy[:, 0, None] + r[:, None] * np.cos(ang), all_xy[:, 1, None] + r[:, None] * np.sin(ang),
                     np.repeat(crown_mid[:, None], k, 1)], axis=2)  # (n, k, 3)
    apex_t = np.column_stack([all_xy, top])
    apex_b = np.column_stack([all_xy, bottom])
    cen = np.column_stack([all_xy, crown_mid])
    tris, hints, rgb = [], [], []
    shade = np.stack([50 + 30 * ((np.arange(n) * 7) % 5) / 4, 100 + 40 * ((np.arange(n) * 3) % 4) / 3,
                      40 + 20 * ((np.arange(n) * 5) % 3) / 2], axis=1)
    for j in range(k):
        a, b2 = ring[:, j], ring[:, (j + 1) % k]
        for apex in (apex_t, apex_b):
            t = np.stack([a, b2, apex], 1)
            tris.append(t)
            hints.append(t.mean(axis=1) - cen)
            rgb.append(shade * (1.0 if apex is apex_t else 0.8))
    owner_anchor = [np.tile(all_xy, (2 * k, 1))]
    ti = np.nonzero(trunk)[0]
    if ti.size:
        tr = np.maximum(0.12 * r[ti], 0.15)
        tang = np.arange(3) * 2 * np.pi / 3
        tb = np.stack([all_xy[ti, 0, None] + tr[:, None] * np.cos(tang), all_xy[ti, 1, None] + tr[:, None] * np.sin(tang)],
                      axis=2)
        for j in range(3):
            a, b2 = tb[:, j], tb[:, (j + 1) % 3]
            t = _quads(np.column_stack([a, z0[ti]]), np.column_stack([b2, z0[ti]]),
                       np.column_stack([b2, bottom[ti] + 0.3]), np.column_stack([a, bottom[ti] + 0.3]))
            mid = np.column_stack([all_xy[ti], z0[ti]])
            tris.append(t)
            hints.append(t.mean(axis=1) - np.tile(mid, (2, 1)))
            rgb.append(np.tile((96, 72, 50), (t.shape[0], 1)))
            owner_anchor.append(np.tile(all_xy[ti], (2, 1)))
    t = np.concatenate(tris)
    h_ = np.concatenate(hints)
    h_[:, 2] += 1e-6
    return _soup(t, h_, np.concatenate(rgb).astype(np.uint8), np.full(t.shape[0], -1), np.concatenate(owner_anchor))
