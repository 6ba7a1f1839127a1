"""Heat of a district larger than memory, tile by tile, stitched into Cloud-Optimised GeoTIFFs.

Each tile is its core plus a halo on every side, cut from the scenario's rasters; the radiation pipeline
of ``models.heat.pipeline`` (the one ``HeatEngine`` runs) computes shadows, sky view, the surface energy
balance and Tmrt on it, and the core is written into the output. The halo is wide enough that the core
sees everything it would see in an untiled run:

- shadows: nothing farther than min(shadow reach cap, (highest top - lowest surface) / tan(lowest
  daylight sun elevation)) can shade a cell;
- sky view: the scan stops at ``svf_radius_m``;
- surface energy balance and Tmrt are local to each cell.

So ``sunlit``, ``svf``, ``surface_temp_c`` and ``tmrt_c`` equal the untiled run to float rounding.
The near-surface air temperature is different: the air model is one advection-diffusion solve over the
whole district on a coarse grid, spin-up from the rural reference, whose sources combine the surface
flux with wall and building heat inside ``HeatEngine``; its domain of dependence spans the whole
district, so no halo short of the whole district makes a tile's air exact. The tiled run writes the
coarse-grid sum of the surface's sensible heat flux (``q_h_air_grid``), exact, for that solve; air
temperature and UTCI are not stitched here.

Memory: the District's rasters (about 17 bytes a cell) stay in memory; a tile's pipeline state is about
``bytes_per_cell(n_hours)`` per tile cell. ``plan_tiles`` chooses the largest tile whose state fits the
budget left under ``max_memory_bytes``.
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geodata.apply_heat import HeatSurfaces, apply_heat_interventions
from geodata.canopy import canopy_tops
from geodata.district import District
from geodata.files import atomic_dir
from geodata.interventions import Intervention
from geodata.weather import Weather
from models.heat.engine import HeatEngine
from models.heat.params import HeatParams
from models.heat.pipeline import shade, sky_view, surface_and_tmrt
from models.heat.state import PipelineState

__all__ = ["TilePlan", "TiledResult", "halo_cells", "bytes_per_cell", "plan_tiles", "run_tiled", "peak_rss_bytes",
           "TiledHeatError"]

FIELDS = ("sunlit", "svf", "surface_temp_c", "tmrt_c")
MIN_CORE = 16


class TiledHeatError(ValueError):
    """A tiled run that cannot be done (memory limit too small, bad hours); ``de`` / ``en`` messages."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.de = de
        self.en = en


def bytes_per_cell(n_hours: int) -> int:
    """Memory of the pipeline state per tile cell: 24-hour sunlit fractions (2 x 24 float32), sky view,
    crown surfaces and inputs (about 12 float32), Tmrt and five energy fields per hour, with a factor 1.5
    for the kernels' temporaries and the tile's copies on the way out."""
    return int(1.5 * 4 * (48 + 12 + 6 * n_hours))


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def halo_cells(surf: HeatSurfaces, top_m: np.ndarray, sun_elevation_deg: Sequence[float], params: HeatParams,
               cell_m: float) -> tuple[int, int]:
    """(shadow halo, sky-view halo) in cells for the scenario's surfaces and the day's sun."""
    el = min(float(e) for e in sun_elevation_deg)
    rise = float(max(surf.dsm_m.max(), top_m.max())) - float(surf.dsm_m.min())
    reach = min(float(params["shadow_max_reach_m"]), max(rise, 0.0) / math.tan(math.radians(max(el, 0.1))))
    return int(math.ceil(reach / cell_m)) + 2, int(math.ceil(float(params["svf_radius_m"]) / cell_m)) + 2


