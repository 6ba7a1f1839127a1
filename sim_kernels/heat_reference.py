"""Slow, obvious NumPy references of the heat kernels, for tests on tiny grids.

Each function computes what its Taichi counterpart computes, cell by cell in plain Python loops (or
whole-array NumPy where that is the obvious form), with the same discretisation, so the two agree to
float rounding. Never use these on real grids.
"""

from __future__ import annotations

import math

import numpy as np

from sim_kernels.shadows import shadow_ray
from sim_kernels.skyview import scan_directions

__all__ = [
    "shadows_reference",
    "svf_reference",
    "energy_reference",
    "advection_step_reference",
    "tmrt_reference",
    "ground_view_reference",
]

SIGMA = 5.670374419e-8


def shadows_reference(dsm, canopy_top, trunk_top, cell_m, azimuth_deg, elevation_deg, transmissivity, max_reach_m):
    """(building_sunlit, sunlit) as in ``sim_kernels.shadows.cast_shadows``, float64 (rows, cols)."""
    dsm = np.asarray(dsm, np.float32)
    canopy_top = np.asarray(canopy_top, np.float32)
    trunk_top = np.asarray(trunk_top, np.float32)
    rows, cols = dsm.shape
    top = float(max(dsm.max(), canopy_top.max()))
    ray = shadow_ray(azimuth_deg, elevation_deg, cell_m, top - float(dsm.min()), max_reach_m)
    bsun = np.ones((rows, cols))
    sun = np.ones((rows, cols))
    for r in range(rows):
        for c in range(cols):
            z0 = float(dsm[r, c])
            veg = canopy_top[r, c] > z0 and trunk_top[r, c] >= z0 - 1e-3 and canopy_top[r, c] > trunk_top[r, c]
            shaded = False
            for i in range(1, ray.max_steps + 1):
                rr = r + math.floor(i * np.float32(ray.step_row) + 0.5)
                cc = c + math.floor(i * np.float32(ray.step_col) + 0.5)
                zr = z0 + i * np.float32(ray.rise_m)
                if not (0 <= rr < rows and 0 <= cc < cols) or zr > top:
                    break
                if dsm[rr, cc] > zr:
                    shaded = True
                    break
                if canopy_top[rr, cc] > zr > trunk_top[rr, cc]:
                    veg = True
            bsun[r, c] = 0.0 if shaded else 1.0
            sun[r, c] = bsun[r, c] * (1.0 - (1.0 - transmissivity) * float(veg))
    return bsun, sun


def svf_reference(dsm, canopy_top, cell_m, n_azimuths, radius_m):
    """(svf, svf_with_canopy) as in ``sim_kernels.skyview.sky_view_factor``, without early stopping."""
    dsm = np.asarray(dsm, np.float32)
    canopy_top = np.asarray(canopy_top, np.float32)
    rows, cols = dsm.shape
    sr, sc, sl = scan_directions(n_azimuths)
    svf = np.zeros((rows, cols))
    svf_v = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            z0 = float(dsm[r, c])
            for k in range(n_azimuths):
                tb = tv = 0.0
                i = 1
                while (i - 0.5) * float(sl[k]) * cell_m <= radius_m:
                    d = (i - 0.5) * float(sl[k]) * cell_m
                    rr = r + math.floor(i * sr[k] + 0.5)
                    cc = c + math.floor(i * sc[k] + 0.5)
                    if not (0 <= rr < rows and 0 <= cc < cols):
                        break
                    hb = float(dsm[rr, cc]) - z0
                    tb = max(tb, hb / d)
                    tv = max(tv, max(hb, float(canopy_top[rr, cc]) - z0) / d)
                    i += 1
                svf[r, c] += math.cos(math.atan(tb)) ** 2 / n_azimuths
                svf_v[r, c] += math.cos(math.atan(tv)) ** 2 / n_azimuths
            if canopy_top[r, c] > z0:
                svf_v[r, c] = 0.0
    return svf, svf_v


