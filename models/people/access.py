"""The access engine: travel times from every home to the nearest services, ÖV-Güteklassen, access
deficits of people without a car per area (small counts suppressed), daily agents and heat on foot.

``AccessEngine(district, seed=, gtfs=)`` synthesises the population once; ``compute(interventions)``
applies the transit and access interventions, builds the walk + public-transport graph for the hour,
runs the multi-source kernel (``sim_kernels.access``) for every service category and aggregates.
Person-level data never leaves the engine: results hold per-building times, per-stop classes and
per-area counts in which any group of fewer than 5 persons (and any count of 1 to 4) is suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from geodata.apply_transit import ServicePoints, TransitNetwork, apply_transit, network_from_district
from geodata.district import District
from models.people.access_network import (
    BIKE_SPEED_M_S,
    WALK_SPEED_M_S,
    Graph,
    snap,
    street_graphs,
    transit_graph,
    walk_nodes,
)
from models.people.activities import AgentSet, build_agents
from models.people.population import Population, newcomers, synthesise_population
from models.people.quality import building_classes, stop_classes, thresholds
from sim_kernels.access import multi_source_times
from sim_kernels.runtime import ensure_init

__all__ = ["AccessEngine", "AccessResult", "SERVICE_CATEGORIES", "CATEGORIES", "thresholds", "aggregate_areas"]

SERVICE_CATEGORIES = ("doctor", "pharmacy", "supermarket", "school", "stop")
# every category a time is computed for (services, then activity destinations)
CATEGORIES = SERVICE_CATEGORIES + ("kindergarten", "care_home", "work", "leisure")
GROUPS = ("age65_no_car", "under18")
LEISURE = frozenset({"park", "playground", "sports", "leisure", "library", "community_centre", "cafe", "restaurant"})


@dataclass
class AccessResult:
    """Aggregated access results. Times in minutes, float32, ``inf`` where unreachable."""

    building_time_min: dict[str, np.ndarray]  # category -> (N_buildings,) walk + public transport
    time_by_mode_min: dict[str, dict[str, np.ndarray]]  # mode -> category -> (N_buildings,)
    stop_quality: np.ndarray  # (S,) str A-F
    building_class: np.ndarray  # (N_buildings,) str A-F or "-"
    deficit_areas: list[dict[str, Any]]
    kpis: dict[str, float]
    network: TransitNetwork
    hour: int
    report: list[str] = field(default_factory=list)
    agents: AgentSet | None = None


def aggregate_areas(home_xy: np.ndarray, groups: dict[str, np.ndarray], deficit: dict[str, np.ndarray],
                    *, area_m: float, min_n: int = 5) -> list[dict[str, Any]]:
    """Counts per square area of ``area_m`` (local frame) of each group and of its members with a
    deficit per category. A group with fewer than ``min_n`` persons in an area is suppressed (persons
    and counts None), and so is any deficit count between 1 and ``min_n`` - 1.

    home_xy : (P, 2) home of every person; groups : name -> (P,) bool; deficit : category -> (P,) bool.
    """
    if home_xy.shape[0] == 0:
        return []
    col = np.floor(home_xy[:, 0] / area_m).astype(np.int64)
    row = np.floor(home_xy[:, 1] / area_m).astype(np.int64)
    key = (row - row.min()) * (col.max() - col.min() + 1) + (col - col.min())
    uniq, inv = np.unique(key, return_inverse=True)
    out = []
    counts = {g: np.bincount(inv, weights=m.astype(float), minlength=uniq.size) for g, m in groups.items()}
    defs = {(g, c): np.bincount(inv, weights=(groups[g] & d).astype(float), minlength=uniq.size)
            for g in groups for c, d in deficit.items()}
    first = np.zeros(uniq.size, np.int64)
    first[inv[::-1]] = np.arange(inv.size)[::-1]
    for a in range(uniq.size):
        r, c = int(row[first[a]]), int(col[first[a]])
        entry: dict[str, Any] = {"area_id": f"r{r}c{c}",
                                 "bbox_local_m": [c * area_m, r * area_m, (c + 1) * area_m, (r + 1) * area_m],
                                 "groups": {}}
        for g in groups:
            n = int(counts[g][a])
            if n < min_n:
                entry["groups"][g] = {"persons": None, "suppressed": True,
                                      "deficit": {c2: None for c2 in deficit}}
                continue
            dd: dict[str, int | None] = {}
            for c2 in deficit:
                k = int(defs[(g, c2)][a])
                dd[c2] = None if 0 < k < min_n else k
            entry["groups"][g] = {"persons": n, "suppressed": False, "deficit": dd}
        out.append(entry)
    return out


class AccessEngine:
    """Access analysis of one District; see the module docstring."""

    def __init__(self, district: District, *, seed: int = 0, gtfs: Any | None = None, hour: int = 10,
                 arch: str | None = None, network: TransitNetwork | None = None) -> None:
        """``gtfs``: a ``geodata.gtfs.Feed`` whose weekday timetable becomes the network; ``network``: a
        ready ``TransitNetwork`` (e.g. real stops without timetables); else the District's stops."""
        ensure_init(arch)
        self.district = district
        self.seed = int(seed)
        self.hour = int(hour)
        self.population: Population = synthesise_population(district, np.random.default_rng(seed))
        if network is not None:
            self.base_network = network
        elif gtfs is not None:
            from geodata.gtfs import feed_to_network

            self.base_network = feed_to_network(gtfs, district)
        else:
            self.base_network = network_from_district(district)
        self.walk, self.car = street_graphs(district)
        b = district.buildings
        self.building_xy = (shapely.get_coordinates(shapely.centroid(np.asarray(b.footprints, dtype=object)))
                            if len(b) else np.zeros((0, 2)))
        self._usable = walk_nodes(self.walk)
        self.building_node, self.building_access_m = snap(self.building_xy, self.walk.node_xy, self._usable)
        used_car = np.zeros(self.car.n_nodes, bool)
        used_car[self.car.src] = True
        used_car[self.car.dst] = True
        self._car_usable = used_car
        nonres = np.array([u not in ("residential", "garage") for u in b.use], bool) if len(b) else np.zeros(0, bool)
        self.workplace_xy = self.building_xy[nonres]

    # -- sources ----------------------------------------------------------------------------------
    def _source_points(self, net: TransitNetwork, services: ServicePoints) -> dict[str, np.ndarray]:
        cat = services.poi_category
        pts = {c: services.poi_xy_local_m[cat == c] for c in CATEGORIES if c not in ("stop", "work", "leisure")}
        pts["stop"] = net.stop_xy_local_m
        pts["work"] = np.concatenate([self.workplace_xy, services.poi_xy_local_m]).reshape(-1, 2)
        leisure = np.array([c in LEISURE for c in cat], bool)
        pts["leisure"] = services.poi_xy_local_m[leisure] if leisure.any() else services.poi_xy_local_m
        return pts

    def _starts(self, g: Graph, points: dict[str, np.ndarray], usable: np.ndarray) -> np.ndarray:
        start = np.full((len(CATEGORIES), g.n_nodes), np.inf, np.float32)
        for ci, c in enumerate(CATEGORIES):
            node, d = snap(points[c], g.node_xy[: usable.size], usable)
            ok = node >= 0
            np.minimum.at(start[ci], node[ok], (d[ok] / WALK_SPEED_M_S).astype(np.float32))
        return start

    def travel_times(self, net: TransitNetwork, services: ServicePoints, hour: int) -> dict[str, Any]:
        """Times (C, N) in seconds from every node to the nearest source of each category, per
        network (walk, car, transit), with the graphs used."""
        tg = transit_graph(self.walk, net, hour)
        points = self._source_points(net, services)
        out: dict[str, Any] = {"graphs": {"walk": self.walk, "car": self.car, "transit": tg}, "times_s": {}}
        for name, g, usable in (("walk", self.walk, self._usable), ("car", self.car, self._car_usable),
                                ("transit", tg, self._usable)):
            start = self._starts(g, points, usable)
            if name == "car":
                start[CATEGORIES.index("stop")] = np.inf  # nobody drives to a stop here
            s, d, w = g.reversed()
            out["times_s"][name], _ = multi_source_times(s, d, w, start)
        return out

    # -- main entry -------------------------------------------------------------------------------
    def compute(self, interventions: Sequence[Any] = (), *, heat_utci_c: np.ndarray | None = None,
                hour: int | None = None, with_agents: bool = True) -> AccessResult:
        """Apply ``interventions`` and compute access for ``hour`` (default the engine's, 10 h).

        Parameters
        ----------
        interventions : transit and access interventions (other kinds are ignored), applied in order.
        heat_utci_c : optional UTCI field in °C on the district grid, (rows, cols) for the whole day or
            (24, rows, cols) by hour; the agents' heat exposure on foot is then added to the KPIs.
        hour : local hour 0..23 whose timetable is used.
        with_agents : also build the day's agents (activity chains, mode choice) for animation.

        Raises ``TransitError`` / ``InterventionError`` for bad interventions; nothing is changed then.
        """
        h = self.hour if hour is None else int(hour)
        net, services = apply_transit(self.district, self.base_network, interventions)
        tt = self.travel_times(net, services, h)
        report: list[str] = []
        nb = len(self.district.buildings)
        home_xy, home_node, home_d = self.building_xy, self.building_node, self.building_access_m
        pop = self.population
        if services.home_residents.size:
            extra = newcomers(services.home_residents, np.random.default_rng(self.seed + 1), first_home=nb,
                              first_household=int(pop.household_id.max(initial=-1)) + 1)
            pop = _concat(pop, extra)
            n2, d2 = snap(services.home_xy_local_m, self.walk.node_xy, self._usable)
            home_xy = np.concatenate([home_xy, services.home_xy_local_m])
            home_node, home_d = np.concatenate([home_node, n2]), np.concatenate([home_d, d2])
        access_s = home_d / WALK_SPEED_M_S
        by_mode: dict[str, dict[str, np.ndarray]] = {}
        for mode, net_name in (("walk", "walk"), ("car", "car"), ("transit", "transit")):
            t = tt["times_s"][net_name]
            valid = home_node >= 0
            by_mode[mode] = {}
            for ci, c in enumerate(CATEGORIES):
                v = np.full(home_node.size, np.inf, np.float32)
                v[valid] = (t[ci, home_node[valid]] + access_s[valid]) / 60.0
                by_mode[mode][c] = v
        by_mode["bike"] = {c: v * np.float32(WALK_SPEED_M_S / BIKE_SPEED_M_S) for c, v in by_mode["walk"].items()}
        missing = [c for c in SERVICE_CATEGORIES if not np.isfinite(by_mode["transit"][c]).any()]
        if missing:
            report.append("Keine erreichbare Einrichtung / no reachable facility: " + ", ".join(missing))
        idle = int((net.departures_at_stops(h) == 0).sum())
        if idle:
            report.append(f"{idle} Haltestellen ohne Abfahrt um {h} Uhr (Klasse F) / stops without departures at {h} h")
        unreachable = int((~np.isfinite(by_mode["transit"]["doctor"][:nb])).sum())
        if unreachable:
            report.append(f"{unreachable} Gebäude ohne Weg zum Arzt / buildings without a path to a doctor")
        thr = thresholds()
        groups_all = pop.groups()
        person_t = {c: by_mode["transit"][c][pop.home_building] for c in SERVICE_CATEGORIES}
        deficit = {c: person_t[c] > thr["threshold_min"][c] for c in SERVICE_CATEGORIES}
        groups = {g: groups_all[g] for g in GROUPS}
        areas = aggregate_areas(home_xy[pop.home_building], groups, deficit, area_m=float(thr["area_m"]),
                                min_n=int(thr["min_group_persons"]))
        sq = stop_classes(net)
        bclass = building_classes(net, home_xy)
        kpis = _kpis(pop, by_mode, person_t, deficit, groups, bclass, sq, nb)
        result = AccessResult(
            building_time_min={c: by_mode["transit"][c][:nb] for c in SERVICE_CATEGORIES},
            time_by_mode_min={m: {c: v[:nb] for c, v in d.items()} for m, d in by_mode.items()},
            stop_quality=sq, building_class=bclass[:nb], deficit_areas=areas, kpis=kpis, network=net,
            hour=h, report=report,
        )
        if with_agents or heat_utci_c is not None:
            result.agents = build_agents(tt, CATEGORIES, pop, home_node, by_mode, np.random.default_rng(self.seed + 2))
            if heat_utci_c is not None:
                kpis.update(result.agents.heat_kpis(self.district.grid, heat_utci_c, pop))
        return result

    def hourly(self, hours: Sequence[int], interventions: Sequence[Any] = ()) -> dict[int, dict[str, float]]:
        """KPIs by local hour of day (timetables and on-demand windows change over the day)."""
        return {int(h): self.compute(interventions, hour=int(h), with_agents=False).kpis for h in hours}


def _concat(a: Population, b: Population) -> Population:
    return Population(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in
                        ("age_y", "age_band", "household_id", "home_building", "has_car")))


def _kpis(pop: Population, by_mode: dict, person_t: dict, deficit: dict, groups: dict, bclass: np.ndarray,
          sq: np.ndarray, nb: int) -> dict[str, float]:
    k: dict[str, float] = {"persons": float(len(pop)), "buildings": float(nb)}
    for c, t in person_t.items():
        fin = np.isfinite(t)
        k[f"mean_time_min_{c}"] = float(t[fin].mean()) if fin.any() else float("nan")
        k[f"share_beyond_threshold_{c}"] = float(deficit[c].mean()) if len(pop) else 0.0
        for g, m in groups.items():
            k[f"deficit_{g}_{c}"] = float((m & deficit[c]).sum())
    for g, m in groups.items():
        k[f"persons_{g}"] = float(m.sum())
    cls = bclass[pop.home_building]
    for q in "ABCDEF":
        k[f"share_residents_class_{q}"] = float((cls == q).mean()) if len(pop) else 0.0
        k[f"stops_class_{q}"] = float((sq == q).sum())
    k["share_residents_no_class"] = float((cls == "-").mean()) if len(pop) else 0.0
    return k
