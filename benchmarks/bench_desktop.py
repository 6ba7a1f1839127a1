"""Desktop viewer benchmark: frame time of the pygfx viewer on the sample district.

Builds the sample district (``twin sample``) into a temporary data folder, runs ``twin serve`` on it in a
subprocess and opens the desktop viewer on an offscreen canvas (``rendercanvas.offscreen``; on a machine
without a GPU that is Mesa's lavapipe, the CPU rasteriser; with a GPU, wgpu takes it). Prints figures,
asserts nothing:

- time from connecting to the first picture with the UTCI drape (tiles, terrain, building triangles);
- frame time of the drape alone (supersampled as for pictures, and at pixel_scale 1 as in the window),
  with the road, vehicle and people overlays, and while the camera orbits (the rest at pixel_scale 1);
- frame time right after a field update that touches a small window (the texture is updated in place)
  and after a full update;
- tiles by view: tiles loaded and drawn, their buffers (MB) and the process's resident memory; with
  ``--large-km 10`` the same on the generated 10 x 10 km district of the web benchmark (5 m cells, 400
  tiles of 500 m): first picture, the whole district from above, a close view over its middle (culled),
  orbiting there (tiles load as they come into view), and the close view with every tile loaded and drawn
  (no culling, no level of detail) for comparison.

    .venv/bin/python benchmarks/bench_desktop.py [--size-km 2] [--cell 2] [--frames 30] [--width 1280 --height 720]
        [--large-km 10 [--large-data DIR] [--no-sample]]
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


def _serve(data: Path, district: str | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    twin = Path(sys.executable).with_name("twin")
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - closed with the process
    extra = ["--district", district] if district else []
    proc = subprocess.Popen([str(twin), "--data-dir", str(data), "--arch", "cpu", "serve", "--port", str(port), *extra],
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


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024.0
    return float("nan")


def _tiles(app) -> str:
    m = app.memory_figures()
    return (f"tiles {m['drawn']:.0f} drawn / {m['loaded']:.0f} loaded / {m['tiles']:.0f}; tile buffers "
            f"{m['tile_mb']:.0f} MB, drape {m['drape_mb']:.1f} MB; RSS {_rss_mb():.0f} MB")


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
    ap.add_argument("--large-km", type=float, default=0.0, help="also the generated district of this size (10)")
    ap.add_argument("--large-data", default=None, help="data folder holding (or to hold) the large district")
    ap.add_argument("--no-sample", action="store_true", help="only the large district")
    args = ap.parse_args()
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

    import wgpu


    adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    info = adapter.info if adapter is not None else {}
    print(f"adapter: {info.get('device', '?')} ({info.get('adapter_type', '?')}, {info.get('backend_type', '?')})")
    if not args.no_sample:
        bench_sample(args)
    if args.large_km > 0:
        bench_large(args)


def bench_sample(args: argparse.Namespace) -> None:
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp
    from viewer.desktop.client import TwinClient, official_scenario

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
            print(_tiles(app))
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


def bench_large(args: argparse.Namespace) -> None:
    """Tiles by view on the generated large district (built as ``bench_web.py`` builds it)."""
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp
    from viewer.desktop.client import ClientError, TwinClient, official_scenario

    name = f"large{int(args.large_km)}"
    with tempfile.TemporaryDirectory(prefix="bench-desktop-large-") as tmp:
        data = Path(args.large_data) if args.large_data else Path(tmp)
        if not (data / "districts" / name / "tiles" / "tileset.json").exists():
            from geodata.bundle import write_bundle
            from geodata.sample import build_sample_district

            t = time.perf_counter()
            d = build_sample_district(size_km=args.large_km, seed=0, cell_m=5.0, name=name)
            write_bundle(d, data / "districts" / name)
            print(f"built {name}: {len(d.buildings):,} buildings in {time.perf_counter() - t:.0f} s")
        tiles_dir = data / "districts" / name / "tiles"
        n_tiles = len(list(tiles_dir.glob("*.glb")))
        mb = sum(f.stat().st_size for f in tiles_dir.glob("*.glb")) / 1e6
        print(f"{args.large_km:g} x {args.large_km:g} km district: {n_tiles} tiles, {mb:.0f} MB of GLB")
        proc, url = _serve(data, name)
        try:
            client = TwinClient(url, official_scenario(url, name))
            client.start()
            g = client.welcome.grid
            t0 = time.perf_counter()
            app = DesktopApp(client, name, RenderCanvas(size=(args.width, args.height), pixel_ratio=1), pixel_scale=1.0)
            app.render_offscreen()
            print(f"{'connect to first picture (tiles in view)':<44} {time.perf_counter() - t0:7.2f} s; {_tiles(app)}")
            try:
                f = client.wait_field("utci_c", 15, timeout_s=5)
                print(f"drape: the server's UTCI field, {g.rows} x {g.cols} cells")
            except ClientError:
                f = None
            if f is None:  # the server still computes the district's first hour: drape its terrain height
                app.show_values(app.heights[:-1, :-1].astype(np.float32) * 0.05 + 25.0, 15.0)
                print(f"drape: the server still computes the first field; {g.rows} x {g.cols} cells of terrain "
                      "height on the UTCI scale")
            print(_fmt("whole district from above, still", _times(app, args.frames)) + "; " + _tiles(app))
            cx, cy = g.west_m + g.cols * g.cell_m / 2, g.south_m + g.rows * g.cell_m / 2
            h = float(np.median(app.heights))

            def close(k: int = 0) -> None:
                a = np.radians(4.0 * k)
                app.camera.local.position = (cx - 500 * np.sin(a), h + 350.0, -(cy - 500 * np.cos(a)))
                app.camera.look_at((cx + 400 * np.sin(a), h, -(cy + 400 * np.cos(a))))

            close()
            t = time.perf_counter()
            app.render_offscreen()
            print(f"{'close view: tiles come into view':<44} {time.perf_counter() - t:7.2f} s; {_tiles(app)}")
            print(_fmt("close view over the middle, still (culled)", _times(app, args.frames)) + "; " + _tiles(app))
            print(_fmt("close view, orbiting (tiles load as needed)", _times(app, args.frames, close)) + "; "
                  + _tiles(app))
            app.cull, app.lod = False, False
            close()
            t = time.perf_counter()
            app.render_offscreen()
            print(f"{'every tile loaded (no culling)':<44} {time.perf_counter() - t:7.2f} s; {_tiles(app)}")
            print(_fmt("close view, every tile drawn, no LOD", _times(app, args.frames)) + "; " + _tiles(app))
            client.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