def energy_reference(sunlit, svf, surface_class, classes, forcing, hours, t_deep_c, wall_albedo=0.2,
                     wall_emissivity=0.9, h_free=3.0, n_sub=6, spin_up_days=1, rho_cp=1.2 * 1005.0):
    """Force-restore surface energy balance as in ``sim_kernels.energy``, whole arrays in float64.

    Returns a dict of (len(hours), rows, cols) arrays: surface_temp_c, q_star, q_h, q_e, q_g.
    """
    k = np.asarray(surface_class, int)
    a = np.asarray(classes["albedo"], float)[k]
    eps = np.asarray(classes["emissivity"], float)[k]
    cg = np.asarray(classes["capacity_j_m2k"], float)[k]
    tr = np.asarray(classes["transfer"], float)[k]
    ef = np.asarray(classes["evaporative_fraction"], float)[k]
    s = np.asarray(svf, float)
    sun = np.asarray(sunlit, float)
    f = {n: np.asarray(v, float) for n, v in forcing.items()}
    f.setdefault("wall_temp_c", f["air_temp_c"])
    omega = 2.0 * math.pi / 86400.0
    dt = 3600.0 / n_sub
    ts = np.full(s.shape, float(t_deep_c))
    qs = qh = qe = qg = np.zeros(s.shape)
    out = {n: np.zeros((len(hours),) + s.shape) for n in ("surface_temp_c", "q_star", "q_h", "q_e", "q_g")}

    def k_in(h):
        g = f["direct_horizontal_w_m2"][h] + f["diffuse_w_m2"][h]
        return sun[h] * f["direct_horizontal_w_m2"][h] + s * f["diffuse_w_m2"][h] + (1 - s) * wall_albedo * 0.5 * g

    for day in range(spin_up_days + 1):
        for h in range(24):
            if day == spin_up_days and h in hours:
                i = list(hours).index(h)
                for n, v in zip(out, (ts, qs, qh, qe, qg)):
                    out[n][i] = v
            h1 = (h + 1) % 24
            for j in range(n_sub):
                w = (j + 0.5) / n_sub
                ta, u, ls, tw = ((1 - w) * f[n][h] + w * f[n][h1]
                                 for n in ("air_temp_c", "wind_m_s", "longwave_sky_w_m2", "wall_temp_c"))
                l_in = s * ls + (1 - s) * wall_emissivity * SIGMA * (tw + 273.15) ** 4
                k_abs = (1 - a) * ((1 - w) * k_in(h) + w * k_in(h1))
                hc = rho_cp * tr * u + h_free
                q0 = k_abs + eps * l_in - eps * SIGMA * (ts + 273.15) ** 4
                qe = ef * np.maximum(q0, 0.0)
                f0 = q0 - hc * (ts - ta) - qe
                df = -4 * eps * SIGMA * (ts + 273.15) ** 3 - hc
                ts1 = (cg * ts / dt + cg * omega * t_deep_c + f0 - df * ts) / (cg / dt + cg * omega - df)
                qs = k_abs + eps * l_in - eps * SIGMA * (ts1 + 273.15) ** 4
                qh = hc * (ts1 - ta)
                qg = cg * ((ts1 - ts) / dt + omega * (ts1 - t_deep_c))
                ts = ts1
    return out


def advection_step_reference(theta, source_k_s, u, v, diffusivity, tau, dt, dx):
    """One explicit upwind advection / central diffusion / relaxation step, as in ``sim_kernels.airtemp``."""
    t = np.asarray(theta, float)
    p = np.pad(t, 1, mode="edge")  # outflow sides: zero gradient
    if u >= 0:
        p[:, 0] = 0.0
    if u <= 0:
        p[:, -1] = 0.0
    if v <= 0:
        p[0, :] = 0.0
    if v >= 0:
        p[-1, :] = 0.0
    west, east = p[1:-1, :-2], p[1:-1, 2:]
    north, south = p[:-2, 1:-1], p[2:, 1:-1]
    adv = -(u * (t - west) if u >= 0 else u * (east - t)) / dx
    adv = adv - (v * (t - south) if v >= 0 else v * (north - t)) / dx
    lap = (west + east + north + south - 4 * t) / dx**2
    return t + dt * (adv + diffusivity * lap + np.asarray(source_k_s, float) - t / tau)


