"""Shadows and sky view factor against UMEP on a small synthetic DSM (runs only when .peers/umep exists)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from sim_kernels.shadows import cast_shadows
from sim_kernels.skyview import sky_view_factor

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / ".peers" / "umep" / "bin" / "python"

pytestmark = [pytest.mark.peer, pytest.mark.usefixtures("taichi_cpu")]


@pytest.mark.skipif(not PEER.exists(), reason="UMEP peer not installed (benchmarks/peers/setup.sh umep)")
def test_shadows_and_svf_agree_with_umep(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    size = 64
    dsm = np.full((size, size), 100.0, np.float32)
    for r0 in range(4, size - 18, 22):
        for c0 in range(4, size - 18, 22):
            h, w = rng.integers(8, 18, 2)
            dsm[r0:r0 + h, c0:c0 + w] += rng.uniform(6, 25)
    path = tmp_path / "dsm.tif"
    with rasterio.open(path, "w", driver="GTiff", height=size, width=size, count=1, dtype="float32", crs="EPSG:25832",
                       transform=Affine(1.0, 0.0, 690000.0, 0.0, -1.0, 5670000.0)) as dst:
        dst.write(dsm, 1)
    positions = [[120.0, 35.0], [180.0, 60.0], [250.0, 25.0]]
    cfg = {"dsm": str(path), "positions": positions, "out": str(tmp_path / "umep"), "solweig": False}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    proc = subprocess.run([str(PEER), str(ROOT / "benchmarks" / "peers" / "umep_runner.py"), str(tmp_path / "cfg.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    peer = np.load(tmp_path / "umep" / "umep.npz")
    for (az, alt), theirs in zip(positions, peer["shadows"]):
        ours, _ = cast_shadows(dsm, dsm, dsm, cell_m=1.0, azimuth_deg=az, elevation_deg=alt)
        assert (ours == (theirs > 0.5)).mean() >= 0.98
    svf, _ = sky_view_factor(dsm, None, cell_m=1.0, n_azimuths=32, radius_m=200.0)
    ground = dsm <= 100.0
    ground[:2, :] = ground[-2:, :] = ground[:, :2] = ground[:, -2:] = False
    assert np.sqrt(np.mean((svf - peer["svf"])[ground] ** 2)) <= 0.03
