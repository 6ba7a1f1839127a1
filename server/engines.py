"""Adapters from the simulation engines to protocol frames, composed by the simulation service.

Each adapter wraps one engine of ``models/`` (heat, traffic, access) or a small built-in
computation (costs), keeps the engine's state for one scenario (so that the engines' incremental paths
see successive intervention lists of the same scenario), and turns a result into KPIs, arrays for
exports and :mod:`protocol` frames. Adapters are created in the service's worker thread only:
that thread owns Taichi.

Each engine declares what it reads (:data:`ENGINE_INPUTS`): the intervention kinds it applies and the
engines whose results it takes (traffic's vehicle heat enters heat, heat's UTCI enters access). The
runner reruns an engine only when those inputs changed and otherwise re-stamps its last output with the
new version (:func:`restamp`), so that every frame still names the version it is valid for.

Heat fields travel as partial frames of the cells whose quantised value changed (:func:`field_frames`):
their window when that is smaller, else the changed cells alone (a sparse frame), each paired with the
full frame for clients that lack the base version. The air temperature and the heat island travel on the
air model's own coarse grid (``FieldFrame.coarse``); clients interpolate them bilinearly to the grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

import protocol as p
from geodata.district import District
from geodata.interventions import HEAT_KINDS, KINDS, ROAD_KINDS, Intervention, intervention_cost_eur

__all__ = ["EngineOutput", "available_engines", "make_adapter", "grid_info", "design_day_info", "ENGINE_ORDER",
           "ENGINE_INPUTS", "inputs_signature", "restamp", "field_frames", "access_frames"]

ENGINE_ORDER = ("costs", "traffic", "heat", "access")  # traffic heat feeds heat, heat feeds access


@dataclass(frozen=True)
class EngineInputs:
    """What an engine's result depends on: the intervention kinds it applies (None: every kind), the
    engines whose results it takes, and whether it depends on the hours asked for."""

    kinds: frozenset[str] | None
    upstream: tuple[str, ...] = ()
    hourly: bool = False


ENGINE_INPUTS: dict[str, EngineInputs] = {
    "costs": EngineInputs(None),
    "traffic": EngineInputs(ROAD_KINDS),
    "heat": EngineInputs(HEAT_KINDS, ("traffic",), hourly=True),  # vehicle heat as anthropogenic heat
    "access": EngineInputs(frozenset(KINDS) - HEAT_KINDS - ROAD_KINDS, ("heat",), hourly=True),  # UTCI on walks
}


def inputs_signature(name: str, interventions: list[Intervention]) -> bytes:
    """The interventions engine ``name`` applies, in order, as bytes: equal bytes, equal inputs."""
    kinds = ENGINE_INPUTS[name].kinds if name in ENGINE_INPUTS else None
    mine = [o for o in interventions if kinds is None or o.__struct_config__.tag in kinds]  # type: ignore[attr-defined]
    return msgspec.msgpack.encode(mine)
# field layers of the heat engine that are streamed (units in their names)
HEAT_LAYERS = ("utci_c", "tmrt_c", "air_temp_c", "surface_temp_c", "uhi_k")  # uhi_k: air minus the rural reference
HEAT_ENERGY_LIVE_MAX_CELLS = 1_000_000  # districts up to 2 x 2 km at 2 m (the sample) get the cooling demand on every edit


@dataclass
class EngineOutput:
    """One engine's results for one scenario version."""

    kpis: dict[str, float]
    frames: list[Any] = field(default_factory=list)  # protocol messages (scenario_version filled in)
    fields: dict[str, tuple[tuple[int, ...], np.ndarray]] = field(default_factory=dict)  # layer -> (hours, (H, rows, cols))
    edges: dict[str, np.ndarray] = field(default_factory=dict)  # per-road arrays (L,)
    stops_quality: np.ndarray | None = None
    computed_version: int = -1  # the version whose inputs produced it (older when re-stamped)
    buildings: dict[str, np.ndarray] = field(default_factory=dict)  # per-building arrays (N,), e.g. cooling_kwh_day


