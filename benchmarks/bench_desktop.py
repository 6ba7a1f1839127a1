"""Desktop viewer benchmark: frame time of the pygfx viewer on the sample district.

Builds the sample district (``twin sample``) into a temporary data folder, runs ``twin serve`` on it in a
subprocess and opens the desktop viewer on an offscreen canvas (``rendercanvas.offscreen``; on a machine
without a GPU that is Mesa's lavapipe, the CPU rasteriser; with a GPU, wgpu takes it). Prints figures,
asserts nothing:

- time from connecting to the first picture with the UTCI drape (tiles, terrain, building triangles);
- frame time of the drape alone (supersampled as for pictures, and at pixel_scale 1 as in the window),
  with the road, vehicle and people overlays, and while the camera orbits (the rest at pixel_scale 1);
- frame time right after a field update that touches a small window (the texture is updated in place)
  and after a full update.

    .venv/bin/python benchmarks/bench_desktop.py [--size-km 2] [--cell 2] [--frames 30] [--width 1280 --height 720]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(data: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    twin = Path(sys.executable).with_name("twin")
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([str(twin), "--data-dir", str(data), "--arch", "cpu", "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "LANDTWIN_ARCH": "cpu", "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"twin serve did not start:\n{(data / 'serve.log').read_text()[-2000:]}")


def _times(app, frames: int, before=None) -> list[float]:
    out = []
    for k in range(frames):
        if before is not None:
            before(k)
        t = time.perf_counter()
        app.render_offscreen()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def _fmt(name: str, ms: list[float]) -> str:
    med = statistics.median(ms)
    p95 = float(np.percentile(ms, 95))
    return f"{name:<44} median {med:7.1f} ms  p95 {p95:7.1f} ms  ({1000.0 / med:5.1f} fps)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-km", type=float, default=2.0)
    ap.add_argument("--cell", type=float, default=2.0)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    args = ap.parse_args()
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

    import wgpu
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp
    from viewer.desktop.client import TwinClient, official_scenario

    adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    info = adapter.info if adapter is not None else {}
    print(f"adapter: {info.get('device', '?')} ({info.get('adapter_type', '?')}, {info.get('backend_type', '?')})")
    with tempfile.TemporaryDirectory(prefix="bench-desktop-") as tmp:
        data = Path(tmp)
        twin = Path(sys.executable).with_name("twin")
        subprocess.run([str(twin), "--data-dir", str(data), "sample", "--size-km", str(args.size_km), "--cell",
                        str(args.cell)], check=True, capture_output=True, cwd=ROOT)
        proc, url = _serve(data)
        try:
            client = TwinClient(url, official_scenario(url, "sample"))
            client.start()
            client.subscribe(("heat",), 15, ("utci_c",))
            client.wait_field("utci_c", 15, timeout_s=600)  # the server's first computation is not ours
            t0 = time.perf_counter()
            app = DesktopApp(client, "sample", RenderCanvas(size=(args.width, args.height), pixel_ratio=1))
            app.render_offscreen()
            first_s = time.perf_counter() - t0
            g = app.grid
            print(f"district {args.size_km} km, {g.rows} x {g.cols} cells of {g.cell_m} m; "
                  f"{len(app.building_tris):,} building triangles; picture {args.width} x {args.height}")
            print(f"{'connect to first picture (tiles, terrain, drape)':<44} {first_s:7.2f} s")
            print(_fmt("drape, still camera (supersampled, pictures)", _times(app, args.frames)))
            app.renderer.pixel_scale = 1.0
            print(_fmt("drape, still camera (window: pixel_scale 1)", _times(app, args.frames)))

            def orbit(k: int) -> None:
                pos = np.asarray(app.camera.local.position)
                tgt = np.array([g.west_m + g.cols * g.cell_m / 2, pos[1] * 0.1, -(g.south_m + g.rows * g.cell_m / 2)])
                a = np.radians(3.0)
                d = pos - tgt
                rot = np.array([d[0] * np.cos(a) - d[2] * np.sin(a), d[1], d[0] * np.sin(a) + d[2] * np.cos(a)])
                app.camera.local.position = tuple(tgt + rot)
                app.camera.look_at(tuple(tgt))

            print(_fmt("drape, camera orbiting", _times(app, args.frames, orbit)))
            f = client.field("utci_c", 15)
            assert f is not None
            base = f.values_c.copy()

            def small(k: int) -> None:
                v = base.copy()
                r, c = g.rows // 2 + k % 7, g.cols // 2 + k % 5
                v[r - 10:r + 10, c - 10:c + 10] -= 3.0 + k % 3  # a tree's shade: a window of 20 x 20 cells
                app.show_values(v, 15.0)

            def full(k: int) -> None:
                app.show_values(base + 0.5 * (k % 4), 15.0)

            print(_fmt("frame after a small field update", _times(app, args.frames, small)))
            print(_fmt("frame after a full field update", _times(app, args.frames, full)))
            app._override = None
            app.toggle_overlay("traffic", True)
            app.toggle_overlay("vehicles", True)
            app.toggle_overlay("agents", True)
            client.wait_version(client.version, 600, what=("field", "edges"))
            time.sleep(1.0)
            app.render_offscreen()
            n_veh = len(client.agents.get("vehicles", (0, 0, np.zeros((0, 2))))[2])
            n_ppl = len(client.agents.get("people", (0, 0, np.zeros((0, 2))))[2])
            print(_fmt(f"+ roads, {n_veh:,} vehicles, {n_ppl:,} people", _times(app, args.frames)))
            client.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
