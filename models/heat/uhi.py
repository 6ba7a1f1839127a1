"""Urban heat island: the night-time exchange of the town's air with the air above, the core and
open-land masks of the heat-island intensity, and tropical nights.

The air model (``sim_kernels.airtemp``) holds the excess of the near-surface air over the rural
reference in a layer of depth ``mixing_height_m`` that exchanges with the air above in a time tau.
By day convection mixes the layer (tau = ``ventilation_time_s``). At night the rural surface cools
below the air, the layer is stably stratified and the exchange scales with the wind and a stability
function of the bulk Richardson number of the rural reference:

    Ri_b = g z (Ta - Ts_rural) / (T u^2),   f = 1 / (1 + 3 b Ri_b sqrt(1 + b Ri_b)),
    tau = ventilation_time_s * (u_ref / u) / f,   at most ``ventilation_time_max_s``,

and the layer the town heats shrinks to the street canyons' depth (``mixing_height_night_m``): the
nocturnal heat island is a canopy-layer one (Oke 1976).

The heat-island intensity follows the usual observational definition: the mean air temperature of
the built-up core (cells in 250 m blocks with at least 25 % building cover) minus that of open land
(cells at least 300 m from any building).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.heat.params import HeatParams

__all__ = ["ventilation_times", "mixing_heights", "core_and_open", "core_minus_open_k", "tropical_nights", "CORE_BLOCK_M",
           "CORE_MIN_COVER", "OPEN_MIN_DISTANCE_M", "TROPICAL_NIGHT_C"]

G = 9.81
CORE_BLOCK_M = 250.0
CORE_MIN_COVER = 0.25
OPEN_MIN_DISTANCE_M = 300.0
TROPICAL_NIGHT_C = 20.0  # DWD: a night whose minimum air temperature stays at or above 20 degrees C


def ventilation_times(air_temp_c: np.ndarray, wind_m_s: np.ndarray, rural_surface_c: np.ndarray,
                      daylight: np.ndarray, params: HeatParams) -> np.ndarray:
    """Exchange time tau (s) of the near-surface layer at each instant (n,), see the module docstring.

    Parameters
    ----------
    air_temp_c, wind_m_s, rural_surface_c : (n,) reference air temperature, 10 m wind, surface
        temperature of the rural reference.
    daylight : (n,) bool, sun above the horizon.
    """
    p = params
    ta = np.asarray(air_temp_c, float)
    u = np.maximum(np.asarray(wind_m_s, float), 0.5)
    dtheta = ta - np.asarray(rural_surface_c, float)
    ri = np.maximum(G * p["wind_height_m"] * dtheta / ((ta + 273.15) * u * u), 0.0)
    b = p["stable_stability_coefficient"]
    f = 1.0 / (1.0 + 3.0 * b * ri * np.sqrt(1.0 + b * ri))
    night = p["ventilation_time_s"] * (p["ventilation_reference_wind_m_s"] / u) / f
    tau = np.where(~stable_hours(ta, rural_surface_c, daylight), p["ventilation_time_s"],
                   np.maximum(night, p["ventilation_time_s"]))
    return np.minimum(tau, p["ventilation_time_max_s"]).astype(float)


def stable_hours(air_temp_c: np.ndarray, rural_surface_c: np.ndarray, daylight: np.ndarray) -> np.ndarray:
    """(n,) bool: instants without sun at which the rural surface is colder than the air."""
    return ~np.asarray(daylight, bool) & (np.asarray(air_temp_c, float) > np.asarray(rural_surface_c, float))


def mixing_heights(air_temp_c: np.ndarray, rural_surface_c: np.ndarray, daylight: np.ndarray,
                   params: HeatParams) -> np.ndarray:
    """Depth (m) of the layer the town heats at each instant (n,): ``mixing_height_m`` by day and in
    unstable nights, ``mixing_height_night_m`` in stable nights."""
    stable = stable_hours(air_temp_c, rural_surface_c, daylight)
    return np.where(stable, params["mixing_height_night_m"], params["mixing_height_m"]).astype(float)


def core_and_open(building: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(core, open) boolean masks of a (rows, cols) building mask: cells of 250 m blocks (from the
    north-west corner) with at least 25 % building cover, and cells at least 300 m from any building."""
    b = np.asarray(building, bool)
    rows, cols = b.shape
    f = max(1, int(round(CORE_BLOCK_M / cell_m)))
    br, bc = -(-rows // f), -(-cols // f)
    pad = np.zeros((br * f, bc * f), bool)
    pad[:rows, :cols] = b
    counts = np.zeros((br * f, bc * f), np.float64)
    counts[:rows, :cols] = 1.0
    cover = pad.reshape(br, f, bc, f).sum(axis=(1, 3)) / np.maximum(counts.reshape(br, f, bc, f).sum(axis=(1, 3)), 1.0)
    core = np.repeat(np.repeat(cover >= CORE_MIN_COVER, f, axis=0), f, axis=1)[:rows, :cols]
    if not b.any():
        return core, np.ones_like(b)
    dist = ndimage.distance_transform_edt(~b, sampling=cell_m)
    return core, dist >= OPEN_MIN_DISTANCE_M


def core_minus_open_k(air_c: np.ndarray, core: np.ndarray, open_land: np.ndarray,
                      reference_c: float | None = None) -> float:
    """Mean air temperature of the core minus that of open land; without open land in the grid the
    rural reference ``reference_c`` stands for it (NaN when neither exists or there is no core)."""
    if not core.any():
        return float("nan")
    if open_land.any():
        return float(air_c[core].mean() - air_c[open_land].mean())
    return float("nan") if reference_c is None else float(air_c[core].mean() - reference_c)


def tropical_nights(night_min_c: np.ndarray) -> np.ndarray:
    """Number of nights at or above 20 degrees C per cell from (nights, ...) night minima."""
    return (np.asarray(night_min_c) >= TROPICAL_NIGHT_C).sum(axis=0).astype(np.int16)
