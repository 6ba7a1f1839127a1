"""Districts of the access benchmarks: the 2 × 2 km sample and the 10 × 10 km generated district with its
residents scaled to 180,000 (the Burgenlandkreis has 178,846), cached as bundles under ``data/bench/``.

The generator (``geodata.sample.build_sample_district``) places about 142,000 residents on 10 × 10 km;
their per-building counts are scaled by largest remainders to exactly ``residents`` so that the person
count of the benchmark equals the district's whole population.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geodata.bundle import load_bundle, write_bundle  # noqa: E402
from geodata.district import District  # noqa: E402
from geodata.sample import build_sample_district  # noqa: E402

CACHE = ROOT / "data" / "bench"


def scale_residents(d: District, total: int) -> District:
    """The district with building residents scaled to ``total`` (largest remainders), age bands alike."""
    b = d.buildings
    r = b.residents.astype(np.float64)
    exact = r * (total / r.sum())
    out = np.floor(exact).astype(np.int64)
    rest = int(total - out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:rest]] += 1
    by_age = np.zeros_like(b.residents_by_age)
    has = out > 0
    if has.any():
        share = b.residents_by_age[has] / np.maximum(b.residents_by_age[has].sum(axis=1, keepdims=True), 1)
        e2 = share * out[has, None]
        f = np.floor(e2).astype(np.int64)
        miss = out[has] - f.sum(axis=1)
        order = np.argsort(-(e2 - f), axis=1, kind="stable")
        for k in range(share.shape[1]):
            add = miss > k
            f[np.nonzero(add)[0], order[add, k]] += 1
        by_age[has] = f
    return replace(d, buildings=replace(b, residents=out.astype(np.int32), residents_by_age=by_age.astype(np.int32)))


def district(size_km: float, *, cell_m: float, residents: int | None = None, seed: int = 0) -> tuple[District, float]:
    """The cached generated district and the seconds it took to get it (build or load)."""
    name = f"sample_{size_km:g}km_{cell_m:g}m_{seed}" + (f"_{residents}" if residents else "")
    path = CACHE / name
    t0 = time.perf_counter()
    if (path / "manifest.json").is_file():
        return load_bundle(path), time.perf_counter() - t0
    d = build_sample_district(size_km=size_km, seed=seed, cell_m=cell_m, name=name)
    if residents:
        d = scale_residents(d, residents)
    CACHE.mkdir(parents=True, exist_ok=True)
    write_bundle(d, path, tiles=False)
    return d, time.perf_counter() - t0