def _empty_partial(full: Any, version: int, base: int) -> Any:
    """A partial frame of ``version`` on top of ``base`` that changes nothing (a field, access, edge
    or agent frame)."""
    if isinstance(full, p.AccessFrame):
        return _access_partial(full, version, base, np.zeros(0, np.int64))
    if isinstance(full, p.EdgeFrame):
        empty = p.encode_array(np.zeros(0, np.float32))
        return p.EdgeFrame(version, empty, empty, empty, base_version=base)
    if isinstance(full, p.AgentFrame):
        return p.AgentFrame(version, full.kind, full.t_s, p.encode_array(np.zeros((0, 2), np.float32)),
                            aggregated=full.aggregated, base_version=base)
    return p.FieldFrame(version, base, full.layer, full.unit, full.hour, False, full.grid, p.Window(0, 0, 0, 0),
                        p.encode_array(np.zeros(0, "<u2")), cells=p.encode_array(np.zeros(0, "<u4")), coarse=full.coarse)


def _take(nd: p.NDArray | None, idx: np.ndarray) -> p.NDArray | None:
    """The entries ``idx`` of the last axis of a wire array, with its scale, offset and nodata."""
    if nd is None:
        return None
    a = np.ascontiguousarray(p.decode_array(nd, dequantise=False)[..., idx])
    return p.NDArray(nd.dtype, list(a.shape), a.tobytes(), nd.scale, nd.offset, nd.nodata)


def _access_partial(full: p.AccessFrame, version: int, base: int, idx: np.ndarray) -> p.AccessFrame:
    return p.AccessFrame(version, _take(full.building_time_min, idx), full.stop_quality,  # type: ignore[arg-type]
                         full.deficits, full.categories, _take(full.building_time_by_category_min, idx),
                         _take(full.building_class, idx), base_version=base,
                         buildings=p.encode_array(idx.astype("<u4")))


def access_frames(full: p.AccessFrame, base: tuple[int, p.AccessFrame] | None) -> Any:
    """``full`` alone, or (partial, full) with the partial holding only the buildings whose values
    differ from ``base`` (version, complete frame it was sent with), when that is smaller."""
    if base is None:
        return full
    old = base[1]
    arrays = ("building_time_min", "building_time_by_category_min", "building_class")
    shapes = [(getattr(old, k).shape if getattr(old, k) is not None else None,
               getattr(full, k).shape if getattr(full, k) is not None else None) for k in arrays]
    if old.categories != full.categories or any(a != b for a, b in shapes):
        return full
    n = int(full.building_time_min.shape[0]) if full.building_time_min.shape else 0
    changed = np.zeros(n, bool)
    for k in arrays:
        a, b = getattr(old, k), getattr(full, k)
        if a is not None:
            x, y = p.decode_array(a, dequantise=False), p.decode_array(b, dequantise=False)
            changed |= (x != y).reshape(-1, n).any(axis=0)
    idx = np.flatnonzero(changed)
    per = sum(np.dtype(a.dtype).itemsize * int(np.prod(a.shape[:-1])) for a in (getattr(full, k) for k in arrays)
              if a is not None)  # bytes per building
    if len(idx) * (per + 4) >= 0.5 * n * per:
        return full  # most buildings changed: the complete frame alone
    return (_access_partial(full, full.scenario_version, base[0], idx), full)


def restamp(out: EngineOutput, version: int) -> EngineOutput:
    """``out`` (unchanged results) for ``version``: every frame names the new version; a field pair's
    partial frame changes no cell on top of the version ``out`` was last sent for."""
    frames: list[Any] = []
    for f in out.frames:
        if isinstance(f, tuple):
            part, full = f
            frames.append((_empty_partial(full, version, part.scenario_version),
                           msgspec.structs.replace(full, scenario_version=version)))
        elif ((isinstance(f, p.FieldFrame) and f.full) or (isinstance(f, p.AccessFrame) and f.buildings is None)
              or (isinstance(f, (p.EdgeFrame, p.AgentFrame)) and f.base_version < 0)):
            frames.append((_empty_partial(f, version, f.scenario_version),
                           msgspec.structs.replace(f, scenario_version=version)))
        elif hasattr(f, "scenario_version"):
            frames.append(msgspec.structs.replace(f, scenario_version=version))
        else:
            frames.append(f)
    return EngineOutput(kpis=out.kpis, frames=frames, fields=out.fields, edges=out.edges,
                        stops_quality=out.stops_quality, computed_version=out.computed_version, buildings=out.buildings)


