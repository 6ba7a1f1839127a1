"""Mean radiant temperature of a standing person from six-direction fluxes, in Taichi.

Following SOLWEIG (Lindberg et al. 2008), the person receives short-wave fluxes K and long-wave
fluxes L from above, below and the four horizontal directions, and the direct beam on an upright
cylinder:

    S_str = a_k (F_cyl I cos(e) sunlit + F_up (K_down + K_up) + F_side sum K_side)
          + a_l (F_up (L_down + L_up) + F_side sum L_side)
    Tmrt  = (S_str / (a_l sigma))^(1/4) - 273.15

with F_up = 0.06, F_side = 0.22 (standing posture), F_cyl = 0.28, a_k = 0.7, a_l = 0.97 (given by
the caller). SOLWEIG's other body, a box standing upright with its sides facing the four grid
directions (``body["box"] = 1``), takes the direct beam on its four sides instead of the cylinder:
F_side I cos(e) (|sin(az)| + |cos(az)|) sunlit, az the sun's azimuth (``hourly["azimuth_deg"]``); at
the same beam it absorbs more than the cylinder when the sun stands diagonally to the grid, and less
when it stands square to a side (F_side 0.22 against F_cyl 0.28). The hemispheric fluxes are mixed from the sky and the surroundings by the sky view factor:

    K_down = I sin(e) sunlit + D svf + (1 - svf) albedo_wall G / 2
    K_up   = albedo_ground K_down
    L_down = svf L_sky + (1 - svf) eps_wall sigma Tw^4
    L_up   = eps_ground sigma Ts^4 + (1 - eps_ground) L_down
    K_side = (D svf + (1 - svf) albedo_wall G / 2) / 2 + K_up / 2
    L_side = L_down / 2 + L_up / 2

where I is the direct normal irradiance, D the diffuse horizontal one, G = I sin(e) + D, e the sun
elevation, Tw the mean temperature of the surrounding walls (the air temperature unless given), Ts
the ground surface temperature of the cell.

The ground a person sees is not only the ground under their feet: a standing person (centre at
height z = 1.1 m) sees, looking down, half their ground view within 1.1 m and 90 % within 3.3 m;
looking sideways, 41 % within 2 m, 73 % within 5 m and 86 % within 10 m. With a ground view, the
emitted and reflected parts of L_up and K_up are the cell's own (weights ``own_down`` and
``own_side``) plus the means of the emitted long wave eps sigma Ts^4 and reflected short wave
albedo K_in over nested boxes of ground around the cell at the same level (``ground_view``),
weighted so that the share of the view within each box's radius is the view factor's
(``ground_view_weights``).

Arrays (row, col), row 0 north; units W/m2 and degrees C. Kernels keep no state; call
``sim_kernels.runtime.ensure_init`` first.
"""

import math

import numpy as np
import taichi as ti

__all__ = ["BODY", "mean_radiant_temperature", "ground_view", "ground_view_weights", "combine_ground_view"]

# absorption and angular factors of a standing person (SOLWEIG manual; Hoeppe 1992)
BODY = {"absorb_short": 0.70, "absorb_long": 0.97, "f_up": 0.06, "f_side": 0.22, "f_cyl": 0.28, "box": 0.0}


