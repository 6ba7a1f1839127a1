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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse

from geodata.apply_heat import HeatApplier, HeatSurfaces
from geodata.canopy import ROOF_MIN_M, canopy_on_ground, canopy_tops
from geodata.district import SURFACE, District
from geodata.files import district_geo, write_geotiff
from geodata.interventions import Intervention
from geodata.weather import SunHours, Weather, design_hot_day, sun_and_irradiance
from models.heat.building_energy import envelopes, facade_cells, rc5_hourly, solar_gains_w
from models.heat.params import HeatParams
from models.heat.pipeline import bbox as _bbox
from models.heat.pipeline import (
    class_tables,
    energy_kwargs,
    hourly_forcing,
    shade,
    sky_view,
    surface_and_tmrt,
    wall_area_density,
    wall_sensible_heat_w_m2,
    wall_temperature_c,
)
from models.heat.pipeline import offset as _offset
from models.heat.pipeline import union as _union
from models.heat.state import EngineState, PipelineState, Window
from models.heat.uhi import (
    TROPICAL_NIGHT_C,
    core_and_open,
    core_minus_open_k,
    mixing_heights,
    ventilation_times,
)
from sim_kernels.airtemp import excess_air_temperature
from sim_kernels.energy import RHO_CP, surface_energy_day
from sim_kernels.runtime import ensure_init

__all__ = ["HeatParams", "HeatResult", "HeatEngine", "run_heat_day", "BuildingCooling", "utci_field", "stress_class", "class_tables",
           "hourly_forcing", "wall_temperature_c", "tmrt_on_rasters"]

FIELDS = ("utci_c", "tmrt_c", "surface_temp_c", "air_temp_c", "sunlit")


@dataclass
class BuildingCooling:
    """Cooling demand of each building over the design day (kWh, (n,), 0 for uses not cooled), the
    district total, the hourly outdoor air at the facades and indoor air (24, n), degrees C, and the
    buildings' mass temperature at the end of the day (n,)."""

    cooling_kwh: np.ndarray
    district_kwh: float
    outdoor_c: np.ndarray
    indoor_c: np.ndarray
    cooled: np.ndarray
    mass_end_c: np.ndarray


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


def _vapour_hpa(weather: Weather, h: int) -> float:
    ta = float(weather.air_temp_c[h])
    return float(weather.rel_humidity_pct[h]) / 100.0 * 6.112 * math.exp(17.62 * ta / (243.12 + ta))


def _dilate(w: Window, up: int, down: int, left: int, right: int, shape: tuple[int, int]) -> Window:
    return (max(w[0] - up, 0), min(w[1] + down, shape[0]), max(w[2] - left, 0), min(w[3] + right, shape[1]))


