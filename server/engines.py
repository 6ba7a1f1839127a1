"""Adapters from the simulation engines to protocol frames, composed by the simulation service.

Each adapter wraps one engine of ``server/simulation/`` (heat, traffic, access) or a small built-in
computation (costs), keeps the engine's state for one scenario (so that the engines' incremental paths
see successive intervention lists of the same scenario), and turns a result into KPIs, arrays for
exports and :mod:`server.protocol` frames. Adapters are created in the service's worker thread only:
that thread owns Taichi.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodata.district import District
from geodata.interventions import HEAT_KINDS, Intervention, intervention_cost_eur
from server import protocol as p

__all__ = ["EngineOutput", "available_engines", "make_adapter", "grid_info", "ENGINE_ORDER"]

ENGINE_ORDER = ("costs", "heat", "traffic", "access")
_MODULES = {"heat": "server.simulation.heat", "traffic": "server.simulation.traffic", "access": "server.simulation.access"}
# field layers of the heat engine that are streamed (units in their names)
HEAT_LAYERS = ("utci_c", "tmrt_c", "air_temp_c", "surface_temp_c")


@dataclass
class EngineOutput:
    """One engine's results for one scenario version."""

    kpis: dict[str, float]
    frames: list[Any] = field(default_factory=list)  # protocol messages (scenario_version filled in)
    fields: dict[str, tuple[tuple[int, ...], np.ndarray]] = field(default_factory=dict)  # layer -> (hours, (H, rows, cols))
    edges: dict[str, np.ndarray] = field(default_factory=dict)  # per-road arrays (L,)
    stops_quality: np.ndarray | None = None


def grid_info(d: District) -> p.GridInfo:
    g = d.grid
    return p.GridInfo(rows=g.rows, cols=g.cols, cell_m=g.cell_m, west_m=g.west_m, south_m=g.south_m)


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(_MODULES[name])
    except ModuleNotFoundError as exc:
        if exc.name == _MODULES[name]:
            return None
        raise


def available_engines() -> list[str]:
    return ["costs"] + [n for n in ("heat", "traffic", "access") if _module(n) is not None]


class CostAdapter:
    """Investment cost and counts of the scenario's interventions (geodata.interventions cost table)."""

    name = "costs"

    def __init__(self, district: District) -> None:
        self.district = district

    def compute(self, interventions: list[Intervention], version: int, hours: tuple[int, ...],
                progress: Callable[[str, float], None]) -> EngineOutput:
        total = 0.0
        kinds: dict[str, float] = {}
        for obj in interventions:
            total += intervention_cost_eur(obj, self.district)
            tag = obj.__struct_config__.tag  # type: ignore[attr-defined]
            kinds[f"count_{tag}"] = kinds.get(f"count_{tag}", 0.0) + 1.0
        kpis = {"investment_eur": round(total, 2), "interventions": float(len(interventions)), **kinds}
        return EngineOutput(kpis=kpis, frames=[p.KpiFrame(scenario_version=version, engine="costs", values=kpis)])


class HeatAdapter:
    name = "heat"

    def __init__(self, district: District) -> None:
        self.district = district
        self.engine = _module("heat").HeatEngine(district)
        self.last_version: int | None = None

    def compute(self, interventions: list[Intervention], version: int, hours: tuple[int, ...],
                progress: Callable[[str, float], None]) -> EngineOutput:
        heat_only = [o for o in interventions if o.__struct_config__.tag in HEAT_KINDS]  # type: ignore[attr-defined]
        progress("heat", 0.05)
        res = self.engine.compute(heat_only, hours=tuple(hours))
        progress("heat", 0.9)
        g = grid_info(self.district)
        window = getattr(res, "changed_window", None)
        frames: list[Any] = []
        fields: dict[str, tuple[tuple[int, ...], np.ndarray]] = {}
        for layer in HEAT_LAYERS:
            if layer not in res.fields:
                continue
            arr = np.asarray(res.fields[layer], dtype=np.float32)
            fields[layer] = (tuple(hours), arr)
            for hi, hour in enumerate(hours):
                full = p.FieldFrame(version, -1, layer, "°C", int(hour), True, g, p.Window(0, 0, g.rows, g.cols),
                                    p.quantise_u16(arr[hi]))
                frames.append(full)
                part = _partial(full, arr[hi], window, self.last_version)
                if part is not None:
                    frames[-1] = (part, full)
        self.last_version = version
        return EngineOutput(kpis={k: float(v) for k, v in dict(res.kpis).items()}, frames=frames, fields=fields)