@ti.kernel
def _tmrt_kernel(
    sunlit: ti.types.ndarray(dtype=ti.f32, ndim=3),
    svf: ti.types.ndarray(dtype=ti.f32, ndim=2),
    surface: ti.types.ndarray(dtype=ti.u8, ndim=2),
    albedo: ti.types.ndarray(dtype=ti.f32, ndim=1),
    emissivity: ti.types.ndarray(dtype=ti.f32, ndim=1),
    ts: ti.types.ndarray(dtype=ti.f32, ndim=3),
    dni: ti.types.ndarray(dtype=ti.f32, ndim=1),
    dhi: ti.types.ndarray(dtype=ti.f32, ndim=1),
    elevation: ti.types.ndarray(dtype=ti.f32, ndim=1),
    azimuth: ti.types.ndarray(dtype=ti.f32, ndim=1),
    lsky: ti.types.ndarray(dtype=ti.f32, ndim=1),
    wall: ti.types.ndarray(dtype=ti.f32, ndim=1),
    near: ti.types.ndarray(dtype=ti.f32, ndim=4),
    tmrt: ti.types.ndarray(dtype=ti.f32, ndim=3),
    r0: ti.i32, r1: ti.i32, c0: ti.i32, c1: ti.i32,
    wall_albedo: ti.f32, wall_emissivity: ti.f32,
    ak: ti.f32, al: ti.f32, f_up: ti.f32, f_side: ti.f32, f_cyl: ti.f32,
    has_near: ti.i32, own_down: ti.f32, own_side: ti.f32, box: ti.i32,
):
    nk = sunlit.shape[0]
    for k, r, c in ti.ndrange(nk, (r0, r1), (c0, c1)):
        cls = ti.cast(surface[r, c], ti.i32)
        s = svf[r, c]
        sh = sunlit[k, r, c]
        e = elevation[k] * 0.017453292519943295
        i_dir = dni[k]
        if elevation[k] <= 0.01:  # no direct beam from a sun on or below the horizon
            i_dir = 0.0
        d = dhi[k]
        g = i_dir * ti.sin(e) + d
        tw = wall[k] + 273.15
        tg = ts[k, r, c] + 273.15
        l_wall = wall_emissivity * 5.670374419e-8 * tw * tw * tw * tw
        k_down = i_dir * ti.sin(e) * sh + d * s + (1.0 - s) * wall_albedo * g * 0.5
        k_up = albedo[cls] * k_down
        l_down = s * lsky[k] + (1.0 - s) * l_wall
        eg = emissivity[cls]
        l_emit = eg * 5.670374419e-8 * tg * tg * tg * tg
        l_up = l_emit + (1.0 - eg) * l_down
        k_up_side = k_up
        l_up_side = l_up
        if has_near != 0:  # the ground around the cell, seen looking down and sideways
            i, j = r - r0, c - c0
            k_up_side = own_side * k_up + near[3, k, i, j]
            l_up_side = own_side * l_emit + near[2, k, i, j] + (1.0 - eg) * l_down
            k_up = own_down * k_up + near[1, k, i, j]
            l_up = own_down * l_emit + near[0, k, i, j] + (1.0 - eg) * l_down
        k_side = 0.5 * (d * s + (1.0 - s) * wall_albedo * g * 0.5) + 0.5 * k_up_side
        l_side = 0.5 * l_down + 0.5 * l_up_side
        body_beam = f_cyl  # the direct beam on the upright body, per unit of the beam on a facing wall
        if box != 0:
            az = azimuth[k] * 0.017453292519943295
            body_beam = f_side * (ti.abs(ti.sin(az)) + ti.abs(ti.cos(az)))
        s_str = ak * (body_beam * i_dir * ti.cos(e) * sh + f_up * (k_down + k_up) + 4.0 * f_side * k_side)
        s_str += al * (f_up * (l_down + l_up) + 4.0 * f_side * l_side)
        tmrt[k, r, c] = ti.sqrt(ti.sqrt(s_str / (al * 5.670374419e-8))) - 273.15


def mean_radiant_temperature(
    sunlit: np.ndarray,
    svf: np.ndarray,
    surface_class: np.ndarray,
    class_albedo: np.ndarray,
    class_emissivity: np.ndarray,
    surface_temp_c: np.ndarray,
    hourly: dict[str, np.ndarray],
    *,
    wall_albedo: float = 0.2,
    wall_emissivity: float = 0.9,
    body: "dict[str, float] | None" = None,
    window: "tuple[int, int, int, int] | None" = None,
    out: "np.ndarray | None" = None,
    near: "np.ndarray | None" = None,
    own_down: float = 1.0,
    own_side: float = 1.0,
) -> np.ndarray:
    """Tmrt (degrees C) at K hours.

    Parameters
    ----------
    sunlit : (K, rows, cols) float32, direct-beam sunlit fraction.
    svf : (rows, cols) float32, effective sky view factor.
    surface_class : (rows, cols) uint8; class_albedo, class_emissivity : (n,) per class.
    surface_temp_c : (K, rows, cols) float32, ground surface temperature.
    hourly : (K,) arrays ``direct_normal_w_m2``, ``diffuse_w_m2``, ``elevation_deg``,
        ``longwave_sky_w_m2``, ``air_temp_c`` and optionally ``wall_temp_c`` (default: air) and
        ``azimuth_deg`` (degrees clockwise from north; needed for the box body).
    body : absorption and angular factors and ``box`` (1: box body; default ``BODY``, the cylinder).
    window : (r0, r1, c0, c1) cells to compute; all when None. out : (K, rows, cols) to fill.
    near : (4, K, r1 - r0, c1 - c0) float32 W/m2, the rest of the ground view of the window's cells:
        emitted and reflected looking down, emitted and reflected looking sideways, each already
        weighted (``combine_ground_view``); None: the person sees only the cell's own ground.
    own_down, own_side : weights of the cell's own ground in the downward and sideways fluxes when
        ``near`` is given (``ground_view_weights``).

    Returns
    -------
    (K, rows, cols) float32, mean radiant temperature, degrees C.
    """
    b = dict(BODY if body is None else body)
    sun = np.ascontiguousarray(sunlit, np.float32)
    nk, rows, cols = sun.shape
    if out is None:
        out = np.zeros((nk, rows, cols), np.float32)
    r0, r1, c0, c1 = window if window is not None else (0, rows, 0, cols)
    f32 = lambda a: np.ascontiguousarray(a, np.float32)  # noqa: E731
    near_a = np.zeros((4, 1, 1, 1), np.float32) if near is None else f32(near)
    if near is not None and near_a.shape != (4, nk, r1 - r0, c1 - c0):
        raise ValueError(f"ground view shape {near_a.shape} != {(4, nk, r1 - r0, c1 - c0)}")
    box = bool(b.get("box", 0.0))
    if box and "azimuth_deg" not in hourly:
        raise ValueError("the box body needs the sun's azimuth (hourly['azimuth_deg'])")
    azimuth = f32(hourly["azimuth_deg"]) if box else np.zeros(nk, np.float32)
    _tmrt_kernel(
        sun, f32(svf), np.ascontiguousarray(surface_class, np.uint8), f32(class_albedo), f32(class_emissivity),
        f32(surface_temp_c), f32(hourly["direct_normal_w_m2"]), f32(hourly["diffuse_w_m2"]),
        f32(hourly["elevation_deg"]), azimuth, f32(hourly["longwave_sky_w_m2"]),
        f32(hourly.get("wall_temp_c", hourly["air_temp_c"])), near_a, out,
        r0, r1, c0, c1, float(wall_albedo), float(wall_emissivity),
        b["absorb_short"], b["absorb_long"], b["f_up"], b["f_side"], b["f_cyl"],
        int(near is not None), float(own_down), float(own_side), int(box),
    )
    return out