class HeatEngine:
    """Heat simulation of one District under one Weather; see the module docstring."""

    def __init__(self, district: District, *, weather: Weather | None = None, params: HeatParams | None = None,
                 deep_air_c: float | None = None):
        """``deep_air_c``: mean air temperature of the preceding days that the deep ground and walls
        are restored toward (a heat wave's stored heat); default the day's own mean."""
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
        self.deep_air_c = deep_air_c
        self.forcing = hourly_forcing(self.weather, self.sun, p, deep_air_c)
        self.energy_kwargs = energy_kwargs(p, self.weather, deep_air_c)
        self.t_deep_c = float(self.energy_kwargs["t_deep_c"])
        self.qh_rural, self.ts_rural = self._rural_reference()
        self.tau_s = ventilation_times(self.weather.air_temp_c, self.weather.wind_speed_m_s, self.ts_rural,
                                       self.sun.dni_w_m2 > 0, p)
        self.mixing_m = mixing_heights(self.weather.air_temp_c, self.ts_rural, self.sun.dni_w_m2 > 0, p)
        self.building_heat_w_m2 = self._building_waste_heat()
        self.wall_density = wall_area_density(district.dsm_m, district.building_index >= 0, district.grid.cell_m)
        self.wall_qh_w_m2 = wall_sensible_heat_w_m2(self.weather, self.forcing["wall_temp_c"])
        self.exposure = self._exposure_cells()
        self.envelope = envelopes(district)
        self.facades = facade_cells(district.building_index)
        self.core, self.open_land = core_and_open(district.building_index >= 0, district.grid.cell_m)
        self.coolest_hour = int(np.argmin(self.weather.air_temp_c))
        self._state: EngineState | None = None
        self._static_sums: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._kept_sums: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (array, its coarse block sums)
        # building cooling: sparse maps of the fixed geometry, the day's sums per band, recent air per hour
        self._cooling_map: dict[str, np.ndarray | sparse.csr_matrix] | None = None
        self._qh_cache: tuple[tuple[np.ndarray, ...], np.ndarray] | None = None
        self._air_day_cache: dict[int, list] = {}
        self._baseline: dict[tuple[int, ...], dict[str, float]] = {}
        self._apply = HeatApplier(district, park_tree_height_m=self.params["park_tree_height_m"],
                                  park_tree_crown_m=self.params["park_tree_crown_m"])

    # ---- set-up --------------------------------------------------------------------------------
    def _class_tables(self) -> dict[str, np.ndarray]:
        return class_tables(self.params)

    def _mean_air(self) -> float:
        return float(np.mean(self.weather.air_temp_c)) if self.deep_air_c is None else float(self.deep_air_c)

    def _rural_reference(self) -> tuple[np.ndarray, np.ndarray]:
        """QH and surface temperature (24,) of open fields in full sun under the open sky: the rural
        reference the air model is measured against; it cools freely at night."""
        out = surface_energy_day(np.ones((24, 1, 1), np.float32) * (self.sun.dni_w_m2 > 0)[:, None, None],
                                 np.ones((1, 1), np.float32), np.full((1, 1), SURFACE["field"], np.uint8),
                                 self.classes, self.forcing, hours=tuple(range(24)), fluxes=True,
                                 **dict(self.energy_kwargs, t_deep_c=self._mean_air() + self.params["rural_deep_offset_k"]))
        return out["q_h"][:, 0, 0].copy(), out["surface_temp_c"][:, 0, 0].copy()

    def _building_waste_heat(self) -> np.ndarray:
        """(rows, cols) float32 W/m2: internal gains of the buildings released outdoors, per building
        cell the floor area above it (storeys) times ``building_waste_heat_w_m2_floor``."""
        d = self.district
        idx = d.building_index
        out = np.zeros(d.grid.shape, np.float32)
        if len(d.buildings.storeys):
            storeys = np.maximum(np.asarray(d.buildings.storeys, np.float32), 1.0)
            inside = idx >= 0
            out[inside] = storeys[idx[inside]] * np.float32(self.params["building_waste_heat_w_m2_floor"])
        return out

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

    def _shade(self, st: EngineState, windows: dict[int, Window], changed_cells: np.ndarray | None = None) -> Window | None:
        return shade(st, self.sun, self.params, self.district.grid.cell_m, windows, changed_cells)

    def _svf(self, st: EngineState, window: Window | None, old_top: np.ndarray | None = None) -> None:
        sky_view(st, self.params, self.district.grid.cell_m, window, old_top)

    def _surface_and_tmrt(self, st: EngineState, window: Window | None, energy_cells: np.ndarray | None = None) -> Window:
        return surface_and_tmrt(st, sun=self.sun, classes=self.classes, forcing=self.forcing, params=self.params,
                                energy=self.energy_kwargs, window=window, energy_cells=energy_cells)

    def _qh_sums(self, st: EngineState, window: Window | None, *, everywhere: bool) -> np.ndarray:
        """Block sums (len(hours), rc, cc) of the surface sensible heat at the state's hours: all of
        them when ``everywhere`` (or none kept), else only the blocks of ``window``, the cells whose
        energy balance ran since the last call (None: none ran)."""
        if everywhere or st.qh_sums is None:
            st.qh_sums = np.stack([self._block_sum(st.energy.q_h[k]) for k in range(len(st.hours))])
            return st.qh_sums
        if window is None:
            return st.qh_sums
        f = self._air_factor()
        rows, cols = self.district.grid.shape
        r0, r1 = window[0] // f * f, min(rows, -(-window[1] // f) * f)
        c0, c1 = window[2] // f * f, min(cols, -(-window[3] // f) * f)
        for k in range(len(st.hours)):
            st.qh_sums[k, r0 // f:-(-r1 // f), c0 // f:-(-c1 // f)] = self._block_sum(st.energy.q_h[k, r0:r1, c0:c1])
        return st.qh_sums

    def _air(self, st: EngineState, qf: np.ndarray | None, *, full: bool,
             energy_window: Window | None = None) -> Window | None:
        """Air temperature (K, rows, cols) at the hours into ``st.air``, from the full-grid sensible
        heat fields; returns the bbox of district cells whose air temperature was rewritten.

        The coarse excess field is solved everywhere. On the district grid, the cells looked at are
        those where the coarse field moved by more than ``air_change_tolerance_k`` since the last full
        pass (bilinear interpolation cannot move a cell further than its four coarse neighbours), plus
        the cells looked at by earlier edits; of these, a cell is rewritten where its new air differs
        from what it holds by more than the tolerance. Every cell thus holds its full pass's air within
        the tolerance, and UTCI is recomputed only where the air was rewritten."""
        p, g = self.params, self.district.grid
        f = self._air_factor()
        rows, cols = g.shape
        thetas = self._coarse_excess(st, qf, st.hours, list(self._qh_sums(st, energy_window, everywhere=full)))
        st.theta = thetas
        if full or st.theta_ref is None:
            st.air = self._upsample(thetas, st.hours, (0, rows, 0, cols), f)
            st.theta_ref, st.air_dirty = thetas, None
            return (0, rows, 0, cols)
        moved = _bbox((np.abs(thetas - st.theta_ref) > p["air_change_tolerance_k"]).any(axis=0))
        region = st.air_dirty
        if moved is not None:
            region = _union(region, _dilate((moved[0] * f, moved[1] * f, moved[2] * f, moved[3] * f),
                                            f, f, f, f, (rows, cols)))
        if region is None:
            return None
        r0, r1, c0, c1 = region
        new = self._upsample(thetas, st.hours, region, f)
        held = st.air[:, r0:r1, c0:c1]
        # a cell keeps its air while within the tolerance of the new one (so does its UTCI); it never
        # drifts further, since it is compared with what it holds
        moved_cells = np.abs(new - held) > p["air_change_tolerance_k"]
        changed = _offset(_bbox(moved_cells.any(axis=0)), region)
        np.copyto(held, new, where=moved_cells)
        st.air_dirty = region
        return changed

    def _air_factor(self) -> int:
        return max(1, int(round(self.params["air_cell_m"] / self.district.grid.cell_m)))

    def _block_sum(self, a: np.ndarray) -> np.ndarray:
        """Sum of a (rows, cols) field over the coarse air cells (zero padding at the edges)."""
        f = self._air_factor()
        rows, cols = a.shape
        rc, cc = -(-rows // f), -(-cols // f)
        if (rc * f, cc * f) != (rows, cols):
            a = np.pad(a, ((0, rc * f - rows), (0, cc * f - cols)))
        return a.reshape(rc, f, cc, f).sum(axis=(1, 3))

    def _sums_of(self, name: str, a: np.ndarray, sums: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``sums(a)`` of the last array given under ``name`` again when ``a`` equals it (an edit
        mostly leaves the crowns and the waste heat as they were)."""
        kept = self._kept_sums.get(name)
        if kept is not None and np.array_equal(kept[0], a):
            return kept[1]
        out = sums(a)
        self._kept_sums[name] = (a.copy(), out)
        return out

    def _coarse_excess(self, st: EngineState, qf: np.ndarray | None, hours: Sequence[int],
                       qh_sums: Sequence[np.ndarray]) -> np.ndarray:
        return self.air_from_sums(qh_sums, hours, st.surf.canopy_m, qf)

    def air_from_sums(self, qh_sums: Sequence[np.ndarray], hours: Sequence[int], canopy_m: np.ndarray,
                      qf: np.ndarray | None = None, *, cache: dict[int, list] | None = None,
                      check: Callable[[], None] | None = None) -> np.ndarray:
        """Excess air temperature (len(hours), rc, cc) on the coarse grid from the block sums of the
        surface sensible heat at those hours, plus crowns (of ``canopy_m``, the scenario's canopy),
        walls and waste heat. Public for runs that compute the surface elsewhere (tile by tile).
        ``cache`` (hour -> recent (source, air) pairs) reuses the air of an hour whose source is unchanged.
        ``check`` is called before each hour's solve and may raise to stop (the cache stays consistent)."""
        p, g = self.params, self.district.grid
        f = self._air_factor()
        if self._static_sums is None:  # the grid's cell counts, walls and buildings' waste heat do not change
            self._static_sums = tuple(self._block_sum(a) for a in (np.ones(g.shape, np.float32), self.wall_density,
                                                                    self.building_heat_w_m2))
        count, walls, building_heat = self._static_sums
        can = self._sums_of("canopy", canopy_m, lambda a: self._block_sum((a > 0).astype(np.float32)))
        qf_sum = building_heat if qf is None else building_heat + self._sums_of("qf", qf, self._block_sum)
        thetas = np.empty((len(hours), *count.shape), np.float32)
        for k, h in enumerate(hours):
            q = (qh_sums[k] + np.float32(self._crown_sensible_heat(h)) * can + qf_sum
                 + np.float32(self.wall_qh_w_m2[h]) * walls)
            src = (q / count - self.qh_rural[h]) / (RHO_CP * float(self.mixing_m[h]))
            seen = cache.setdefault(h, []) if cache is not None else []
            hit = next((a for sr, a in seen if np.array_equal(sr, src)), None)
            if hit is not None:
                thetas[k] = hit
                continue
            if check is not None:
                check()
            speed, wdir = float(self.weather.wind_speed_m_s[h]), math.radians(float(self.weather.wind_dir_deg[h]))
            speed *= p["layer_wind_factor"]
            thetas[k] = excess_air_temperature(src, wind_east_m_s=-speed * math.sin(wdir),
                                               wind_north_m_s=-speed * math.cos(wdir), cell_m=f * g.cell_m,
                                               diffusivity_m2_s=p["eddy_diffusivity_m2_s"],
                                               tau_s=float(self.tau_s[h]),
                                               t_end_s=p["air_integration_s"] * float(self.tau_s[h]) / p["ventilation_time_s"])
            if cache is not None:  # the two most recent (the baseline's and the scenario's)
                seen[:] = [*seen[-1:], (src.copy(), thetas[k].copy())]
        return thetas

    def air_excess_day(self, st: EngineState | None = None, qf: np.ndarray | None = None, *,
                       check: Callable[[], None] | None = None) -> np.ndarray:
        """Excess air temperature (24, rc, cc) over the rural reference on the coarse air grid at every
        hour of the day, for the current scenario state. The surface energy balance is run for all 24
        instants, only where sunlight, sky view or surface classes changed since the last call, and an
        hour whose air source is that of a recent call keeps its air (an edit recomputes what it moved)."""
        st = st or self._state
        if st is None:
            raise ValueError("compute() first / zuerst compute()")
        return self.air_from_sums(self._qh_day_sums(st), range(24), st.surf.canopy_m, qf, cache=self._air_day_cache,
                                  check=check)

    def _qh_day_sums(self, st: EngineState) -> list[np.ndarray]:
        """Block sums (coarse air grid) of the surface sensible heat at the 24 hours. Each cell's balance
        is independent: after the first call only the coarse blocks whose sunlight, sky view or surface
        class changed are recomputed, in bands of rows (memory stays bounded)."""
        g = self.district.grid
        f = self._air_factor()
        rows, cols = g.shape
        assert st.svf is not None
        inputs = (st.sunlit24, st.svf, st.surf.surface_class)
        if self._qh_cache is None:
            sums = np.zeros((24, -(-rows // f), -(-cols // f)), np.float32)
            dirty_rows, c0, c1, box = np.ones(sums.shape[1], bool), 0, cols, None
        else:
            old, sums = self._qh_cache
            diff = (inputs[0] != old[0]).any(axis=0) | (inputs[1] != old[1]) | (inputs[2] != old[2])
            box = _bbox(diff)
            if box is None:
                return list(sums)
            self._qh_cache = None  # until the sums below are complete
            dirty_rows = np.zeros(sums.shape[1], bool)
            dirty_rows[np.flatnonzero(diff.any(axis=1)) // f] = True
            c0, c1 = box[2] // f * f, min(cols, -(-box[3] // f) * f)
        band = max(1, 96 // f)  # coarse rows a pass
        todo = np.flatnonzero(dirty_rows)
        while len(todo):
            rr0 = int(todo[0])
            rr1 = rr0 + 1
            while rr1 < min(rr0 + band, len(dirty_rows)) and dirty_rows[rr1]:
                rr1 += 1
            todo = todo[todo >= rr1]
            r0, r1 = rr0 * f, min(rows, rr1 * f)
            out = surface_energy_day(*(a[..., r0:r1, c0:c1] for a in inputs), self.classes, self.forcing,
                                     hours=tuple(range(24)), fluxes=True, **self.energy_kwargs)
            part = np.zeros((24, (rr1 - rr0) * f, -(-(c1 - c0) // f) * f), np.float32)
            part[:, :r1 - r0, :c1 - c0] = out["q_h"]
            for h in range(24):
                sums[h, rr0:rr1, c0 // f:c0 // f + part.shape[2] // f] = part[h].reshape(rr1 - rr0, f, -1, f).sum(axis=(1, 3))
        if box is None:
            kept = tuple(a.copy() for a in inputs)
        else:
            kept = old
            for a, b in zip(kept, inputs, strict=True):  # the kept copy follows the inputs where they changed
                a[..., box[0]:box[1], box[2]:box[3]] = b[..., box[0]:box[1], box[2]:box[3]]
        self._qh_cache = (kept, sums)
        return list(sums)

    def _cooling_maps(self) -> dict[str, np.ndarray | sparse.csr_matrix]:
        """Sparse maps of the district's fixed geometry, built once: facade cells -> each building's mean
        sunlit fraction per orientation, coarse air cells -> its mean air at the facades, roof cells ->
        its mean over the roof."""
        if self._cooling_map is not None:
            return self._cooling_map
        d, f = self.district, self._air_factor()
        n, cols = len(d.buildings.height_m), d.grid.cols
        cc = -(-cols // f)
        n_coarse = -(-d.grid.rows // f) * cc
        cells = np.concatenate([c for c, _ in self.facades])
        uniq, pos = np.unique(cells, return_inverse=True)
        rows_o, w_o = [], []
        wall_cells = np.zeros(n)
        for o, (_, bidx) in enumerate(self.facades):
            cnt = np.bincount(bidx, minlength=n)
            wall_cells += cnt
            rows_o.append(o * n + bidx)
            w_o.append(1.0 / np.maximum(cnt, 1)[bidx])
        facade = sparse.csr_matrix((np.concatenate(w_o), (np.concatenate(rows_o), pos)), shape=(4 * n, len(uniq)))
        all_b = np.concatenate([b for _, b in self.facades])
        coarse = (cells // cols) // f * cc + (cells % cols) // f
        air = sparse.csr_matrix((1.0 / np.maximum(wall_cells, 1)[all_b], (all_b, coarse)), shape=(n, n_coarse))
        inside = np.flatnonzero(d.building_index.ravel() >= 0)
        bi = d.building_index.ravel()[inside].astype(np.int64)
        roof_cnt = np.maximum(np.bincount(bi, minlength=n), 1)
        roof = sparse.csr_matrix((1.0 / roof_cnt[bi], (bi, np.arange(len(bi)))), shape=(n, len(bi)))
        self._cooling_map = {"facade_cells": uniq, "facade": facade, "air": air, "roof_cells": inside, "roof": roof}
        return self._cooling_map

    def building_cooling(self, interventions: Sequence[Intervention] = (), *,
                         anthropogenic_heat_w_m2: np.ndarray | None = None,
                         mass_start_c: np.ndarray | None = None,
                         check: Callable[[], None] | None = None) -> BuildingCooling:
        """Each building's cooling demand over the design day (5R1C, ``models.heat.building_energy``)
        for the scenario District + ``interventions``: outdoor air from the twin's air temperature at
        the building's facades at every hour, sunlight on facades and roof as the twin shades them.
        Without ``mass_start_c`` (n,) the day is repeated until periodic; with it, the buildings' mass
        starts there (the previous day's ``mass_end_c``, for consecutive days). ``check`` is called between
        the hours' air solves and may raise to stop the computation (a newer edit in the live loop)."""
        hours = self._state.hours if self._state is not None else (15,)
        self.compute(interventions, hours=hours, anthropogenic_heat_w_m2=anthropogenic_heat_w_m2)
        st = self._state
        assert st is not None
        n = len(self.district.buildings.height_m)
        env = self.envelope
        m = self._cooling_maps()
        theta = self.air_excess_day(st, anthropogenic_heat_w_m2, check=check)
        sun24 = st.sunlit24.reshape(24, -1)
        facade_sun = np.asarray(m["facade"] @ sun24[:, m["facade_cells"]].T.astype(float))  # (4n, 24)
        facade_sun = facade_sun.reshape(4, n, 24).transpose(2, 1, 0)
        outdoor = np.asarray(m["air"] @ theta.reshape(24, -1).T.astype(float)).T
        outdoor = np.asarray(self.weather.air_temp_c, float)[:, None] + outdoor
        inside = m["roof_cells"]
        roof_sun = np.asarray(m["roof"] @ sun24[:, inside].T.astype(float)).T
        cls = st.surf.surface_class.ravel()[inside]
        absorb = (1.0 - self.classes["albedo"][cls]) * (1.0 - self.classes["evaporative_fraction"][cls])
        roof_abs = m["roof"] @ absorb.astype(float)
        solar = solar_gains_w(env, dni=self.sun.dni_w_m2, dhi=self.sun.dhi_w_m2, elevation_deg=self.sun.elevation_deg,
                              azimuth_deg=self.sun.azimuth_deg, facade_sunlit=facade_sun, roof_sunlit=roof_sun,
                              roof_absorptance=roof_abs)
        internal = env.floor_area_m2 * self.params["building_waste_heat_w_m2_floor"]
        res = rc5_hourly(env, outdoor, internal[None, :], solar, cooling_setpoint_c=self.params["cooling_setpoint_c"],
                         spin_up_repeats=int(self.params["building_spin_up_days"]) if mass_start_c is None else 0,
                         mass_start_c=mass_start_c)
        kwh = res.cooling_w.sum(axis=0) / 1000.0 * env.cooled
        return BuildingCooling(cooling_kwh=kwh, district_kwh=float(kwh.sum()), outdoor_c=outdoor.astype(np.float32),
                               indoor_c=res.air_c.astype(np.float32), cooled=env.cooled, mass_end_c=res.mass_c[-1].copy())

    def _crown_sensible_heat(self, h: int) -> float:
        """Sensible heat (W/m2) a tree crown gives the air at instant ``h``: a share of its net
        radiation (absorbed sun plus long-wave exchange with the sky at air temperature) while that is
        positive, all of it when negative (a crown has no storage and little transpiration at night)."""
        p = self.params
        opaque = 1.0 - p["canopy_transmissivity"]
        glob = float(self.sun.direct_horizontal_w_m2[h] + self.sun.dhi_w_m2[h])
        tk = float(self.weather.air_temp_c[h]) + 273.15
        net = opaque * ((1.0 - p["leaf_albedo"]) * glob
                        + p["leaf_emissivity"] * (float(self.sun.longwave_sky_w_m2[h]) - 5.670374419e-8 * tk**4))
        return p["canopy_sensible_fraction"] * net if net > 0 else net

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

    def air_coarse(self) -> tuple[np.ndarray, int] | None:
        """Air temperature (len(hours), rc, cc) degrees C on the coarse air grid at the hours of the last
        ``compute`` (the reference plus the coarse excess) and the grid's factor f (district cells per
        coarse cell and axis); None before the first compute. The ``air_temp_c`` field of ``compute`` is
        its bilinear interpolation (``_upsample``) within ``air_change_tolerance_k``."""
        st = self._state
        if st is None or st.theta is None:
            return None
        ref = np.asarray([self.forcing["air_temp_c"][h] for h in st.hours], np.float32)
        return ref[:, None, None] + st.theta, self._air_factor()

    def air_window(self, thetas: np.ndarray, hours: Sequence[int], window: Window) -> np.ndarray:
        """Air temperature (len(hours), r1 - r0, c1 - c0) of the cells of ``window`` from the coarse excess
        ``thetas`` of ``air_from_sums``: the same interpolation as ``compute``, window by window."""
        return self._upsample(thetas, tuple(hours), window, self._air_factor())

    def utci_at(self, air_temp_c: np.ndarray, tmrt_c: np.ndarray, hour: int) -> np.ndarray:
        """UTCI of air temperature and Tmrt fields at ``hour`` under the engine's weather."""
        return utci_field(air_temp_c, tmrt_c, float(self.weather.wind_speed_m_s[hour]), _vapour_hpa(self.weather, hour),
                          self.params)

    def _utci(self, st: EngineState, window: Window | None) -> None:
        """UTCI of the cells of ``window`` (all when None). UTCI is a function of each cell's own air
        temperature and Tmrt under the hour's wind and vapour pressure: within a window only the
        cells whose air or Tmrt differs from what their UTCI was last computed from are evaluated."""
        r0, r1, c0, c1 = window if window is not None else (0, self.district.grid.rows, 0, self.district.grid.cols)
        kept = st.utci_inputs if window is not None else None
        for k, h in enumerate(st.hours):
            vap = _vapour_hpa(self.weather, h)
            wind = float(self.weather.wind_speed_m_s[h])
            air, tmrt = st.air[k, r0:r1, c0:c1], st.tmrt[k, r0:r1, c0:c1]
            if kept is None:
                st.utci[k, r0:r1, c0:c1] = utci_field(air, tmrt, wind, vap, self.params)
                continue
            was_air, was_tmrt = kept[0][k, r0:r1, c0:c1], kept[1][k, r0:r1, c0:c1]
            moved = (air != was_air) | (tmrt != was_tmrt)
            if moved.any():
                st.utci[k, r0:r1, c0:c1][moved] = utci_field(air[moved], tmrt[moved], wind, vap, self.params)
                was_air[moved], was_tmrt[moved] = air[moved], tmrt[moved]
        if kept is None:
            st.utci_inputs = (st.air.copy(), st.tmrt.copy())

    # ---- full and incremental passes -------------------------------------------------------------
    def _district_surfaces(self) -> HeatSurfaces:
        d = self.district
        return HeatSurfaces(d.dsm_m, d.canopy_m, d.surface_class, None, 0.0)

    def _full(self, surf: HeatSurfaces, hours: tuple[int, ...], qf: np.ndarray | None, t: dict) -> EngineState:
        rows, cols = self.district.grid.shape
        base = PipelineState.empty(surf, *self._tops(surf), hours)
        st = EngineState(**vars(base), qf=qf, utci=np.zeros((len(hours), rows, cols), np.float32))
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

    def _incremental(self, st: EngineState, surf: HeatSurfaces, qf: np.ndarray | None, t: dict) -> Window | None:
        old: HeatSurfaces = st.surf
        shape = self.district.grid.shape
        dsm_moved = surf.dsm_m != old.dsm_m
        canopy_moved = surf.canopy_m != old.canopy_m
        geom = dsm_moved | canopy_moved
        cls = surf.surface_class != old.surface_class
        window: Window | None = None
        energy_window: Window | None = None  # the cells whose energy balance ran
        t0 = t1 = t2 = time.perf_counter()
        if geom.any() or cls.any():
            st.surf = surf
            old_top = st.top
            cw = _bbox(canopy_moved)
            if cw is not None:  # crown tops and bottoms anew where the canopy changed
                st.top, st.trunk = st.top.copy(), st.trunk.copy()
                r0, r1, c0, c1 = cw
                st.top[r0:r1, c0:c1], st.trunk[r0:r1, c0:c1] = canopy_tops(
                    self.district.terrain_m[r0:r1, c0:c1], surf.canopy_m[r0:r1, c0:c1], self.params["trunk_ratio"])
            window = _bbox(cls)
            energy_in = cls.copy()  # the cells whose sunlight, sky view or class changed
            if geom.any():
                gw = _bbox(geom)
                window = _union(window, self._shade(st, self._shadow_windows(gw, old, surf), energy_in))
                t1 = time.perf_counter()
                n = int(math.ceil(self.params["svf_radius_m"] / self.district.grid.cell_m)) + 2
                sw = _dilate(gw, n, n, n, n, shape)
                assert st.svf is not None
                before = st.svf[sw[0]:sw[1], sw[2]:sw[3]].copy()
                # crowns only (trees): rescan just the directions that cross them
                self._svf(st, sw, old_top=None if dsm_moved.any() else old_top)
                svf_moved = st.svf[sw[0]:sw[1], sw[2]:sw[3]] != before
                energy_in[sw[0]:sw[1], sw[2]:sw[3]] |= svf_moved
                window = _union(window, _offset(_bbox(svf_moved), sw))
                t2 = time.perf_counter()
                window = _union(window, gw)
            if window is not None:
                # the energy balance where its inputs changed; Tmrt also where the ground seen changed
                r0, r1, c0, c1 = window
                inside = np.flatnonzero(energy_in[r0:r1, c0:c1].ravel())
                cells = (inside // (c1 - c0) + r0) * shape[1] + inside % (c1 - c0) + c0
                energy_window = window
                window = self._surface_and_tmrt(st, window, energy_cells=cells)
        t3 = time.perf_counter()
        air_w = self._air(st, qf, full=False, energy_window=energy_window)
        st.qf = qf
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
    @staticmethod
    def _kpi_index(hours: Sequence[int]) -> int:
        """Index of the hour the instantaneous key figures are for: 15:00 when computed, else the last."""
        return list(hours).index(15) if 15 in hours else len(hours) - 1

    def _kpis(self, st: EngineState, cost_eur: float) -> dict[str, float]:
        hours = st.hours
        k = self._kpi_index(hours)
        ground = self.district.building_index < 0
        u = st.utci[k][ground]
        strong = self.params["strong_heat_stress_utci_c"]
        out = {
            "kpi_hour": float(hours[k]),
            "utci_mean_c": float(u.mean()), "utci_p95_c": float(np.percentile(u, 95)),
            "tmrt_mean_c": float(st.tmrt[k][ground].mean()),
            "air_temp_mean_c": float(st.air[k][ground].mean()),
            "uhi_intensity_k": float(st.air[k][ground].mean() - self.weather.air_temp_c[hours[k]]),
            "surface_temp_mean_c": float(st.energy.surface_temp_c[k][ground].mean()),
            "strong_heat_stress_area_share": float((u >= strong).mean()),
            "cost_eur": float(cost_eur),
        }
        for kk, h in enumerate(hours):
            uhi = core_minus_open_k(st.air[kk], self.core, self.open_land, float(self.weather.air_temp_c[h]))
            if math.isfinite(uhi):
                out[f"uhi_core_open_k_{h:02d}"] = uhi
                if kk == k:
                    out["uhi_core_open_k"] = uhi
        if self.coolest_hour in hours:  # the night's minimum: air at the coolest hour of the reference
            night = st.air[hours.index(self.coolest_hour)]
            out["tropical_night_area_share"] = float((night[ground] >= TROPICAL_NIGHT_C).mean())
        cells, bidx, res = self.exposure
        if cells.size and res.sum() > 0:
            nb = len(res)
            n_cells = np.bincount(bidx, minlength=nb)
            has = n_cells > 0
            hours_strong = np.zeros(nb)
            for kk in range(len(hours)):
                ub = np.bincount(bidx, weights=st.utci[kk].ravel()[cells], minlength=nb) / np.maximum(n_cells, 1)
                hours_strong += has & (ub >= strong)
                if kk == k:
                    out["utci_resident_weighted_c"] = float((res * ub)[has].sum() / max(res[has].sum(), 1.0))
            out["strong_heat_stress_hours_per_resident"] = float((res * hours_strong).sum() / max(res[has].sum(), 1.0))
            out["residents_exposed"] = float(res[has].sum())
            if self.coolest_hour in hours:
                night = st.air[hours.index(self.coolest_hour)].ravel()[cells]
                nb_night = np.bincount(bidx, weights=night, minlength=nb) / np.maximum(n_cells, 1)
                out["tropical_night_residents"] = float(res[has & (nb_night >= TROPICAL_NIGHT_C)].sum())
        return out

    def _with_baseline(self, kpis: dict[str, float], hours: tuple[int, ...]) -> dict[str, float]:
        base = self._baseline[hours]
        out = dict(kpis)
        for name, diff in (("air_temp_mean_c", "air_temp_diff_to_baseline_k"), ("utci_mean_c", "utci_diff_to_baseline_k"),
                           ("utci_p95_c", "utci_p95_diff_to_baseline_k"), ("tmrt_mean_c", "tmrt_diff_to_baseline_k"),
                           ("strong_heat_stress_hours_per_resident", "strong_heat_stress_hours_per_resident_diff"),
                           ("uhi_core_open_k", "uhi_core_open_diff_to_baseline_k"),
                           ("tropical_night_residents", "tropical_night_residents_diff")):
            if name in base and name in kpis:
                out[diff] = kpis[name] - base[name]
        cost = kpis["cost_eur"]
        cooling = -(kpis["utci_mean_c"] - base["utci_mean_c"])
        out["cooling_utci_k_per_1000_eur"] = cooling / cost * 1000.0 if cost > 0 else 0.0
        out["cooling_air_k_per_1000_eur"] = -(kpis["air_temp_mean_c"] - base["air_temp_mean_c"]) / cost * 1000.0 if cost > 0 else 0.0
        return out

    # ---- public ----------------------------------------------------------------------------------
    def compute(self, interventions: Sequence[Intervention], *, hours: Sequence[int] = (15,),
                anthropogenic_heat_w_m2: np.ndarray | None = None, full: bool = False,
                early: Callable[[int, np.ndarray], None] | None = None) -> HeatResult:
        """Fields and KPIs of the scenario District + ``interventions`` at the local ``hours``.

        Parameters
        ----------
        interventions : heat interventions (other kinds are skipped), applied in order.
        hours : local clock hours 0..23 of the Weather's day.
        anthropogenic_heat_w_m2 : (rows, cols) float, extra sensible heat into the air (traffic,
            buildings), W/m2; None for none.
        full : recompute everything instead of the window the edit reaches.
        early : called with the key figures' hour and its UTCI (rows, cols), a view to read at once,
            as soon as the fields are computed and before the key figures and the copies returned.

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
        surf = self._apply(interventions)
        t: dict[str, float] = {"apply": time.perf_counter() - t_start}
        st = self._state
        if full or st is None or st.hours != hrs:
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
        if early is not None:
            k = self._kpi_index(hrs)
            early(hrs[k], st.utci[k])
        t0 = time.perf_counter()
        kpis = self._with_baseline(self._kpis(st, surf.cost_eur), hrs)
        idx = list(hrs)
        assert st.svf is not None
        fields = {"utci_c": st.utci.copy(), "tmrt_c": st.tmrt.copy(), "surface_temp_c": st.energy.surface_temp_c.copy(),
                  "air_temp_c": st.air.copy(), "sunlit": st.sunlit24[idx], "svf": st.svf.copy()}
        t["kpis"] = time.perf_counter() - t0
        t["total"] = time.perf_counter() - t_start
        return HeatResult(hrs, fields, kpis, window, t)


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
                    params: HeatParams | None = None, utci: bool = True,
                    classes: dict[str, np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Shadows, sky view, surface temperature, Tmrt (and UTCI at the weather's air temperature) on
    bare rasters, as SOLWEIG computes them from a DSM, an optional canopy DSM and DEM.

    Parameters
    ----------
    dsm_m : (rows, cols) float, terrain and buildings, metres. cell_m : cell size, metres.
    lonlat : position of the raster centre (degrees), for the sun.
    canopy_m : (rows, cols) canopy height above ground (UMEP's CDSM convention), or None.
    ground_m : (rows, cols) terrain (DEM); cells more than 2 m above it are roofs. Without it all
        cells are ground.
    classes : the per-class tables of ``class_tables`` (default), e.g. with other radiative
        properties of the paving the ground is made of.

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
    hrs = tuple(int(h) for h in hours)
    st = PipelineState.empty(HeatSurfaces(dsm, can, surface, None, 0.0), top, trunk, hrs)
    rows, cols = dsm.shape
    t0 = time.perf_counter()
    shade(st, sun, p, cell_m, {h: (0, rows, 0, cols) for h in sun.daylight_hours()})
    t["shadows"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sky_view(st, p, cell_m, None)
    t["svf"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    forcing = hourly_forcing(weather, sun, p)
    tables = class_tables(p) if classes is None else classes
    surface_and_tmrt(st, sun=sun, classes=tables, forcing=forcing, params=p, energy=energy_kwargs(p, weather),
                     window=None)
    t["energy_tmrt"] = time.perf_counter() - t0
    assert st.svf is not None
    idx = list(hrs)
    fields = {"sunlit": st.sunlit24[idx], "svf": st.svf, "surface_temp_c": st.energy.surface_temp_c, "tmrt_c": st.tmrt}
    if utci:
        t0 = time.perf_counter()
        fields["utci_c"] = np.stack([utci_field(np.full((rows, cols), weather.air_temp_c[h], np.float32), st.tmrt[k],
                                                float(weather.wind_speed_m_s[h]), _vapour_hpa(weather, h), p)
                                     for k, h in enumerate(hrs)])
        t["utci"] = time.perf_counter() - t0
    return fields, t
