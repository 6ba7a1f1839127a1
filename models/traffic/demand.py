"""Car travel demand of a District: trips by purpose and hour from residents by age, destinations by a
gravity model over jobs and points of interest, and through traffic between boundary stations.

Parameters come from ``assets/trip_rates.csv`` (trips per person and day and car-driver share by age,
MiD 2017), ``assets/trip_purposes.csv`` (purpose shares, deterrence) and
``assets/trip_departure_profile.csv`` (share of trips by start hour), each with its source.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from geodata.district import District, age_bands
from models.traffic.network import RoadNetwork
from sim_kernels.assignment import UNREACHABLE, shortest_paths

__all__ = ["Demand", "trip_rate_table", "purpose_table", "hour_profile", "build_demand", "sample_vehicles"]

# Attraction weights of activity places (trip ends per place, relative within a purpose); a job per
# 30 m2 of commercial floor area follows the usual planning ratio of 25-40 m2 per office job.
FLOOR_M2_PER_JOB = 30.0
POI_WEIGHT: dict[str, dict[str, float]] = {
    "jobs": {
        "school": 40,
        "kindergarten": 15,
        "doctor": 5,
        "pharmacy": 4,
        "supermarket": 25,
        "care_home": 30,
    },
    "education": {"school": 300, "kindergarten": 60},
    "shops": {"supermarket": 100, "pharmacy": 20},
    "services": {"doctor": 40, "pharmacy": 20, "care_home": 10},
    "leisure": {"school": 20, "supermarket": 20, "care_home": 20, "doctor": 5},
}
JOB_USES = ("commercial", "industrial", "public")


def _csv(name: str) -> list[dict[str, str]]:
    return list(
        csv.DictReader(resources.files("assets").joinpath(name).read_text(encoding="utf-8").splitlines())
    )


@lru_cache(maxsize=1)
def trip_rate_table() -> tuple[np.ndarray, np.ndarray]:
    """Per District age band (``age_bands()``): trips per person and day, and car-driver share."""
    rows = _csv("trip_rates.csv")
    rates, shares = [], []
    for lo, _hi in age_bands():
        row = next(r for r in rows if float(r["age_lo"]) <= lo < float(r["age_hi"]))
        rates.append(float(row["trips_per_person_day"]))
        shares.append(float(row["car_driver_share"]))
    return np.array(rates), np.array(shares)


@lru_cache(maxsize=1)
def purpose_table() -> list[dict[str, object]]:
    """Purposes with share_of_trips, gravity_beta_per_min and attractor."""
    out = []
    for r in _csv("trip_purposes.csv"):
        out.append(
            {
                "purpose": r["purpose"],
                "share": float(r["share_of_trips"]),
                "beta_per_min": float(r["gravity_beta_per_min"]),
                "attractor": r["attractor"],
            }
        )
    return out


@lru_cache(maxsize=1)
def hour_profile() -> np.ndarray:
    """(24,) float64 share of daily car trips starting in each local hour (sums to 1)."""
    prof = np.zeros(24)
    for r in _csv("trip_departure_profile.csv"):
        prof[int(r["hour"])] = float(r["share"])
    return prof / prof.sum()


@dataclass(frozen=True)
class Demand:
    """Zone-to-zone car trips (Z, Z): ``daily`` internal trips by purpose, and the peak hour."""

    purposes: tuple[str, ...]
    daily_by_purpose: np.ndarray  # (P, Z, Z) float64 car-driver trips per day (internal zones)
    through_veh_h: np.ndarray  # (Z, Z) float64 through traffic between boundary stations, per hour
    peak_hour: int
    hour_share: np.ndarray  # (24,) float64

    def hourly(self, hour: int) -> np.ndarray:
        """(Z, Z) float64 trips starting in ``hour`` (through traffic scaled by the same profile)."""
        scale = self.hour_share[hour] / self.hour_share[self.peak_hour]
        return self.daily_by_purpose.sum(axis=0) * self.hour_share[hour] + self.through_veh_h * scale

    @property
    def peak_od_veh_h(self) -> np.ndarray:
        return self.hourly(self.peak_hour)


def _attractions(district: District, network: RoadNetwork) -> dict[str, np.ndarray]:
    zones = network.zones
    z = len(zones)
    b = district.buildings
    res = np.bincount(zones.building_zone, b.residents.astype(float), minlength=z) if len(b) else np.zeros(z)
    floor = (
        np.array([fp.area for fp in b.footprints]) * np.maximum(b.storeys.astype(float), 1.0)
        if len(b)
        else np.zeros(0)
    )
    job_b = np.isin(b.use.astype(str), JOB_USES) if len(b) else np.zeros(0, bool)
    jobs_floor = (
        np.bincount(zones.building_zone[job_b], floor[job_b] / FLOOR_M2_PER_JOB, minlength=z)
        if len(b)
        else np.zeros(z)
    )
    out: dict[str, np.ndarray] = {}
    cats = district.pois.category.astype(str)
    for att, weights in POI_WEIGHT.items():
        w = np.array([weights.get(c, 0.0) for c in cats])
        a = np.bincount(zones.poi_zone, w, minlength=z) if cats.size else np.zeros(z)
        if att == "jobs":
            a = a + jobs_floor + 0.05 * res
        if att == "leisure":
            a = a + 0.2 * res
        if att == "shops":
            a = a + 0.01 * jobs_floor
        a = a.astype(np.float64)
        a[zones.external] = 0.0
        if a.sum() <= 0:
            a = res.copy()
        out[att] = a
    return out


def build_demand(district: District, network: RoadNetwork) -> Demand:
    """Daily car trips by purpose between internal zones and peak-hour through traffic.

    Productions: residents by age x trips per day x car-driver share x purpose share. Destinations:
    singly constrained gravity model ``A_j exp(-beta t_ij)`` on free-flow zone-to-zone times; each trip
    is counted half outbound, half as the return. Requires Taichi to be initialised.
    """
    zones = network.zones
    z = len(zones)
    rates, car = trip_rate_table()
    b = district.buildings
    per_building = (
        (b.residents_by_age.astype(float) * (rates * car)[None, :]).sum(axis=1) if len(b) else np.zeros(0)
    )
    prod = (
        np.bincount(zones.building_zone, per_building, minlength=z).astype(np.float64)
        if len(b)
        else np.zeros(z)
    )
    dist, _ = shortest_paths(network.net, network.net.free_flow_time, np.arange(z, dtype=np.int32))
    t_min = dist[:, :z] / 60.0
    reach = t_min < UNREACHABLE / 120.0
    internal = ~zones.external
    att = _attractions(district, network)
    purposes = purpose_table()
    daily = np.zeros((len(purposes), z, z))
    for k, p in enumerate(purposes):
        w = att[str(p["attractor"])][None, :] * np.exp(
            -float(p["beta_per_min"]) * np.where(reach, t_min, 0.0)
        )
        w = np.where(reach & internal[None, :] & internal[:, None], w, 0.0)
        tot = w.sum(axis=1, keepdims=True)
        share = np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
        t = prod[:, None] * float(p["share"]) * share
        daily[k] = 0.5 * (t + t.T)
    # through traffic between boundary stations, in proportion to the stations' volumes
    vol = zones.station_capacity_veh_h * zones.station_through_share
    through = np.zeros((z, z))
    ext = np.nonzero(zones.external)[0]
    if ext.size >= 2:
        xy = zones.xy_local_m[ext]
        far = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) > 300.0
        v = vol[ext]
        w = far * v[None, :] * reach[np.ix_(ext, ext)]
        tot = w.sum(axis=1, keepdims=True)
        through[np.ix_(ext, ext)] = v[:, None] * np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
    prof = hour_profile()
    return Demand(
        purposes=tuple(str(p["purpose"]) for p in purposes),
        daily_by_purpose=daily,
        through_veh_h=through,
        peak_hour=int(np.argmax(prof)),
        hour_share=prof,
    )


def sample_vehicles(
    od: np.ndarray, rng: np.random.Generator, *, period_s: float = 3600.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole vehicles from a fractional OD matrix (Z, Z) by stochastic rounding, departures uniform in
    the period. Intrazonal trips are left out (they use no link). Returns origin (K,), destination (K,)
    int32 and departure (K,) float64 s, sorted by departure."""
    od = np.array(od, dtype=np.float64)
    np.fill_diagonal(od, 0.0)
    whole = np.floor(od)
    n = (whole + (rng.random(od.shape) < (od - whole))).astype(np.int64)
    o, d = np.nonzero(n)
    cnt = n[o, d]
    orig = np.repeat(o, cnt).astype(np.int32)
    dest = np.repeat(d, cnt).astype(np.int32)
    dep = rng.random(orig.size) * period_s
    order = np.argsort(dep, kind="stable")
    return orig[order], dest[order], dep[order]
