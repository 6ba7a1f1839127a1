"""The files of a tiled heat run (``models.heat.tiled``): layer names, the manifest ``tiled.json`` and the
run's error type. No kernels here, so that readers of finished runs (the server) need no Taichi."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["FIELDS", "AIR_FIELDS", "LAYERS", "MANIFEST", "TiledHeatError", "read_manifest"]

FIELDS = ("sunlit", "svf", "surface_temp_c", "tmrt_c")
AIR_FIELDS = ("air_temp_c", "utci_c")
LAYERS = (*FIELDS, *AIR_FIELDS, "q_h_air_grid")
MANIFEST = "tiled.json"


class TiledHeatError(ValueError):
    """A tiled run that cannot be done (memory limit too small, bad hours); ``de`` / ``en`` messages."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.de = de
        self.en = en


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a tiled run's folder (hours, grid, layers); ``TiledHeatError`` if absent or broken."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TiledHeatError(f"{path} fehlt: kein Ergebnis einer Kachelrechnung",
                             f"{path} missing: not the output of a tiled run") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TiledHeatError(f"{path} nicht lesbar ({exc})", f"{path} unreadable") from None
    if not isinstance(data, dict) or not isinstance(data.get("hours"), list) or not isinstance(data.get("layers"), list):
        raise TiledHeatError(f"{path}: unerwarteter Inhalt", f"{path}: unexpected content")
    return data
