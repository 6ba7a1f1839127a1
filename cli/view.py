"""``twin view``: the desktop viewer on a running server (``twin serve``).

- ``twin view [--url URL] [--district NAME] [--scenario ID] [--token-file F] [--layer utci_c] [--hour 15]``
  opens a window (glfw): drag to orbit, click a cell for its value and hourly series, ``t`` plants a tree
  at the picked cell (planners: token needed), ``s`` saves a screenshot, arrow keys left/right change the hour.
- ``--png FILE`` renders one picture offscreen instead (no window), once the field has arrived;
  ``--window-shot FILE`` opens the window, saves what it shows once the field is there, and closes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.errors import CliError

__all__ = ["register", "run_view"]

_FIELDS = ("utci_c", "tmrt_c", "air_temp_c", "surface_temp_c")


def register(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("view", help="Desktop-Ansicht / desktop viewer")
    sp.add_argument("--url", default="http://127.0.0.1:8000", help="server address (default http://127.0.0.1:8000)")
    sp.add_argument("--district", default="sample", help="district name (default sample)")
    sp.add_argument("--scenario", default=None, help="scenario id (default: the district's official scenario)")
    sp.add_argument("--token-file", default=None, help="file holding a planner or admin token (for edits)")
    sp.add_argument("--layer", default="utci_c", choices=_FIELDS, help="heat field to show (default utci_c)")
    sp.add_argument("--hour", type=int, default=15, help="hour of the design day, 0..23 (default 15)")
    sp.add_argument("--size", default="1280x800", help="window or picture size WxH (default 1280x800)")
    sp.add_argument("--png", default=None, help="render one picture offscreen to this PNG and exit")
    sp.add_argument("--window-shot", default=None,
                    help="window mode: save a screenshot to this PNG once the field is shown, then close")
    sp.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the first field")
    sp.set_defaults(func=run_view)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CliError(f"Größe {text!r} ist nicht BxH / size is not WxH") from None
    if not (64 <= w <= 8192 and 64 <= h <= 8192):
        raise CliError(f"Größe {w}x{h} außerhalb 64..8192 / size out of range")
    return w, h


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


def run_view(args: argparse.Namespace) -> int:
    from viewer.desktop.client import ClientError, TwinClient, official_scenario

    if not 0 <= args.hour <= 23:
        raise CliError(f"Stunde {args.hour} außerhalb 0..23 / hour out of range")
    size = _size(args.size)
    token = _token(args.token_file)
    try:
        sid = args.scenario or official_scenario(args.url, args.district)
        client = TwinClient(args.url, sid, token=token, role="planner" if token else "citizen")
        client.start()
        client.subscribe(("heat",), args.hour, (args.layer,))
    except ClientError as exc:
        raise CliError(str(exc)) from None
    try:
        return _offscreen(client, args, size) if args.png else _window(client, args, size)
    except ClientError as exc:
        raise CliError(str(exc)) from None
    finally:
        client.close()


def _offscreen(client, args: argparse.Namespace, size: tuple[int, int]) -> int:
    from rendercanvas.offscreen import RenderCanvas

    from viewer.desktop.app import DesktopApp

    client.wait_field(args.layer, args.hour, timeout_s=args.timeout)
    app = DesktopApp(client, args.district, RenderCanvas(size=size), layer=args.layer, hour=args.hour)
    app.render_offscreen()
    app.save_screenshot(args.png)
    return 0


def _window(client, args: argparse.Namespace, size: tuple[int, int]) -> int:
    try:
        import pygfx as gfx
        from rendercanvas.glfw import RenderCanvas, loop
    except (ImportError, RuntimeError) as exc:
        raise CliError(f"Kein Fenster möglich ({exc}); --png nutzen / no window possible, use --png") from None
    from viewer.desktop.app import DesktopApp

    canvas = RenderCanvas(size=size, title=f"landtwin: {args.district} ({args.layer}, {args.hour} h)",
                          update_mode="continuous", max_fps=20)
    if args.window_shot:
        client.wait_field(args.layer, args.hour, timeout_s=args.timeout)
    app = DesktopApp(client, args.district, canvas, layer=args.layer, hour=args.hour)
    gfx.OrbitController(app.camera, register_events=app.renderer)
    app.connect_events()
    draws = [0]

    def draw() -> None:
        app.draw()
        draws[0] += 1
        if args.window_shot and app.shown_version >= 0 and draws[0] >= 3:
            app.save_screenshot(args.window_shot)
            canvas.close()

    canvas.request_draw(draw)
    loop.run()
    return 0
