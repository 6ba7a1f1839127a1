"""The one radiation pipeline of the heat model: shadows, sky view, surface energy balance and Tmrt.

Used by ``HeatEngine`` (on a District, with incremental windows) and by ``tmrt_on_rasters`` (on bare
DSM/CDSM/DEM rasters, as ``twin tmrt`` and the SOLWEIG comparison run it). Every stage reads and fills
a ``PipelineState`` in place, within an optional window of cells.
"""

from __future__ import annotations

import math

import numpy as np

from geodata.canopy import ROOF_MIN_M
from geodata.weather import SunHours, Weather
from models.heat.params import HeatParams
from models.heat.state import PipelineState, Window
from sim_kernels.energy import storage_capacity, surface_energy_day
from sim_kernels.radiation import (
    BODY,
    combine_ground_view,
    ground_view,
    ground_view_weights,
    mean_radiant_temperature,
)
from sim_kernels.shadows import cast_shadows_hours
from sim_kernels.skyview import effective_svf, sky_view_canopy_update, sky_view_factor

GROUND_ALBEDO = 0.2  # of the street seen by a wall, for the light it reflects onto the wall

__all__ = ["class_tables", "wall_temperature_c", "hourly_forcing", "energy_kwargs", "shade", "sky_view",
           "surface_and_tmrt", "body_factors", "ground_view_radii_cells", "ground_view_radius_cells", "raised_cells", "wall_sensible_heat_w_m2", "wall_area_density", "union", "offset", "bbox"]


def class_tables(params: HeatParams) -> dict[str, np.ndarray]:
    """Per surface class (n,) float32: albedo, emissivity, force-restore capacity (J/m2K), bulk
    transfer coefficient and evaporative fraction, from ``assets/surface_classes.csv``. Vegetated
    classes store heat in their plant layer (``vegetation_heat_capacity_j_m2k``), not in the soil."""
    from geodata.district import surface_table

    t = surface_table()
    z0 = np.minimum(t["roughness_m"], 0.2 * params["reference_height_m"])
    karman = 0.41
    # bulk transfer: wind measured at 10 m, temperature at the reference height, z0h = z0 / 10
    transfer = karman**2 / (np.log(10.0 / z0) * np.log(params["reference_height_m"] / (0.1 * z0)))
    capacity = storage_capacity(t["vol_heat_capacity_J_m3K"], t["conductivity_W_mK"])
    vegetated = np.isin(t["name"], list(params["vegetated_classes"]))
    capacity[vegetated] = np.float32(params["vegetation_heat_capacity_j_m2k"])
    return {
        "albedo": t["albedo"].astype(np.float32), "emissivity": t["emissivity"].astype(np.float32),
        "capacity_j_m2k": capacity,
        "transfer": transfer.astype(np.float32), "evaporative_fraction": t["evaporative_fraction"].astype(np.float32),
    }


