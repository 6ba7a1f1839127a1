"""``twin view``: the desktop viewer on a landtwin server.

- ``twin view [--url URL] [--district NAME] [--scenario ID] [--token-file F] [--layer utci] [--overlay traffic]
  [--hour 15] [--compare ID]`` opens a window (glfw) with on-screen widgets (layer list with the
  department layers the token may see, tools for planners, legend, hour slider and play, inspection
  panel; ``--no-widgets`` for keys only): drag to orbit, click to inspect, number keys choose an
  intervention tool (planners: token needed), ``z``/``y`` undo/redo, arrows and space for the hours,
  ``s`` saves a screenshot (see :mod:`viewer.desktop.app` for every key).
- ``--png FILE`` renders one picture offscreen instead (no window), once the data have arrived; with
  ``--compare ID`` the two scenarios side by side (``--layer diff``: their difference).
- ``--film FILE.mp4`` renders the day (``--hours 6-21``) as a film, hours interpolated into smooth frames.
- ``--window-shot FILE`` opens the window, saves what it shows once the field is there, and closes.
- Without ``--url`` and no server answering at the default address, the district's local bundle
  (``--data-dir``) is served by an embedded server for as long as the viewer runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cli.errors import CliError

__all__ = ["register", "run_view"]

DEFAULT_URL = "http://127.0.0.1:8000"


def register(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("view", help="Desktop-Ansicht / desktop viewer")
    sp.add_argument("--url", default=None,
                    help=f"server address (default {DEFAULT_URL}; without it and no server there, the local bundle "
                         "is served by an embedded server)")
    sp.add_argument("--district", default="sample", help="district name (default sample)")
    sp.add_argument("--serve", action="store_true",
                    help="always serve the district's local bundle (--data-dir) with an embedded server")
    sp.add_argument("--scenario", default=None, help="scenario id (default: the district's official scenario)")
    sp.add_argument("--compare", default=None, help="second scenario id: side by side (or --layer diff)")
    sp.add_argument("--token-file", default=None, help="file holding a planner or admin token (for edits)")
    sp.add_argument("--layer", default="utci",
                    help="raster: utci, tmrt, air_temp, surface_temp, uhi, heat_stress, access, diff (default utci)")
    sp.add_argument("--overlay", action="append", default=[],
                    help="overlay, repeatable: traffic, vc, vehicles, agents, transit, cooling, cooling_change, "
                         "comments")
    sp.add_argument("--hour", type=int, default=15, help="hour of the design day, 0..23 (default 15)")
    sp.add_argument("--lang", default="de", choices=("de", "en"), help="language of the texts (default de)")
    sp.add_argument("--size", default="1280x800", help="window or picture size WxH (default 1280x800)")
    sp.add_argument("--png", default=None, help="render one picture offscreen to this PNG and exit")
    sp.add_argument("--film", default=None, help="render a film of the day to this MP4 and exit")
    sp.add_argument("--hours", default="6-21", help="film: first-last hour (default 6-21)")
    sp.add_argument("--steps-per-hour", type=int, default=4, help="film: frames from one hour to the next (default 4)")
    sp.add_argument("--fps", type=int, default=8, help="film: frames per second (default 8)")
    sp.add_argument("--window-shot", default=None,
                    help="window mode: save a screenshot to this PNG once the field is shown, then close")
    sp.add_argument("--state-file", default=None,
                    help="window mode: keep the viewer's state (versions, camera, pick, edits) in this JSON file")
    sp.add_argument("--no-widgets", action="store_true", help="window mode: keys only, no on-screen widgets")
    sp.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for results")
    sp.set_defaults(func=run_view)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CliError(f"Größe {text!r} ist nicht BxH / size is not WxH") from None
    if not (64 <= w <= 8192 and 64 <= h <= 8192):
        raise CliError(f"Größe {w}x{h} außerhalb 64..8192 / size out of range")
    return w, h


def _hours(text: str) -> list[int]:
    try:
        a, b = (int(v) for v in text.split("-"))
    except ValueError:
        raise CliError(f"Stunden {text!r} sind nicht A-B / hours are not A-B") from None
    if not (0 <= a < b <= 23):
        raise CliError(f"Stunden {a}-{b}: 0 <= A < B <= 23 / hours out of range")
    return list(range(a, b + 1))


def _token(path: str | None) -> str:
    if path is None:
        return ""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CliError(f"Token-Datei nicht lesbar: {path} ({exc}) / token file not readable") from None
    if not token or len(token) > 256:
        raise CliError(f"Token-Datei {path} ist leer oder zu lang / token file is empty or too long")
    return token


def _check(args: argparse.Namespace) -> tuple[str, tuple[str, ...], tuple[int, int]]:
    from viewer.desktop.layers import LAYERS, layer_id

    if not 0 <= args.hour <= 23:
        raise CliError(f"Stunde {args.hour} außerhalb 0..23 / hour out of range")
    try:
        layer = layer_id(args.layer)
        overlays = tuple(layer_id(o) for o in args.overlay)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if LAYERS[layer].kind != "raster" and layer != "access":
        overlays, layer = (*overlays, layer), "utci"
    if layer == "diff" and not args.compare:
        raise CliError("--layer diff braucht --compare SZENARIO / --layer diff needs --compare SCENARIO")
    if args.film and (args.png or args.window_shot):
        raise CliError("--film nicht zusammen mit --png / --film cannot be combined with --png")
    if args.film and not str(args.film).lower().endswith(".mp4"):
        raise CliError(f"Film {args.film!r} muss auf .mp4 enden / film must end in .mp4")
    if not (1 <= args.steps_per_hour <= 60 and 1 <= args.fps <= 60):
        raise CliError("--steps-per-hour und --fps: 1..60 / out of range")
    return layer, overlays, _size(args.size)


def run_view(args: argparse.Namespace) -> int:
    from viewer.desktop.client import ClientError

    layer, overlays, size = _check(args)
    hours = _hours(args.hours) if args.film else []
    with _server(args) as (url, token_default):
        token = _token(args.token_file) or token_default
        try:
            client, compare = _connect(args, url, token)
        except ClientError as exc:
            raise CliError(str(exc)) from None
        try:
            if args.film:
                return _film(client, args, layer, overlays, size, hours)
            if args.png:
                return _offscreen(client, compare, args, layer, overlays, size)
            return _window(client, compare, args, layer, overlays, size)
        except ClientError as exc:
            raise CliError(str(exc)) from None
        finally:
            client.close()
            if compare is not None:
                compare.close()


def _connect(args: argparse.Namespace, url: str, token: str) -> tuple[Any, Any]:
    from viewer.desktop.client import TwinClient, official_scenario

    sid = args.scenario or official_scenario(url, args.district)
    client = TwinClient(url, sid, token=token, role="planner" if token else "citizen")
    client.start()
    compare = None
    if args.compare:
        compare = TwinClient(url, args.compare, token=token, role="planner" if token else "citizen", name="Desktop B")
        try:
            compare.start()
        except Exception:
            client.close()
            raise
    return client, compare


@contextmanager
def _server(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """The server to use: ``--url``, or the default address when a server answers there, or an embedded
    ``twin serve`` on the local bundle of ``--district`` (its admin token then allows edits)."""
    from viewer.desktop.client import ClientError, http_json

    if args.url and args.serve:
        raise CliError("--url und --serve schließen sich aus / --url and --serve exclude each other")
    if args.url:
        yield args.url, ""
        return
    if not args.serve:
        try:
            http_json(f"{DEFAULT_URL}/api/health", timeout_s=2.0)
            yield DEFAULT_URL, ""
            return
        except ClientError:
            pass
    from server.settings import data_dir

    data = data_dir(getattr(args, "data_dir", None))
    if not (data / "districts" / args.district / "manifest.json").is_file():
        raise CliError(f"Server nicht erreichbar: {DEFAULT_URL}, und kein lokales Gebiet {args.district!r} in {data} "
                       f"/ server not reachable and no local bundle")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "cli.main", "--data-dir", str(data)]
    if getattr(args, "arch", None):
        cmd += ["--arch", args.arch]
    cmd += ["serve", "--district", args.district, "--port", str(port)]
    log = data / "view-server.log"
    print(f"Starte eingebetteten Server / starting an embedded server for {args.district!r} ({data})", flush=True)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                cwd=Path(__file__).resolve().parents[1])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + args.timeout
        while True:
            if proc.poll() is not None:
                raise CliError(f"Eingebetteter Server beendet ({proc.returncode}), siehe {log} / embedded server exited")
            try:
                http_json(f"{url}/api/health", timeout_s=2.0)
                break
            except ClientError:
                if time.monotonic() > deadline:
                    raise CliError(f"Eingebetteter Server antwortet nicht, siehe {log} / embedded server not answering"
                                   ) from None
                time.sleep(0.3)
        token_file = data / "admin-token.txt"
        token = token_file.read_text(encoding="utf-8").strip() if token_file.is_file() else ""
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _offscreen(client: Any, compare: Any, args: argparse.Namespace, layer: str, overlays: tuple[str, ...],
               size: tuple[int, int]) -> int:
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp

    app = DesktopApp(client, args.district, RenderCanvas(size=size, pixel_ratio=1), layer=layer, hour=args.hour,
                     overlays=overlays, compare=compare, lang=args.lang)
    _wait_data(app, args.timeout)
    app.render_offscreen()
    app.save_screenshot(args.png)
    return 0


def _wait_data(app: Any, timeout_s: float) -> None:
    """Wait for the raster of the current version (both scenarios) and the overlays' data."""
    what = ["field"]
    subs = {LAYER_SUB.get(o) for o in app.overlays} | ({LAYER_SUB.get(app.layer)})
    if "traffic" in subs:
        what.append("edges")
    if "access" in subs:
        what.append("access")
    for c in app._clients():
        c.wait_version(c.version, timeout_s, what=tuple(what))


