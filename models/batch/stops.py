"""Search for the best set of new stops, measured with the full access model.

The maximal-covering MILP of ``models.people.optimise`` chooses stops on a proxy: straight coverage of
homes of people without a car within the stop threshold. The full access model walks the street
network and rides the timetable, so its deficits can disagree with the proxy. This search starts from
the MILP's answer (enqueued as the first trial) and lets Optuna's TPE sampler (seeded) swap stops among
the MILP's candidates, each set measured with ``AccessEngine.compute``: the objective is the number of
persons of the target groups (65+ without a car, under 18) who lose their stop deficit. The result is a
scenario draft of ``new_stop`` interventions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodata.district import District
from geodata.interventions import NewStop, encode_intervention

__all__ = ["StopPlan", "optimise_stop_set", "GROUPS"]

GROUPS = ("age65_no_car", "under18")


@dataclass
class StopPlan:
    """A proposed stop set, how it was found, and the full model's deficits before and after."""

    method: str
    stops: list[NewStop]
    gain_persons: float
    milp_gain_persons: float
    before: dict[str, float]
    after: dict[str, float]
    trials: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": f"Haltestellen ({self.method})", "method": self.method,
                "interventions": [encode_intervention(s) for s in self.stops], "gain_persons": self.gain_persons,
                "milp_gain_persons": self.milp_gain_persons, "before": self.before, "after": self.after,
                "trials": self.trials}


def _deficit(kpis: dict[str, float]) -> float:
    return float(sum(kpis.get(f"deficit_{g}_stop", 0.0) for g in GROUPS))


def optimise_stop_set(district: District, k: int, *, trials: int = 40, seed: int = 0, n_candidates: int = 400,
                      pool: int = 40, arch: str | None = None,
                      on_trial: Callable[[int, float], None] | None = None) -> StopPlan:
    """The best ``k`` new stops found (see the module docstring); ``pool`` candidates (those covering
    the most demand, plus the MILP's) are open to the search."""
    import optuna

    from models.people.access import AccessEngine
    from models.people.optimise import coverage_problem, solve_greedy, solve_milp

    if k < 1:
        raise ValueError("mindestens eine Haltestelle / at least one stop")
    eng = AccessEngine(district, seed=seed, arch=arch)
    before = eng.compute([], with_agents=False).kpis
    problem = coverage_problem(eng, eng.compute([], with_agents=False), n_candidates=n_candidates, seed=seed)
    if problem.cand_xy.shape[0] == 0:
        raise ValueError("kein Bedarf ohne Haltestelle / no unserved demand found")
    milp, _, _ = solve_milp(problem.weights, problem.cover, k)
    if milp.size == 0:
        milp, _ = solve_greedy(problem.weights, problem.cover, k)
    covered = np.asarray(problem.cover.T @ problem.weights).ravel()
    cand = list(dict.fromkeys([int(j) for j in milp] + [int(j) for j in np.argsort(-covered, kind="stable")]))[:max(pool, k)]
    k = min(k, len(cand))

    def stops_of(idx: list[int]) -> list[NewStop]:
        return [NewStop(id=f"opt_stop_{n + 1}", name=f"Neue Haltestelle {n + 1}",
                        xy_local_m=(round(float(problem.cand_xy[j, 0]), 2), round(float(problem.cand_xy[j, 1]), 2)))
                for n, j in enumerate(idx)]

    def gain(idx: list[int]) -> tuple[float, dict[str, float]]:
        after = eng.compute(stops_of(idx), with_agents=False).kpis
        return _deficit(before) - _deficit(after), after

    milp_idx = [int(j) for j in milp][:k]
    milp_gain, milp_after = gain(milp_idx)
    best = {"gain": milp_gain, "idx": milp_idx, "after": milp_after, "method": "milp"}
    log: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        slots = [trial.suggest_int(f"s{n}", 0, len(cand) - 1) for n in range(k)]
        idx = list(dict.fromkeys(cand[s] for s in slots))
        g, after = gain(idx)
        log.append({"trial": trial.number, "gain_persons": g, "stops": len(idx)})
        if g > best["gain"] or (g == best["gain"] and len(idx) < len(best["idx"])):
            best.update(gain=g, idx=idx, after=after, method="optuna_tpe")
        if on_trial is not None:
            on_trial(trial.number, g)
        return g

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({f"s{n}": cand.index(j) for n, j in enumerate(milp_idx)})
    study.optimize(objective, n_trials=max(1, trials))
    return StopPlan(str(best["method"]), stops_of(best["idx"]), float(best["gain"]), milp_gain, before,
                    best["after"], log)
