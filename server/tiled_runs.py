"""Tiled heat runs served to the viewers: the COGs that ``twin heat-tiles`` writes, read window by window.

A run is a folder ``<data>/tiled/<run>/`` as ``twin heat-tiles NAME --out <data>/tiled/<run>`` writes it
(COGs and ``tiled.json``). A read names the run, the layer, the hour, a window in the layer's own cells
(row 0 north) and a step (every step-th cell, averaged from the COG's overviews): at most
``MAX_WINDOW_PX`` on each side of the answer, so any read is small however large the town. Answers are a
float32 GeoTIFF of the window (the exact cells at step 1, georeferenced) or a coloured PNG for a quick
look. Nothing here writes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.heat.tiled_files import LAYERS, TiledHeatError, read_manifest

__all__ = ["TiledRuns", "TiledReadError", "Window", "MAX_WINDOW_PX", "RUN_PATTERN"]

MAX_WINDOW_PX = 1024
RUN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_RUN = re.compile(RUN_PATTERN)
# colour range of the PNG when none is given (degrees C, or a fraction), as the viewers' legends
_RANGES = {"utci_c": (20.0, 46.0), "tmrt_c": (20.0, 70.0), "surface_temp_c": (15.0, 60.0), "air_temp_c": (20.0, 40.0),
           "svf": (0.0, 1.0), "sunlit": (0.0, 1.0)}


class TiledReadError(ValueError):
    """A refused read: ``status`` 404 (no such run or layer) or 422 (a window or hour out of range)."""

    def __init__(self, de: str, en: str, status: int = 422) -> None:
        super().__init__(f"{de} / {en}")
        self.de, self.en, self.status = de, en, status


@dataclass(frozen=True)
class Window:
    row: int
    col: int
    rows: int
    cols: int
    step: int = 1


class TiledRuns:
    """The tiled runs under ``root`` (``<data>/tiled``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _folder(self, run: str) -> Path:
        if not _RUN.match(run):
            raise TiledReadError(f"ungültiger Name {run!r}", f"invalid run name {run!r}")
        folder = self.root / run
        if not (folder / "tiled.json").is_file():
            raise TiledReadError(f"Kachelrechnung {run!r} nicht gefunden", f"tiled run {run!r} not found", 404)
        return folder

    def manifest(self, run: str) -> dict[str, Any]:
        try:
            man = read_manifest(self._folder(run))
        except TiledHeatError as exc:
            raise TiledReadError(exc.de, exc.en, 404) from None
        return {"run": run, **{k: man[k] for k in ("district", "hours", "rows", "cols", "cell_m", "epsg", "layers")
                               if k in man}}

    def list(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.iterdir()):
            if p.is_dir() and _RUN.match(p.name) and (p / "tiled.json").is_file():
                try:
                    out.append(self.manifest(p.name))
                except TiledReadError:
                    continue  # a broken run is left out of the list, not an error of the list
        return out

    def read(self, run: str, layer: str, hour: int | None, w: Window) -> tuple[np.ndarray, Any, str]:
        """The window's cells (float32, (ceil(rows/step), ceil(cols/step))), its affine transform and CRS."""
        import rasterio
        from rasterio.enums import Resampling
        from rasterio.transform import Affine
        from rasterio.windows import Window as RioWindow

        man = self.manifest(run)
        if layer not in LAYERS or layer not in man["layers"]:
            raise TiledReadError(f"Ebene {layer!r} gibt es in {run!r} nicht (vorhanden: {', '.join(man['layers'])})",
                                 f"layer {layer!r} not in {run!r} (present: {', '.join(man['layers'])})", 404)
        hours = [int(h) for h in man["hours"]]
        if layer == "svf":
            band = 1
        elif hour is None or hour not in hours:
            raise TiledReadError(f"Stunde {hour} nicht berechnet (berechnet: {hours})",
                                 f"hour {hour} not computed (computed: {hours})")
        else:
            band = hours.index(hour) + 1
        if not 1 <= w.step <= 256 or w.rows < 1 or w.cols < 1 or w.row < 0 or w.col < 0:
            raise TiledReadError("Fenster ungültig", "invalid window")
        out_shape = (math.ceil(w.rows / w.step), math.ceil(w.cols / w.step))
        if max(out_shape) > MAX_WINDOW_PX:
            raise TiledReadError(f"Fenster zu groß: höchstens {MAX_WINDOW_PX} Punkte je Seite (step vergrößern)",
                                 f"window too large: at most {MAX_WINDOW_PX} points a side (raise step)")
        with rasterio.open(self._folder(run) / f"{layer}.tif") as src:
            if w.row + w.rows > src.height or w.col + w.cols > src.width:
                raise TiledReadError(f"Fenster außerhalb des Rasters ({src.height} x {src.width} Zellen)",
                                     f"window outside the raster ({src.height} x {src.width} cells)")
            win = RioWindow(w.col, w.row, w.cols, w.rows)
            arr = src.read(band, window=win, out_shape=out_shape, resampling=Resampling.average)
            t = src.transform @ Affine.translation(w.col, w.row) @ Affine.scale(w.cols / out_shape[1], w.rows / out_shape[0])
            return arr.astype(np.float32), t, str(src.crs)

    def geotiff(self, run: str, layer: str, hour: int | None, w: Window) -> bytes:
        """The window as a float32 GeoTIFF (the run's CRS)."""
        from rasterio.io import MemoryFile

        arr, t, crs = self.read(run, layer, hour, w)
        with MemoryFile() as mem:
            with mem.open(driver="GTiff", height=arr.shape[0], width=arr.shape[1], count=1, dtype="float32", crs=crs,
                          transform=t) as ds:
                ds.write(arr, 1)
                ds.set_band_description(1, layer if layer == "svf" else f"{layer} {hour:02d}:00")
            return bytes(mem.read())

    def png(self, run: str, layer: str, hour: int | None, w: Window, vmin: float | None = None,
            vmax: float | None = None) -> bytes:
        """The window coloured (inferno) between ``vmin`` and ``vmax`` (default: the layer's usual range,
        else the window's 2nd to 98th percentile); cells without a value transparent."""
        import io

        from matplotlib import colormaps
        from PIL import Image

        arr, _, _ = self.read(run, layer, hour, w)
        finite = np.isfinite(arr)
        lo, hi = _RANGES.get(layer, (None, None))
        if lo is None or hi is None:
            vals = arr[finite]
            lo, hi = (float(np.percentile(vals, 2)), float(np.percentile(vals, 98))) if vals.size else (0.0, 1.0)
        lo = lo if vmin is None else vmin
        hi = hi if vmax is None else vmax
        if not hi > lo:
            raise TiledReadError("vmax muss größer als vmin sein", "vmax must exceed vmin")
        x = np.clip((np.where(finite, arr, lo) - lo) / (hi - lo), 0.0, 1.0)
        rgba = (colormaps["inferno"](x) * 255).astype(np.uint8)
        rgba[..., 3] = np.where(finite, 255, 0)
        buf = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
        return buf.getvalue()