def ground_view_weights(cell_m: float, height_m: float, radii_cells: "tuple[int, ...]") -> dict[str, np.ndarray]:
    """Weights of the cell's own ground and of the box means of ``ground_view`` (half-widths
    ``radii_cells``, increasing) in what a person at ``height_m`` sees looking down and sideways.

    The own cell and each box count as discs of the same area (radii a_0 < a_1 < ...). Looking
    down, the share of the ground view within radius a is F(a) = a^2 / (a^2 + z^2); looking sideways
    (the four sides together) F(a) = 1 - (2 / pi) (b + sin b cos b), b = atan(z / a). A weight w_i on
    the mean of disc i puts w_i min(a^2 / a_i^2, 1) of the view within a; the weights make that equal
    F at each a_j, and the largest box takes what lies beyond it. Returns ``own_down``,
    ``own_side`` (floats as 0-d arrays) and ``down``, ``side`` (len(radii_cells),).
    """
    if any(n < 1 for n in radii_cells) or list(radii_cells) != sorted(set(radii_cells)):
        raise ValueError(f"box half-widths must increase from 1 cell: {radii_cells}")
    z = float(height_m)
    a = np.array([cell_m / math.sqrt(math.pi)] + [(2 * n + 1) * cell_m / math.sqrt(math.pi) for n in radii_cells])
    b = np.arctan2(z, a)
    shares = {"down": a * a / (a * a + z * z), "side": 1.0 - (2.0 / math.pi) * (b + np.sin(b) * np.cos(b))}
    m = np.minimum((a[:, None] / a[None, :]) ** 2, 1.0)  # m[j, i]: share of disc i within radius a_j
    out: dict[str, np.ndarray] = {}
    for name, f in shares.items():
        target = f.copy()
        if len(radii_cells):
            target[-1] = 1.0
        w = np.linalg.solve(m, target) if len(radii_cells) else np.ones(1)
        out[f"own_{name}"], out[name] = np.asarray(w[0]), w[1:]
    return out