def field_frames(version: int, layer: str, unit: str, hour: int, g: p.GridInfo, values: np.ndarray,
                 base: tuple[int, np.ndarray] | None, *, coarse: int = 1) -> tuple[Any, np.ndarray]:
    """The frame(s) of one field and its quantised raw values (rows, cols) uint16.

    ``values`` lie on the district grid ``g``, or with ``coarse`` f > 1 on the coarse raster of f x f
    district cells (:func:`protocol.raster_shape`; the air temperature model's own grid).
    Without ``base`` (version, raw values it was sent with): a full frame. With it: (partial, full),
    the partial holding only the cells whose quantised value changed, as their window or, when smaller,
    as a sparse list of cells; None instead of a pair when the change covers most of the grid."""
    q = p.quantise_u16(values)
    raw = np.frombuffer(q.data, "<u2").reshape(values.shape)
    n_rows, n_cols = raw.shape
    full = p.FieldFrame(version, -1, layer, unit, hour, True, g, p.Window(0, 0, n_rows, n_cols), q, coarse=coarse)
    if base is None or base[1].shape != raw.shape:
        return full, raw
    idx = np.flatnonzero(base[1] != raw)
    if len(idx) == 0:
        return (_empty_partial(full, version, base[0]), full), raw
    rr, cc = np.divmod(idx, n_cols)
    r0, r1, c0, c1 = int(rr.min()), int(rr.max()) + 1, int(cc.min()), int(cc.max()) + 1
    h, w = r1 - r0, c1 - c0
    # a change that reaches far (waste heat of a road closure warms the air widely) makes large partial
    # frames: those travel compressed (once for all clients), small ones raw
    if 6 * len(idx) < 2 * h * w:  # index (4 bytes) and value (2 bytes) per cell against the window
        cells = ((rr - r0) * w + (cc - c0)).astype("<u4")
        part = p.FieldFrame(version, base[0], layer, unit, hour, False, g, p.Window(r0, c0, h, w),
                            p.compress_array(p.NDArray("<u2", [len(idx)], raw.reshape(-1)[idx].tobytes(), q.scale,
                                                       q.offset, q.nodata)),
                            cells=p.compress_array(p.encode_array(cells)), coarse=coarse)
    elif h * w <= 0.5 * raw.size:
        part = p.FieldFrame(version, base[0], layer, unit, hour, False, g, p.Window(r0, c0, h, w),
                            p.compress_array(p.NDArray("<u2", [h, w], np.ascontiguousarray(raw[r0:r1, c0:c1]).tobytes(),
                                                       q.scale, q.offset, q.nodata)), coarse=coarse)
    else:
        return full, raw
    return (part, full), raw


def _compressed(frame: Any) -> Any:
    """A complete field frame that every client gets with its values compressed where it pays (once for
    all); a (partial, complete) pair as it is: its complete frame is only a fallback for the few clients
    without the base, not worth compressing on every edit."""
    if isinstance(frame, tuple):
        return frame
    return msgspec.structs.replace(frame, values=p.compress_array(frame.values))


def _shifted(frame: Any, layer: str, unit: str, shift: float) -> Any:
    """A field frame (or pair) of ``layer`` whose values are those of ``frame`` plus ``shift``: the same
    quantised cells (and changed cells) with the offset moved, no new quantisation or compression."""
    if isinstance(frame, tuple):
        return tuple(_shifted(f, layer, unit, shift) for f in frame)
    v = frame.values
    return msgspec.structs.replace(frame, layer=layer, unit=unit, values=msgspec.structs.replace(v, offset=v.offset + shift))


def grid_info(d: District) -> p.GridInfo:
    g = d.grid
    return p.GridInfo(rows=g.rows, cols=g.cols, cell_m=g.cell_m, west_m=g.west_m, south_m=g.south_m)


_DESIGN_DAYS: dict[int, tuple[District, p.DesignDay]] = {}