@dataclass(frozen=True)
class TilePlan:
    """Tiles of ``core`` cells (the last ones smaller) with ``halo`` cells on each side."""

    rows: int
    cols: int
    core: int
    halo: int

    def tiles(self) -> list[tuple[int, int, int, int]]:
        """Core windows (r0, r1, c0, c1), row-major."""
        return [(r, min(r + self.core, self.rows), c, min(c + self.core, self.cols))
                for r in range(0, self.rows, self.core) for c in range(0, self.cols, self.core)]

    def padded(self, w: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return (max(w[0] - self.halo, 0), min(w[1] + self.halo, self.rows), max(w[2] - self.halo, 0),
                min(w[3] + self.halo, self.cols))


def plan_tiles(shape: tuple[int, int], halo: int, n_hours: int, *, max_memory_bytes: int | None,
               core: int | None = None, align: int = 1, in_use_bytes: int = 0) -> TilePlan:
    """The tile plan: ``core`` if given, else the largest core (a multiple of ``align``) whose padded
    tile state fits ``max_memory_bytes - in_use_bytes``; the whole grid when no limit is given."""
    rows, cols = shape
    if core is None:
        if max_memory_bytes is None:
            core = max(rows, cols)
        else:
            budget = max_memory_bytes - in_use_bytes
            side = int(math.isqrt(max(budget, 0) // bytes_per_cell(n_hours))) if budget > 0 else 0
            core = (side - 2 * halo) // align * align
            if core < MIN_CORE:
                need = (in_use_bytes + bytes_per_cell(n_hours) * (2 * halo + max(MIN_CORE, align)) ** 2) / 2**20
                raise TiledHeatError(f"--max-memory zu klein: mindestens {need:.0f} MiB nötig (Rand {halo} Zellen)",
                                     f"--max-memory too small: at least {need:.0f} MiB needed (halo {halo} cells)")
    core = max(align, int(core) // align * align)  # cores on whole air cells: the coarse sums stay exact
    return TilePlan(rows, cols, min(core, max(rows, cols)), halo)


@dataclass
class TiledResult:
    """Where the COGs were written, the plan, and the figures of the run."""

    out: Path
    plan: TilePlan
    hours: tuple[int, ...]
    seconds: float
    cells: int
    peak_rss_bytes: int
    files: list[str] = field(default_factory=list)

    @property
    def cells_per_second(self) -> float:
        return self.cells / self.seconds if self.seconds > 0 else float("inf")


class _Writers:
    """Tiled GeoTIFFs written window by window, converted to COGs at the end."""

    def __init__(self, folder: Path, district: District, hours: tuple[int, ...], air_shape: tuple[int, int],
                 air_cell_m: float) -> None:
        import rasterio
        from rasterio.transform import Affine

        g = district.grid
        self.folder = folder
        t = Affine(*g.affine_utm(district.frame))
        common = dict(driver="GTiff", tiled=True, blockxsize=256, blockysize=256, dtype="float32",
                      crs=f"EPSG:{district.frame.epsg}", BIGTIFF="IF_SAFER")
        self.ds = {}
        for name in FIELDS:
            n = 1 if name == "svf" else len(hours)
            self.ds[name] = rasterio.open(folder / f".{name}.tif", "w", height=g.rows, width=g.cols, count=n,
                                          transform=t, **common)
            for b in range(n):
                self.ds[name].set_band_description(b + 1, name if name == "svf" else f"{name} {hours[b]:02d}:00")
        ta = Affine(air_cell_m, 0.0, t.c, 0.0, -air_cell_m, t.f)
        self.air = rasterio.open(folder / ".q_h_air_grid.tif", "w", height=air_shape[0], width=air_shape[1],
                                 count=len(hours), transform=ta, **common)
        self.q_air = np.zeros((len(hours), *air_shape), np.float64)

    def write(self, name: str, arr: np.ndarray, w: tuple[int, int, int, int]) -> None:
        from rasterio.windows import Window

        win = Window(w[2], w[0], w[3] - w[2], w[1] - w[0])
        a = arr if arr.ndim == 3 else arr[None]
        self.ds[name].write(np.ascontiguousarray(a, np.float32), window=win)

    def finish(self) -> list[str]:
        from rasterio.shutil import copy as rio_copy

        self.air.write(self.q_air.astype(np.float32))
        out = []
        for name, ds in [*self.ds.items(), ("q_h_air_grid", self.air)]:
            ds.close()
            src = self.folder / f".{name}.tif"
            rio_copy(src, self.folder / f"{name}.tif", driver="COG", compress="DEFLATE", predictor=3,
                     overview_resampling="average", BIGTIFF="IF_SAFER")
            src.unlink()
            out.append(f"{name}.tif")
        return out

    def close(self) -> None:
        for ds in [*self.ds.values(), self.air]:
            if not ds.closed:
                ds.close()


def run_tiled(district: District, out: str | Path, *, interventions: Sequence[Intervention] = (),
              hours: Sequence[int] = (15,), weather: Weather | None = None, params: HeatParams | None = None,
              max_memory_bytes: int | None = None, core_cells: int | None = None, halo_cells_override: int | None = None,
              on_tile: Callable[[int, int], None] | None = None) -> TiledResult:
    """Run the District (with ``interventions``) tile by tile and write ``sunlit``, ``svf``,
    ``surface_temp_c``, ``tmrt_c`` (one band per hour) and ``q_h_air_grid`` (W/m2 summed over each
    air cell) as COGs into the folder ``out``, all at once.

    ``max_memory_bytes`` bounds the process's resident memory by the tile size (see ``plan_tiles``);
    ``core_cells`` fixes the tile core instead; ``halo_cells_override`` replaces the computed halo (for
    tests that show a too-narrow halo is wrong). ``on_tile(done, total)`` after each tile.
    """
    t0 = time.perf_counter()
    hrs = tuple(int(h) for h in hours)
    if not hrs or any(h < 0 or h > 23 for h in hrs) or len(set(hrs)) != len(hrs):
        raise TiledHeatError(f"Stunden müssen verschiedene Werte 0..23 sein: {hrs}", f"hours must be distinct 0..23: {hrs}")
    p = params or HeatParams.default()
    eng = HeatEngine(district, weather=weather, params=p)  # the sun, forcing and class tables of the untiled run
    sun, classes, forcing, energy, daylight = eng.sun, eng.classes, eng.forcing, eng.energy_kwargs, eng.daylight
    del eng
    surf = apply_heat_interventions(district, interventions, park_tree_height_m=p["park_tree_height_m"],
                                    park_tree_crown_m=p["park_tree_crown_m"])
    g = district.grid
    cell = g.cell_m
    top_all, _ = canopy_tops(district.terrain_m, surf.canopy_m, p["trunk_ratio"])
    sh, sv = halo_cells(surf, top_all, [sun.elevation_deg[h] for h in daylight], p, cell)
    del top_all
    halo = max(sh, sv) if halo_cells_override is None else int(halo_cells_override)
    f_air = max(1, int(round(p["air_cell_m"] / cell)))
    plan = plan_tiles(g.shape, halo, len(hrs), max_memory_bytes=max_memory_bytes, core=core_cells, align=f_air,
                      in_use_bytes=_rss_bytes() + 64 * 2**20)
    air_shape = (-(-g.rows // f_air), -(-g.cols // f_air))

    def write(folder: Path) -> list[str]:
        wr = _Writers(folder, district, hrs, air_shape, f_air * cell)
        try:
            tiles = plan.tiles()
            for i, w in enumerate(tiles):
                pw = plan.padded(w)
                sl = (slice(pw[0], pw[1]), slice(pw[2], pw[3]))
                tsurf = HeatSurfaces(np.ascontiguousarray(surf.dsm_m[sl]), np.ascontiguousarray(surf.canopy_m[sl]),
                                     np.ascontiguousarray(surf.surface_class[sl]), None, 0.0)
                top, trunk = canopy_tops(district.terrain_m[sl], tsurf.canopy_m, p["trunk_ratio"])
                st = PipelineState.empty(tsurf, top, trunk, hrs)
                full = (0, pw[1] - pw[0], 0, pw[3] - pw[2])
                shade(st, sun, p, cell, {h: full for h in daylight})
                sky_view(st, p, cell, None)
                surface_and_tmrt(st, sun=sun, classes=classes, forcing=forcing, params=p, energy=energy, window=None)
                core = (slice(w[0] - pw[0], w[1] - pw[0]), slice(w[2] - pw[2], w[3] - pw[2]))
                assert st.svf is not None
                wr.write("sunlit", st.sunlit24[list(hrs)][:, core[0], core[1]], w)
                wr.write("svf", st.svf[core], w)
                wr.write("surface_temp_c", st.energy.surface_temp_c[:, core[0], core[1]], w)
                wr.write("tmrt_c", st.tmrt[:, core[0], core[1]], w)
                _add_air_sums(wr.q_air, st.energy.q_h[:, core[0], core[1]], w, f_air)
                del st, top, trunk, tsurf
                if on_tile is not None:
                    on_tile(i + 1, len(tiles))
            files.extend(wr.finish())
        finally:
            wr.close()
        return files

    files: list[str] = []
    target = atomic_dir(out, write)
    return TiledResult(target, plan, hrs, time.perf_counter() - t0, g.rows * g.cols, peak_rss_bytes(), files)


def _add_air_sums(acc: np.ndarray, q_h: np.ndarray, w: tuple[int, int, int, int], f: int) -> None:
    """Add the tile core's flux (hours, r, c) into the coarse sums ``acc`` (hours, R, C) of f x f cells."""
    nk, nr, nc = q_h.shape
    ar, ac = w[0] // f, w[2] // f
    pr, pc = (-nr) % f, (-nc) % f
    padded = np.pad(q_h.astype(np.float64), ((0, 0), (0, pr), (0, pc)))
    sums = padded.reshape(nk, (nr + pr) // f, f, (nc + pc) // f, f).sum(axis=(2, 4))
    acc[:, ar:ar + sums.shape[1], ac:ac + sums.shape[2]] += sums
