"""The traffic engine: District + road interventions -> peak-hour equilibrium flows, a dynamic queue
simulation of the same hour, KPIs, emissions, noise and anthropogenic heat.

``TrafficEngine(district, seed=0).compute(interventions)`` warm-starts each equilibrium from the last
solution. Results are per District road edge (both directions summed); new links of a scenario follow
the District's edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodata.apply_roads import apply_road_interventions, is_road_edit
from geodata.district import ROAD_WIDTH_M, District, GridSpec
from geodata.interventions import Intervention
from models.traffic.demand import Demand, build_demand, sample_vehicles
from models.traffic.effects import heat_raster_w_m2, link_emissions, link_heat_w, noise_level_db
from models.traffic.network import (
    RoadNetwork,
    build_network,
    define_zones,
    junction_capacity_table,
    road_class_table,
    turn_delays_s,
)
from sim_kernels.assignment import AssignmentResult, assign, shortest_paths
from sim_kernels.queue_sim import QueueResult, extract_routes, simulate, vehicles_on_links_at
from sim_kernels.runtime import ensure_init

__all__ = ["TrafficEngine", "TrafficResult", "Vehicles", "link_polylines"]


def link_polylines(network: RoadNetwork, roads_geometry: Sequence[np.ndarray]) -> list[np.ndarray]:
    """(k, 2) local-metre polyline of every link in its driving direction (connectors straight)."""
    out = []
    xy = network.node_xy_local_m
    for lk in range(network.n_links):
        e = int(network.link_edge[lk])
        if e < 0:
            out.append(np.vstack([xy[network.net.link_from[lk]], xy[network.net.link_to[lk]]]))
        else:
            g = np.asarray(roads_geometry[e], dtype=np.float64)
            out.append(g if network.link_dir[lk] > 0 else g[::-1])
    return out


class Vehicles:
    """Vehicles of the dynamic simulation, for animation: where each one is at any time."""

    def __init__(self, sim: QueueResult, fft_s: np.ndarray, polylines: list[np.ndarray]) -> None:
        self.sim = sim
        self.fft_s = fft_s
        lens = [np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))]) for p in polylines]
        self._pts = np.vstack(polylines)
        self._off = np.zeros(len(polylines) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in polylines], out=self._off[1:])
        self._total = np.array([c[-1] for c in lens])
        base = np.concatenate([[0.0], np.cumsum(self._total + 1.0)])[:-1]  # +1 m keeps links apart
        self._base = base
        self._cum = np.concatenate([c + b for c, b in zip(lens, base)])

    @property
    def count(self) -> int:
        return int(self.sim.depart_s.shape[0])

    def ids_at(self, t_s: float) -> np.ndarray:
        """(V,) int64 indices of the vehicles on the network at ``t_s`` (seconds into the hour)."""
        return vehicles_on_links_at(self.sim, self.fft_s, t_s)[0]

    def positions_at(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """xy_local_m (V, 2) float32 and heading (V,) float32 (radians, counter-clockwise from east)
        of the vehicles on the network at ``t_s``, in the order of ``ids_at``."""
        _, links, frac = vehicles_on_links_at(self.sim, self.fft_s, t_s)
        s = self._base[links] + frac * self._total[links]
        j = np.searchsorted(self._cum, s, side="right") - 1
        j = np.clip(j, self._off[links], self._off[links + 1] - 2)
        a, b = self._pts[j], self._pts[j + 1]
        seg = np.maximum(self._cum[j + 1] - self._cum[j], 1e-9)
        f = np.clip((s - self._cum[j]) / seg, 0.0, 1.0)
        xy = a + f[:, None] * (b - a)
        heading = np.arctan2(b[:, 1] - a[:, 1], b[:, 0] - a[:, 0])
        return xy.astype(np.float32), heading.astype(np.float32)


@dataclass
class TrafficResult:
    """Peak-hour traffic of one scenario; edge arrays (L,) per District road edge, both directions
    summed; ``edited_edges`` holds the same including a scenario's new links."""

    edge_flow_veh_h: np.ndarray  # (L,) float32
    edge_vc: np.ndarray  # (L,) float32, the larger V/C of the two directions
    edge_speed_kmh: np.ndarray  # (L,) float32, flow-weighted congested speed (free flow without traffic)
    edge_delay_s: np.ndarray  # (L,) float32, mean delay per vehicle on the edge
    edge_noise_db: np.ndarray  # (L,) float32, RLS-90 L_m,E at 25 m (nan without traffic)
    edge_closed: np.ndarray  # (L,) bool
    edited_edges: dict[str, np.ndarray]  # the same per edge of the edited road table (L + new links,)
    kpis: dict[str, float]
    unserved: list[tuple[int, int, float]]  # (origin zone, destination zone, trips per hour)
    vehicles: Vehicles | None
    network: RoadNetwork
    link_flow_veh_h: np.ndarray  # (links,) float64
    link_time_s: np.ndarray  # (links,) float64
    link_heat_w: np.ndarray  # (links,) float64
    polylines: list[np.ndarray]
    hour_share: np.ndarray  # (24,)
    peak_hour: int
    od_time_min: np.ndarray  # (Z, Z) float64 congested zone-to-zone times (inf if unreachable)
    gap_history: list[float] = field(default_factory=list)
    edge_dynamic_speed_kmh: np.ndarray | None = (
        None  # (L,) float32 mean speed in the queue simulation (nan: unused)
    )
    edge_dynamic_delay_s: np.ndarray | None = (
        None  # (L,) float32 mean delay per vehicle in the queue simulation
    )

    def anthropogenic_heat_w_m2(self, grid: GridSpec, hour: int | None = None) -> np.ndarray:
        """Vehicle heat release (rows, cols) float32 W/m2 on ``grid`` for the peak hour, or for ``hour``
        (scaled by the departure profile)."""
        scale = 1.0 if hour is None else float(self.hour_share[hour] / self.hour_share[self.peak_hour])
        width = np.array([ROAD_WIDTH_M.get(str(c), 6.0) for c in self.network.road_class])
        return heat_raster_w_m2(self.polylines, self.link_heat_w * scale, grid, width)