def design_day_info(d: District) -> p.DesignDay:
    """The heat model's design day at ``d`` (date, time zone, sun per hour) for the viewers' sun; cached."""
    hit = _DESIGN_DAYS.get(id(d))
    if hit is not None and hit[0] is d:
        return hit[1]
    from geodata.design_day import design_day_sun

    s = design_day_sun(d)
    info = p.DesignDay(date=s.date.isoformat(), timezone=s.timezone, utc_offset_h=s.utc_offset_h,
                       sun_azimuth_deg=list(s.azimuth_deg), sun_elevation_deg=list(s.elevation_deg))
    _DESIGN_DAYS[id(d)] = (d, info)
    return info


def available_engines() -> list[str]:
    return ["costs", "traffic", "heat", "access"]


class CostAdapter:
    """Investment cost and counts of the scenario's interventions (geodata.interventions cost table)."""

    name = "costs"
    quick = True  # its output may wait in a live job until the heat map is out (server.worker)

    def __init__(self, district: District) -> None:
        self.district = district

    def compute(self, interventions: list[Intervention], version: int, hours: tuple[int, ...],
                progress: Callable[[str, float], None], ctx: dict[str, Any]) -> EngineOutput:
        total = 0.0
        kinds: dict[str, float] = {}
        for obj in interventions:
            total += intervention_cost_eur(obj, self.district)
            tag = obj.__struct_config__.tag  # type: ignore[attr-defined]
            kinds[f"count_{tag}"] = kinds.get(f"count_{tag}", 0.0) + 1.0
        kpis = {"investment_eur": round(total, 2), "interventions": float(len(interventions)), **kinds}
        return EngineOutput(kpis=kpis, frames=[p.KpiFrame(scenario_version=version, engine="costs", values=kpis)])