def combine_ground_view(emitted: np.ndarray, reflected: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """(4, K, h, w) float32 ``near`` of ``mean_radiant_temperature`` from the box means of
    ``ground_view`` ((n_radii, K, h, w) each) and ``ground_view_weights``."""
    wd = np.asarray(weights["down"], np.float64)[:, None, None, None]
    ws = np.asarray(weights["side"], np.float64)[:, None, None, None]
    return np.stack([(wd * emitted).sum(0), (wd * reflected).sum(0), (ws * emitted).sum(0),
                     (ws * reflected).sum(0)]).astype(np.float32)


def _box_sums(a: np.ndarray, radii: "list[int]") -> "list[np.ndarray]":
    """Sums over the (2 q + 1)^2 box around each cell for each half-width q of ``radii``, cells
    outside the array counting zero (one summed-area table in float64 of the array padded by the
    largest radius)."""
    rows, cols = a.shape
    n = max(radii)
    sat = np.zeros((rows + 2 * n + 1, cols + 2 * n + 1))
    inner = sat[1:, 1:]
    inner[n:n + rows, n:n + cols] = a
    np.cumsum(inner, axis=0, out=inner)
    np.cumsum(inner, axis=1, out=inner)
    out = []
    for q in radii:
        hi, lo = slice(n + q + 1, n + q + 1 + rows), slice(n - q, n - q + rows)
        hc, lc = slice(n + q + 1, n + q + 1 + cols), slice(n - q, n - q + cols)
        out.append(sat[hi, hc] - sat[lo, hc] - sat[hi, lc] + sat[lo, lc])
    return out


def ground_view(
    sunlit: np.ndarray,
    svf: np.ndarray,
    surface_class: np.ndarray,
    class_albedo: np.ndarray,
    class_emissivity: np.ndarray,
    surface_temp_c: np.ndarray,
    hourly: dict[str, np.ndarray],
    *,
    raised: np.ndarray,
    radii_cells: "tuple[int, ...]",
    wall_albedo: float = 0.2,
    window: "tuple[int, int, int, int] | None" = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ground a person sees around each cell of ``window``: for each half-width n of
    ``radii_cells``, the mean over the cells of the (2 n + 1)^2 box around it at the same level
    (``raised`` roofs with roofs, ground with ground) of the emitted long wave eps sigma Ts^4 and of
    the reflected short wave albedo K_in, K_in = I sin(e) sunlit + D svf + (1 - svf) albedo_wall G / 2
    as in the Tmrt fluxes.

    Reads the cells within the largest radius of the window (clipped at the grid's edge, where the
    mean is over the cells inside). Arguments as ``mean_radiant_temperature``; ``raised`` (rows,
    cols) bool. Returns (emitted, reflected), each (len(radii_cells), K, r1 - r0, c1 - c0) float32, W/m2.
    """
    sun = np.asarray(sunlit, np.float32)
    nk, rows, cols = sun.shape
    r0, r1, c0, c1 = window if window is not None else (0, rows, 0, cols)
    radii = [max(int(x), 0) for x in radii_cells]
    if not radii:
        empty = np.zeros((0, nk, r1 - r0, c1 - c0), np.float32)
        return empty, empty.copy()
    n = max(radii)
    a0, a1, b0, b1 = max(r0 - n, 0), min(r1 + n, rows), max(c0 - n, 0), min(c1 + n, cols)
    cls = np.asarray(surface_class)[a0:a1, b0:b1].astype(np.intp)
    alb = np.asarray(class_albedo, np.float64)[cls]
    eps = np.asarray(class_emissivity, np.float64)[cls]
    s = np.asarray(svf, np.float64)[a0:a1, b0:b1]
    up = np.asarray(raised, bool)[a0:a1, b0:b1]
    inner = (slice(r0 - a0, r1 - a0), slice(c0 - b0, c1 - b0))
    ground = (~up).astype(np.float64)
    roof = up.astype(np.float64)
    up_in = up[inner]
    # 1 / (cells of the centre's level in each box), per radius
    inv = [np.where(up_in, 1.0 / np.maximum(cr[inner], 1.0), 1.0 / np.maximum(cg[inner], 1.0))
           for cg, cr in zip(_box_sums(ground, radii), _box_sums(roof, radii))]
    emitted = np.zeros((len(radii), nk, r1 - r0, c1 - c0), np.float32)
    reflected = np.zeros_like(emitted)
    for k in range(nk):
        el = math.radians(float(np.asarray(hourly["elevation_deg"])[k]))
        i_dir = float(np.asarray(hourly["direct_normal_w_m2"])[k]) if el > math.radians(0.01) else 0.0
        d = float(np.asarray(hourly["diffuse_w_m2"])[k])
        g = i_dir * math.sin(el) + d
        k_in = i_dir * math.sin(el) * sun[k, a0:a1, b0:b1] + d * s + (1.0 - s) * wall_albedo * 0.5 * g
        tk = np.asarray(surface_temp_c[k, a0:a1, b0:b1], np.float64) + 273.15
        for field, dest in ((eps * 5.670374419e-8 * tk**4, emitted), (alb * k_in, reflected)):
            on_ground = _box_sums(field * ground, radii)
            on_roofs = _box_sums(field * roof, radii)
            for i in range(len(radii)):
                dest[i, k] = np.where(up_in, on_roofs[i][inner], on_ground[i][inner]) * inv[i]
    return emitted, reflected
