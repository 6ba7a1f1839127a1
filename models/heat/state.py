"""Typed state of the heat pipeline: the surfaces it runs on and the fields it keeps between edits.

``PipelineState`` is what the shadow, sky-view, surface-energy and Tmrt stages read and fill in place
(``models.heat.pipeline``); the engine adds its air-temperature bookkeeping in ``EngineState``. All
fields are float32 on the grid (row, col), row 0 north; hourly fields have the recorded hours first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geodata.apply_heat import HeatSurfaces

__all__ = ["Window", "EnergyFields", "PipelineState", "EngineState"]

Window = tuple[int, int, int, int]  # (row0, row1, col0, col1), half open


def _zeros(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.float32)


@dataclass
class EnergyFields:
    """Surface temperature and energy fluxes (len(hours), rows, cols) at the recorded hours."""

    surface_temp_c: np.ndarray
    q_star: np.ndarray
    q_h: np.ndarray
    q_e: np.ndarray
    q_g: np.ndarray

    @classmethod
    def zeros(cls, n_hours: int, rows: int, cols: int) -> EnergyFields:
        return cls(*(_zeros(n_hours, rows, cols) for _ in range(5)))

    def kernel_out(self) -> dict[str, np.ndarray]:
        """The arrays as ``sim_kernels.energy.surface_energy_day`` fills them (same objects)."""
        return {"surface_temp_c": self.surface_temp_c, "q_star": self.q_star, "q_h": self.q_h, "q_e": self.q_e,
                "q_g": self.q_g}


@dataclass
class PipelineState:
    """Inputs and results of one pass of the radiation pipeline.

    ``top``/``trunk`` are the canopy top and trunk-zone surfaces (terrain where no crown), ``bsun``
    and ``sunlit24`` the building-only and total sunlit fractions at all 24 instants, ``svf_b`` and
    ``svf_v`` the sky view past buildings and past opaque crowns, ``svf`` the effective one;
    ``cell_m`` the cell size the geometry stages ran at (set with the sky view).
    """

    surf: HeatSurfaces
    top: np.ndarray
    trunk: np.ndarray
    hours: tuple[int, ...]
    bsun: np.ndarray
    sunlit24: np.ndarray
    svf_b: np.ndarray
    svf_v: np.ndarray
    tmrt: np.ndarray
    energy: EnergyFields
    svf: np.ndarray | None = None
    cell_m: float | None = None

    @classmethod
    def empty(cls, surf: HeatSurfaces, top: np.ndarray, trunk: np.ndarray, hours: tuple[int, ...]) -> PipelineState:
        rows, cols = surf.dsm_m.shape
        nk = len(hours)
        return cls(surf=surf, top=top, trunk=trunk, hours=hours, bsun=_zeros(24, rows, cols),
                   sunlit24=_zeros(24, rows, cols), svf_b=_zeros(rows, cols), svf_v=_zeros(rows, cols),
                   tmrt=_zeros(nk, rows, cols), energy=EnergyFields.zeros(nk, rows, cols))


@dataclass
class EngineState(PipelineState):
    """The pipeline state plus what the engine keeps for incremental edits.

    ``qf`` the anthropogenic heat of the last pass, ``air`` and ``utci`` (len(hours), rows, cols),
    ``theta_ref`` the coarse excess air temperature of the last full air pass, ``air_dirty`` the
    district cells rewritten by edits since then.
    """

    qf: np.ndarray | None = None
    utci: np.ndarray = field(default_factory=lambda: _zeros(0, 0, 0))
    air: np.ndarray = field(default_factory=lambda: _zeros(0, 0, 0))
    theta_ref: np.ndarray | None = None
    theta: np.ndarray | None = None  # the coarse excess air temperature of the last air pass
    air_dirty: Window | None = None
    utci_inputs: tuple[np.ndarray, np.ndarray] | None = None  # the air and Tmrt the UTCI was last computed from
    qh_sums: np.ndarray | None = None  # (len(hours), rc, cc) block sums of the surface sensible heat
