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

import numpy as np
from shapely.geometry import Polygon, box

from geodata.build import build_district, grid_for_bbox
from geodata.crs import LocalFrame
from geodata.district import (
    SURFACE,
    Buildings,
    District,
    DistrictFeatures,
    LandCover,
    Pois,
    Roads,
    Stops,
    empty_points,
)

ROOT = Path(__file__).resolve().parents[1]
PLANNER_TOKEN = "planner-token-umwelt"
ADMIN_TOKEN = "admin-token"


@functools.lru_cache(maxsize=4)
def tiny_district(name: str = "tiny", size_m: float = 200.0, cell_m: float = 4.0) -> District:
    """Four buildings around a crossroads, two stops, two POIs, on flat terrain at 150 m."""
    frame = LocalFrame.for_lonlat(11.81, 51.155)
    fps = [box(20, 20, 60, 60), box(120, 20, 170, 50), box(20, 130, 50, 180), Polygon([(130, 130), (180, 130), (155, 175)])]
    n = len(fps)
    from geodata.district import age_bands

    nb = len(age_bands())
    res = np.array([20, 0, 12, 6], np.int32)
    by_age = np.zeros((n, nb), np.int32)
    by_age[:, 5] = res
    b = Buildings(
        building_id=np.arange(1, n + 1, dtype=np.int64), footprints=tuple(fps),
        base_m=np.full(n, 150, np.float32), height_m=np.array([12, 8, 15, 10], np.float32),
        eave_height_m=np.array([9, 8, 12, 7], np.float32),
        roof_shape=np.array(["gabled", "flat", "hipped", "flat"], object),
        use=np.array(["residential", "commercial", "residential", "residential"], object),
        storeys=np.array([3, 2, 4, 2], np.int16), dwellings=np.array([10, 0, 6, 3], np.int32), residents=res,
        residents_by_age=by_age, source_id=np.array([f"test:{i}" for i in range(n)], object),
        height_source=np.array(["sample"] * n, object),
    )
    nodes = np.array([[0, 100], [100, 100], [200, 100], [100, 0], [100, 200]], float)
    ef = np.array([0, 1, 3, 1], np.int32)
    et = np.array([1, 2, 1, 4], np.int32)
    L = len(ef)
    roads = Roads(
        node_xy_local_m=nodes, node_source_id=np.full(len(nodes), -1, np.int64), edge_from=ef, edge_to=et,
        length_m=np.full(L, 100.0), road_class=np.array(["residential"] * L, object), lanes=np.full(L, 2, np.int16),
        maxspeed_kmh=np.full(L, 50, np.float32), oneway=np.zeros(L, np.int8),
        name=np.array(["Hauptstraße", "Hauptstraße", "Bahnhofstraße", "Bahnhofstraße"], object),
        source_id=np.array([f"test:road{i}" for i in range(L)], object),
        geometry=tuple(nodes[[a, b_]] for a, b_ in zip(ef, et)),
    )
    stops = Stops(np.array([[95.0, 105.0], [150.0, 95.0]]), np.array(["Markt", "Ost"], object),
                  np.array(["bus", "bus"], object), np.array(["t:s0", "t:s1"], object))
    pois = Pois(np.array([[60.0, 90.0], [140.0, 110.0]]), np.array(["doctor", "supermarket"], object),
                np.array(["Praxis", "Markt"], object), np.array(["t:p0", "t:p1"], object))
    lc = LandCover((box(0, 0, size_m, size_m),), np.array([SURFACE["grass"]], np.uint8), np.array(["test"], object))
    feats = DistrictFeatures(frame=frame, bbox_local_m=(0, 0, size_m, size_m), buildings=b, roads=roads,
                             trees=empty_points("trees"), stops=stops, pois=pois, landcover=lc)
    grid = grid_for_bbox((0, 0, size_m, size_m), cell_m)
    return build_district(feats, name=name, grid=grid, terrain_m=np.full(grid.shape, 150.0, np.float32))


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