LAYER_SUB = {"traffic": "traffic", "vc": "traffic", "vehicles": "traffic", "transit": "access", "access": "access",
             "agents": "agents"}


def _film(client: Any, args: argparse.Namespace, layer: str, overlays: tuple[str, ...], size: tuple[int, int],
          hours: list[int]) -> int:
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp
    from viewer.desktop.client import ClientError
    from viewer.desktop.film import FilmError, write_film

    if layer in ("diff", "access"):
        raise CliError(f"Ein Film zeigt ein Wärmefeld, nicht {layer!r} / a film shows a heat field")
    app = DesktopApp(client, args.district, RenderCanvas(size=size, pixel_ratio=1), layer=layer, hour=hours[0],
                     overlays=overlays, lang=args.lang)
    fields = {}
    for h in hours:
        if h != app.hour:
            app.set_hour(h)
        try:  # hours outside the live ones may be computed at low priority: ask once more before giving up
            got = client.wait_field(app.field_name(), h, min_version=client.version, timeout_s=args.timeout / 2)
        except ClientError:
            app.set_hour(h)
            got = client.wait_field(app.field_name(), h, min_version=client.version, timeout_s=args.timeout / 2)
        fields[h] = got.values_c
    try:
        path, n = write_film(app, args.film, fields, steps_per_hour=args.steps_per_hour, fps=args.fps)
    except FilmError as exc:
        raise CliError(str(exc)) from None
    print(f"Film gespeichert / film saved: {path} ({n} Bilder / frames)", flush=True)
    return 0


