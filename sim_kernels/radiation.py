"""Mean radiant temperature of a standing person from six-direction fluxes, in Taichi.

Following SOLWEIG (Lindberg et al. 2008), the person receives short-wave fluxes K and long-wave
fluxes L from above, below and the four horizontal directions, and the direct beam on an upright
cylinder:

    S_str = a_k (F_cyl I cos(e) sunlit + F_up (K_down + K_up) + F_side sum K_side)
          + a_l (F_up (L_down + L_up) + F_side sum L_side)
    Tmrt  = (S_str / (a_l sigma))^(1/4) - 273.15

with F_up = 0.06, F_side = 0.22 (standing posture), F_cyl = 0.28, a_k = 0.7, a_l = 0.97 (given by
the caller). The hemispheric fluxes are mixed from the sky and the surroundings by the sky view factor:

    K_down = I sin(e) sunlit + D svf + (1 - svf) albedo_wall G / 2
    K_up   = albedo_ground K_down
    L_down = svf L_sky + (1 - svf) eps_wall sigma Tw^4
    L_up   = eps_ground sigma Ts^4 + (1 - eps_ground) L_down
    K_side = (D svf + (1 - svf) albedo_wall G / 2) / 2 + K_up / 2
    L_side = L_down / 2 + L_up / 2

where I is the direct normal irradiance, D the diffuse horizontal one, G = I sin(e) + D, e the sun
elevation, Tw the mean temperature of the surrounding walls (the air temperature unless given), Ts
the ground surface temperature of the cell.

Arrays (row, col), row 0 north; units W/m2 and degrees C. Kernels keep no state; call
``sim_kernels.runtime.ensure_init`` first.
"""

import numpy as np
import taichi as ti

__all__ = ["BODY", "mean_radiant_temperature"]

# absorption and angular factors of a standing person (SOLWEIG manual; Hoeppe 1992)
BODY = {"absorb_short": 0.70, "absorb_long": 0.97, "f_up": 0.06, "f_side": 0.22, "f_cyl": 0.28}


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
    lsky: ti.types.ndarray(dtype=ti.f32, ndim=1),
    wall: ti.types.ndarray(dtype=ti.f32, ndim=1),
    tmrt: ti.types.ndarray(dtype=ti.f32, ndim=3),
    r0: ti.i32, r1: ti.i32, c0: ti.i32, c1: ti.i32,
    wall_albedo: ti.f32, wall_emissivity: ti.f32,
    ak: ti.f32, al: ti.f32, f_up: ti.f32, f_side: ti.f32, f_cyl: ti.f32,
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
        l_up = eg * 5.670374419e-8 * tg * tg * tg * tg + (1.0 - eg) * l_down
        k_side = 0.5 * (d * s + (1.0 - s) * wall_albedo * g * 0.5) + 0.5 * k_up
        l_side = 0.5 * l_down + 0.5 * l_up
        s_str = ak * (f_cyl * i_dir * ti.cos(e) * sh + f_up * (k_down + k_up) + 4.0 * f_side * k_side)
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
) -> np.ndarray:
    """Tmrt (degrees C) at K hours.

    Parameters
    ----------
    sunlit : (K, rows, cols) float32, direct-beam sunlit fraction.
    svf : (rows, cols) float32, effective sky view factor.
    surface_class : (rows, cols) uint8; class_albedo, class_emissivity : (n,) per class.
    surface_temp_c : (K, rows, cols) float32, ground surface temperature.
    hourly : (K,) arrays ``direct_normal_w_m2``, ``diffuse_w_m2``, ``elevation_deg``,
        ``longwave_sky_w_m2``, ``air_temp_c`` and optionally ``wall_temp_c`` (default: air).
    body : absorption and angular factors (default ``BODY``).
    window : (r0, r1, c0, c1) cells to compute; all when None. out : (K, rows, cols) to fill.

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
    _tmrt_kernel(
        sun, f32(svf), np.ascontiguousarray(surface_class, np.uint8), f32(class_albedo), f32(class_emissivity),
        f32(surface_temp_c), f32(hourly["direct_normal_w_m2"]), f32(hourly["diffuse_w_m2"]),
        f32(hourly["elevation_deg"]), f32(hourly["longwave_sky_w_m2"]),
        f32(hourly.get("wall_temp_c", hourly["air_temp_c"])), out,
        r0, r1, c0, c1, float(wall_albedo), float(wall_emissivity),
        b["absorb_short"], b["absorb_long"], b["f_up"], b["f_side"], b["f_cyl"],
    )
    return out
