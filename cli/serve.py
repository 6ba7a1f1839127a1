"""``twin serve`` and ``twin demo``: run the server (REST, websocket, web viewer, tiles) on one port.

- ``twin serve [--district NAME] [--db URL] [--host H] [--port P] [--token-file F]``
- ``twin demo``: builds the sample district's bundle when it is missing, then serves it on
  http://127.0.0.1:8000 and prints the address.

On first start with an empty database an official scenario is created for the district, and an admin
token is written to ``<data>/admin-token.txt`` (mode 0600 from its first byte, renamed into place) so
that planner and kiosk tokens can be issued (``twin token issue``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from cli.errors import CliError

__all__ = ["register", "ensure_sample_bundle", "prepare"]

SAMPLE_NAME = "sample"


def register(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("serve", help="Server starten / run the server")
    sp.add_argument("--district", default=None, help="district bundle name (default: the only one, or 'sample')")
    sp.add_argument("--db", default=None, help="database URL (default sqlite:///<data>/landtwin.sqlite)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8000)
    sp.set_defaults(func=run_serve)
    dp = sub.add_parser("demo", help="Beispielgebiet bauen und zeigen / build and serve the sample district")
    dp.add_argument("--port", type=int, default=8000)
    dp.set_defaults(func=run_demo)


def ensure_sample_bundle(data: Path) -> Path:
    """Build the sample district's bundle (2 km, 2 m cells, with 3D tiles) unless it exists, exactly as
    ``twin sample`` does (same content key, written atomically by ``geodata.bundle.write_bundle``)."""
    target = data / "districts" / SAMPLE_NAME
    if (target / "manifest.json").exists():
        return target
    from cli import sample

    print("Baue das Beispielgebiet / building the sample district ...", flush=True)
    args = argparse.Namespace(name=SAMPLE_NAME, size_km=2.0, seed=0, cell=2.0, render=None, force=False, json=False,
                              data_dir=str(data))
    sample.run(args)
    return target


def prepare(data: Path, db_url: str | None, district: str | None) -> tuple[Any, str]:
    """Settings for the server, and the district to serve (checked to exist)."""
    from server.settings import Settings

    settings = Settings.from_env(data=str(data), db_url=db_url)
    root = settings.data / "districts"
    names = sorted(p.name for p in root.iterdir() if (p / "manifest.json").is_file() and not p.name.startswith(".")) \
        if root.is_dir() else []
    if district is None:
        district = names[0] if len(names) == 1 else (SAMPLE_NAME if SAMPLE_NAME in names else None)
    if district is None or district not in names:
        hint = ", ".join(names) or "keine / none"
        raise CliError(f"Gebiet {district!r} nicht gefunden in {root} (vorhanden: {hint}); "
                       f"'twin demo' baut das Beispielgebiet / district not found (available: {hint})")
    return settings, district


def _bootstrap(app: object, district: str) -> None:
    """First start: an official scenario for the district and an admin token file."""
    from server.roles import User, new_token
    from server.storage import utc_in, write_secret

    twin = app.state.twin  # type: ignore[attr-defined]
    if not twin.storage.list_scenarios(district=district):
        twin.manager.create(User(role="admin", department="Verwaltung"), name=f"{district}: Bestand / baseline",
                            district=district)
    token_file = twin.settings.data / "admin-token.txt"
    if not token_file.exists():
        token = new_token()
        twin.storage.add_token(token, role="admin", department="Verwaltung", name="admin",
                               expires_utc=utc_in(365 * 86400.0))
        write_secret(token_file, token + "\n")


def _baseline(app: object, district: str) -> None:
    """The live results of the district's scenarios (stored ones are found, missing ones computed now),
    so that the first viewer gets its heat layer at once; a progress bar while they compute."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    twin = app.state.twin  # type: ignore[attr-defined]
    rows = [r for r in twin.storage.list_scenarios(district=district, include_archived=False) if r.kind == "official"]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("Berechne den Bestand / computing the baseline", total=len(rows))
        for r in rows:
            try:
                m = twin.manager.model(r.scenario_id)
                twin.service.start()
                twin.service.request(m.scenario_id, m.version, twin.districts.get(district), list(m.interventions()),
                                     twin.hours_for(m.scenario_id), wait=True, timeout=900.0)
            except Exception as exc:  # noqa: BLE001 - the server still starts; the viewers get it when done
                print(f"  Bestand noch nicht fertig / baseline not ready yet: {exc}", flush=True)
            bar.advance(task)


def serve(data: Path, db_url: str | None, district: str | None, host: str, port: int, arch: str | None, *,
          baseline: bool = False) -> int:
    """Serve ``district``; with ``baseline`` its official scenario's live results are there (stored or
    computed now) before the server says it is ready."""
    import uvicorn

    from server.app import create_app
    from server.storage import StorageError

    settings, name = prepare(data, db_url, district)
    if arch:
        settings = type(settings)(data=settings.data, db_url=settings.db_url, arch=arch)
    os.environ.setdefault("LANDTWIN_KERNEL_CACHE", str(settings.data / "kernel-cache"))  # compiled once per machine
    try:
        app = create_app(settings)
    except StorageError as exc:
        raise CliError(str(exc)) from None
    _bootstrap(app, name)
    if baseline:
        _baseline(app, name)
    base = f"http://{host}:{port}/"
    print(f"landtwin: {base}  (Gebiet / district: {name}; API: {base}api/docs)", flush=True)
    print(f"  Bürger / citizens: {base}?mode=citizen   Kiosk: {base}?mode=kiosk#token=<twin token issue --role kiosk>",
          flush=True)
    print(f"  Planung / planners: {base}#token=<{settings.data / 'admin-token.txt'}>", flush=True)
    if any((settings.data / "regions").glob("*/manifest.json")):
        print(f"  Region (Kreis): {base}region.html#token=<{settings.data / 'admin-token.txt'}>", flush=True)
    # frames are encoded (and their large arrays compressed) once for all clients: the websocket's own
    # per-connection compression would compress every frame again for each client
    uvicorn.run(app, host=host, port=port, log_level="warning", ws="websockets-sansio", ws_max_size=1 << 20,
                ws_per_message_deflate=False)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from server.settings import data_dir

    if not (0 < args.port < 65536):
        raise CliError(f"Ungültiger Port {args.port} / invalid port")
    return serve(data_dir(args.data_dir), args.db, args.district, args.host, args.port, args.arch)


def run_demo(args: argparse.Namespace) -> int:
    from cli.region import ensure_region_bundle
    from server.settings import data_dir

    data = data_dir(args.data_dir)
    ensure_sample_bundle(data)
    ensure_region_bundle(data)
    return serve(data, None, SAMPLE_NAME, "127.0.0.1", args.port, args.arch, baseline=True)


