"""Search for the best tree placement under a budget, and the simple rule it has to beat.

The search space is a placement policy rather than 2 x N coordinates: every plantable site of a lattice
(outdoor ground without crown, building, water or forest, one site per crown diameter) gets a score,
a weighted sum of standardised site features, and the N best sites get a tree. The features, from the
warm baseline of the heat model at its KPI hour:

- ``utci``: UTCI at the site;
- ``stressed_residents``: residents under strong heat stress living near the site (smoothed);
- ``shade_on_residents``: the same, where the tree's shadow falls at the KPI hour;
- ``street``: the site lies on or beside a street (asphalt within 8 m);
- ``sunlit``: the site is in the sun at the KPI hour.

Optuna's TPE sampler (seeded) chooses the weights; each trial is measured with the full heat model on
a copy of the warm engine, by the cooling of heat-stressed residents (``heat_stressed_cooling_person_k``).
The rule planners use today, trees along the hottest streets, is enqueued as the first trial, so the
search starts from it. The result is a scenario draft: a JSON file of ``tree`` interventions that the
server and ``twin heat --scenario`` accept.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from geodata.district import SURFACE, District
from geodata.interventions import Tree, encode_intervention, intervention_cost_eur
from models.batch.evaluate import EvalConfig, Evaluator, resident_utci
from models.batch.variants import Variant

__all__ = ["Sites", "GreeningPlan", "plantable_sites", "place_trees", "rule_hottest_streets", "optimise_greening",
           "FEATURES"]

FEATURES = ("utci", "stressed_residents", "shade_on_residents", "street", "sunlit")
STREET_REACH_M = 8.0
TREE_HEIGHT_M = 12.0
CROWN_M = 8.0


@dataclass
class Sites:
    """Plantable lattice sites: local coordinates (n, 2) m, grid (row, col) (n,), raw features (n, F)."""

    xy_local_m: np.ndarray
    row: np.ndarray
    col: np.ndarray
    features: np.ndarray
    utci_c: np.ndarray
    street: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def standardised(self) -> np.ndarray:
        f = self.features
        sd = f.std(axis=0)
        return (f - f.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


@dataclass
class GreeningPlan:
    """A proposed placement, how it was found and what the full model says it does."""

    method: str
    trees: list[Tree]
    kpis: dict[str, float]
    weights: dict[str, float] = field(default_factory=dict)
    trials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cooling_person_k(self) -> float:
        return float(self.kpis.get("heat_stressed_cooling_person_k", 0.0))

    def to_json(self) -> dict[str, Any]:
        """A scenario draft: ``interventions`` plus what it achieved."""
        return {"name": f"Begrünung ({self.method})", "method": self.method,
                "interventions": [encode_intervention(t) for t in self.trees], "kpis": self.kpis,
                "weights": self.weights, "trials": self.trials}


def plantable_sites(engine: Any, base_fields: dict[str, np.ndarray], kpi_index: int, hour: int,
                    spacing_m: float = CROWN_M) -> Sites:
    """The lattice sites of the District where a tree may stand, with their features (see the module
    docstring). ``engine`` is a warm ``HeatEngine``; ``base_fields`` its baseline result's fields, whose
    hourly fields hold the local ``hour`` at ``kpi_index``."""
    d: District = engine.district
    g = d.grid
    step = max(1, int(round(spacing_m / g.cell_m)))
    sc = d.surface_class
    ok = (d.building_index < 0) & (d.canopy_m <= 0)
    for name in ("water", "forest", "roof", "green_roof"):
        ok &= sc != SURFACE[name]
    lattice = np.zeros(g.shape, bool)
    lattice[step // 2::step, step // 2::step] = True
    rr, cc = np.nonzero(ok & lattice)
    utci = base_fields["utci_c"][kpi_index]
    # residents under strong heat stress, spread over the outdoor cells next to their building
    cells, bidx, res = engine.exposure
    ub, has = resident_utci(utci, engine.exposure)
    strong = float(engine.params["strong_heat_stress_utci_c"])
    stressed = np.where(has & (ub >= strong), res, 0.0)
    n_cells = np.maximum(np.bincount(bidx, minlength=len(res)), 1)
    density = np.zeros(g.rows * g.cols)
    np.add.at(density, cells, stressed[bidx] / n_cells[bidx])
    density = ndimage.gaussian_filter(density.reshape(g.shape), sigma=CROWN_M / g.cell_m)
    # where a tree's shadow falls at the KPI hour: away from the sun, about 0.75 of its height / tan(el)
    h = int(hour)
    el = max(float(engine.sun.elevation_deg[h]), 5.0)
    az = math.radians(float(engine.sun.azimuth_deg[h]))
    reach = 0.75 * TREE_HEIGHT_M / math.tan(math.radians(el)) / g.cell_m
    dr, dc = int(round(math.cos(az) * reach)), int(round(-math.sin(az) * reach))
    sr, scc = np.clip(rr + dr, 0, g.rows - 1), np.clip(cc + dc, 0, g.cols - 1)
    asphalt_dist = ndimage.distance_transform_edt(sc != SURFACE["asphalt"], sampling=g.cell_m)
    street = asphalt_dist[rr, cc] <= STREET_REACH_M
    sunlit = base_fields["sunlit"][kpi_index][rr, cc]
    feats = np.stack([utci[rr, cc], density[rr, cc], density[sr, scc], street.astype(float), sunlit], axis=1)
    x, y = g.rowcol_to_xy(rr, cc)
    return Sites(np.stack([x, y], axis=1), rr, cc, feats.astype(np.float64), utci[rr, cc].astype(np.float64), street)


def place_trees(sites: Sites, scores: np.ndarray, n: int, *, prefix: str) -> list[Tree]:
    """Trees on the ``n`` best-scored sites (ties by site order); sites are a crown apart by construction."""
    order = np.lexsort((np.arange(len(scores)), -scores))[:n]
    return [Tree(id=f"{prefix}_{k + 1}", xy_local_m=(round(float(sites.xy_local_m[i, 0]), 2),
                                                        round(float(sites.xy_local_m[i, 1]), 2)),
                 height_m=TREE_HEIGHT_M, crown_diameter_m=CROWN_M) for k, i in enumerate(order)]


def rule_hottest_streets(sites: Sites, n: int) -> list[Tree]:
    """The simple rule: trees on the street sites with the highest UTCI (then other sites by UTCI, if
    the streets run out)."""
    return place_trees(sites, sites.utci_c + np.where(sites.street, 1e3, 0.0), n, prefix="regel_baum")


def _n_trees(n: int, budget_eur: float | None) -> int:
    unit = intervention_cost_eur(Tree(id="t"))
    if budget_eur is not None:
        n = min(n, int(budget_eur // unit)) if unit > 0 else n
    return max(0, n)


def optimise_greening(district: District, n_trees: int, *, budget_eur: float | None = None, trials: int = 30,
                      seed: int = 0, config: EvalConfig = EvalConfig(),
                      on_trial: Callable[[int, float], None] | None = None) -> tuple[GreeningPlan, GreeningPlan]:
    """The optimiser's best placement of up to ``n_trees`` trees (fewer if ``budget_eur`` buys fewer),
    and the rule's placement of as many, both measured with the full heat model. Returns (best, rule)."""
    import optuna

    n = _n_trees(n_trees, budget_eur)
    if n < 1:
        raise ValueError("Budget reicht für keinen Baum / the budget buys no tree")
    ev = Evaluator(district, config)
    eng = ev.heat_engine()
    base = eng.compute([], hours=config.hours)
    hour = int(base.kpis["kpi_hour"])
    sites = plantable_sites(eng, base.fields, base.hours.index(hour), hour)
    if len(sites) < n:
        raise ValueError(f"nur {len(sites)} Standorte für {n} Bäume / only {len(sites)} sites for {n} trees")
    z = sites.standardised()

    def measure(trees: list[Tree], name: str) -> dict[str, float]:
        return ev.evaluate(Variant(name, tuple(trees)))

    rule_trees = rule_hottest_streets(sites, n)
    rule = GreeningPlan("regel_heisseste_strassen / rule_hottest_streets", rule_trees, measure(rule_trees, "rule"))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({"w_utci": 0.5, "w_stressed_residents": 0.0, "w_shade_on_residents": 0.0, "w_street": 1.0,
                         "w_sunlit": 0.0})
    study.enqueue_trial({"w_utci": 0.3, "w_stressed_residents": 0.3, "w_shade_on_residents": 1.0, "w_street": 0.0,
                         "w_sunlit": 0.3})
    log: list[dict[str, Any]] = []
    best: dict[str, Any] = {}

    def objective(trial: Any) -> float:
        w = np.array([trial.suggest_float(f"w_{f}", -1.0, 1.0) for f in FEATURES])
        trees = place_trees(sites, z @ w, n, prefix="opt_baum")
        kpis = measure(trees, f"trial_{trial.number}")
        value = float(kpis["heat_stressed_cooling_person_k"])
        log.append({"trial": trial.number, "cooling_person_k": value, **{f: float(x) for f, x in zip(FEATURES, w)}})
        if not best or value > best["value"]:
            best.update(value=value, trees=trees, kpis=kpis, weights=dict(zip(FEATURES, map(float, w))))
        if on_trial is not None:
            on_trial(trial.number, value)
        return value

    study.optimize(objective, n_trials=max(1, trials))
    plan = GreeningPlan("optuna_tpe", best["trees"], best["kpis"], best["weights"], log)
    return plan, rule