def wall_temperature_c(weather: Weather, sun: SunHours, params: HeatParams,
                       deep_air_c: float | None = None) -> np.ndarray:
    """Mean temperature (24,) of the walls around a street, with the heat they store by day and give
    back at night: a force-restore wall surface (capacity of a brick wall over its diurnal damping
    depth, restored toward the daily mean air temperature plus ``deep_ground_offset_k``) absorbing
    the direct beam averaged over the four orientations (mean of max(cos, 0) = 1/pi) and half the
    diffuse light and of the light the ground reflects (albedo 0.2), exchanging long wave with the
    sky (half its view) and the ground at air temperature (the other half), and convection
    (Juerges: 5.7 + 3.8 u W/m2K). Integrated implicitly (15 min steps) until the day repeats. By day
    the walls are no cooler than the instantaneous balance of their sunlit surface layer (the direct
    beam against convection and long-wave exchange at air temperature), which answers within the hour."""
    p = params
    ta = np.asarray(weather.air_temp_c, float)
    u = np.asarray(weather.wind_speed_m_s, float)
    el = np.radians(np.maximum(sun.elevation_deg, 0.0))
    glob = sun.dni_w_m2 * np.sin(el) + np.asarray(sun.dhi_w_m2, float)
    absorbed = (1.0 - p["wall_albedo"]) * (sun.dni_w_m2 * np.cos(el) / math.pi + 0.5 * np.asarray(sun.dhi_w_m2, float)
                                           + 0.5 * GROUND_ALBEDO * glob)
    lsky = np.asarray(sun.longwave_sky_w_m2, float)
    hc = 5.7 + 3.8 * u
    cap = float(storage_capacity(np.array([p["wall_vol_heat_capacity_j_m3k"]]), np.array([p["wall_conductivity_w_mk"]]))[0])
    omega = 2.0 * math.pi / 86400.0
    t_deep = (float(ta.mean()) if deep_air_c is None else deep_air_c) + p["deep_ground_offset_k"]
    eps, sigma, n_sub = p["wall_emissivity"], 5.670374419e-8, 4
    dt = 3600.0 / n_sub
    tw = t_deep
    out = np.zeros(24)
    for day in range(4):
        for h in range(24):
            if day == 3:
                out[h] = tw
            h1 = (h + 1) % 24
            for j in range(n_sub):
                w = (j + 0.5) / n_sub
                ta_j, a_j, ls_j, hc_j = ((1.0 - w) * a[h] + w * a[h1] for a in (ta, absorbed, lsky, hc))
                tk = tw + 273.15
                tak = ta_j + 273.15
                f0 = a_j + 0.5 * eps * (ls_j + sigma * tak**4) - eps * sigma * tk**4 - hc_j * (tw - ta_j)
                df = -4.0 * eps * sigma * tk**3 - hc_j
                tw = (cap * tw / dt + cap * omega * t_deep + f0 - df * tw) / (cap / dt + cap * omega - df)
    # a sunlit surface layer answers within the hour: no cooler than its instantaneous balance in the sun
    # (direct beam over the four orientations against convection and linearised long wave to air temperature)
    h_inst = hc + 4.0 * eps * sigma * (ta + 273.15) ** 3
    instant = ta + (1.0 - p["wall_albedo"]) * sun.dni_w_m2 * np.cos(el) / math.pi / h_inst
    return np.maximum(out, instant).astype(np.float32)


def wall_sensible_heat_w_m2(weather: Weather, wall_temp_c: np.ndarray) -> np.ndarray:
    """Sensible heat (24,) one square metre of wall gives the street air, W/m2 of wall (Juerges)."""
    hc = 5.7 + 3.8 * np.asarray(weather.wind_speed_m_s, float)
    return (hc * (np.asarray(wall_temp_c, float) - np.asarray(weather.air_temp_c, float))).astype(np.float32)


def wall_area_density(dsm_m: np.ndarray, building: np.ndarray, cell_m: float) -> np.ndarray:
    """(rows, cols) float32: wall area (m2) facing each open cell per m2 of that cell, from the height
    steps between building cells and their open 4-neighbours."""
    dsm = np.asarray(dsm_m, np.float32)
    b = np.asarray(building, bool)
    out = np.zeros(dsm.shape, np.float32)
    for axis in (0, 1):
        for shift in (1, -1):
            nb_dsm = np.roll(dsm, shift, axis=axis)
            nb_bld = np.roll(b, shift, axis=axis)
            step = np.where(nb_bld & ~b, np.maximum(nb_dsm - dsm, 0.0), 0.0)
            edge = [slice(None), slice(None)]
            edge[axis] = slice(0, 1) if shift == 1 else slice(-1, None)
            step[tuple(edge)] = 0.0  # no wrap-around
            out += step.astype(np.float32)
    return out / np.float32(cell_m)


def hourly_forcing(weather: Weather, sun: SunHours, params: HeatParams,
                   deep_air_c: float | None = None) -> dict[str, np.ndarray]:
    """The (24,) forcing arrays of ``sim_kernels.energy.surface_energy_day``; ``deep_air_c`` the mean
    air temperature the deep ground and walls are restored toward (default: the day's mean)."""
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return {"direct_horizontal_w_m2": sun.direct_horizontal_w_m2, "diffuse_w_m2": f32(sun.dhi_w_m2),
            "longwave_sky_w_m2": f32(sun.longwave_sky_w_m2), "air_temp_c": f32(weather.air_temp_c),
            "wall_temp_c": wall_temperature_c(weather, sun, params, deep_air_c), "wind_m_s": f32(np.maximum(weather.wind_speed_m_s, 0.5))}


def energy_kwargs(params: HeatParams, weather: Weather, deep_air_c: float | None = None) -> dict:
    """Keyword arguments of ``surface_energy_day`` from the parameters and the day's weather; the
    deep ground is restored toward ``deep_air_c`` (default: the day's mean air) plus an offset."""
    p = params
    deep = float(np.mean(weather.air_temp_c)) if deep_air_c is None else float(deep_air_c)
    return dict(t_deep_c=deep + p["deep_ground_offset_k"], wall_albedo=p["wall_albedo"],
                wall_emissivity=p["wall_emissivity"], h_free_w_m2k=p["free_convection_w_m2k"],
                n_sub=int(p["substeps_per_hour"]), spin_up_days=int(p["spin_up_days"]))


