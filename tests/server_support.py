"""Test support for the server tests: a tiny district (200 m x 200 m) built with the real builder,
an app factory over a temporary data folder, and a standalone server process for socket clients."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from district_builder import DistrictBuilder
from shapely.geometry import Polygon, box

from geodata.district import District

ROOT = Path(__file__).resolve().parents[1]
PLANNER_TOKEN = "planner-token-umwelt"
ADMIN_TOKEN = "admin-token"


@functools.lru_cache(maxsize=4)
def tiny_district(name: str = "tiny", size_m: float = 200.0, cell_m: float = 4.0) -> District:
    """Four buildings around a crossroads, two stops, two POIs, on flat terrain at 150 m."""
    b = DistrictBuilder(size_m, cell_m=cell_m, lonlat=(11.81, 51.155), terrain_m=150.0)
    for fp, h, eave, roof, use, storeys, dwellings, res in (
        (box(20, 20, 60, 60), 12, 9, "gabled", "residential", 3, 10, 20),
        (box(120, 20, 170, 50), 8, 8, "flat", "commercial", 2, 0, 0),
        (box(20, 130, 50, 180), 15, 12, "hipped", "residential", 4, 6, 12),
        (Polygon([(130, 130), (180, 130), (155, 175)]), 10, 7, "flat", "residential", 2, 3, 6),
    ):
        b.building(fp, h, eave_height_m=eave, base_m=150.0, roof_shape=roof, use=use, storeys=storeys,
                   dwellings=dwellings, residents=res)
    b.junctions([(0, 100), (100, 100), (200, 100), (100, 0), (100, 200)])
    for a, z, street in (((0, 100), (100, 100), "Hauptstraße"), ((100, 100), (200, 100), "Hauptstraße"),
                         ((100, 0), (100, 100), "Bahnhofstraße"), ((100, 100), (100, 200), "Bahnhofstraße")):
        b.road(a, z, "residential", lanes=2, maxspeed_kmh=50, name=street)
    b.stop((95.0, 105.0), "Markt", source_id="t:s0")
    b.stop((150.0, 95.0), "Ost", source_id="t:s1")
    b.poi((60.0, 90.0), "doctor", "Praxis", source_id="t:p0")
    b.poi((140.0, 110.0), "supermarket", "Markt", source_id="t:p1")
    b.land(box(0, 0, size_m, size_m), "grass")
    return b.build(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server_process(data_dir: Path, db_url: str | None = None, *, port: int | None = None,
                         extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """Run tests/server_main.py (the real app over the tiny district) in its own process; wait until up."""
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    cmd = [sys.executable, str(ROOT / "tests" / "server_main.py"), str(data_dir), str(port)]
    if db_url:
        cmd.append(db_url)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited early: {out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start in 60 s")


def make_app(tmp_path: Path, *, engines: list[str] | None = None, db_url: str | None = None, **options):
    """The real app over the tiny district in ``tmp_path``; returns (app, tokens by role)."""
    from server.app import create_app
    from server.settings import Settings

    settings = Settings(data=tmp_path, db_url=db_url or f"sqlite:///{tmp_path / 'twin.sqlite'}", arch="cpu")
    app = create_app(settings, districts=[tiny_district()], engines=engines if engines is not None else ["costs"],
                     **options)
    st = app.state.twin.storage
    if st.lookup_token(PLANNER_TOKEN) is None:
        st.add_token(PLANNER_TOKEN, role="planner", department="Umwelt", name="Anna")
        st.add_token(PLANNER_TOKEN + "-2", role="planner", department="Verkehr", name="Ben")
        st.add_token(ADMIN_TOKEN, role="admin", department="Verwaltung", name="Admin")
    tokens = {"planner": PLANNER_TOKEN, "planner2": PLANNER_TOKEN + "-2", "admin": ADMIN_TOKEN}
    return app, tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class ServerZygote:
    """Forks real server processes from one pre-imported parent; ``start()`` returns (handle, port)."""

    def __init__(self, data_dir: Path, db_url: str | None = None) -> None:
        cmd = [sys.executable, str(ROOT / "tests" / "server_main.py"), "--zygote", str(data_dir)]
        if db_url:
            cmd.append(db_url)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, text=True)

    def start(self) -> tuple[ForkedServer, int]:
        port = free_port()
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"start {port}\n")
        self.proc.stdin.flush()
        pid = int(self.proc.stdout.readline())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return ForkedServer(pid), port
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("forked server did not start in 60 s")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=20)


class ForkedServer:
    """A server process forked by the zygote; ``kill()`` sends SIGKILL, ``wait()`` until it is gone."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def kill(self) -> None:
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.01)
        raise TimeoutError(f"process {self.pid} still alive")
