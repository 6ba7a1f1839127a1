"""Every GLB landtwin writes passes the Khronos glTF-Validator with 0 errors and 0 warnings.

The validator runs in Node through ``tools/validators/validate.mjs`` (npm ``gltf-validator``, installed
by ``make setup``). A negative control proves the check can fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from geodata.sample import build_sample_district
from geodata.scene import export_tiles
from geodata.scene_glb import MeshLayer, glb_bytes

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "validators"


def _validate(paths: list[Path]) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Node 20+ is needed for the glTF-Validator)")
    if not (TOOL / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("npm package gltf-validator missing: run `make setup` (npm ci in tools/validators)")
    proc = subprocess.run([node, str(TOOL / "validate.mjs"), *map(str, paths)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def test_sample_tiles_validate_without_errors_or_warnings(tmp_path):
    d = build_sample_district()
    ts = export_tiles(d, tmp_path / "tiles")
    paths = [tmp_path / "tiles" / t["name"] for t in ts["tiles"]]
    report = _validate(paths)
    bad = [(f["path"], f["errors"], f["warnings"], f["messages"][:3]) for f in report["files"]
           if f["errors"] or f["warnings"]]
    assert not bad
    assert report["ok"] and len(report["files"]) == len(paths) == 16


def test_the_validator_catches_a_broken_file(tmp_path):
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 0, -1]], np.float32)
    good = glb_bytes([MeshLayer("t", pos, np.tile([0, 1, 0], (3, 1)), np.full((3, 4), 255, np.uint8))])
    bad = good.replace(b'"max":[1.0,0.0,0.0]', b'"max":[2.0,0.0,0.0]')
    assert bad != good
    (tmp_path / "good.glb").write_bytes(good)
    (tmp_path / "bad.glb").write_bytes(bad)
    report = _validate([tmp_path / "good.glb", tmp_path / "bad.glb"])
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert by_name["good.glb"]["errors"] == 0 and by_name["good.glb"]["warnings"] == 0
    assert by_name["bad.glb"]["errors"] > 0
    assert not report["ok"]
