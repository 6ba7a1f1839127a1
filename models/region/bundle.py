"""Region bundles: ``<data_dir>/regions/<name>/``, written atomically and read back exactly.

Layout::

    manifest.json    format, name, CRS, Kreis, content hash, sources (sha256, licence), method and
                     assumptions, summary, file checksums
    gemeinden.csv    one row per Gemeinde (AGS as text)
    cells.csv.gz     inhabited 100 m cells
    settlements.csv  stops.csv  hospitals.csv  centres.csv
    walk_network.npz walking network of an OSM extract (only when built with one)
    shapes.json      Kreis outline and Gemeinde outlines as WKT in the working CRS

The folder is assembled under a temporary name beside its final place and renamed at the end, so a
failed write leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import shapely

from geodata.files import atomic_dir
from geodata.sources import DataError, sha256_of
from models.region.model import Region

__all__ = ["write_region", "load_region", "region_dir", "region_names", "content_hash", "FORMAT", "FORMAT_VERSION",
           "NAME_PATTERN"]

FORMAT = "landtwin-region"
FORMAT_VERSION = 1
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NETWORK = "walk_network.npz"
_TABLES = {"gemeinden": "gemeinden.csv", "cells": "cells.csv.gz", "settlements": "settlements.csv",
           "stops": "stops.csv", "hospitals": "hospitals.csv", "centres": "centres.csv"}
_TEXT = {"ags": str, "stop_id": str, "id": str, "cell_id": str, "parent": str, "ifopt": str, "name": str,
         "settlement": str, "products": str, "service_class": str, "kind": str}


def region_dir(data_dir: str | Path, name: str) -> Path:
    if not re.match(NAME_PATTERN, name):
        raise DataError(None, f"ungültiger Regionsname {name!r}", f"invalid region name {name!r}")
    return Path(data_dir) / "regions" / name


def region_names(data_dir: str | Path) -> list[str]:
    """Names of the complete region bundles below ``data_dir``."""
    root = Path(data_dir) / "regions"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if re.match(NAME_PATTERN, p.name) and (p / "manifest.json").is_file())


def content_hash(manifest: dict[str, Any], options: dict[str, Any] | None = None) -> str:
    """sha256 over the inputs' hashes, the options and the format version."""
    doc = json.dumps({"format_version": FORMAT_VERSION, "inputs": sorted((s["key"], s["sha256"]) for s in manifest.get("sources", [])),
                      "options": options or {}}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def write_region(region: Region, data_dir: str | Path, name: str | None = None) -> Path:
    """Write ``region`` to ``<data_dir>/regions/<name>/`` (replacing an older bundle) and return the folder."""
    name = name or region.name
    root = region_dir(data_dir, name)

    def write(tmp: Path) -> None:
        for attr, fname in _TABLES.items():
            getattr(region, attr).to_csv(tmp / fname, index=False)
        shapes = {"kreis": shapely.to_wkt(region.kreis_outline, rounding_precision=2),
                  "gemeinden": {a: shapely.to_wkt(g, rounding_precision=2) for a, g in region.gemeinde_shapes.items()}}
        (tmp / "shapes.json").write_text(json.dumps(shapes), encoding="utf-8")
        if region.network is not None:
            from models.region.network import save_walk_network

            save_walk_network(region.network, tmp / _NETWORK)
        files = {p.name: sha256_of(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "crs": region.crs,
            "kreis": {"ags": region.kreis_ags, "name": region.kreis_name},
            **{k: v for k, v in region.manifest.items() if k not in ("format", "format_version", "name", "crs", "files")},
            "summary": region.info() | {"name": name},
            "files": files,
        }
        manifest.setdefault("content_hash", content_hash(region.manifest))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False, default=str) + "\n",
                                           encoding="utf-8")

    atomic_dir(root, write)
    return root


def read_region_manifest(path: str | Path) -> dict[str, Any]:
    p = Path(path) / "manifest.json"
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(p, "Regionsbündel fehlt oder ist unlesbar", "region bundle is missing or unreadable") from exc
    if m.get("format") != FORMAT or m.get("format_version") != FORMAT_VERSION:
        raise DataError(p, "kein landtwin-Regionsbündel dieser Version", "not a landtwin region bundle of this version")
    return m


def load_region(name: str, data_dir: str | Path, *, verify: bool = False) -> Region:
    """Read the bundle ``<data_dir>/regions/<name>/`` back (DataError when missing or damaged)."""
    root = region_dir(data_dir, name)
    m = read_region_manifest(root)
    if verify:
        for f, h in m.get("files", {}).items():
            if sha256_of(root / f) != h:
                raise DataError(root / f, "Prüfsumme stimmt nicht (verändert oder beschädigt)", "checksum mismatch")
    try:
        tables = {attr: pd.read_csv(root / fname, dtype=_TEXT, keep_default_na=False, na_values=[""])
                  for attr, fname in _TABLES.items()}
        shapes = json.loads((root / "shapes.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(root, f"Regionsbündel beschädigt ({exc})", f"region bundle damaged ({exc})") from exc
    for attr in ("gemeinden", "cells", "settlements", "stops", "hospitals", "centres"):
        t = tables[attr]
        for c in ("ags", "ifopt", "parent", "settlement", "name"):
            if c in t.columns:
                t[c] = t[c].fillna("").astype(str)
    st = tables["stops"]
    for c in ("in_kreis", "class_estimated", "is_station"):
        st[c] = st[c].astype(str).str.lower().eq("true")
    tables["hospitals"]["in_kreis"] = tables["hospitals"]["in_kreis"].astype(str).str.lower().eq("true")
    st["products"] = st["products"].fillna("").astype(str)
    network = None
    if _NETWORK in m.get("files", {}):
        from models.region.network import load_walk_network

        network = load_walk_network(root / _NETWORK)
    return Region(name=m["name"], crs=m["crs"], kreis_ags=m["kreis"]["ags"], kreis_name=m["kreis"]["name"],
                  kreis_outline=shapely.from_wkt(shapes["kreis"]),
                  gemeinde_shapes={a: shapely.from_wkt(w) for a, w in shapes["gemeinden"].items()},
                  manifest=m, network=network, **tables)
