"""The web viewer's decoder (viewer/web/src/fields.ts, run in node) applies the server's partial field
frames (windows, sparse cells, empty re-stamps) to the same field as the Python reference
:func:`protocol.apply_field_frame`, bit for bit after quantisation."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import protocol as p
from server.engines import field_frames

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "viewer" / "web"
ESBUILD = WEB / "node_modules" / ".bin" / "esbuild"

pytestmark = pytest.mark.timeout(120)


def _node_ready() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the README's set-up installs Node 20+)")
    if not ESBUILD.exists():
        pytest.skip("viewer/web/node_modules missing: run `make setup` (npm ci in viewer/web)")


def test_the_viewer_applies_sparse_and_window_frames_like_the_server(tmp_path: Path) -> None:
    _node_ready()
    g = p.GridInfo(rows=30, cols=40, cell_m=2.0, west_m=0.0, south_m=0.0)
    rng = np.random.default_rng(3)
    arr = (28.0 + rng.normal(0, 1.5, (30, 40))).astype(np.float32)
    raw, ref, kinds = None, None, []
    for v in range(1, 6):
        if v == 2:
            arr[5:11, 7:12] -= 2.0  # a block: its window
        elif v == 3:
            arr[rng.integers(0, 30, 6), rng.integers(0, 40, 6)] += 0.9  # scattered cells: sparse
            arr[0, 0] = np.nan
        # v == 4: nothing changes (an empty sparse frame); v == 5: a tiny change in one cell
        elif v == 5:
            arr[29, 39] += 0.05
        frame, raw = field_frames(v, "utci_c", "°C", 15, g, arr, (v - 1, raw) if raw is not None else None)
        msg = frame[0] if isinstance(frame, tuple) else frame
        kinds.append("full" if msg.full else ("sparse" if msg.cells is not None else "window"))
        ref = p.apply_field_frame(ref, msg)
        (tmp_path / f"f{v}.msgpack").write_bytes(p.encode(msg))
    assert kinds == ["full", "window", "sparse", "sparse", "window"]
    (tmp_path / "lonlat.json").write_text("[]")
    bundle = tmp_path / "decode.mjs"
    subprocess.run([str(ESBUILD), "test/decode_frames.ts", "--bundle", "--platform=node", "--format=esm",
                    f"--outfile={bundle}", "--log-level=warning"], cwd=WEB, check=True, timeout=60)
    out = json.loads(subprocess.run(["node", str(bundle), str(tmp_path)], capture_output=True, text=True,
                                    check=True, timeout=60).stdout)
    for v in range(1, 6):
        assert out[f"f{v}.msgpack"]["result"] == "applied" and out[f"f{v}.msgpack"]["version"] == v
    got = np.array([np.nan if x is None else x for x in out["f5.msgpack"]["values"]], np.float32).reshape(30, 40)
    want = p.decode_array(p.quantise_u16(arr)).reshape(30, 40)
    np.testing.assert_array_equal(ref, want)
    np.testing.assert_allclose(got, want, atol=1e-4, equal_nan=True)