def shade(st: PipelineState, sun: SunHours, params: HeatParams, cell_m: float,
          windows: dict[int, Window], changed_cells: np.ndarray | None = None) -> Window | None:
    """Recompute shadows in each hour's window; returns the bbox of cells whose sunlit changed and
    marks them in ``changed_cells`` (rows, cols) bool when given. The hours go to the kernel
    together, in batches of at most ``SHADE_BATCH_CELLS`` window cells (the copies kept to compare)."""
    dsm = st.surf.dsm_m
    extremes = (float(max(dsm.max(), st.top.max())), float(dsm.min()))
    changed: Window | None = None
    todo = list(windows.items())
    while todo:
        batch, cells = [], 0
        while todo and (not batch or cells + _cells(todo[0][1]) <= SHADE_BATCH_CELLS):
            h, w = todo.pop(0)
            batch.append((h, w, st.sunlit24[h, w[0]:w[1], w[2]:w[3]].copy()))
            cells += _cells(w)
        cast_shadows_hours(dsm, st.top, st.trunk,
                           [(h, float(sun.azimuth_deg[h]), float(sun.elevation_deg[h]), w) for h, w, _ in batch],
                           (st.bsun, st.sunlit24), cell_m=cell_m, transmissivity=params["canopy_transmissivity"],
                           max_reach_m=params["shadow_max_reach_m"], extremes_m=extremes)
        for h, w, before in batch:
            diff = st.sunlit24[h, w[0]:w[1], w[2]:w[3]] != before
            if changed_cells is not None:
                changed_cells[w[0]:w[1], w[2]:w[3]] |= diff
            changed = union(changed, offset(bbox(diff), w))
    return changed


SHADE_BATCH_CELLS = 8_000_000


def _cells(w: Window) -> int:
    return (w[1] - w[0]) * (w[3] - w[2])


def sky_view(st: PipelineState, params: HeatParams, cell_m: float, window: Window | None,
             old_top: np.ndarray | None = None) -> None:
    """Sky view factors (buildings only, with crowns, effective) within ``window`` (all when None).

    ``old_top``: the canopy tops the factors were computed with, when since then only crowns
    changed (not the DSM): the cells outside the changed crowns rescan only the directions that
    cross them (``sky_view_canopy_update``), the changed cells in full."""
    p = params
    st.cell_m = float(cell_m)
    scan = dict(cell_m=cell_m, n_azimuths=int(p["svf_azimuths"]), radius_m=p["svf_radius_m"])
    if old_top is not None and window is not None and st.svf is not None:
        changed = bbox(old_top != st.top)
        if changed is not None:
            sky_view_canopy_update(st.surf.dsm_m, old_top, st.top, changed, st.svf_v, window=window, **scan)
            sky_view_factor(st.surf.dsm_m, st.top, window=changed, out=(st.svf_b, st.svf_v), **scan)
    else:
        sky_view_factor(st.surf.dsm_m, st.top, window=window, out=(st.svf_b, st.svf_v), **scan)
    if window is None or st.svf is None:
        st.svf = effective_svf(st.svf_b, st.svf_v, p["canopy_transmissivity"])
    else:
        r0, r1, c0, c1 = window
        st.svf[r0:r1, c0:c1] = effective_svf(st.svf_b[r0:r1, c0:c1], st.svf_v[r0:r1, c0:c1],
                                             p["canopy_transmissivity"])


def ground_view_radii_cells(params: HeatParams, cell_m: float) -> tuple[int, ...]:
    """Half-widths (cells, increasing) of the nested boxes of ground a person sees around a cell:
    a fifth, half and all of ``ground_view_radius_m``, those at least one cell wide (none: the
    person sees their own cell only)."""
    r = float(params["ground_view_radius_m"])
    return tuple(sorted({n for n in (int(round(f * r / cell_m)) for f in (0.2, 0.5, 1.0)) if n > 0}))


def ground_view_radius_cells(params: HeatParams, cell_m: float) -> int:
    """Half-width (cells) of the largest box of ground a person sees around a cell."""
    return max(ground_view_radii_cells(params, cell_m), default=0)