def _partial(full: p.FieldFrame, arr: np.ndarray, window: Any, base: int | None) -> p.FieldFrame | None:
    """A frame of only the changed window, applicable on top of ``base`` (None when not worth it)."""
    if window is None or base is None:
        return None
    try:
        r0, c0, r1, c1 = (int(v) for v in window)  # (row0, col0, row_end, col_end)
    except (TypeError, ValueError):
        return None
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, arr.shape[0]), min(c1, arr.shape[1])
    if r1 <= r0 or c1 <= c0 or (r1 - r0) * (c1 - c0) > 0.5 * arr.size:
        return None
    sub = arr[r0:r1, c0:c1]
    return p.FieldFrame(full.scenario_version, base, full.layer, full.unit, full.hour, False, full.grid,
                        p.Window(r0, c0, r1 - r0, c1 - c0), p.quantise_u16(sub))


class TrafficAdapter:
    name = "traffic"

    def __init__(self, district: District) -> None:
        self.engine = _module("traffic").TrafficEngine(district, seed=0)

    def compute(self, interventions: list[Intervention], version: int, hours: tuple[int, ...],
                progress: Callable[[str, float], None]) -> EngineOutput:
        res = self.engine.compute(interventions)
        flow = np.asarray(res.edge_flow_veh_h, np.float32)
        vc = np.asarray(res.edge_vc, np.float32)
        speed = np.asarray(res.edge_speed_kmh, np.float32)
        frames: list[Any] = [p.EdgeFrame(version, p.encode_array(flow), p.encode_array(vc), p.encode_array(speed))]
        veh = getattr(res, "vehicles", None)
        if veh is not None:
            t_s = float(hours[0]) * 3600.0
            xy = np.asarray(veh.positions_at(t_s), np.float32).reshape(-1, 2)
            frames.append(p.AgentFrame(version, "vehicles", t_s, p.encode_array(xy)))
        return EngineOutput(kpis={k: float(v) for k, v in dict(res.kpis).items()}, frames=frames,
                            edges={"flow_veh_h": flow, "vc_ratio": vc, "speed_kmh": speed})


class AccessAdapter:
    name = "access"

    def __init__(self, district: District) -> None:
        self.engine = _module("access").AccessEngine(district, seed=0)

    def compute(self, interventions: list[Intervention], version: int, hours: tuple[int, ...],
                progress: Callable[[str, float], None]) -> EngineOutput:
        res = self.engine.compute(interventions)
        t = np.asarray(res.building_time_min, np.float32)
        q = np.asarray(res.stop_quality)
        if q.dtype.kind not in "iu":
            q = np.array([("ABCDEF".index(str(v)) if str(v) in "ABCDEF" and str(v) else 5) for v in q], np.uint8)
        deficits = [_deficit(a) for a in (getattr(res, "deficit_areas", None) or [])]
        frames: list[Any] = [p.AccessFrame(version, p.encode_array(t), p.encode_array(q.astype(np.uint8)),
                                           [d for d in deficits if d is not None])]
        agents = getattr(res, "agents", None)
        if agents is not None:
            t_s = float(hours[0]) * 3600.0
            xy = np.asarray(agents.positions_at(t_s), np.float32).reshape(-1, 2)
            frames.append(p.AgentFrame(version, "people", t_s, p.encode_array(xy)))
        return EngineOutput(kpis={k: float(v) for k, v in dict(res.kpis).items()}, frames=frames,
                            stops_quality=q.astype(np.uint8))


def _deficit(a: Any) -> p.DeficitArea | None:
    get = a.get if isinstance(a, dict) else (lambda k, default=None: getattr(a, k, default))
    persons = int(get("persons", get("count", 0)) or 0)
    if persons < 5:  # small counts never leave the server
        return None
    xy = get("xy_local_m", None)
    if xy is None:
        return None
    return p.DeficitArea(str(get("group", "")), (float(xy[0]), float(xy[1])), persons, float(get("time_min", 0.0) or 0.0))


_ADAPTERS: dict[str, type] = {"costs": CostAdapter, "heat": HeatAdapter, "traffic": TrafficAdapter, "access": AccessAdapter}


def make_adapter(name: str, district: District) -> Any:
    return _ADAPTERS[name](district)