class TrafficEngine:
    """Traffic of a District under road interventions (see the module docstring)."""

    def __init__(
        self,
        district: District,
        *,
        seed: int = 0,
        zone_m: float = 300.0,
        rgap: float = 1e-5,
        max_iter: int = 400,
        dynamic: bool = True,
        arch: str | None = None,
    ) -> None:
        ensure_init(arch)
        self.district = district
        self.seed = int(seed)
        self.rgap = rgap
        self.max_iter = max_iter
        self.dynamic = dynamic
        self.zones = define_zones(district, zone_m=zone_m)
        self.base_network = build_network(district.roads, self.zones)
        self.demand: Demand = build_demand(district, self.base_network)
        self._last: tuple[RoadNetwork, AssignmentResult] | None = None

    def _warm_state(self, network: RoadNetwork) -> dict[str, np.ndarray] | None:
        if self._last is None:
            return None
        old_net, old = self._last

        def keys(n: RoadNetwork) -> np.ndarray:
            road = n.link_edge.astype(np.int64) * 3 + n.link_dir + 1
            con = -(1 + n.net.link_from.astype(np.int64) * n.net.n_nodes + n.net.link_to)
            return np.where(n.link_edge >= 0, road, con)

        old_keys = keys(old_net)
        order = np.argsort(old_keys)
        new_keys = keys(network)
        pos = np.clip(np.searchsorted(old_keys[order], new_keys), 0, max(0, old_keys.size - 1))
        hit = old_keys.size > 0 and (old_keys[order][pos] == new_keys)
        flow = np.where(hit, old.flow[order][pos], 0.0)
        # the old path flows stay valid only if every link that carried traffic still exists
        if not np.isclose(flow.sum(), old.flow.sum(), rtol=1e-9, atol=1e-6):
            return None
        return {**old.state, "flow": flow}

    def compute(
        self, interventions: Sequence[Intervention] = (), *, dynamic: bool | None = None
    ) -> TrafficResult:
        """Equilibrium (and, if ``dynamic`` (default: the engine's setting), the queue simulation) for the
        District with ``interventions`` applied.

        Raises ``RoadEditError`` / ``NetworkError`` for invalid edits; the engine's state is then unchanged.
        """
        road_edits = [i for i in interventions if is_road_edit(i)]
        edit = apply_road_interventions(
            self.district.roads, road_edits, bbox_local_m=self.district.grid.bbox_local_m
        )
        network = build_network(edit.roads, self.zones, closed=edit.closed)
        od = self.demand.peak_od_veh_h
        res = assign(
            network.net, od, rgap=self.rgap, max_iter=self.max_iter, warm_state=self._warm_state(network)
        )
        self._last = (network, res)
        polylines = link_polylines(network, edit.roads.geometry)
        run_dynamic = self.dynamic if dynamic is None else dynamic
        return self._result(network, edit.closed, res, od, polylines, run_dynamic)

    def _result(
        self, network, closed, res: AssignmentResult, od, polylines, run_dynamic: bool
    ) -> TrafficResult:
        net = network.net
        n_edges = network.n_edges
        n0 = len(self.district.roads)  # District edges; a scenario's new links follow them
        flow, t_s = res.flow, res.cost
        road = network.link_edge >= 0
        e = network.link_edge[road]
        t0 = net.free_flow_time
        delay_share = np.where(t_s > 0, (t_s - t0) / np.maximum(t_s, 1e-9), 0.0)
        # connectors stand for access on minor streets inside a zone: no located emissions or heat
        on_road = np.where(road, flow, 0.0)
        co2, nox = link_emissions(on_road, network.length_m, network.speed_kmh, delay_share)
        heat = link_heat_w(co2)
        ef = np.bincount(e, flow[road], n_edges)
        vc = np.zeros(n_edges)
        np.maximum.at(vc, e, (flow / network.capacity_veh_h)[road])
        veh_time = np.bincount(e, (flow * t_s)[road], n_edges)
        veh_t0 = np.bincount(e, (flow * t0)[road], n_edges)
        length = np.bincount(e, network.length_m[road], n_edges) / np.maximum(
            np.bincount(e, minlength=n_edges), 1
        )
        ff_speed = np.zeros(n_edges)
        np.maximum.at(ff_speed, e, network.speed_kmh[road])
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = np.where(ef > 0, length * ef / np.maximum(veh_time, 1e-9) * 3.6, ff_speed)
            delay = np.where(ef > 0, (veh_time - veh_t0) / np.maximum(ef, 1e-9), 0.0)
        table = road_class_table()
        heavy = np.array(
            [table.get(str(c), table["road"])["heavy_share_pct"] for c in network.road_class[road]]
        )
        heavy_e = np.zeros(n_edges)
        heavy_e[e] = heavy
        noise = noise_level_db(ef, np.where(ff_speed > 0, ff_speed, 30.0), heavy_e)
        served = float(od.sum() - np.trace(od) - res.unreachable[:, 2].sum())
        dist, _ = shortest_paths(net, t_s, np.arange(net.n_zones, dtype=np.int32))
        od_time = np.where(dist[:, : net.n_zones] < 1e299, dist[:, : net.n_zones] / 60.0, np.inf)
        kpis: dict[str, Any] = {
            "vehicle_km": float((flow * network.length_m)[road].sum() / 1000.0),
            "vehicle_hours": float((flow * t_s)[road].sum() / 3600.0),
            "mean_travel_time_min": float(res.total_travel_time / max(served, 1e-9) / 60.0),
            "co2_t": float(co2.sum() / 1e6),
            "nox_kg": float(nox.sum() / 1e3),
            "relative_gap": float(res.relative_gap),
            "iterations": float(res.iterations),
            "unserved_trips": float(res.unreachable[:, 2].sum()),
            "trips": served,
            "peak_hour": float(self.demand.peak_hour),
            "max_vc": float(vc.max()) if vc.size else 0.0,
            "heat_mw": float(heat.sum() / 1e6),
        }
        vehicles = self._simulate(network, res, polylines, kpis) if run_dynamic else None
        dyn_speed = dyn_delay = None
        if vehicles is not None:
            n_trav, mean_t = vehicles.sim.link_times(network.n_links)
            used = road & (n_trav > 0)
            cnt = np.bincount(network.link_edge[used], n_trav[used], n_edges)
            tsum = np.bincount(network.link_edge[used], (n_trav * mean_t)[used], n_edges)
            t0sum = np.bincount(network.link_edge[used], (n_trav * t0)[used], n_edges)
            with np.errstate(invalid="ignore", divide="ignore"):
                dyn_speed = np.where(cnt > 0, length * cnt / tsum * 3.6, np.nan).astype(np.float32)
                dyn_delay = np.where(cnt > 0, (tsum - t0sum) / cnt, np.nan).astype(np.float32)
        return TrafficResult(
            edge_flow_veh_h=ef[:n0].astype(np.float32),
            edge_vc=vc[:n0].astype(np.float32),
            edge_speed_kmh=speed[:n0].astype(np.float32),
            edge_delay_s=delay[:n0].astype(np.float32),
            edge_noise_db=noise[:n0].astype(np.float32),
            edge_closed=np.asarray(closed, bool)[:n0],
            edited_edges={
                "flow_veh_h": ef.astype(np.float32),
                "vc": vc.astype(np.float32),
                "speed_kmh": speed.astype(np.float32),
                "delay_s": delay.astype(np.float32),
                "noise_db": noise.astype(np.float32),
                "closed": np.asarray(closed, bool),
            },  # fmt: skip
            kpis=kpis,
            unserved=[(int(o), int(d), float(q)) for o, d, q in res.unreachable],
            vehicles=vehicles,
            network=network,
            link_flow_veh_h=flow,
            link_time_s=t_s,
            link_heat_w=heat,
            polylines=polylines,
            hour_share=self.demand.hour_share,
            peak_hour=self.demand.peak_hour,
            od_time_min=od_time,
            gap_history=res.gap_history,
            edge_dynamic_speed_kmh=None if dyn_speed is None else dyn_speed[:n0],
            edge_dynamic_delay_s=None if dyn_delay is None else dyn_delay[:n0],
        )

    def _simulate(self, network: RoadNetwork, res: AssignmentResult, polylines, kpis: dict) -> Vehicles:
        """Queue simulation of the peak hour: whole vehicles (seeded), routes on the equilibrium costs
        perturbed per route class (a simple stochastic route choice), junction capacities of the network
        (node model) and time lost turning, then drained."""
        rng = np.random.default_rng(self.seed)
        od = self.demand.peak_od_veh_h.copy()
        for o, d, _ in res.unreachable:
            od[int(o), int(d)] = 0.0
        orig, dest, dep = sample_vehicles(od, rng)
        net = network.net
        n_classes = 4
        cls = rng.integers(0, n_classes, orig.size)
        origins = np.unique(orig).astype(np.int32)
        row = np.searchsorted(origins, orig)
        preds = []
        for c in range(n_classes):
            noise = np.exp(0.15 * rng.standard_normal(net.link_from.shape[0])) if c else 1.0
            _, pred = shortest_paths(net, res.cost * noise, origins)
            preds.append(pred.copy())
        pred_all = np.concatenate(preds, axis=0) if preds else np.zeros((0, net.n_nodes), np.int32)
        tree = (cls * origins.size + row).astype(np.int32)
        off, links, kept = extract_routes(pred_all, net.link_from, tree, orig, dest)
        fft = net.free_flow_time
        jt = junction_capacity_table()
        per_link = np.array([jt.get(str(c), jt["road"])[2] for c in network.road_class])
        per_link[network.link_edge < 0] = 0.0  # connectors: no turn
        turns = turn_delays_s(network.node_xy_local_m, net.link_from, net.link_to, off, links, per_link)
        sim = simulate(
            fft, network.capacity_veh_h / 3600.0, network.storage_veh, off, links, dep[kept],
            dt_s=1.0, horizon_s=3.0 * 3600.0, link_node=network.link_node,
            node_capacity_veh_s=network.node_capacity_veh_h / 3600.0, turn_delay_s=turns,
        )  # fmt: skip
        tt = sim.travel_time_s
        kpis["vehicles_simulated"] = float(sim.depart_s.size)
        kpis["vehicles_arrived_share"] = float(np.isfinite(tt).mean()) if tt.size else 1.0
        kpis["dynamic_mean_travel_time_min"] = float(np.nanmean(tt) / 60.0) if np.isfinite(tt).any() else 0.0
        return Vehicles(sim, fft, polylines)