class HeatAdapter:
    """Heat fields for the subscribed hours; traffic's vehicle heat enters as anthropogenic heat."""

    name = "heat"
    early_results = True  # the shown UTCI and the key figures go out before the other frames (ctx["early"])

    def __init__(self, district: District) -> None:
        self.district = district
        from models.heat.engine import HeatEngine  # imports Taichi: only in the worker thread

        self.engine = HeatEngine(district)
        self.last_version: int | None = None
        self.last_raw: dict[tuple[str, int], np.ndarray] = {}  # (layer, hour) -> quantised values last sent
        # buildings' cooling demand (a full day of air and 5R1C) in the live loop only on smaller districts
        self.energy = district.grid.rows * district.grid.cols <= HEAT_ENERGY_LIVE_MAX_CELLS
        self.base_cooling_kwh: np.ndarray | None = None  # per building (N,)
        self._waste: tuple[Any, np.ndarray] | None = None  # the traffic result and its vehicle heat raster

    def _waste_heat(self, traffic: Any) -> np.ndarray | None:
        """Vehicle heat (rows, cols) W/m2 of a traffic result, rastered once per result."""
        if traffic is None:
            return None
        if self._waste is None or self._waste[0] is not traffic:
            self._waste = (traffic, traffic.anthropogenic_heat_w_m2(self.district.grid))
        return self._waste[1]

    def compute(self, interventions: list[Intervention], version: int, hours: tuple[int, ...],
                progress: Callable[[str, float], None], ctx: dict[str, Any]) -> EngineOutput:
        """Fields of every layer and hour; ``ctx["early"]`` (when given) gets the UTCI frame of the key
        figures' hour and the instantaneous key figures first, before the other frames are built and
        before the day's building cooling (a day of air and 5R1C) is computed."""
        heat_only = [o for o in interventions if o.__struct_config__.tag in HEAT_KINDS]  # type: ignore[attr-defined]
        progress("heat", 0.05)
        qf = self._waste_heat(ctx.get("traffic"))
        early = ctx.get("early")
        ahead: dict[tuple[str, int], tuple[Any, np.ndarray]] = {}  # frames sent before the engine returned

        def shown_utci(hour: int, utci: np.ndarray) -> None:  # the map first, the key figures right after
            frame, raw = self._field_frame(version, "utci_c", hour, utci)
            ahead[("utci_c", hour)] = (_compressed(frame), raw)  # a complete frame goes to everyone
            early([ahead[("utci_c", hour)][0]])

        res = self.engine.compute(heat_only, hours=tuple(hours), anthropogenic_heat_w_m2=qf,
                                  early=shown_utci if early is not None else None)
        ctx["heat"] = res
        buildings: dict[str, np.ndarray] = {}
        frames, fields = self._frames(res, version, early, ahead)
        if ctx.get("check") is not None:  # a newer version stops the job before the day's cooling (it has the early frame)
            ctx["check"]()
        if self.energy:
            if self.base_cooling_kwh is None:
                # the baseline as the engine's own: the district without interventions and without traffic heat
                self.base_cooling_kwh = self.engine.building_cooling([], anthropogenic_heat_w_m2=None).cooling_kwh
            # a newer version also stops it between the hours of the day's air
            cool = self.engine.building_cooling(heat_only, anthropogenic_heat_w_m2=qf, check=ctx.get("check"))
            res.kpis["cooling_demand_kwh_day"] = cool.district_kwh
            res.kpis["cooling_demand_diff_to_baseline_kwh"] = cool.district_kwh - float(self.base_cooling_kwh.sum())
            buildings = {"cooling_kwh_day": np.asarray(cool.cooling_kwh, np.float32),
                         "cooling_kwh_day_baseline": np.asarray(self.base_cooling_kwh, np.float32),
                         "cooled": np.asarray(cool.cooled, bool)}
        progress("heat", 0.95)
        return EngineOutput(kpis={k: float(v) for k, v in dict(res.kpis).items()}, frames=frames, fields=fields,
                            buildings=buildings)

    def _field_frame(self, version: int, layer: str, hour: int, values: np.ndarray, coarse: int = 1) -> tuple[Any, np.ndarray]:
        """The frame(s) of one field on top of what was last sent of it, and its quantised values."""
        old = self.last_raw.get((layer, hour))
        base = (self.last_version, old) if old is not None and self.last_version is not None else None
        unit = "K" if layer.endswith("_k") else "°C"
        return field_frames(version, layer, unit, hour, grid_info(self.district), values, base, coarse=coarse)

    def _frames(self, res: Any, version: int, early: Callable[[list[Any]], None] | None,
                ahead: dict[tuple[str, int], tuple[Any, np.ndarray]] | None = None,
                ) -> tuple[list[Any], dict[str, tuple[tuple[int, ...], np.ndarray]]]:
        """The frames of every streamed layer and hour (partial on top of the last version sent), the
        UTCI of the key figures' hour first (handed to ``early`` with the key figures; when the engine
        sent it ``ahead`` already, that frame and the key figures alone)."""
        fields: dict[str, tuple[tuple[int, ...], np.ndarray]] = {}
        raws: dict[tuple[str, int], np.ndarray] = {}
        rural = np.asarray(self.engine.weather.air_temp_c, np.float32)[list(res.hours)]
        if "air_temp_c" in res.fields:  # the heat island: air minus the rural reference of each hour
            res.fields["uhi_k"] = np.asarray(res.fields["air_temp_c"], np.float32) - rural[:, None, None]
        first = int(res.kpis.get("kpi_hour", res.hours[0]))
        todo = [(layer, hi, int(hour)) for layer in HEAT_LAYERS if layer in res.fields and layer != "uhi_k"
                for hi, hour in enumerate(res.hours)]
        todo.sort(key=lambda t: not (t[0] == "utci_c" and t[2] == first))  # stable: the rest in layer order
        # the air travels on the air model's own coarse grid (its bilinear upsampling is the fine field,
        # which stays in ``fields`` for exports); the heat island's frames follow it
        coarse_air = self.engine.air_coarse() if "air_temp_c" in res.fields else None
        built: dict[tuple[str, int], Any] = {}
        for layer, hi, hour in todo:
            if layer not in fields:
                fields[layer] = (tuple(res.hours), np.asarray(res.fields[layer], dtype=np.float32))
            if ahead and (layer, hour) in ahead:  # sent already, while the engine went on
                built[(layer, hour)], raws[(layer, hour)] = ahead[(layer, hour)]
            else:
                values, f = fields[layer][1][hi], 1
                if layer == "air_temp_c" and coarse_air is not None:
                    values, f = coarse_air[0][hi], coarse_air[1]
                built[(layer, hour)], raws[(layer, hour)] = self._field_frame(version, layer, hour, values, f)
            if early is not None and (layer, hour) == ("utci_c", first):
                kpis = p.KpiFrame(version, "heat", {k: float(v) for k, v in dict(res.kpis).items()})
                if ahead and (layer, hour) in ahead:
                    early([kpis])
                else:
                    built[(layer, hour)] = _compressed(built[(layer, hour)])  # a complete frame goes to everyone
                    early([built[(layer, hour)], kpis])
        self.last_version, self.last_raw = version, raws
        # complete fields that every client gets compressed once for all (and for storage), after the early frame
        done = {(layer, hour): _compressed(built[(layer, hour)]) for layer, _, hour in todo}
        if "uhi_k" in res.fields:  # the air's frames with the quantisation offset moved by the rural reference
            fields["uhi_k"] = (tuple(res.hours), res.fields["uhi_k"])
            for hi, hour in enumerate(res.hours):
                done[("uhi_k", int(hour))] = _shifted(done[("air_temp_c", int(hour))], "uhi_k", "K", -float(rural[hi]))
                todo.append(("uhi_k", hi, int(hour)))
        frames = [done[(layer, hour)] for layer, _, hour in sorted(todo, key=lambda t: (HEAT_LAYERS.index(t[0]), t[1]))]
        return frames, fields

    def restamp(self, out: EngineOutput, version: int) -> EngineOutput:
        """The last output for ``version`` (nothing it reads changed); later partial frames build on it."""
        self.last_version = version
        return restamp(out, version)


