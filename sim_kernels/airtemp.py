"""Near-surface air temperature excess by 2-D advection and diffusion, in Taichi.

The field is the air temperature excess theta over the rural reference (K) of a well-mixed layer of
depth ``h_mix`` near the ground. It obeys

    d theta / dt = - u . grad(theta) + K lap(theta) + S - theta / tau

with the wind u (east, north components, m/s), horizontal eddy diffusivity K (m2/s), a source
S = (QH_excess + QF) / (rho c_p h_mix) in K/s from the surface's sensible heat flux above the rural one
and anthropogenic heat, and ventilation by the air above with time scale tau (s). Inflow boundaries
carry the rural reference (theta = 0); outflow boundaries have zero gradient. Integrated explicitly
(first-order upwind advection, central diffusion) from theta = 0 for ``t_end_s``: each step spreads
information by one cell, so a result depends only on sources within ``n_steps`` cells.

Arrays (row, col), row 0 north; the grid is usually coarser than the district grid. Kernels keep no
state; call ``sim_kernels.runtime.ensure_init`` first.
"""

import math

import numpy as np
import taichi as ti

from sim_kernels.runtime import current_arch

__all__ = ["AirSteps", "air_steps", "excess_air_temperature"]


class AirSteps:
    """Time step (s) and number of explicit steps of one integration."""

    def __init__(self, dt_s: float, n_steps: int) -> None:
        self.dt_s = dt_s
        self.n_steps = n_steps


def air_steps(wind_east_m_s: float, wind_north_m_s: float, cell_m: float, diffusivity_m2_s: float,
              tau_s: float, t_end_s: float) -> AirSteps:
    """A stable explicit time step (Courant-Friedrichs-Lewy with diffusion and relaxation, 0.9 of
    the limit) and the number of steps to reach ``t_end_s``."""
    rate = (abs(wind_east_m_s) + abs(wind_north_m_s)) / cell_m + 4.0 * diffusivity_m2_s / cell_m**2 + 1.0 / tau_s
    dt = 0.9 / rate
    n = max(1, int(math.ceil(t_end_s / dt)))
    return AirSteps(t_end_s / n, n)


@ti.func
def _update(src: ti.template(), dst: ti.template(), source_k_s: ti.template(), r, c, u, v, diff, tau, dt, dx):
    rows = src.shape[0]
    cols = src.shape[1]
    t = src[r, c]
    # neighbours; outside the grid: 0 on inflow sides, the cell itself on outflow sides
    tw = t
    if c > 0:
        tw = src[r, c - 1]
    elif u >= 0.0:
        tw = 0.0
    te = t
    if c < cols - 1:
        te = src[r, c + 1]
    elif u <= 0.0:
        te = 0.0
    tn = t
    if r > 0:
        tn = src[r - 1, c]
    elif v <= 0.0:
        tn = 0.0
    ts = t
    if r < rows - 1:
        ts = src[r + 1, c]
    elif v >= 0.0:
        ts = 0.0
    adv = 0.0
    if u >= 0.0:
        adv -= u * (t - tw) / dx
    else:
        adv -= u * (te - t) / dx
    if v >= 0.0:  # wind toward north: the upwind cell is the southern one
        adv -= v * (t - ts) / dx
    else:
        adv -= v * (tn - t) / dx
    lap = (tw + te + tn + ts - 4.0 * t) / (dx * dx)
    dst[r, c] = t + dt * (adv + diff * lap + source_k_s[r, c] - t / tau)


@ti.kernel
def _step_kernel(
    src: ti.types.ndarray(dtype=ti.f32, ndim=2),
    dst: ti.types.ndarray(dtype=ti.f32, ndim=2),
    source_k_s: ti.types.ndarray(dtype=ti.f32, ndim=2),
    u: ti.f32, v: ti.f32, diff: ti.f32, tau: ti.f32, dt: ti.f32, dx: ti.f32,
):
    for r, c in ti.ndrange(src.shape[0], src.shape[1]):
        _update(src, dst, source_k_s, r, c, u, v, diff, tau, dt, dx)


STEPS_PER_LAUNCH = 8


