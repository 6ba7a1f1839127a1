"""A heat wave day by day: the heat the ground and walls store over the days, the nights' air
temperature and tropical nights (air at or above 20 degrees C at the night's coolest hour), and the
buildings' cooling demand with their mass temperature carried from one day to the next.

Each day runs the heat engine with that day's weather; its deep ground and walls are restored toward
the running mean air temperature of the days so far (at most the last ``memory_days``), so a long hot
spell warms them. The night of a day is its coolest hour of the reference air temperature (early
morning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geodata.district import District
from geodata.interventions import Intervention
from geodata.weather import Weather
from models.heat.engine import HeatEngine, HeatParams
from models.heat.uhi import TROPICAL_NIGHT_C, core_minus_open_k

__all__ = ["HeatWaveResult", "run_heat_wave"]


@dataclass
class HeatWaveResult:
    """Per day: the coolest hour, its air temperature (days, rows, cols) and the core-minus-open heat
    island then (K); tropical nights per cell (rows, cols); residents with at least one tropical night;
    the district cooling demand per day (kWh, when asked)."""

    days: tuple[str, ...]
    night_hours: tuple[int, ...]
    night_air_c: np.ndarray
    uhi_night_k: np.ndarray
    tropical_nights: np.ndarray
    residents_with_tropical_nights: float
    cooling_kwh_per_day: np.ndarray | None


def run_heat_wave(district: District, days: Sequence[Weather], interventions: Sequence[Intervention] = (), *,
                  params: HeatParams | None = None, memory_days: int = 3, cooling: bool = False) -> HeatWaveResult:
    """Run ``days`` (consecutive) with ``interventions``; see the module docstring."""
    if not days:
        raise ValueError("keine Tage / no days")
    p = params or HeatParams.default()
    means: list[float] = []
    nights, uhi, hours, kwh = [], [], [], []
    mass: np.ndarray | None = None
    for w in days:
        means.append(float(np.mean(w.air_temp_c)))
        deep = float(np.mean(means[-memory_days:]))
        engine = HeatEngine(district, weather=w, params=p, deep_air_c=deep)
        h = engine.coolest_hour
        res = engine.compute(list(interventions), hours=(h,))
        air = res.fields["air_temp_c"][0]
        nights.append(air)
        hours.append(h)
        uhi.append(core_minus_open_k(air, engine.core, engine.open_land, float(w.air_temp_c[h])))
        if cooling:
            bc = engine.building_cooling(list(interventions), mass_start_c=mass)
            mass = bc.mass_end_c
            kwh.append(bc.district_kwh)
    night_air = np.stack(nights)
    tropical = (night_air >= TROPICAL_NIGHT_C).sum(axis=0).astype(np.int16)
    res_count = 0.0
    b = district.buildings
    if len(b.residents):
        idx = district.building_index
        inside = idx >= 0
        per_b = np.zeros(len(b.residents))
        np.maximum.at(per_b, idx[inside], tropical[inside])
        res_count = float(np.asarray(b.residents, float)[per_b > 0].sum())
    return HeatWaveResult(days=tuple(str(w.day) for w in days), night_hours=tuple(hours), night_air_c=night_air,
                          uhi_night_k=np.array(uhi), tropical_nights=tropical, residents_with_tropical_nights=res_count,
                          cooling_kwh_per_day=np.array(kwh) if cooling else None)
