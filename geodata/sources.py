"""Input files: the one error type for bad input, file checks, content hashes and licences.

Every reader raises :class:`DataError` for bad input; its message names the file and the problem,
German first, then English ("Datei …: … / file …: …").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from geodata.district import SourceInfo

__all__ = ["DataError", "check_file", "sha256_of", "source_info", "LICENCES"]

# Licence by source kind, used when the caller states none.
LICENCES = {
    "osm": "ODbL-1.0 (© OpenStreetMap contributors)",
    "dem": "see the data provider (SRTM: public domain, NASA/USGS)",
    "cityjson": "see the data provider (e.g. dl-de/by-2.0, © GeoBasis-DE)",
    "citygml": "dl-de/by-2.0 (© GeoBasis-DE / LVermGeo Sachsen-Anhalt)",
    "geojson": "see the data provider",
    "geopackage": "see the data provider",
}


class DataError(ValueError):
    """Bad input data; the message names the file and the problem (German / English)."""

    def __init__(self, path: str | Path | None, de: str, en: str) -> None:
        self.path = str(path) if path is not None else None
        self.de = de
        self.en = en
        where_de = f"Datei {self.path}: " if self.path else ""
        where_en = f"file {self.path}: " if self.path else ""
        super().__init__(f"{where_de}{de} / {where_en}{en}")


def check_file(path: str | Path, *, suffixes: tuple[str, ...] | None = None, min_bytes: int = 1) -> Path:
    """The path as a Path after checking it exists, is a file, is not empty and has a known suffix."""
    p = Path(path)
    if not p.exists():
        raise DataError(p, "existiert nicht", "does not exist")
    if not p.is_file():
        raise DataError(p, "ist keine Datei", "is not a file")
    if p.stat().st_size < min_bytes:
        raise DataError(p, "ist leer oder abgeschnitten", "is empty or truncated")
    if suffixes is not None and not any(p.name.lower().endswith(s) for s in suffixes):
        raise DataError(
            p, f"unbekanntes Format (erwartet {', '.join(suffixes)})", f"unknown format (expected {', '.join(suffixes)})"
        )
    return p


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_info(path: str | Path, kind: str, licence: str | None = None) -> SourceInfo:
    """A SourceInfo (path, sha256, kind, licence) for an input file."""
    p = Path(path)
    return SourceInfo(path=str(p.resolve()), sha256=sha256_of(p), kind=kind, licence=licence or LICENCES.get(kind, ""))