@ti.kernel
def _multi_step_kernel(
    a: ti.types.ndarray(dtype=ti.f32, ndim=2),
    b: ti.types.ndarray(dtype=ti.f32, ndim=2),
    source_k_s: ti.types.ndarray(dtype=ti.f32, ndim=2),
    u: ti.f32, v: ti.f32, diff: ti.f32, tau: ti.f32, dt: ti.f32, dx: ti.f32,
):
    # STEPS_PER_LAUNCH steps a -> b -> a ...; each top-level loop runs in parallel, one after the other
    for _ in ti.static(range(STEPS_PER_LAUNCH // 2)):
        for r, c in ti.ndrange(a.shape[0], a.shape[1]):
            _update(a, b, source_k_s, r, c, u, v, diff, tau, dt, dx)
        for r, c in ti.ndrange(a.shape[0], a.shape[1]):
            _update(b, a, source_k_s, r, c, u, v, diff, tau, dt, dx)


@ti.kernel
def _serial_steps_kernel(
    a: ti.types.ndarray(dtype=ti.f32, ndim=2),
    b: ti.types.ndarray(dtype=ti.f32, ndim=2),
    source_k_s: ti.types.ndarray(dtype=ti.f32, ndim=2),
    n_pairs: ti.i32,
    u: ti.f32, v: ti.f32, diff: ti.f32, tau: ti.f32, dt: ti.f32, dx: ti.f32,
):
    # 2 n_pairs steps a -> b -> a in one thread: on a CPU a small grid's step costs less than starting
    # a parallel loop; every cell's update is the same arithmetic as in the parallel kernels
    ti.loop_config(serialize=True)
    for _ in range(n_pairs):
        for r, c in ti.ndrange(a.shape[0], a.shape[1]):
            _update(a, b, source_k_s, r, c, u, v, diff, tau, dt, dx)
        for r, c in ti.ndrange(a.shape[0], a.shape[1]):
            _update(b, a, source_k_s, r, c, u, v, diff, tau, dt, dx)


SERIAL_MAX_CELLS = 65536  # on a CPU, grids up to this size step in one thread (measured: 100 x 100 is ~5x faster)


def excess_air_temperature(
    source_k_s: np.ndarray,
    *,
    wind_east_m_s: float,
    wind_north_m_s: float,
    cell_m: float,
    diffusivity_m2_s: float,
    tau_s: float,
    t_end_s: float,
) -> np.ndarray:
    """Integrate the excess air temperature from zero for ``t_end_s``.

    Parameters
    ----------
    source_k_s : (rows, cols) float, heating rate of the layer, K/s.
    wind_east_m_s, wind_north_m_s : wind components (toward east and north), m/s.
    cell_m : cell size of this grid, metres.
    diffusivity_m2_s : horizontal eddy diffusivity, m2/s.
    tau_s : ventilation time scale, s.
    t_end_s : integration time, s.

    Returns
    -------
    (rows, cols) float32, excess over the rural reference, K.
    """
    src = np.ascontiguousarray(source_k_s, np.float32)
    # calm below 1 mm/s: the boundary sides must not depend on a sign lost in float32
    wind_east_m_s, wind_north_m_s = (0.0 if abs(w) < 1e-3 else float(w) for w in (wind_east_m_s, wind_north_m_s))
    steps = air_steps(wind_east_m_s, wind_north_m_s, cell_m, diffusivity_m2_s, tau_s, t_end_s)
    # Taichi-owned buffers: hundreds of launches, each far cheaper than with NumPy arguments
    src_t = ti.ndarray(ti.f32, src.shape)
    src_t.from_numpy(src)
    a = ti.ndarray(ti.f32, src.shape)
    b = ti.ndarray(ti.f32, src.shape)
    a.fill(0.0)
    args = (float(wind_east_m_s), float(wind_north_m_s), float(diffusivity_m2_s), float(tau_s), float(steps.dt_s),
            float(cell_m))
    if current_arch() == "cpu" and src.size <= SERIAL_MAX_CELLS:
        _serial_steps_kernel(a, b, src_t, steps.n_steps // 2, *args)
        rest = steps.n_steps % 2
    else:
        for _ in range(steps.n_steps // STEPS_PER_LAUNCH):
            _multi_step_kernel(a, b, src_t, *args)
        rest = steps.n_steps % STEPS_PER_LAUNCH
    for _ in range(rest):
        _step_kernel(a, b, src_t, *args)
        a, b = b, a
    return a.to_numpy()