class TrafficAdapter:
    name = "traffic"

    def __init__(self, district: District) -> None:
        from models.traffic.engine import TrafficEngine  # imports Taichi: only in the worker thread

        self.engine = TrafficEngine(district, seed=0)

    def compute(self, interventions: list[Intervention], version: int, hours: tuple[int, ...],
                progress: Callable[[str, float], None], ctx: dict[str, Any]) -> EngineOutput:
        res = self.engine.compute(interventions)
        ctx["traffic"] = res
        flow = np.asarray(res.edge_flow_veh_h, np.float32)
        vc = np.asarray(res.edge_vc, np.float32)
        speed = np.asarray(res.edge_speed_kmh, np.float32)
        frames: list[Any] = [p.EdgeFrame(version, p.encode_array(flow), p.encode_array(vc), p.encode_array(speed))]
        if res.vehicles is not None:
            xy, heading = res.vehicles.positions_at(1800.0)  # the middle of the peak hour
            frames.append(p.AgentFrame(version, "vehicles", float(res.peak_hour) * 3600.0 + 1800.0,
                                       p.encode_array(np.asarray(xy, np.float32).reshape(-1, 2)),
                                       heading_rad=p.encode_array(np.asarray(heading, np.float32))))
        edges = {"flow_veh_h": flow, "vc": vc, "speed_kmh": speed, "closed": np.asarray(res.edge_closed, bool),
                 "delay_s": np.asarray(res.edge_delay_s, np.float32),
                 "noise_db": np.asarray(res.edge_noise_db, np.float32)}
        return EngineOutput(kpis={k: float(v) for k, v in dict(res.kpis).items()}, frames=frames, edges=edges)


_CLASS_CODE = {c: i for i, c in enumerate("ABCDEF")}
ACCESS_MIN_STEP = 0.1  # quantisation of travel times on the wire (minutes); unreachable is missing


