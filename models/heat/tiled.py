"""Heat of a district larger than memory, tile by tile, stitched into Cloud-Optimised GeoTIFFs.

Each tile is its core plus a halo on every side, cut from the scenario's rasters; the radiation pipeline
of ``models.heat.pipeline`` (the one ``HeatEngine`` runs) computes shadows, sky view, the surface energy
balance and Tmrt on it, and the core is written into the output. The halo is wide enough that the core
sees everything it would see in an untiled run:

- shadows: nothing farther than min(shadow reach cap, (highest top - lowest surface) / tan(lowest
  daylight sun elevation)) can shade a cell;
- sky view: the scan stops at ``svf_radius_m``;
- the surface energy balance is local to each cell; Tmrt sees the ground within ``ground_view_radius_m``.

So ``sunlit``, ``svf``, ``surface_temp_c`` and ``tmrt_c`` equal the untiled run to float rounding.
The near-surface air temperature is different: the air model is one advection-diffusion solve over the
whole district on a coarse grid, whose sources combine the surface flux with crown, wall and building
heat inside ``HeatEngine``; its domain of dependence spans the whole district, so no halo short of the
whole district makes a tile's air exact. So the tiles add the surface's sensible heat flux into the
coarse-grid sums (``q_h_air_grid``, exact because tile cores lie on whole air cells), and
``air_and_utci`` then solves the coarse air field once from those sums (``HeatEngine.air_from_sums``,
the same solve as the untiled run; the coarse grid is ``air_cell_m`` wide, a few hundred KiB even for a
10 x 10 km town) and, tile by tile, interpolates it onto the cells (``air_temp_c``) and computes UTCI from
it and the written Tmrt (``utci_c``). Both equal the untiled run to float rounding.

Memory: the District's rasters (about 17 bytes a cell) stay in memory; a tile's pipeline state is about
``bytes_per_cell(n_hours)`` per tile cell. ``plan_tiles`` chooses the largest tile whose state fits the
budget left under ``max_memory_bytes``.
"""

from __future__ import annotations

import json
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
from models.heat.pipeline import ground_view_radius_cells, shade, sky_view, surface_and_tmrt
from models.heat.state import PipelineState
from models.heat.tiled_files import AIR_FIELDS, FIELDS, LAYERS, MANIFEST, TiledHeatError, read_manifest

__all__ = ["TilePlan", "TiledResult", "halo_cells", "bytes_per_cell", "plan_tiles", "run_tiled", "peak_rss_bytes",
           "TiledHeatError", "air_and_utci", "read_manifest", "LAYERS", "MANIFEST"]

GDAL_CACHE_MB = 64  # GDAL's block cache while writing (its default is 5 % of the machine's memory)
UTCI_BLOCK_CELLS = 1 << 18  # UTCI in blocks of this many cells: its polynomial's temporaries, about 220 B a cell
MIN_CORE = 16


def bytes_per_cell(n_hours: int) -> int:
    """Memory of the pipeline state per tile cell: 24-hour sunlit fractions (2 x 24 float32), sky view,
    crown surfaces and inputs (about 12 float32), Tmrt and five energy fields per hour, with a factor 2.5
    for the kernels' temporaries, the memory the allocator keeps between tiles and the tile's copies on the
    way out (measured: about 535 bytes a cell at one hour on a 10 x 10 km run, against 660 here)."""
    return int(2.5 * 4 * (48 + 12 + 6 * n_hours))


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
    """(shadow halo, sky-view halo) in cells for the scenario's surfaces and the day's sun, each
    widened by the ground a person sees around a cell (Tmrt reads the cells that far off)."""
    el = min(float(e) for e in sun_elevation_deg)
    rise = float(max(surf.dsm_m.max(), top_m.max())) - float(surf.dsm_m.min())
    reach = min(float(params["shadow_max_reach_m"]), max(rise, 0.0) / math.tan(math.radians(max(el, 0.1))))
    g = ground_view_radius_cells(params, cell_m)
    return int(math.ceil(reach / cell_m)) + 2 + g, int(math.ceil(float(params["svf_radius_m"]) / cell_m)) + 2 + g


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
    air_seconds: float = 0.0  # of ``seconds``: the air solve and UTCI pass

    @property
    def cells_per_second(self) -> float:
        return self.cells / self.seconds if self.seconds > 0 else float("inf")


