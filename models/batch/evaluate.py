"""Evaluation of one batch variant against the warm baseline of the engines.

An ``Evaluator`` builds each engine it needs once (``HeatEngine``, ``TrafficEngine``, ``AccessEngine``),
computes the baseline scenario with it, and then evaluates every variant on a copy of that warm engine:
the heat engine recomputes only the window the variant's edits reach, the traffic equilibrium starts
from the baseline flows. Copying the warm engine for each variant keeps the result independent of the
order in which a worker sees the variants, so every backend gives the same numbers.

KPIs come back flat, prefixed by the engine (``heat_``, ``traffic_``, ``access_``), plus
``heat_stressed_cooling_person_k``: the cooling (K of UTCI at the KPI hour, outdoor cells next to each
inhabited building) summed over the residents whose building is under strong heat stress in the baseline.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from geodata.district import District
from geodata.interventions import (
    FORECAST_KINDS,
    HEAT_KINDS,
    ROAD_KINDS,
    TRANSIT_KINDS,
    Intervention,
    decode_intervention,
    intervention_cost_eur,
)
from models.batch.variants import BatchSpecError, Variant

__all__ = ["EvalConfig", "Evaluator", "kind_of", "resident_utci", "stressed_cooling"]

STATUS_OK = "ok"
STATUS_FAILED = "fehler / failed"


@dataclass(frozen=True)
class EvalConfig:
    """What every worker evaluates: local hours of the heat model, the Taichi arch, the seed of the
    synthetic population and demand."""

    hours: tuple[int, ...] = (15,)
    arch: str = "cpu"
    seed: int = 0


def kind_of(obj: Intervention) -> str:
    return obj.__struct_config__.tag  # type: ignore[attr-defined, return-value]


def resident_utci(utci_c: np.ndarray, exposure: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean UTCI (n_buildings,) of the outdoor cells next to each inhabited building, and whether the
    building has any such cell. ``exposure`` is ``HeatEngine.exposure`` (flat cells, building index,
    residents)."""
    cells, bidx, res = exposure
    nb = len(res)
    n = np.bincount(bidx, minlength=nb)
    ub = np.bincount(bidx, weights=np.asarray(utci_c, np.float64).ravel()[cells], minlength=nb) / np.maximum(n, 1)
    return ub, n > 0


def stressed_cooling(base_utci_c: np.ndarray, utci_c: np.ndarray, exposure: tuple[np.ndarray, np.ndarray, np.ndarray],
                     strong_c: float) -> tuple[float, float]:
    """(cooling in person-K, residents under strong heat stress in the baseline): residents times the
    drop of their building's outdoor UTCI, over the buildings at or above ``strong_c`` in the baseline."""
    res = exposure[2]
    ub0, has = resident_utci(base_utci_c, exposure)
    ub1, _ = resident_utci(utci_c, exposure)
    hot = has & (ub0 >= strong_c) & (res > 0)
    return float((res[hot] * (ub0[hot] - ub1[hot])).sum()), float(res[hot].sum())


class Evaluator:
    """Warm baseline engines of one District and the evaluation of variants against them."""

    def __init__(self, district: District, config: EvalConfig = EvalConfig()) -> None:
        self.district = district
        self.config = config
        self._heat: Any = None
        self._heat_base: np.ndarray | None = None
        self._traffic: Any = None
        self._access: Any = None

    # ---- warm engines ------------------------------------------------------------------------
    def heat_engine(self) -> Any:
        """The heat engine after the baseline pass (built on first use)."""
        if self._heat is None:
            from models.heat.engine import HeatEngine, HeatParams

            eng = HeatEngine(self.district, params=HeatParams.default(self.config.arch))
            base = eng.compute([], hours=self.config.hours)
            self._heat, self._heat_base = eng, base.fields["utci_c"][_kpi_index(base)].copy()
        return self._heat

    def traffic_engine(self) -> Any:
        if self._traffic is None:
            from models.traffic.engine import TrafficEngine

            eng = TrafficEngine(self.district, seed=self.config.seed, arch=self.config.arch, dynamic=False)
            eng.compute([])
            self._traffic = eng
        return self._traffic

    def access_engine(self) -> Any:
        if self._access is None:
            from models.people.access import AccessEngine

            self._access = AccessEngine(self.district, seed=self.config.seed, arch=self.config.arch)
        return self._access

    def _copy(self, engine: Any) -> Any:
        """A copy of a warm engine that shares the (immutable) District."""
        return copy.deepcopy(engine, {id(self.district): self.district})

    # ---- evaluation --------------------------------------------------------------------------
    def evaluate(self, variant: Variant) -> dict[str, Any]:
        """KPIs of one variant (see the module docstring); raises on a bad variant."""
        t0 = time.perf_counter()
        ivs = list(variant.interventions)
        kinds = {kind_of(i) for i in ivs}
        unknown = kinds & FORECAST_KINDS
        if unknown:
            raise BatchSpecError(f"Maßnahmen {sorted(unknown)} gehören zur Regionalprognose, nicht zum Stadtmodell",
                                 f"interventions {sorted(unknown)} belong to the regional forecast, not the town model")
        row: dict[str, Any] = {"cost_eur": float(sum(intervention_cost_eur(i, self.district) for i in ivs))}
        if kinds & HEAT_KINDS or not kinds:
            eng = self._copy(self.heat_engine())
            res = eng.compute(ivs, hours=self.config.hours)
            row.update({f"heat_{k}": float(v) for k, v in res.kpis.items()})
            assert self._heat_base is not None
            cooled, stressed = stressed_cooling(self._heat_base, res.fields["utci_c"][_kpi_index(res)],
                                                eng.exposure, float(eng.params["strong_heat_stress_utci_c"]))
            row["heat_stressed_cooling_person_k"] = cooled
            row["heat_stressed_residents"] = stressed
        if kinds & ROAD_KINDS:
            eng = self._copy(self.traffic_engine())
            row.update({f"traffic_{k}": float(v) for k, v in eng.compute(ivs).kpis.items() if _is_number(v)})
        if kinds & TRANSIT_KINDS:
            res = self.access_engine().compute(ivs, with_agents=False)
            row.update({f"access_{k}": float(v) for k, v in res.kpis.items() if _is_number(v)})
        row["seconds"] = time.perf_counter() - t0
        return row

    def evaluate_json(self, variant_json: dict[str, Any]) -> dict[str, Any]:
        """``evaluate`` on a variant's JSON form, never raising: a failure comes back as its row."""
        return variant_row(self.evaluate, variant_json)


def variant_row(evaluate: Callable[[Variant], dict[str, Any]], variant_json: dict[str, Any]) -> dict[str, Any]:
    """The ranked table's row of a variant given in its JSON form, never raising: a variant that cannot be
    decoded or evaluated comes back as a failed row with the reason (a batch goes on)."""
    name = str(variant_json.get("name", "?"))
    try:
        v = Variant(name, tuple(decode_intervention(i) for i in variant_json["interventions"]))
        return {"name": name, "status": STATUS_OK, "error": "", **evaluate(v)}
    except Exception as exc:  # a failing variant is reported, not fatal
        return {"name": name, "status": STATUS_FAILED, "error": f"{type(exc).__name__}: {exc}"}


def _kpi_index(result: Any) -> int:
    """Index of the heat engine's KPI hour among a result's hours."""
    return result.hours.index(int(result.kpis["kpi_hour"]))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