class AccessAdapter:
    name = "access"

    def __init__(self, district: District) -> None:
        self.district = district
        from models.people.access import AccessEngine  # imports Taichi: only in the worker thread

        self.engine = AccessEngine(district, seed=0)
        cx = [fp.centroid for fp in district.buildings.footprints]
        self.building_xy = np.array([[c.x, c.y] for c in cx], float).reshape(-1, 2)
        self.last: tuple[int, p.AccessFrame] | None = None  # the version and complete frame last sent

    def compute(self, interventions: list[Intervention], version: int, hours: tuple[int, ...],
                progress: Callable[[str, float], None], ctx: dict[str, Any]) -> EngineOutput:
        heat = ctx.get("heat")
        utci = None
        if heat is not None and "utci_c" in heat.fields:
            utci = np.asarray(heat.fields["utci_c"])[-1]
        res = self.engine.compute(interventions, heat_utci_c=utci)
        cats = sorted(res.building_time_min)
        by_cat = np.stack([np.asarray(res.building_time_min[c], np.float32) for c in cats]) if cats else np.zeros((0, 0), np.float32)
        doctor = by_cat[cats.index("doctor")] if "doctor" in cats else (by_cat.min(axis=0) if cats else np.zeros(0, np.float32))
        q = np.array([_CLASS_CODE.get(str(v), 5) for v in np.asarray(res.stop_quality)], np.uint8)
        bclass = np.array([_CLASS_CODE.get(str(v), 6) for v in np.asarray(res.building_class)], np.uint8)
        deficits = self._deficits(res.deficit_areas, doctor)
        minutes = {"scale": ACCESS_MIN_STEP, "offset": 0.0}  # travel times in 0.1 min steps (half the bytes)
        full = p.AccessFrame(version, p.quantise_u16(doctor, **minutes), p.encode_array(q), deficits, categories=cats,
                             building_time_by_category_min=p.compress_array(p.quantise_u16(by_cat, **minutes),
                                                                            min_bytes=16 * 1024),
                             building_class=p.encode_array(bclass))
        frames: list[Any] = [access_frames(full, self.last)]  # the buildings whose times changed, when fewer
        self.last = (version, full)
        if res.agents is not None:
            t_s = float(hours[0]) * 3600.0
            xy = np.asarray(res.agents.positions_at(t_s), np.float32).reshape(-1, 2)
            mode = np.asarray(res.agents.mode_at(t_s), np.int32)
            frames.append(p.AgentFrame(version, "people", t_s, p.compress_array(p.encode_array(xy), min_bytes=16 * 1024),
                                       mode=p.compress_array(p.encode_array(mode), min_bytes=16 * 1024)))
        return EngineOutput(kpis={k: float(v) for k, v in dict(res.kpis).items() if _is_number(v)}, frames=frames,
                            stops_quality=q)

    def restamp(self, out: EngineOutput, version: int) -> EngineOutput:
        """The last output for ``version`` (nothing it reads changed); later partial frames build on it."""
        if self.last is not None:
            self.last = (version, self.last[1])
        return restamp(out, version)

    def _deficits(self, areas: list[dict[str, Any]], doctor_min: np.ndarray) -> list[p.DeficitArea]:
        out = []
        res_w = np.asarray(self.district.buildings.residents, float)
        for a in areas or []:
            w, s_, e, n = (float(v) for v in a["bbox_local_m"])
            inside = ((self.building_xy[:, 0] >= w) & (self.building_xy[:, 0] < e) & (self.building_xy[:, 1] >= s_)
                      & (self.building_xy[:, 1] < n) & np.isfinite(doctor_min[: len(res_w)]))
            wt = res_w[inside]
            t = float(np.average(doctor_min[: len(res_w)][inside], weights=wt)) if wt.sum() > 0 else float("nan")
            for group, g in a["groups"].items():
                if g.get("suppressed") or g.get("persons") is None or int(g["persons"]) < 5:
                    continue  # small counts never leave the server
                deficit = {c: int(k) for c, k in g["deficit"].items() if k is not None and int(k) >= 5}
                if not deficit:
                    continue
                out.append(p.DeficitArea(group, ((w + e) / 2, (s_ + n) / 2), int(g["persons"]),
                                         t if np.isfinite(t) else -1.0, str(a["area_id"]), (w, s_, e, n), deficit))
        return out


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


_ADAPTERS: dict[str, type] = {"costs": CostAdapter, "heat": HeatAdapter, "traffic": TrafficAdapter, "access": AccessAdapter}


def make_adapter(name: str, district: District) -> Any:
    return _ADAPTERS[name](district)