class _Writers:
    """Tiled GeoTIFFs written window by window (hidden names), converted to COGs at the end."""

    def __init__(self, folder: Path, district: District) -> None:
        from rasterio.transform import Affine

        self.folder = folder
        self.transform = Affine(*district.grid.affine_utm(district.frame))
        self.crs = f"EPSG:{district.frame.epsg}"
        self.shape = district.grid.shape
        self.ds: dict[str, object] = {}

    def open(self, name: str, descriptions: Sequence[str], *, shape: tuple[int, int] | None = None,
             cell_m: float | None = None) -> None:
        import rasterio
        from rasterio.transform import Affine

        t = self.transform
        if cell_m is not None:
            t = Affine(cell_m, 0.0, t.c, 0.0, -cell_m, t.f)
        rows, cols = shape or self.shape
        ds = rasterio.open(self.folder / f".{name}.tif", "w", driver="GTiff", tiled=True, blockxsize=256,
                           blockysize=256, dtype="float32", crs=self.crs, BIGTIFF="IF_SAFER", height=rows, width=cols,
                           count=len(descriptions), transform=t)
        for b, text in enumerate(descriptions):
            ds.set_band_description(b + 1, text)
        self.ds[name] = ds

    def write(self, name: str, arr: np.ndarray, w: tuple[int, int, int, int]) -> None:
        from rasterio.windows import Window

        win = Window(w[2], w[0], w[3] - w[2], w[1] - w[0])
        a = arr if arr.ndim == 3 else arr[None]
        self.ds[name].write(np.ascontiguousarray(a, np.float32), window=win)  # type: ignore[attr-defined]

    def write_all(self, name: str, arr: np.ndarray) -> None:
        self.ds[name].write(np.ascontiguousarray(arr, np.float32))  # type: ignore[attr-defined]

    def finish(self) -> list[str]:
        """Close every file and convert it into a COG under its own name; the names written."""
        from rasterio.shutil import copy as rio_copy

        out = []
        for name, ds in self.ds.items():
            ds.close()  # type: ignore[attr-defined]
            src = self.folder / f".{name}.tif"
            rio_copy(src, self.folder / f".{name}.cog.tif", driver="COG", compress="DEFLATE", predictor=3,
                     overview_resampling="average", BIGTIFF="IF_SAFER")
            src.unlink()
            os.replace(self.folder / f".{name}.cog.tif", self.folder / f"{name}.tif")
            out.append(f"{name}.tif")
        self.ds = {}
        return out

    def close(self) -> None:
        for name, ds in self.ds.items():
            if not ds.closed:  # type: ignore[attr-defined]
                ds.close()  # type: ignore[attr-defined]
            (self.folder / f".{name}.tif").unlink(missing_ok=True)
            (self.folder / f".{name}.cog.tif").unlink(missing_ok=True)


def _band_names(name: str, hours: Sequence[int]) -> list[str]:
    return [name] if name == "svf" else [f"{name} {h:02d}:00" for h in hours]


def _write_manifest(folder: Path, data: dict) -> None:
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


