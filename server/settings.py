"""Settings in one place: environment variables ``LANDTWIN_*`` and command-line overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "data_dir"]


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data folder (bundles, database, caches): ``override``, ``$LANDTWIN_DATA`` or ``./data``."""
    p = Path(override or os.environ.get("LANDTWIN_DATA") or "data")
    p.mkdir(parents=True, exist_ok=True)
    return p.resolve()


@dataclass(frozen=True)
class Settings:
    data: Path
    db_url: str
    arch: str = "cpu"

    @classmethod
    def from_env(cls, *, data: str | None = None, db_url: str | None = None, arch: str | None = None) -> Settings:
        d = data_dir(data)
        url = db_url or os.environ.get("LANDTWIN_DB") or f"sqlite:///{d / 'landtwin.sqlite'}"
        return cls(data=d, db_url=url, arch=arch or os.environ.get("LANDTWIN_ARCH", "cpu"))
