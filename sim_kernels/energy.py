"""Surface energy balance per cell with force-restore ground storage, in Taichi.

Each cell integrates its surface temperature Ts over a day of hourly forcing (run ``spin_up_days``
times first, so the day is periodic), in ``n_sub`` implicit sub-steps per hour:

    Q* = (1 - albedo) K_in + emissivity L_in - emissivity sigma Ts^4        net all-wave radiation
    QH = h (Ts - Ta),  h = rho c_p * transfer * u + h_free                 sensible heat (bulk transfer)
    QE = evaporative_fraction * max(Q*, 0)                                  latent heat (explicit)
    QG = Cg (dTs/dt + omega (Ts - T_deep)),  Cg = C d / 2, d = sqrt(2 kappa / omega)
                                                                            ground storage (force-restore)

with Q* - QH - QE - QG = 0 solved for the new Ts after linearising Ts^4 about the old value
(Deardorff 1978; Bhumralkar 1975). Incoming short wave is the direct beam times the sunlit fraction
plus diffuse sky light times the sky view factor plus light reflected by walls; incoming long wave is
sky radiation times the sky view factor plus radiation of the walls at their mean temperature.

Arrays (row, col), row 0 north. Units: W/m2, degrees C, m/s, J/(m2 K). Hourly forcing arrays hold 24
values for the hour instants 0..23 local solar-clock time; forcing is linear between instants and the
day wraps around. Kernels keep no state; call ``sim_kernels.runtime.ensure_init`` first.
"""

import math

import numpy as np
import taichi as ti

__all__ = ["SIGMA", "OMEGA_DAY", "RHO_CP", "storage_capacity", "surface_energy_day"]

SIGMA = 5.670374419e-8  # Stefan-Boltzmann, W/(m2 K4)
OMEGA_DAY = 2.0 * math.pi / 86400.0  # angular frequency of the day, 1/s
RHO_CP = 1.2 * 1005.0  # volumetric heat capacity of air near the ground, J/(m3 K)


def storage_capacity(vol_heat_capacity_j_m3k: np.ndarray, conductivity_w_mk: np.ndarray) -> np.ndarray:
    """Force-restore surface capacity Cg = C d / 2 in J/(m2 K), d the diurnal damping depth."""
    c = np.asarray(vol_heat_capacity_j_m3k, float)
    k = np.asarray(conductivity_w_mk, float)
    depth_m = np.sqrt(2.0 * (k / c) / OMEGA_DAY)
    return (c * depth_m / 2.0).astype(np.float32)


@ti.func
def _cell_day(
    r, c,
    sunlit: ti.template(), svf: ti.template(), surface: ti.template(), albedo: ti.template(),
    emissivity: ti.template(), capacity: ti.template(), transfer: ti.template(), evap: ti.template(),
    direct: ti.template(), diffuse: ti.template(), lsky: ti.template(), air: ti.template(),
    wall: ti.template(), wind: ti.template(), slot: ti.template(), ts_out: ti.template(),
    qstar_out: ti.template(), qh_out: ti.template(), qe_out: ti.template(), qg_out: ti.template(),
    t_deep, n_sub, days, wall_albedo, wall_emissivity, h_free, rho_cp, want_fluxes,
):
    """One cell's day (the spin-up days, then the recorded one) into the output arrays."""
    k = ti.cast(surface[r, c], ti.i32)
    a = albedo[k]
    eps = emissivity[k]
    cg = capacity[k]
    tr = transfer[k]
    ef = evap[k]
    s = svf[r, c]
    dt = 3600.0 / n_sub
    ts = t_deep
    qs = 0.0
    qh = 0.0
    qe = 0.0
    qg = 0.0
    for day in range(days):
        for h in range(24):
            if day == days - 1 and slot[h] >= 0:
                ts_out[slot[h], r, c] = ts
                if want_fluxes != 0:
                    qstar_out[slot[h], r, c] = qs
                    qh_out[slot[h], r, c] = qh
                    qe_out[slot[h], r, c] = qe
                    qg_out[slot[h], r, c] = qg
            h1 = (h + 1) % 24
            k_in0 = sunlit[h, r, c] * direct[h] + s * diffuse[h] + (1.0 - s) * wall_albedo * 0.5 * (direct[h] + diffuse[h])
            k_in1 = sunlit[h1, r, c] * direct[h1] + s * diffuse[h1] + (1.0 - s) * wall_albedo * 0.5 * (direct[h1] + diffuse[h1])
            for j in range(n_sub):
                w = (j + 0.5) / n_sub
                k_in = (1.0 - w) * k_in0 + w * k_in1
                ta = (1.0 - w) * air[h] + w * air[h1]
                u = (1.0 - w) * wind[h] + w * wind[h1]
                ls = (1.0 - w) * lsky[h] + w * lsky[h1]
                twk = (1.0 - w) * wall[h] + w * wall[h1] + 273.15
                l_in = s * ls + (1.0 - s) * wall_emissivity * 5.670374419e-8 * twk * twk * twk * twk
                k_abs = (1.0 - a) * k_in
                hc = rho_cp * tr * u + h_free
                tk = ts + 273.15
                q0 = k_abs + eps * l_in - eps * 5.670374419e-8 * tk * tk * tk * tk
                qe = ef * ti.max(q0, 0.0)
                f0 = q0 - hc * (ts - ta) - qe
                df = -4.0 * eps * 5.670374419e-8 * tk * tk * tk - hc
                ts1 = (cg * ts / dt + cg * 7.27220521664304e-05 * t_deep + f0 - df * ts) / (
                    cg / dt + cg * 7.27220521664304e-05 - df
                )
                tk1 = ts1 + 273.15
                qs = k_abs + eps * l_in - eps * 5.670374419e-8 * tk1 * tk1 * tk1 * tk1
                qh = hc * (ts1 - ta)
                qg = cg * ((ts1 - ts) / dt + 7.27220521664304e-05 * (ts1 - t_deep))
                ts = ts1