def run_tiled(district: District, out: str | Path, *, interventions: Sequence[Intervention] = (),
              hours: Sequence[int] = (15,), weather: Weather | None = None, params: HeatParams | None = None,
              max_memory_bytes: int | None = None, core_cells: int | None = None, halo_cells_override: int | None = None,
              air: bool = True, on_tile: Callable[[int, int], None] | None = None) -> TiledResult:
    """Run the District (with ``interventions``) tile by tile and write ``sunlit``, ``svf``,
    ``surface_temp_c``, ``tmrt_c`` (one band per hour), ``q_h_air_grid`` (W/m2 summed over each air cell)
    and, with ``air``, ``air_temp_c`` and ``utci_c`` (``air_and_utci``) as COGs into the folder ``out``,
    with a manifest ``tiled.json``, all at once.

    ``max_memory_bytes`` bounds the process's resident memory by the tile size (see ``plan_tiles``);
    ``core_cells`` fixes the tile core instead; ``halo_cells_override`` replaces the computed halo (for
    tests that show a too-narrow halo is wrong). ``on_tile(done, total)`` after each tile (the air and
    UTCI pass counts its tiles too).
    """
    t0 = time.perf_counter()
    hrs = tuple(int(h) for h in hours)
    if not hrs or any(h < 0 or h > 23 for h in hrs) or len(set(hrs)) != len(hrs):
        raise TiledHeatError(f"Stunden müssen verschiedene Werte 0..23 sein: {hrs}", f"hours must be distinct 0..23: {hrs}")
    p = params or HeatParams.default()
    eng = HeatEngine(district, weather=weather, params=p)  # the sun, forcing and class tables of the untiled run
    sun, classes, forcing, energy, daylight = eng.sun, eng.classes, eng.forcing, eng.energy_kwargs, eng.daylight
    del eng  # its district-sized tables are rebuilt for the air pass, after the tiles have gone
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
                      in_use_bytes=_rss_bytes() + (64 + GDAL_CACHE_MB) * 2**20)
    air_shape = (-(-g.rows // f_air), -(-g.cols // f_air))
    tiles = plan.tiles()
    total = len(tiles) * (2 if air else 1)

    def write(folder: Path) -> list[str]:
        wr = _Writers(folder, district)
        try:
            for name in FIELDS:
                wr.open(name, _band_names(name, hrs))
            wr.open("q_h_air_grid", _band_names("q_h_air_grid", hrs), shape=air_shape, cell_m=f_air * cell)
            q_air = np.zeros((len(hrs), *air_shape), np.float64)
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
                _add_air_sums(q_air, st.energy.q_h[:, core[0], core[1]], w, f_air)
                del st, top, trunk, tsurf
                if on_tile is not None:
                    on_tile(i + 1, total)
            wr.write_all("q_h_air_grid", q_air)
            files.extend(wr.finish())
        finally:
            wr.close()
        layers = [f.removesuffix(".tif") for f in files]
        _write_manifest(folder, {"district": district.name, "hours": list(hrs), "rows": g.rows, "cols": g.cols,
                                 "cell_m": cell, "epsg": district.frame.epsg, "air_cell_m": f_air * cell,
                                 "tile_core_cells": plan.core, "halo_cells": plan.halo, "layers": layers,
                                 "interventions": len(interventions)})
        if air:
            ta = time.perf_counter()
            files.extend(air_and_utci(district, folder, interventions=interventions, weather=weather, params=p,
                                      core_cells=plan.core, surfaces=surf,
                                      on_tile=None if on_tile is None else lambda i, n: on_tile(len(tiles) + i, total)))
            air_s[0] = time.perf_counter() - ta
        return files

    files: list[str] = []
    air_s = [0.0]
    import rasterio

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):  # written blocks leave GDAL's cache early
        target = atomic_dir(out, write)
    return TiledResult(target, plan, hrs, time.perf_counter() - t0, g.rows * g.cols, peak_rss_bytes(), files,
                       air_s[0])


def air_and_utci(district: District, folder: str | Path, *, interventions: Sequence[Intervention] = (),
                 weather: Weather | None = None, params: HeatParams | None = None, core_cells: int | None = None,
                 surfaces: HeatSurfaces | None = None,
                 on_tile: Callable[[int, int], None] | None = None) -> list[str]:
    """Air temperature and UTCI of a tiled run's folder (written by ``run_tiled`` for the same District,
    ``interventions``, ``weather`` and ``params``): the coarse air field is solved once from the stitched
    sums ``q_h_air_grid``, then ``air_temp_c`` and ``utci_c`` (one band per hour) are computed and written
    tile by tile (cores of ``core_cells``, default the run's), as COGs, each file renamed into place when
    complete, and the manifest updated. Returns the names written.

    Memory: the coarse field, one tile's air, Tmrt and UTCI, and UTCI's temporaries in blocks of
    ``UTCI_BLOCK_CELLS`` cells."""
    import rasterio

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        return _air_and_utci(district, Path(folder), interventions, weather, params, core_cells, surfaces, on_tile)


def _air_and_utci(district: District, folder: Path, interventions: Sequence[Intervention], weather: Weather | None,
                  params: HeatParams | None, core_cells: int | None, surfaces: HeatSurfaces | None,
                  on_tile: Callable[[int, int], None] | None) -> list[str]:
    import rasterio
    from rasterio.windows import Window

    man = read_manifest(folder)
    hrs = tuple(int(h) for h in man["hours"])
    g = district.grid
    if (man.get("rows"), man.get("cols"), man.get("cell_m")) != (g.rows, g.cols, g.cell_m):
        raise TiledHeatError(f"{folder}: Raster passt nicht zum Gebiet {district.name}",
                             f"{folder}: grid does not match the district {district.name}")
    p = params or HeatParams.default()
    if surfaces is None:
        surfaces = apply_heat_interventions(district, interventions, park_tree_height_m=p["park_tree_height_m"],
                                            park_tree_crown_m=p["park_tree_crown_m"])
    eng = HeatEngine(district, weather=weather, params=p)
    with rasterio.open(folder / "q_h_air_grid.tif") as src:
        sums = src.read().astype(np.float32)
    thetas = eng.air_from_sums(list(sums), hrs, surfaces.canopy_m)
    del sums
    plan = TilePlan(g.rows, g.cols, int(core_cells or man.get("tile_core_cells") or max(g.rows, g.cols)), 0)
    tiles = plan.tiles()
    wr = _Writers(folder, district)
    try:
        for name in AIR_FIELDS:
            wr.open(name, _band_names(name, hrs))
        with rasterio.open(folder / "tmrt_c.tif") as tmrt_src:
            for i, w in enumerate(tiles):
                air = eng.air_window(thetas, hrs, w)
                wr.write("air_temp_c", air, w)
                tmrt = tmrt_src.read(window=Window(w[2], w[0], w[3] - w[2], w[1] - w[0]))
                utci = np.empty_like(air)
                n_rows = max(1, UTCI_BLOCK_CELLS // max(w[3] - w[2], 1))
                for k, h in enumerate(hrs):
                    for r in range(0, w[1] - w[0], n_rows):
                        utci[k, r:r + n_rows] = eng.utci_at(air[k, r:r + n_rows], tmrt[k, r:r + n_rows], h)
                wr.write("utci_c", utci, w)
                del air, tmrt, utci
                if on_tile is not None:
                    on_tile(i + 1, len(tiles))
        written = wr.finish()
    finally:
        wr.close()
    man["layers"] = [*[x for x in man["layers"] if x not in AIR_FIELDS], *AIR_FIELDS]
    _write_manifest(folder, man)
    return written


def _add_air_sums(acc: np.ndarray, q_h: np.ndarray, w: tuple[int, int, int, int], f: int) -> None:
    """Add the tile core's flux (hours, r, c) into the coarse sums ``acc`` (hours, R, C) of f x f cells."""
    nk, nr, nc = q_h.shape
    ar, ac = w[0] // f, w[2] // f
    pr, pc = (-nr) % f, (-nc) % f
    padded = np.pad(q_h.astype(np.float64), ((0, 0), (0, pr), (0, pc)))
    sums = padded.reshape(nk, (nr + pr) // f, f, (nc + pc) // f, f).sum(axis=(2, 4))
    acc[:, ar:ar + sums.shape[1], ac:ac + sums.shape[2]] += sums
