"""The heat simulation: shadows, sky view, surface energy balance, air temperature, Tmrt and UTCI for
a District and its heat interventions, with incremental recompute.

``HeatEngine.compute`` remembers its last inputs and results. An edit recomputes only

- shadows in the directional window each changed cell can shade at each hour (reach = height above
  the lowest surface / tan(sun elevation)), sky view within the scan radius of the changed cells, and
  surface energy balance and Tmrt in the union of both;
- air temperature on its coarse grid everywhere (cheap), taking over the changes larger than
  ``air_change_tolerance_k`` on the district grid; UTCI where any of its inputs changed.

The result equals a full recompute (``compute(..., full=True)``) to float rounding in every field
but air temperature and UTCI, which agree within the air tolerance (default 5e-4 K).

All fields are on the District grid (row, col), row 0 north, local frame of the District.
Units: degrees C, W/m2, m/s. Hours are local clock hours of the Weather's day.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from scipy import ndimage

from geodata.apply_heat import HeatSurfaces, apply_heat_interventions
from geodata.canopy import ROOF_MIN_M, canopy_on_ground, canopy_tops
from geodata.district import SURFACE, District, surface_table
from geodata.files import district_geo, write_geotiff
from geodata.interventions import Intervention
from geodata.weather import SunHours, Weather, design_hot_day, sun_and_irradiance
from sim_kernels.airtemp import excess_air_temperature
from sim_kernels.energy import RHO_CP, storage_capacity, surface_energy_day
from sim_kernels.radiation import mean_radiant_temperature
from sim_kernels.runtime import ensure_init
from sim_kernels.shadows import cast_shadows
from sim_kernels.skyview import effective_svf, sky_view_factor

__all__ = ["HeatParams", "HeatResult", "HeatEngine", "run_heat_day", "utci_field", "stress_class"]

Window = tuple[int, int, int, int]
FIELDS = ("utci_c", "tmrt_c", "surface_temp_c", "air_temp_c", "sunlit")


@dataclass(frozen=True)
class HeatParams:
    """Model parameters; defaults and sources in ``assets/heat_params.json``."""

    values: dict = field(default_factory=dict)
    arch: str = "cpu"

    @classmethod
    def default(cls, arch: str = "cpu", **overrides: float) -> HeatParams:
        raw = json.loads(resources.files("assets").joinpath("heat_params.json").read_text(encoding="utf-8"))
        vals = {k: v["value"] for k, v in raw.items()}
        unknown = set(overrides) - set(vals)
        if unknown:
            raise ValueError(f"unknown heat parameters: {sorted(unknown)}")
        vals.update(overrides)
        return cls(vals, arch)

    def __getitem__(self, key: str):
        return self.values[key]


@dataclass
class HeatResult:
    """Fields (len(hours), rows, cols) float32 plus ``svf`` (rows, cols); KPIs; the recomputed window."""

    hours: tuple[int, ...]
    fields: dict[str, np.ndarray]
    kpis: dict[str, float]
    changed_window: Window | None
    timings_s: dict[str, float]


def stress_class(utci_c: np.ndarray, params: HeatParams) -> np.ndarray:
    """UTCI stress class index (int8, 0 = extreme cold .. 9 = extreme heat) per the assessment scale."""
    bounds = [c[1] for c in params["utci_stress_classes"][:-1]]
    return np.digitize(utci_c, bounds).astype(np.int8)


def utci_field(air_temp_c: np.ndarray, tmrt_c: np.ndarray, wind_m_s: float, vapour_hpa: float,
               params: HeatParams) -> np.ndarray:
    """UTCI (pythermalcomfort) with inputs held inside its validity range (wind 0.5-17 m/s at 10 m,
    Tmrt - Ta within -30..70 K); humidity follows the air temperature at constant vapour pressure."""
    from pythermalcomfort.models import utci

    ta = np.asarray(air_temp_c, np.float64)
    tr = np.clip(np.asarray(tmrt_c, np.float64), ta - 30.0, ta + 70.0)
    es = 6.112 * np.exp(17.62 * ta / (243.12 + ta))
    rh = np.clip(100.0 * vapour_hpa / es, 1.0, 100.0)
    v = float(np.clip(wind_m_s, params["utci_wind_min_m_s"], params["utci_wind_max_m_s"]))
    out = utci(tdb=ta, tr=tr, v=np.full(ta.shape, v), rh=rh, limit_inputs=False, round_output=False)
    return np.asarray(out.utci, np.float32)


def class_tables(params: HeatParams) -> dict[str, np.ndarray]:
    """Per surface class (n,) float32: albedo, emissivity, force-restore capacity (J/m2K), bulk
    transfer coefficient and evaporative fraction, from ``assets/surface_classes.csv``."""
    t = surface_table()
    z0 = np.minimum(t["roughness_m"], 0.2 * params["reference_height_m"])
    karman = 0.41
    # bulk transfer: wind measured at 10 m, temperature at the reference height, z0h = z0 / 10
    transfer = karman**2 / (np.log(10.0 / z0) * np.log(params["reference_height_m"] / (0.1 * z0)))
    return {
        "albedo": t["albedo"].astype(np.float32), "emissivity": t["emissivity"].astype(np.float32),
        "capacity_j_m2k": storage_capacity(t["vol_heat_capacity_J_m3K"], t["conductivity_W_mK"]),
        "transfer": transfer.astype(np.float32), "evaporative_fraction": t["evaporative_fraction"].astype(np.float32),
    }


def wall_temperature_c(weather: Weather, sun: SunHours, params: HeatParams) -> np.ndarray:
    """Mean temperature (24,) of the walls around a street: air temperature plus the direct beam the
    walls absorb, averaged over the four orientations (mean of max(cos, 0) = 1/pi), balanced by
    convection (Juerges: 5.7 + 3.8 u W/m2K) and long-wave exchange (4 eps sigma T^3)."""
    ta = np.asarray(weather.air_temp_c, float)
    el = np.radians(np.maximum(sun.elevation_deg, 0.0))
    absorbed = (1.0 - params["wall_albedo"]) * sun.dni_w_m2 * np.cos(el) / math.pi
    h = 5.7 + 3.8 * np.asarray(weather.wind_speed_m_s, float) + 4.0 * params["wall_emissivity"] * 5.670374419e-8 * (ta + 273.15) ** 3
    return (ta + absorbed / h).astype(np.float32)


def hourly_forcing(weather: Weather, sun: SunHours, params: HeatParams) -> dict[str, np.ndarray]:
    """The (24,) forcing arrays of ``sim_kernels.energy.surface_energy_day``."""
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return {"direct_horizontal_w_m2": sun.direct_horizontal_w_m2, "diffuse_w_m2": f32(sun.dhi_w_m2),
            "longwave_sky_w_m2": f32(sun.longwave_sky_w_m2), "air_temp_c": f32(weather.air_temp_c),
            "wall_temp_c": wall_temperature_c(weather, sun, params), "wind_m_s": f32(np.maximum(weather.wind_speed_m_s, 0.5))}


def _vapour_hpa(weather: Weather, h: int) -> float:
    ta = float(weather.air_temp_c[h])
    return float(weather.rel_humidity_pct[h]) / 100.0 * 6.112 * math.exp(17.62 * ta / (243.12 + ta))


def _union(a: Window | None, b: Window | None) -> Window | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def _dilate(w: Window, up: int, down: int, left: int, right: int, shape: tuple[int, int]) -> Window:
    return (max(w[0] - up, 0), min(w[1] + down, shape[0]), max(w[2] - left, 0), min(w[3] + right, shape[1]))


class HeatEngine:
    """Heat simulation of one District under one Weather; see the module docstring."""

    def __init__(self, district: District, *, weather: Weather | None = None, params: HeatParams | None = None):
        self.district = district
        self.params = params or HeatParams.default()
        ensure_init(self.params.arch)
        self.weather = weather or design_hot_day()
        g = district.grid
        lon, lat = district.frame.local_to_lonlat(np.array([g.west_m + g.cols * g.cell_m / 2]),
                                                  np.array([g.south_m + g.rows * g.cell_m / 2]))
        self.lonlat = (float(lon[0]), float(lat[0]))
        p = self.params
        self.sun: SunHours = sun_and_irradiance(self.weather, self.lonlat[1], self.lonlat[0],
                                                altitude_m=float(np.median(district.terrain_m)),
                                                linke_turbidity=p["linke_turbidity"],
                                                min_elevation_deg=p["min_sun_elevation_deg"])
        self.daylight = self.sun.daylight_hours()
        self.classes = self._class_tables()
        self.forcing = self._forcing()
        self.t_deep_c = float(np.mean(self.weather.air_temp_c)) + p["deep_ground_offset_k"]
        self.qh_rural = self._rural_sensible_heat()
        self.exposure = self._exposure_cells()
        self._state: dict | None = None
        self._baseline: dict[tuple[int, ...], dict[str, float]] = {}

    # ---- set-up --------------------------------------------------------------------------------
    def _class_tables(self) -> dict[str, np.ndarray]:
        return class_tables(self.params)

    def _forcing(self) -> dict[str, np.ndarray]:
        return hourly_forcing(self.weather, self.sun, self.params)

    def _energy_kwargs(self) -> dict:
        p = self.params
        return dict(t_deep_c=self.t_deep_c, wall_albedo=p["wall_albedo"], wall_emissivity=p["wall_emissivity"],
                    h_free_w_m2k=p["free_convection_w_m2k"], n_sub=int(p["substeps_per_hour"]),
                    spin_up_days=int(p["spin_up_days"]))

    def _rural_sensible_heat(self) -> np.ndarray:
        """QH (24,) of open fields in full sun: the rural reference the air model is measured against."""
        out = surface_energy_day(np.ones((24, 1, 1), np.float32) * (self.sun.dni_w_m2 > 0)[:, None, None],
                                 np.ones((1, 1), np.float32), np.full((1, 1), SURFACE["field"], np.uint8),
                                 self.classes, self.forcing, hours=tuple(range(24)), fluxes=True,
                                 **self._energy_kwargs())
        return out["q_h"][:, 0, 0].copy()

    def _exposure_cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Outdoor cells near each inhabited building: (flat cell index, building index), residents."""
        d = self.district
        res = d.buildings.residents.astype(np.float64)
        inhabited = d.building_index >= 0
        if len(res):
            inhabited &= res[np.maximum(d.building_index, 0)] > 0
        if not inhabited.any():
            return np.zeros(0, np.int64), np.zeros(0, np.int64), res
        dist, (ir, ic) = ndimage.distance_transform_edt(~inhabited, sampling=d.grid.cell_m, return_indices=True)
        near = (d.building_index < 0) & (dist <= self.params["exposure_distance_m"])
        cells = np.flatnonzero(near)
        return cells, d.building_index[ir.ravel()[cells], ic.ravel()[cells]].astype(np.int64), res

    # ---- pieces --------------------------------------------------------------------------------
    def _tops(self, s: HeatSurfaces) -> tuple[np.ndarray, np.ndarray]:
        terrain = self.district.terrain_m
        can = s.canopy_m
        return canopy_tops(terrain, can, self.params["trunk_ratio"])

    def _shadow_windows(self, changed: Window, s_old: HeatSurfaces, s_new: HeatSurfaces) -> dict[int, Window]:
        """Per daylight hour, the cells whose shadow the changed cells can alter: those lying away from
        the sun within (top of the changed obstacles - lowest surface there) / tan(elevation)."""
        shape = self.district.grid.shape
        r0, r1, c0, c1 = changed
        terrain = self.district.terrain_m[r0:r1, c0:c1]
        top = max(float(np.max(np.maximum(s.dsm_m[r0:r1, c0:c1], terrain + s.canopy_m[r0:r1, c0:c1])))
                  for s in (s_old, s_new))
        cell = self.district.grid.cell_m
        out = {}
        for h in self.daylight:
            tan_el = math.tan(math.radians(float(self.sun.elevation_deg[h])))
            az = math.radians(float(self.sun.azimuth_deg[h]))
            reach = self.params["shadow_max_reach_m"] / cell + 2.0
            w = changed
            for _ in range(3):  # the lowest surface inside the window bounds the reach; shrink and repeat
                dr, dc = math.cos(az) * reach, -math.sin(az) * reach  # shadows fall away from the sun
                w = _dilate(changed, int(math.ceil(max(-dr, 0))) + 2, int(math.ceil(max(dr, 0))) + 2,
                            int(math.ceil(max(-dc, 0))) + 2, int(math.ceil(max(dc, 0))) + 2, shape)
                low = min(float(s.dsm_m[w[0]:w[1], w[2]:w[3]].min()) for s in (s_old, s_new))
                new_reach = min(self.params["shadow_max_reach_m"], max(top - low, 0.0) / tan_el) / cell + 2.0
                if new_reach >= reach:
                    break
                reach = new_reach
            dr, dc = math.cos(az) * reach, -math.sin(az) * reach
            out[h] = _dilate(changed, int(math.ceil(max(-dr, 0))) + 2, int(math.ceil(max(dr, 0))) + 2,
                             int(math.ceil(max(-dc, 0))) + 2, int(math.ceil(max(dc, 0))) + 2, shape)
        return out

    def _shade(self, st: dict, windows: dict[int, Window]) -> Window | None:
        """Recompute shadows in each hour's window; returns the bbox of cells whose sunlit changed."""
        top, trunk = st["tops"]
        p, cell = self.params, self.district.grid.cell_m
        dsm = st["surf"].dsm_m
        extremes = (float(max(dsm.max(), top.max())), float(dsm.min()))
        changed: Window | None = None
        for h, w in windows.items():
            before = st["sunlit24"][h, w[0]:w[1], w[2]:w[3]].copy()
            cast_shadows(dsm, top, trunk, cell_m=cell, azimuth_deg=float(self.sun.azimuth_deg[h]),
                         elevation_deg=float(self.sun.elevation_deg[h]), transmissivity=p["canopy_transmissivity"],
                         max_reach_m=p["shadow_max_reach_m"], window=w, out=(st["bsun"][h], st["sunlit24"][h]),
                         extremes_m=extremes)
            changed = _union(changed, _offset(_bbox(st["sunlit24"][h, w[0]:w[1], w[2]:w[3]] != before), w))
        return changed

    def _svf(self, st: dict, window: Window | None) -> None:
        p = self.params
        top, _ = st["tops"]
        sky_view_factor(st["surf"].dsm_m, top, cell_m=self.district.grid.cell_m, n_azimuths=int(p["svf_azimuths"]),
                        radius_m=p["svf_radius_m"], window=window, out=(st["svf_b"], st["svf_v"]))
        if window is None or "svf" not in st:
            st["svf"] = effective_svf(st["svf_b"], st["svf_v"], p["canopy_transmissivity"])
        else:
            r0, r1, c0, c1 = window
            st["svf"][r0:r1, c0:c1] = effective_svf(st["svf_b"][r0:r1, c0:c1], st["svf_v"][r0:r1, c0:c1],
                                                    p["canopy_transmissivity"])

    def _surface_and_tmrt(self, st: dict, window: Window | None) -> None:
        surf = st["surf"]
        hrs = st["hours"]
        surface_energy_day(st["sunlit24"], st["svf"], surf.surface_class, self.classes, self.forcing, hours=hrs,
                           window=window, fluxes=True, out=st["energy"], **self._energy_kwargs())
        idx = list(hrs)
        hourly = {"direct_normal_w_m2": self.sun.dni_w_m2[idx], "diffuse_w_m2": self.sun.dhi_w_m2[idx],
                  "elevation_deg": self.sun.elevation_deg[idx], "longwave_sky_w_m2": self.sun.longwave_sky_w_m2[idx],
                  "air_temp_c": self.forcing["air_temp_c"][idx], "wall_temp_c": self.forcing["wall_temp_c"][idx]}
        mean_radiant_temperature(st["sunlit24"][idx], st["svf"], surf.surface_class, self.classes["albedo"],
                                 self.classes["emissivity"], st["energy"]["surface_temp_c"], hourly,
                                 wall_albedo=self.params["wall_albedo"], wall_emissivity=self.params["wall_emissivity"],
                                 window=window, out=st["tmrt"])

    def _air(self, st: dict, qf: np.ndarray | None, *, full: bool) -> Window | None:
        """Air temperature (K, rows, cols) at the hours into ``st["air"]``, from the full-grid sensible
        heat fields; returns the bbox of district cells whose air temperature was rewritten.

        The coarse excess field is solved everywhere. On the district grid, cells are rewritten where
        the coarse field moved by more than ``air_change_tolerance_k`` since the last full pass
        (bilinear interpolation cannot move a cell further than its four coarse neighbours), plus the
        cells rewritten by earlier edits; elsewhere the air differs from a full pass by less than the
        tolerance."""
        p, g = self.params, self.district.grid
        f = max(1, int(round(p["air_cell_m"] / g.cell_m)))
        rows, cols = g.shape
        rc, cc = -(-rows // f), -(-cols // f)
        pad = ((0, rc * f - rows), (0, cc * f - cols))
        padded = pad != ((0, 0), (0, 0))

        def block_sum(a: np.ndarray) -> np.ndarray:
            return (np.pad(a, pad) if padded else a).reshape(rc, f, cc, f).sum(axis=(1, 3))

        count = block_sum(np.ones((rows, cols), np.float32))
        can = block_sum((st["surf"].canopy_m > 0).astype(np.float32))
        qf_sum = None if qf is None else block_sum(qf)
        leaf = p["canopy_sensible_fraction"] * (1.0 - p["leaf_albedo"]) * (1.0 - p["canopy_transmissivity"])
        thetas = np.empty((len(st["hours"]), rc, cc), np.float32)
        for k, h in enumerate(st["hours"]):
            glob = float(self.sun.direct_horizontal_w_m2[h] + self.sun.dhi_w_m2[h])
            q = block_sum(st["energy"]["q_h"][k]) + np.float32(leaf * glob) * can
            if qf_sum is not None:
                q = q + qf_sum
            src = (q / count - self.qh_rural[h]) / (RHO_CP * p["mixing_height_m"])
            speed, wdir = float(self.weather.wind_speed_m_s[h]), math.radians(float(self.weather.wind_dir_deg[h]))
            thetas[k] = excess_air_temperature(src, wind_east_m_s=-speed * math.sin(wdir),
                                               wind_north_m_s=-speed * math.cos(wdir), cell_m=f * g.cell_m,
                                               diffusivity_m2_s=p["eddy_diffusivity_m2_s"],
                                               tau_s=p["ventilation_time_s"], t_end_s=p["air_integration_s"])
        if full or "theta_ref" not in st:
            st["air"] = self._upsample(thetas, st["hours"], (0, rows, 0, cols), f)
            st["theta_ref"], st["air_dirty"] = thetas, None
            return (0, rows, 0, cols)
        moved = _bbox((np.abs(thetas - st["theta_ref"]) > p["air_change_tolerance_k"]).any(axis=0))
        region = st["air_dirty"]
        if moved is not None:
            region = _union(region, _dilate((moved[0] * f, moved[1] * f, moved[2] * f, moved[3] * f),
                                            f, f, f, f, (rows, cols)))
        if region is None:
            return None
        r0, r1, c0, c1 = region
        new = self._upsample(thetas, st["hours"], region, f)
        changed = _offset(_bbox((new != st["air"][:, r0:r1, c0:c1]).any(axis=0)), region)
        st["air"][:, r0:r1, c0:c1] = new
        st["air_dirty"] = region
        return changed

    def _upsample(self, thetas: np.ndarray, hours: tuple[int, ...], w: Window, f: int) -> np.ndarray:
        """Reference air temperature plus the bilinear interpolation of the coarse excess, cells of ``w``."""
        rc, cc = thetas.shape[1:]
        pos_r = (np.arange(w[0], w[1]) + 0.5) / f - 0.5
        pos_c = (np.arange(w[2], w[3]) + 0.5) / f - 0.5
        i0r = np.clip(np.floor(pos_r).astype(int), 0, rc - 1)
        i0c = np.clip(np.floor(pos_c).astype(int), 0, cc - 1)
        i1r, i1c = np.minimum(i0r + 1, rc - 1), np.minimum(i0c + 1, cc - 1)
        wr = np.clip(pos_r - i0r, 0.0, 1.0).astype(np.float32)[:, None]
        wc = np.clip(pos_c - i0c, 0.0, 1.0).astype(np.float32)[None, :]
        out = np.empty((len(hours), w[1] - w[0], w[3] - w[2]), np.float32)
        for k, h in enumerate(hours):
            theta = thetas[k]
            rows_i = theta[i0r] * (1 - wr) + theta[i1r] * wr
            out[k] = self.forcing["air_temp_c"][h] + (rows_i[:, i0c] * (1 - wc) + rows_i[:, i1c] * wc)
        return out

    def _utci(self, st: dict, window: Window | None) -> None:
        r0, r1, c0, c1 = window if window is not None else (0, self.district.grid.rows, 0, self.district.grid.cols)
        for k, h in enumerate(st["hours"]):
            vap = _vapour_hpa(self.weather, h)
            st["utci"][k, r0:r1, c0:c1] = utci_field(st["air"][k, r0:r1, c0:c1], st["tmrt"][k, r0:r1, c0:c1],
                                                     float(self.weather.wind_speed_m_s[h]), vap, self.params)

    # ---- full and incremental passes -------------------------------------------------------------
    def _district_surfaces(self) -> HeatSurfaces:
        d = self.district
        return HeatSurfaces(d.dsm_m, d.canopy_m, d.surface_class, None, 0.0)

    def _full(self, surf: HeatSurfaces, hours: tuple[int, ...], qf: np.ndarray | None, t: dict) -> dict:
        rows, cols = self.district.grid.shape
        nk = len(hours)
        z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
        st = {"surf": surf, "tops": self._tops(surf), "hours": hours, "qf": qf, "bsun": z(24, rows, cols),
              "sunlit24": z(24, rows, cols), "svf_b": z(rows, cols), "svf_v": z(rows, cols), "tmrt": z(nk, rows, cols),
              "utci": z(nk, rows, cols),
              "energy": {n: z(nk, rows, cols) for n in ("surface_temp_c", "q_star", "q_h", "q_e", "q_g")}}
        full = (0, rows, 0, cols)
        t0 = time.perf_counter()
        self._shade(st, {h: full for h in self.daylight})
        t1 = time.perf_counter()
        self._svf(st, None)
        t2 = time.perf_counter()
        self._surface_and_tmrt(st, None)
        t3 = time.perf_counter()
        self._air(st, qf, full=True)
        t4 = time.perf_counter()
        self._utci(st, None)
        t5 = time.perf_counter()
        for k, v in (("shadows", t1 - t0), ("svf", t2 - t1), ("energy_tmrt", t3 - t2), ("air", t4 - t3),
                     ("utci", t5 - t4)):
            t[k] = t.get(k, 0.0) + v
        return st

    def _incremental(self, st: dict, surf: HeatSurfaces, qf: np.ndarray | None, t: dict) -> Window | None:
        old: HeatSurfaces = st["surf"]
        shape = self.district.grid.shape
        geom = (surf.dsm_m != old.dsm_m) | (surf.canopy_m != old.canopy_m)
        cls = surf.surface_class != old.surface_class
        window: Window | None = None
        t0 = t1 = t2 = time.perf_counter()
        if geom.any() or cls.any():
            st["surf"] = surf
            st["tops"] = self._tops(surf)
            window = _bbox(cls)
            if geom.any():
                gw = _bbox(geom)
                window = _union(window, self._shade(st, self._shadow_windows(gw, old, surf)))
                t1 = time.perf_counter()
                n = int(math.ceil(self.params["svf_radius_m"] / self.district.grid.cell_m)) + 2
                sw = _dilate(gw, n, n, n, n, shape)
                before = st["svf"][sw[0]:sw[1], sw[2]:sw[3]].copy()
                self._svf(st, sw)
                window = _union(window, _offset(_bbox(st["svf"][sw[0]:sw[1], sw[2]:sw[3]] != before), sw))
                t2 = time.perf_counter()
                window = _union(window, gw)
            if window is not None:
                self._surface_and_tmrt(st, window)
        t3 = time.perf_counter()
        air_w = self._air(st, qf, full=False)
        st["qf"] = qf
        t4 = time.perf_counter()
        utci_w = _union(window, air_w)
        if utci_w is not None:
            self._utci(st, utci_w)
        t5 = time.perf_counter()
        for k, v in (("shadows", t1 - t0), ("svf", t2 - t1), ("energy_tmrt", t3 - t2), ("air", t4 - t3),
                     ("utci", t5 - t4)):
            t[k] = t.get(k, 0.0) + v
        return utci_w

    # ---- KPIs ------------------------------------------------------------------------------------
    def _kpis(self, st: dict, cost_eur: float) -> dict[str, float]:
        hours = st["hours"]
        k = hours.index(15) if 15 in hours else len(hours) - 1
        ground = self.district.building_index < 0
        u = st["utci"][k][ground]
        strong = self.params["strong_heat_stress_utci_c"]
        out = {
            "kpi_hour": float(hours[k]),
            "utci_mean_c": float(u.mean()), "utci_p95_c": float(np.percentile(u, 95)),
            "tmrt_mean_c": float(st["tmrt"][k][ground].mean()),
            "air_temp_mean_c": float(st["air"][k][ground].mean()),
            "uhi_intensity_k": float(st["air"][k][ground].mean() - self.weather.air_temp_c[hours[k]]),
            "surface_temp_mean_c": float(st["energy"]["surface_temp_c"][k][ground].mean()),
            "strong_heat_stress_area_share": float((u >= strong).mean()),
            "cost_eur": float(cost_eur),
        }
        cells, bidx, res = self.exposure
        if cells.size and res.sum() > 0:
            nb = len(res)
            n_cells = np.bincount(bidx, minlength=nb)
            has = n_cells > 0
            hours_strong = np.zeros(nb)
            for kk in range(len(hours)):
                ub = np.bincount(bidx, weights=st["utci"][kk].ravel()[cells], minlength=nb) / np.maximum(n_cells, 1)
                hours_strong += has & (ub >= strong)
                if kk == k:
                    out["utci_resident_weighted_c"] = float((res * ub)[has].sum() / max(res[has].sum(), 1.0))
            out["strong_heat_stress_hours_per_resident"] = float((res * hours_strong).sum() / max(res[has].sum(), 1.0))
            out["residents_exposed"] = float(res[has].sum())
        return out

    def _with_baseline(self, kpis: dict[str, float], hours: tuple[int, ...]) -> dict[str, float]:
        base = self._baseline[hours]
        out = dict(kpis)
        for name, diff in (("air_temp_mean_c", "air_temp_diff_to_baseline_k"), ("utci_mean_c", "utci_diff_to_baseline_k"),
                           ("utci_p95_c", "utci_p95_diff_to_baseline_k"), ("tmrt_mean_c", "tmrt_diff_to_baseline_k"),
                           ("strong_heat_stress_hours_per_resident", "strong_heat_stress_hours_per_resident_diff")):
            if name in base and name in kpis:
                out[diff] = kpis[name] - base[name]
        cost = kpis["cost_eur"]
        cooling = -(kpis["utci_mean_c"] - base["utci_mean_c"])
        out["cooling_utci_k_per_1000_eur"] = cooling / cost * 1000.0 if cost > 0 else 0.0
        out["cooling_air_k_per_1000_eur"] = -(kpis["air_temp_mean_c"] - base["air_temp_mean_c"]) / cost * 1000.0 if cost > 0 else 0.0
        return out

    # ---- public ----------------------------------------------------------------------------------
    def compute(self, interventions: Sequence[Intervention], *, hours: Sequence[int] = (15,),
                anthropogenic_heat_w_m2: np.ndarray | None = None, full: bool = False) -> HeatResult:
        """Fields and KPIs of the scenario District + ``interventions`` at the local ``hours``.

        Parameters
        ----------
        interventions : heat interventions (other kinds are skipped), applied in order.
        hours : local clock hours 0..23 of the Weather's day.
        anthropogenic_heat_w_m2 : (rows, cols) float, extra sensible heat into the air (traffic,
            buildings), W/m2; None for none.
        full : recompute everything instead of the window the edit reaches.

        Raises
        ------
        geodata.apply_heat.HeatEditError, ValueError
            for bad interventions, hours or heat fields; the engine's state is then unchanged.
        """
        t_start = time.perf_counter()
        hrs = tuple(int(h) for h in hours)
        if not hrs or any(h < 0 or h > 23 for h in hrs) or len(set(hrs)) != len(hrs):
            raise ValueError(f"Stunden müssen verschiedene Werte 0..23 sein: {hrs} / hours must be distinct values 0..23")
        qf = None
        if anthropogenic_heat_w_m2 is not None:
            qf = np.asarray(anthropogenic_heat_w_m2, np.float32)
            if qf.shape != self.district.grid.shape or not np.isfinite(qf).all() or np.abs(qf).max() > 2000:
                raise ValueError("Abwärmefeld: falsche Form oder ungültige Werte / anthropogenic heat: wrong shape or invalid values")
        p = self.params
        surf = apply_heat_interventions(self.district, interventions, park_tree_height_m=p["park_tree_height_m"],
                                        park_tree_crown_m=p["park_tree_crown_m"])
        t: dict[str, float] = {"apply": time.perf_counter() - t_start}
        st = self._state
        if full or st is None or st["hours"] != hrs:
            if hrs not in self._baseline:
                st = self._full(self._district_surfaces(), hrs, None, t)
                self._baseline[hrs] = self._kpis(st, 0.0)
                window = None if full else self._incremental(st, surf, qf, t)
                if full and (surf.changed_window is not None or qf is not None):
                    st = self._full(surf, hrs, qf, t)
            else:
                st = self._full(surf, hrs, qf, t)
            window = (0, self.district.grid.rows, 0, self.district.grid.cols)
        else:
            window = self._incremental(st, surf, qf, t)
        self._state = st
        t0 = time.perf_counter()
        kpis = self._with_baseline(self._kpis(st, surf.cost_eur), hrs)
        idx = list(hrs)
        fields = {"utci_c": st["utci"].copy(), "tmrt_c": st["tmrt"].copy(),
                  "surface_temp_c": st["energy"]["surface_temp_c"].copy(), "air_temp_c": st["air"].copy(),
                  "sunlit": st["sunlit24"][idx], "svf": st["svf"].copy()}
        t["kpis"] = time.perf_counter() - t0
        t["total"] = time.perf_counter() - t_start
        return HeatResult(hrs, fields, kpis, window, t)


def _offset(w: Window | None, origin: Window) -> Window | None:
    """A window relative to ``origin``'s corner, in grid cells."""
    if w is None:
        return None
    return (w[0] + origin[0], w[1] + origin[0], w[2] + origin[2], w[3] + origin[2])


def _bbox(mask: np.ndarray) -> Window | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def run_heat_day(district: District, weather: Weather | None = None, params: HeatParams | None = None,
                 interventions: Sequence[Intervention] = ()) -> HeatResult:
    """All daylight hours of the Weather's day for the District with ``interventions``."""
    engine = HeatEngine(district, weather=weather, params=params)
    return engine.compute(interventions, hours=engine.daylight)


def write_field_geotiff(result: HeatResult, name: str, hour: int | None, district: District, path: str) -> None:
    """Write one field (at ``hour`` for hourly fields) as a float32 GeoTIFF in the District's UTM CRS."""
    arr = result.fields[name]
    if arr.ndim == 3:
        if hour not in result.hours:
            raise ValueError(f"Stunde {hour} nicht berechnet / hour {hour} not computed")
        arr = arr[result.hours.index(hour)]
    write_geotiff(path, np.asarray(arr, np.float32), names=[name], **district_geo(district))


def tmrt_on_rasters(dsm_m: np.ndarray, *, cell_m: float, lonlat: tuple[float, float], weather: Weather,
                    hours: Sequence[int], canopy_m: np.ndarray | None = None, ground_m: np.ndarray | None = None,
                    params: HeatParams | None = None, utci: bool = True) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Shadows, sky view, surface temperature, Tmrt (and UTCI at the weather's air temperature) on
    bare rasters, as SOLWEIG computes them from a DSM, an optional canopy DSM and DEM.

    Parameters
    ----------
    dsm_m : (rows, cols) float, terrain and buildings, metres. cell_m : cell size, metres.
    lonlat : position of the raster centre (degrees), for the sun.
    canopy_m : (rows, cols) canopy height above ground (UMEP's CDSM convention), or None.
    ground_m : (rows, cols) terrain (DEM); cells more than 2 m above it are roofs. Without it all
        cells are ground.

    Returns
    -------
    fields : ``sunlit``, ``surface_temp_c``, ``tmrt_c`` (and ``utci_c``) as (len(hours), rows, cols)
        float32, ``svf`` (rows, cols); timings : seconds per stage.
    """
    p = params or HeatParams.default()
    ensure_init(p.arch)
    dsm = np.ascontiguousarray(dsm_m, np.float32)
    ground = dsm if ground_m is None else np.asarray(ground_m, np.float32)
    roof = (dsm - ground) > ROOF_MIN_M
    can = canopy_on_ground(dsm, ground_m, canopy_m)
    surface = np.where(roof, SURFACE["roof"], SURFACE["paving"]).astype(np.uint8)
    top, trunk = canopy_tops(ground, can, p["trunk_ratio"])
    sun = sun_and_irradiance(weather, lonlat[1], lonlat[0], linke_turbidity=p["linke_turbidity"],
                             min_elevation_deg=p["min_sun_elevation_deg"])
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    rows, cols = dsm.shape
    sunlit24 = np.zeros((24, rows, cols), np.float32)
    bsun = np.zeros((rows, cols), np.float32)
    for h in sun.daylight_hours():
        cast_shadows(dsm, top, trunk, cell_m=cell_m, azimuth_deg=float(sun.azimuth_deg[h]),
                     elevation_deg=float(sun.elevation_deg[h]), transmissivity=p["canopy_transmissivity"],
                     max_reach_m=p["shadow_max_reach_m"], out=(bsun, sunlit24[h]))
    t["shadows"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    svf_b, svf_v = sky_view_factor(dsm, top, cell_m=cell_m, n_azimuths=int(p["svf_azimuths"]), radius_m=p["svf_radius_m"])
    svf = effective_svf(svf_b, svf_v, p["canopy_transmissivity"])
    t["svf"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hrs = tuple(int(h) for h in hours)
    classes = class_tables(p)
    forcing = hourly_forcing(weather, sun, p)
    energy = surface_energy_day(sunlit24, svf, surface, classes, forcing, hours=hrs,
                                t_deep_c=float(np.mean(weather.air_temp_c)) + p["deep_ground_offset_k"],
                                wall_albedo=p["wall_albedo"], wall_emissivity=p["wall_emissivity"],
                                h_free_w_m2k=p["free_convection_w_m2k"], n_sub=int(p["substeps_per_hour"]),
                                spin_up_days=int(p["spin_up_days"]))
    idx = list(hrs)
    hourly = {"direct_normal_w_m2": sun.dni_w_m2[idx], "diffuse_w_m2": sun.dhi_w_m2[idx],
              "elevation_deg": sun.elevation_deg[idx], "longwave_sky_w_m2": sun.longwave_sky_w_m2[idx],
              "air_temp_c": forcing["air_temp_c"][idx], "wall_temp_c": forcing["wall_temp_c"][idx]}
    tmrt = mean_radiant_temperature(sunlit24[idx], svf, surface, classes["albedo"], classes["emissivity"],
                                    energy["surface_temp_c"], hourly, wall_albedo=p["wall_albedo"],
                                    wall_emissivity=p["wall_emissivity"])
    t["energy_tmrt"] = time.perf_counter() - t0
    fields = {"sunlit": sunlit24[idx], "svf": svf, "surface_temp_c": energy["surface_temp_c"], "tmrt_c": tmrt}
    if utci:
        t0 = time.perf_counter()
        fields["utci_c"] = np.stack([utci_field(np.full((rows, cols), weather.air_temp_c[h], np.float32), tmrt[k],
                                                float(weather.wind_speed_m_s[h]), _vapour_hpa(weather, h), p)
                                     for k, h in enumerate(hrs)])
        t["utci"] = time.perf_counter() - t0
    return fields, t