def _window(client: Any, compare: Any, args: argparse.Namespace, layer: str, overlays: tuple[str, ...],
            size: tuple[int, int]) -> int:
    try:
        import pygfx as gfx
        from rendercanvas.glfw import RenderCanvas, loop
    except (ImportError, RuntimeError) as exc:
        raise CliError(f"Kein Fenster möglich ({exc}); --png nutzen / no window possible, use --png") from None
    from viewer.desktop.app import DesktopApp

    canvas = RenderCanvas(size=size, title=f"landtwin: {args.district} ({layer}, {args.hour} h)",
                          update_mode="continuous", max_fps=20)
    app = DesktopApp(client, args.district, canvas, layer=layer, hour=args.hour, overlays=overlays, compare=compare,
                     lang=args.lang, pixel_scale=1.0, widgets=not args.no_widgets)  # fluid first; --png supersamples
    app.sync_tiles = False  # tiles coming into view load behind the drawing
    if args.window_shot:
        _wait_data(app, args.timeout)
    app.connect_controller(gfx.OrbitController(app.camera))
    app.track_hover = bool(args.state_file)
    app.connect_events()
    draws = [0]
    last = [""]

    def draw() -> None:
        app.draw()
        draws[0] += 1
        if args.state_file:
            text = json.dumps(app.state(), ensure_ascii=False)
            if text != last[0]:
                last[0] = text
                path = Path(args.state_file)
                tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(path)
        if args.window_shot and app.shown_version >= 0 and draws[0] >= 3:
            app.save_screenshot(args.window_shot)
            canvas.close()

    canvas.request_draw(draw)
    loop.run()
    return 0