def raised_cells(st: PipelineState) -> np.ndarray:
    """(rows, cols) bool: roofs, the cells more than ``ROOF_MIN_M`` above the terrain (which is the
    canopy top less the canopy height)."""
    terrain = st.top - np.maximum(st.surf.canopy_m, 0.0)
    return (st.surf.dsm_m - terrain) > ROOF_MIN_M


def surface_and_tmrt(st: PipelineState, *, sun: SunHours, classes: dict[str, np.ndarray],
                     forcing: dict[str, np.ndarray], params: HeatParams, energy: dict,
                     window: Window | None, cell_m: float | None = None,
                     energy_cells: np.ndarray | None = None) -> Window:
    """Surface energy balance (temperature and fluxes) within ``window`` and Tmrt at the state's
    hours where it changes: the window grown by the ground-view radius, since a person sees the
    ground around them. ``cell_m`` defaults to the one the sky view ran at. ``energy_cells``: flat
    indices of the only cells whose energy-balance inputs (sunlight, sky view, class) changed within
    the window; the balance then runs on those. Returns the window of Tmrt recomputed."""
    assert st.svf is not None and st.cell_m is not None, "sky view before the energy balance"
    cell_m = st.cell_m if cell_m is None else cell_m
    rows, cols = st.svf.shape
    surface_energy_day(st.sunlit24, st.svf, st.surf.surface_class, classes, forcing, hours=st.hours,
                       window=window, cells=energy_cells, fluxes=True, out=st.energy.kernel_out(), **energy)
    radii = ground_view_radii_cells(params, cell_m)
    n = max(radii, default=0)
    w = window or (0, rows, 0, cols)
    tw = (max(w[0] - n, 0), min(w[1] + n, rows), max(w[2] - n, 0), min(w[3] + n, cols))
    idx = list(st.hours)
    hourly = {"direct_normal_w_m2": sun.dni_w_m2[idx], "diffuse_w_m2": sun.dhi_w_m2[idx],
              "elevation_deg": sun.elevation_deg[idx], "azimuth_deg": np.asarray(sun.azimuth_deg, np.float32)[idx],
              "longwave_sky_w_m2": sun.longwave_sky_w_m2[idx],
              "air_temp_c": forcing["air_temp_c"][idx], "wall_temp_c": forcing["wall_temp_c"][idx]}
    sunlit = st.sunlit24[idx]
    near = None
    own_down = own_side = 1.0
    if radii:
        emitted, reflected = ground_view(sunlit, st.svf, st.surf.surface_class, classes["albedo"],
                                         classes["emissivity"], st.energy.surface_temp_c, hourly,
                                         raised=raised_cells(st), radii_cells=radii,
                                         wall_albedo=params["wall_albedo"], window=tw)
        weights = ground_view_weights(cell_m, params["person_centre_height_m"], radii)
        near = combine_ground_view(emitted, reflected, weights)
        own_down, own_side = float(weights["own_down"]), float(weights["own_side"])
    mean_radiant_temperature(sunlit, st.svf, st.surf.surface_class, classes["albedo"],
                             classes["emissivity"], st.energy.surface_temp_c, hourly,
                             wall_albedo=params["wall_albedo"], wall_emissivity=params["wall_emissivity"],
                             body=body_factors(params), window=tw, out=st.tmrt, near=near, own_down=own_down,
                             own_side=own_side)
    return tw


def body_factors(params: HeatParams) -> dict[str, float]:
    """The person's absorption and angular factors of ``sim_kernels.radiation`` from the parameters:
    ``person_shape`` "cylinder" (default) or "box", ``body_absorb_short`` and ``body_absorb_long``."""
    shape = params["person_shape"]
    if shape not in ("cylinder", "box"):
        raise ValueError(f"person_shape must be 'cylinder' or 'box', not {shape!r}")
    return {**BODY, "absorb_short": float(params["body_absorb_short"]), "absorb_long": float(params["body_absorb_long"]),
            "box": 1.0 if shape == "box" else 0.0}


def union(a: Window | None, b: Window | None) -> Window | None:
    """The bounding window of two windows (None is empty)."""
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def offset(w: Window | None, origin: Window) -> Window | None:
    """A window relative to ``origin``'s corner, in grid cells."""
    if w is None:
        return None
    return (w[0] + origin[0], w[1] + origin[0], w[2] + origin[2], w[3] + origin[2])


def bbox(mask: np.ndarray) -> Window | None:
    """The bounding window of the true cells of ``mask``; None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
