"""Buildings of the sample district, placed by typology along streets and inside area zones.

Every building is a rotated rectangle (centre, length along ``angle``, width across, local metres)
with eave and ridge heights above ground, a roof shape, a use and a storey count. Frontage typologies
(medieval core, Gründerzeit perimeter blocks, single-family houses, village farmsteads) line both sides
of the streets of their zone; area typologies (Plattenbau rows, industrial halls, allotment huts) fill
their zone. Conflicts are resolved afterwards in one pass: anything on a road, the railway or the
river, on a steep slope or overlapping an earlier building is dropped, so special buildings (church,
town hall, station, schools) placed first always stand.

Typical dimensions: storey height 2.8-3.1 m, roof pitch 45° in the old town and 35-40° elsewhere,
Plattenbau WBS 70 slabs 12 m deep in 12 m sections, 5-6 and 11 storeys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Rects", "concat_rects", "rect_corners", "frontage", "fill_platte", "fill_industry",
           "fill_allotments", "single"]


@dataclass
class Rects:
    """A batch of N rectangular buildings; all arrays (N,)."""

    cx: np.ndarray
    cy: np.ndarray
    length_m: np.ndarray
    width_m: np.ndarray
    angle_rad: np.ndarray
    eave_m: np.ndarray
    ridge_m: np.ndarray
    roof: np.ndarray  # object
    use: np.ndarray  # object
    storeys: np.ndarray  # int
    kind: np.ndarray  # object: typology label (core, gruenderzeit, platte, ...)

    def __len__(self) -> int:
        return int(self.cx.shape[0])


def _rects(cx, cy, length, width, angle, eave, ridge, roof, use, storeys, kind) -> Rects:
    n = np.broadcast(np.asarray(cx), np.asarray(cy)).size

    def full(v, dt):
        a = np.asarray(v, dtype=dt)
        return np.full(n, a, dtype=dt) if a.ndim == 0 else a.copy()

    return Rects(full(cx, float), full(cy, float), full(length, float), full(width, float), full(angle, float),
                 full(eave, float), full(ridge, float), full(roof, object), full(use, object), full(storeys, np.int16),
                 full(kind, object))


def concat_rects(parts: list[Rects]) -> Rects:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _rects(np.zeros(0), np.zeros(0), 1, 1, 0, 1, 1, "flat", "other", 1, "none")
    return Rects(*(np.concatenate([getattr(p, f) for p in parts]) for f in Rects.__dataclass_fields__))


def rect_corners(r: Rects) -> np.ndarray:
    """(N, 4, 2) corner coordinates, counter-clockwise."""
    u = np.column_stack([np.cos(r.angle_rad), np.sin(r.angle_rad)])
    v = np.column_stack([-u[:, 1], u[:, 0]])
    hl = (r.length_m / 2)[:, None]
    hw = (r.width_m / 2)[:, None]
    c = np.column_stack([r.cx, r.cy])
    return np.stack([c - u * hl - v * hw, c + u * hl - v * hw, c + u * hl + v * hw, c - u * hl + v * hw], axis=1)


def _ridge(eave: np.ndarray, span: np.ndarray, pitch_deg: float | np.ndarray, roof: np.ndarray) -> np.ndarray:
    rise = 0.5 * span * np.tan(np.radians(pitch_deg))
    return np.where(roof == "flat", eave, eave + rise)


def single(cx: float, cy: float, length: float, width: float, angle: float, eave: float, ridge: float,
           roof: str, use: str, storeys: int, kind: str) -> Rects:
    """One special building."""
    return _rects(np.array([cx]), np.array([cy]), length, width, angle, eave, ridge, roof, use, storeys, kind)


def _along(line: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) and unit tangents (n, 2) at arc lengths ``s`` of a polyline (k, 2)."""
    seg = np.diff(line, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    t = (s - cum[i]) / np.maximum(seg_len[i], 1e-9)
    pts = line[i] + seg[i] * t[:, None]
    tan = seg[i] / np.maximum(seg_len[i], 1e-9)[:, None]
    return pts, tan


# Frontage typologies: plot width range, depth range, extra setback behind the kerb, storeys to draw from.
FRONTAGE = {
    "core": dict(plot=(6.5, 11.5), depth=(10.0, 14.0), setback=(1.5, 2.0), storeys=(2, 3, 3, 4), pitch=48.0),
    "gruenderzeit": dict(plot=(14.0, 22.0), depth=(12.0, 15.0), setback=(2.5, 3.5), storeys=(3, 4, 4, 5), pitch=35.0),
    "single_family": dict(plot=(18.0, 26.0), depth=(8.0, 11.0), setback=(4.0, 7.5), storeys=(1, 1, 2, 2, 2), pitch=38.0),
    "village": dict(plot=(22.0, 38.0), depth=(9.0, 11.0), setback=(1.0, 3.0), storeys=(1, 2, 2), pitch=45.0),
}


def frontage(lines: list[np.ndarray], half_width_m: np.ndarray, side: float, kind: str,
             rng: np.random.Generator) -> list[Rects]:
    """Buildings of typology ``kind`` along one side (+1 left, -1 right) of street polylines (k, 2).

    All streets are handled in one vectorised pass: plots of random width follow each other along
    every street (a segmented cumulative sum), and each plot's point and direction come from one
    search over all streets' segments laid end to end.
    """
    p = FRONTAGE[kind]
    if not lines:
        return []
    seg = [np.diff(ln, axis=0) for ln in lines]
    seg_len = [np.hypot(sg[:, 0], sg[:, 1]) for sg in seg]
    total = np.array([sl.sum() for sl in seg_len])
    offset = np.concatenate([[0.0], np.cumsum(total)[:-1]])
    n_max = (total / p["plot"][0]).astype(np.int64) + 1
    line_of = np.repeat(np.arange(len(lines)), n_max)
    w = rng.uniform(*p["plot"], int(n_max.sum()))
    cw = np.cumsum(w)
    start_cw = np.concatenate([[0.0], cw])[np.concatenate([[0], np.cumsum(n_max)[:-1]])]
    ends = cw - start_cw[line_of]
    keep = (ends < total[line_of] - 4.0) & (total[line_of] >= p["plot"][0] * 1.5)
    w, ends, line_of = w[keep], ends[keep], line_of[keep]
    if w.size == 0:
        return []
    s_global = offset[line_of] + ends - w / 2
    all_start = np.vstack([ln[:-1] for ln in lines])
    all_seg = np.vstack(seg)
    all_len = np.concatenate(seg_len)
    seg_cum = np.concatenate([off + np.concatenate([[0.0], np.cumsum(sl)[:-1]]) for off, sl in zip(offset, seg_len)])
    i = np.clip(np.searchsorted(seg_cum, s_global, side="right") - 1, 0, len(all_len) - 1)
    t = (s_global - seg_cum[i]) / np.maximum(all_len[i], 1e-9)
    pts = all_start[i] + all_seg[i] * t[:, None]
    tan = all_seg[i] / np.maximum(all_len[i], 1e-9)[:, None]
    half_width_m = np.asarray(half_width_m, dtype=np.float64)[line_of]
    nrm = np.column_stack([-tan[:, 1], tan[:, 0]]) * side
    n = w.size
    depth = rng.uniform(*p["depth"], n)
    setback = half_width_m + rng.uniform(*p["setback"], n)
    storeys = rng.choice(np.asarray(p["storeys"]), n)
    ang = np.arctan2(tan[:, 1], tan[:, 0])
    out: list[Rects] = []
    if kind in ("core", "gruenderzeit"):
        front = w - 0.15  # a continuous row: plots touch but never overlap
        c = pts + nrm * (setback + depth / 2)[:, None]
        eave = storeys * 3.1 + 0.6
        roof = np.where(rng.uniform(size=n) < (0.85 if kind == "core" else 0.55), "gabled", "hipped")
        if kind == "gruenderzeit":
            roof = np.where(rng.uniform(size=n) < 0.15, "flat", roof)
        ridge = _ridge(eave, np.minimum(front, depth), p["pitch"], roof)
        out.append(_rects(c[:, 0], c[:, 1], front, depth, ang, eave, ridge, roof, "residential", storeys, kind))
        # rear buildings (Hinterhäuser) across the yard, lower than the front row
        rear = rng.uniform(size=n) < (0.6 if kind == "core" else 0.3)
        rd = rng.uniform(8.0, 11.0, n)
        rc = pts + nrm * (setback + depth + rng.uniform(4.0, 7.0, n) + rd / 2)[:, None]
        rs = np.maximum(storeys - 1, 1)
        re = rs * 3.0 + 0.5
        rr = _ridge(re, np.minimum(front, rd), p["pitch"], roof)
        out.append(_rects(rc[rear, 0], rc[rear, 1], front[rear], rd[rear], ang[rear], re[rear], rr[rear], roof[rear],
                          "residential", rs[rear], kind))
        return out
    if kind == "single_family":
        house_w = np.minimum(rng.uniform(8.0, 12.0, n), w - 5.0)
        c = pts + nrm * (setback + depth / 2)[:, None] + tan * rng.uniform(-1.5, 1.5, n)[:, None]
        eave = storeys * 2.8 + 0.4
        roof = np.where(rng.uniform(size=n) < 0.55, "gabled", "hipped")
        ridge = _ridge(eave, np.minimum(house_w, depth), p["pitch"], roof)
        out.append(_rects(c[:, 0], c[:, 1], house_w, depth, ang, eave, ridge, roof, "residential", storeys, kind))
        g = rng.uniform(size=n) < 0.5
        gc = pts + tan * (house_w / 2 + 2.4)[:, None] + nrm * (setback + 3.5)[:, None]
        out.append(_rects(gc[g, 0], gc[g, 1], 3.2, 6.0, ang[g], 2.7, 2.7, "flat", "garage", 1, "garage"))
        sh = rng.uniform(size=n) < 0.35
        sc = pts + nrm * (setback + depth + rng.uniform(6.0, 12.0, n))[:, None]
        out.append(_rects(sc[sh, 0], sc[sh, 1], 3.0, 2.5, ang[sh], 2.3, 2.3, "flat", "other", 1, "shed"))
        return out
    # village: farmsteads (Vierseithöfe: house at the street, barn at the back, a stable on one side)
    farm = rng.uniform(size=n) < 0.45
    house_w = np.where(farm, rng.uniform(11.0, 15.0, n), rng.uniform(8.5, 11.0, n))
    house_w = np.minimum(house_w, w - 3.0)
    c = pts + nrm * (setback + depth / 2)[:, None]
    eave = storeys * 2.9 + 0.4
    roof = np.where(rng.uniform(size=n) < 0.75, "gabled", "hipped")
    ridge = _ridge(eave, np.minimum(house_w, depth), p["pitch"], roof)
    out.append(_rects(c[:, 0], c[:, 1], house_w, depth, ang, eave, ridge, roof, "residential", storeys, "village"))
    bl = w[farm] * rng.uniform(0.7, 0.9, farm.sum())
    bc = pts[farm] + nrm[farm] * (setback[farm] + rng.uniform(30.0, 38.0, farm.sum()) + 6.0)[:, None]
    out.append(_rects(bc[:, 0], bc[:, 1], bl, 11.0, ang[farm], 6.0, 6.0 + 5.5 * 1.0, "gabled", "other", 1, "barn"))
    stc = (pts[farm] + tan[farm] * (w[farm] / 2 - 4.5)[:, None]
           + nrm[farm] * (setback[farm] + depth[farm] + 12.0)[:, None])
    out.append(_rects(stc[:, 0], stc[:, 1], 16.0, 7.0, ang[farm] + np.pi / 2, 3.5, 6.5, "gabled", "other", 1, "stable"))
    sh = ~farm & (rng.uniform(size=n) < 0.6)
    sc = pts[sh] + tan[sh] * (house_w[sh] / 2 + 2.4)[:, None] + nrm[sh] * (setback[sh] + 4.0)[:, None]
    out.append(_rects(sc[:, 0], sc[:, 1], 3.2, 6.0, ang[sh], 2.7, 2.7, "flat", "garage", 1, "garage"))
    return out


def _frame(poly) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Centre, long axis u, short axis v and the half lengths of a polygon's minimum rotated rectangle."""
    rect = np.asarray(poly.minimum_rotated_rectangle.exterior.coords)[:4]
    e0, e1 = rect[1] - rect[0], rect[2] - rect[1]
    l0, l1 = float(np.hypot(*e0)), float(np.hypot(*e1))
    c = rect.mean(axis=0)
    if l0 >= l1:
        return c, e0 / l0, e1 / l1, l0 / 2, l1 / 2
    return c, e1 / l1, e0 / l0, l1 / 2, l0 / 2


def fill_platte(poly, rng: np.random.Generator) -> Rects:
    """Rows of prefabricated slabs (12 m deep, 12 m sections, 5-6 storeys, some 11-storey) with flat roofs."""
    c, u, v, hu, hv = _frame(poly)
    cx, cy, ln, ang, st = [], [], [], [], []
    a = float(np.arctan2(u[1], u[0]))
    for off_v in np.arange(-hv + 26.0, hv - 18.0, 40.0):
        pos = -hu + 22.0
        while pos < hu - 40.0:
            sections = int(rng.choice([4, 5, 6, 7, 8, 10]))
            high = rng.uniform() < 0.18
            length = 12.0 * (3 if high else sections)
            if pos + length > hu - 20.0:
                break
            p = c + u * (pos + length / 2) + v * off_v
            cx.append(p[0])
            cy.append(p[1])
            ln.append(length)
            ang.append(a)
            st.append(11 if high else int(rng.choice([5, 5, 6, 6, 6])))
            pos += length + rng.uniform(16.0, 30.0)
    st_a = np.asarray(st, dtype=np.int16)
    eave = st_a * 2.8 + 1.2
    return _rects(np.asarray(cx), np.asarray(cy), np.asarray(ln), 12.0, np.asarray(ang), eave, eave, "flat",
                  "residential", st_a, "platte")


def fill_industry(poly, rng: np.random.Generator) -> Rects:
    """Large flat halls on a loose grid."""
    c, u, v, hu, hv = _frame(poly)
    a = float(np.arctan2(u[1], u[0]))
    gu = np.arange(-hu + 50.0, hu - 30.0, 95.0)
    gv = np.arange(-hv + 45.0, hv - 30.0, 75.0)
    pu, pv = [g.ravel() for g in np.meshgrid(gu, gv)]
    keep = rng.uniform(size=pu.size) < 0.85
    pu, pv = pu[keep], pv[keep]
    n = pu.size
    p = c[None, :] + u[None, :] * pu[:, None] + v[None, :] * pv[:, None]
    h = rng.uniform(7.0, 14.0, n)
    return _rects(p[:, 0], p[:, 1], rng.uniform(40.0, 80.0, n), rng.uniform(25.0, 55.0, n), a, h, h, "flat",
                  "industrial", np.maximum(1, np.round(h / 6.0)).astype(np.int16), "industry")


def fill_allotments(poly, rng: np.random.Generator) -> Rects:
    """Garden huts (Lauben, at most 24 m² by the Bundeskleingartengesetz) on 18 x 22 m plots."""
    c, u, v, hu, hv = _frame(poly)
    a = float(np.arctan2(u[1], u[0]))
    gu = np.arange(-hu + 10.0, hu - 10.0, 18.0)
    gv = np.arange(-hv + 12.0, hv - 12.0, 22.0)
    pu, pv = [g.ravel() for g in np.meshgrid(gu, gv)]
    keep = rng.uniform(size=pu.size) < 0.85
    pu, pv = pu[keep] + rng.uniform(-3, 3, keep.sum()), pv[keep] + rng.uniform(-3, 3, keep.sum())
    p = c[None, :] + u[None, :] * pu[:, None] + v[None, :] * pv[:, None]
    return _rects(p[:, 0], p[:, 1], 4.0, 3.0, a, 2.3, 3.3, "gabled", "other", 1, "hut")