@ti.kernel
def _energy_kernel(
    sunlit: ti.types.ndarray(dtype=ti.f32, ndim=3),
    svf: ti.types.ndarray(dtype=ti.f32, ndim=2),
    surface: ti.types.ndarray(dtype=ti.u8, ndim=2),
    albedo: ti.types.ndarray(dtype=ti.f32, ndim=1),
    emissivity: ti.types.ndarray(dtype=ti.f32, ndim=1),
    capacity: ti.types.ndarray(dtype=ti.f32, ndim=1),
    transfer: ti.types.ndarray(dtype=ti.f32, ndim=1),
    evap: ti.types.ndarray(dtype=ti.f32, ndim=1),
    direct: ti.types.ndarray(dtype=ti.f32, ndim=1),
    diffuse: ti.types.ndarray(dtype=ti.f32, ndim=1),
    lsky: ti.types.ndarray(dtype=ti.f32, ndim=1),
    air: ti.types.ndarray(dtype=ti.f32, ndim=1),
    wall: ti.types.ndarray(dtype=ti.f32, ndim=1),
    wind: ti.types.ndarray(dtype=ti.f32, ndim=1),
    slot: ti.types.ndarray(dtype=ti.i32, ndim=1),
    ts_out: ti.types.ndarray(dtype=ti.f32, ndim=3),
    qstar_out: ti.types.ndarray(dtype=ti.f32, ndim=3),
    qh_out: ti.types.ndarray(dtype=ti.f32, ndim=3),
    qe_out: ti.types.ndarray(dtype=ti.f32, ndim=3),
    qg_out: ti.types.ndarray(dtype=ti.f32, ndim=3),
    cells: ti.types.ndarray(dtype=ti.i32, ndim=1),
    use_cells: ti.i32, r0: ti.i32, r1: ti.i32, c0: ti.i32, c1: ti.i32,
    t_deep: ti.f32, n_sub: ti.i32, days: ti.i32, wall_albedo: ti.f32, wall_emissivity: ti.f32,
    h_free: ti.f32, rho_cp: ti.f32, want_fluxes: ti.i32,
):
    # the cells of a window, or the listed cells (flat row-major indices: an edit's changed cells, not
    # their bounding box)
    width = ti.max(c1 - c0, 1)
    total = (r1 - r0) * (c1 - c0)
    if use_cells != 0:
        total = cells.shape[0]
    for i in range(total):
        r = r0 + i // width
        c = c0 + i % width
        if use_cells != 0:
            r = cells[i] // svf.shape[1]
            c = cells[i] % svf.shape[1]
        _cell_day(
            r, c,
            sunlit, svf, surface, albedo, emissivity, capacity, transfer, evap, direct, diffuse, lsky, air,
            wall, wind, slot, ts_out, qstar_out, qh_out, qe_out, qg_out, t_deep, n_sub, days, wall_albedo,
            wall_emissivity, h_free, rho_cp, want_fluxes,
        )


