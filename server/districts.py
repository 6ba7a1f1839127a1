"""The districts a server knows: loaded from bundle folders ``<data>/districts/<name>/`` on first use,
or registered in memory (tests, freshly built samples). Districts are immutable and shared."""

from __future__ import annotations

import threading
from pathlib import Path

from geodata.district import District
from geodata.names import NAME_PATTERN, is_district_name

__all__ = ["DistrictCatalog", "DistrictMissing", "NAME_PATTERN"]


class DistrictMissing(KeyError):
    """No district of that name (message in German and English)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.de = f"Gebiet {name!r} ist nicht vorhanden"
        self.en = f"District {name!r} does not exist"
        if isinstance(name, str) and name.startswith("region:"):  # a region scenario has no town views
            self.de = f"{name!r} ist ein Kreis-Szenario: diese Ansicht gibt es nur für Orte"
            self.en = f"{name!r} is a region scenario: this view exists for towns only"

    def __str__(self) -> str:
        return f"{self.de} / {self.en}"


class DistrictCatalog:
    """Name -> District, loading bundles lazily (thread-safe)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "districts"
        self._loaded: dict[str, District] = {}
        self._lock = threading.Lock()

    def register(self, district: District) -> None:
        with self._lock:
            self._loaded[district.name] = district

    def bundle_dir(self, name: str) -> Path:
        if not is_district_name(name):
            raise DistrictMissing(name)
        return self.root / name

    def tiles_dir(self, name: str) -> Path:
        return self.bundle_dir(name) / "tiles"

    def names(self) -> list[str]:
        on_disk = {p.name for p in self.root.iterdir() if is_district_name(p.name) and (p / "manifest.json").is_file()} \
            if self.root.is_dir() else set()
        with self._lock:
            return sorted(on_disk | set(self._loaded))

    def get(self, name: str) -> District:
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
        folder = self.bundle_dir(name)
        if not (folder / "manifest.json").is_file():
            raise DistrictMissing(name)
        from geodata.bundle import load_bundle  # lands with the bundle writer; only needed for disk districts

        district = load_bundle(folder)
        with self._lock:
            return self._loaded.setdefault(name, district)

    def exists(self, name: str) -> bool:
        try:
            return name in self._loaded or (self.bundle_dir(name) / "manifest.json").is_file()
        except DistrictMissing:
            return False