def tmrt_reference(sunlit, svf, albedo_g, emissivity_g, ts_c, dni, dhi, elevation_deg, lsky, wall_c,
                   wall_albedo=0.2, wall_emissivity=0.9, ak=0.7, al=0.97, f_up=0.06, f_side=0.22, f_cyl=0.28,
                   near=None, own_down=1.0, own_side=1.0, box_azimuth_deg=None):
    """Six-direction Tmrt of one hour as in ``sim_kernels.radiation`` (arrays per cell, scalars per hour);
    ``box_azimuth_deg`` given: a box body whose four sides face north, east, south and west each take
    F_side times the beam on a wall of their orientation (the sun at that azimuth), no cylinder;
    ``near`` the weighted rest of the ground view (emitted and reflected looking down, emitted and
    reflected looking sideways), added to the cells' own ground times ``own_down`` / ``own_side``."""
    e = math.radians(elevation_deg)
    i_dir = dni if elevation_deg > 0.01 else 0.0
    g = i_dir * math.sin(e) + dhi
    l_wall = wall_emissivity * SIGMA * (wall_c + 273.15) ** 4
    k_down = i_dir * math.sin(e) * sunlit + dhi * svf + (1 - svf) * wall_albedo * g / 2
    k_up = albedo_g * k_down
    l_down = svf * lsky + (1 - svf) * l_wall
    l_emit = emissivity_g * SIGMA * (np.asarray(ts_c, float) + 273.15) ** 4
    l_up = l_emit + (1 - emissivity_g) * l_down
    k_up_side, l_up_side = k_up, l_up
    if near is not None:
        n_ld, n_kd, n_ls, n_ks = (np.asarray(a, float) for a in near)
        k_up_side = own_side * k_up + n_ks
        l_up_side = own_side * l_emit + n_ls + (1 - emissivity_g) * l_down
        k_up = own_down * k_up + n_kd
        l_up = own_down * l_emit + n_ld + (1 - emissivity_g) * l_down
    k_side = [(dhi * svf + (1 - svf) * wall_albedo * g / 2) / 2 + k_up_side / 2 for _ in range(4)]
    l_side = [l_down / 2 + l_up_side / 2 for _ in range(4)]
    if box_azimuth_deg is None:
        beam = f_cyl * i_dir * math.cos(e)
    else:  # each side: the beam on a vertical wall facing north, east, south, west, where the sun is in front
        az = math.radians(box_azimuth_deg)
        beam = f_side * i_dir * math.cos(e) * sum(max(0.0, math.cos(az - math.radians(side))) for side in (0, 90, 180, 270))
    s_str = ak * (beam * sunlit + f_up * (k_down + k_up) + f_side * sum(k_side))
    s_str = s_str + al * (f_up * (l_down + l_up) + f_side * sum(l_side))
    return (s_str / (al * SIGMA)) ** 0.25 - 273.15


def ground_view_reference(sunlit, svf, albedo_g, emissivity_g, ts_c, dni, dhi, elevation_deg, raised, radius,
                          wall_albedo=0.2):
    """(emitted, reflected) ground view of one hour as in ``sim_kernels.radiation.ground_view``: for
    each cell, the plain mean over the cells of the box of half-width ``radius`` inside the grid at
    the same level (``raised`` or not) of eps sigma Ts^4 and of albedo K_in."""
    e = math.radians(elevation_deg)
    i_dir = dni if elevation_deg > 0.01 else 0.0
    g = i_dir * math.sin(e) + dhi
    rows, cols = np.shape(svf)
    emitted, reflected = np.zeros((rows, cols)), np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            tot_l = tot_k = 0.0
            n = 0
            for rr in range(max(r - radius, 0), min(r + radius + 1, rows)):
                for cc in range(max(c - radius, 0), min(c + radius + 1, cols)):
                    if raised[rr][cc] != raised[r][c]:
                        continue
                    k_in = i_dir * math.sin(e) * sunlit[rr][cc] + dhi * svf[rr][cc] + (1 - svf[rr][cc]) * wall_albedo * g / 2
                    tot_l += emissivity_g[rr][cc] * SIGMA * (float(ts_c[rr][cc]) + 273.15) ** 4
                    tot_k += albedo_g[rr][cc] * k_in
                    n += 1
            emitted[r, c], reflected[r, c] = tot_l / n, tot_k / n
    return emitted, reflected