def surface_energy_day(
    sunlit: np.ndarray,
    svf: np.ndarray,
    surface_class: np.ndarray,
    classes: dict[str, np.ndarray],
    forcing: dict[str, np.ndarray],
    *,
    hours: "tuple[int, ...] | list[int]",
    t_deep_c: float,
    wall_albedo: float = 0.2,
    wall_emissivity: float = 0.9,
    h_free_w_m2k: float = 3.0,
    n_sub: int = 6,
    spin_up_days: int = 1,
    window: "tuple[int, int, int, int] | None" = None,
    cells: "np.ndarray | None" = None,
    fluxes: bool = False,
    out: "dict[str, np.ndarray] | None" = None,
) -> dict[str, np.ndarray]:
    """Surface temperature (and optionally the fluxes) at the given hour instants.

    Parameters
    ----------
    sunlit : (24, rows, cols) float32, direct-beam sunlit fraction at each hour instant (0 at night).
    svf : (rows, cols) float32, effective sky view factor.
    surface_class : (rows, cols) uint8, codes into the class tables.
    classes : per-class (n,) arrays ``albedo``, ``emissivity``, ``capacity_j_m2k`` (see
        ``storage_capacity``), ``transfer`` (bulk transfer coefficient, dimensionless, multiplies
        rho c_p u) and ``evaporative_fraction``.
    forcing : (24,) arrays ``direct_horizontal_w_m2``, ``diffuse_w_m2``, ``longwave_sky_w_m2``,
        ``air_temp_c``, ``wind_m_s`` at the hour instants 0..23, optionally ``wall_temp_c`` (the mean
        temperature of the walls a cell sees; air temperature when absent).
    hours : hour instants (0..23) to record.
    t_deep_c : restoring deep ground temperature, degrees C.
    window : (r0, r1, c0, c1) cells to compute; the whole grid when None.
    cells : flat (row-major) indices of the cells to compute instead of a window (e.g. those whose
        sunlight, sky view or class an edit changed); the others keep what ``out`` holds.
    fluxes : also return ``q_star``, ``q_h``, ``q_e``, ``q_g`` (W/m2) of the sub-step ending at each
        recorded instant.
    out : arrays to fill in place (from an earlier call with the same hours).

    Returns
    -------
    dict with ``surface_temp_c`` (len(hours), rows, cols) float32, plus the fluxes when asked.
    """
    sun = np.ascontiguousarray(sunlit, np.float32)
    rows, cols = sun.shape[1:]
    if sun.shape[0] != 24:
        raise ValueError("sunlit needs 24 hour instants")
    slot = np.full(24, -1, np.int32)
    for i, h in enumerate(hours):
        slot[int(h)] = i
    nk = len(hours)
    names = ("surface_temp_c", "q_star", "q_h", "q_e", "q_g")
    if out is None:
        out = {"surface_temp_c": np.zeros((nk, rows, cols), np.float32)}
        for n in names[1:]:
            out[n] = np.zeros((nk, rows, cols) if fluxes else (1, 1, 1), np.float32)
    r0, r1, c0, c1 = window if window is not None else (0, rows, 0, cols)
    f32 = lambda a: np.ascontiguousarray(a, np.float32)  # noqa: E731
    if cells is not None:
        cells = np.ascontiguousarray(cells, np.int32).ravel()
        if cells.size and (cells.min() < 0 or cells.max() >= rows * cols):
            raise ValueError("cells must index the grid")
        if cells.size == 0:
            return out if fluxes else {"surface_temp_c": out["surface_temp_c"]}
    common = (
        sun, f32(svf), np.ascontiguousarray(surface_class, np.uint8),
        f32(classes["albedo"]), f32(classes["emissivity"]), f32(classes["capacity_j_m2k"]),
        f32(classes["transfer"]), f32(classes["evaporative_fraction"]),
        f32(forcing["direct_horizontal_w_m2"]), f32(forcing["diffuse_w_m2"]), f32(forcing["longwave_sky_w_m2"]),
        f32(forcing["air_temp_c"]), f32(forcing.get("wall_temp_c", forcing["air_temp_c"])), f32(forcing["wind_m_s"]),
        slot,
        out["surface_temp_c"], out["q_star"], out["q_h"], out["q_e"], out["q_g"],
    )
    scalars = (float(t_deep_c), int(n_sub), int(spin_up_days) + 1, float(wall_albedo), float(wall_emissivity),
               float(h_free_w_m2k), RHO_CP, int(fluxes))
    listed = cells is not None
    _energy_kernel(*common, cells if listed else np.zeros(1, np.int32), int(listed), r0, r1, c0, c1, *scalars)
    return out if fluxes else {"surface_temp_c": out["surface_temp_c"]}
