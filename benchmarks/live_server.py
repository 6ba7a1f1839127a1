"""The server side of the live benchmarks (``bench_live``, ``bench_server_load``, ``bench_abuse``): the
sample district served by the real app in a child process on a loopback port, and what the parent reads
of it (resident memory, CPU seconds).

A benchmark script runs itself with ``--serve DATA PORT ...`` in the child; there it builds the app with
:func:`sample_app`, writes ``DATA/setup.json`` (what its clients need) and calls :func:`run_app`. The parent
uses :func:`served`, which starts the child, waits for the setup file and the open port, and stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only


# ---- in the child ---------------------------------------------------------------------------------
def sample_app(data: Path, *, token: str, scenario_name: str, size_km: float, cell_m: float,
               engines: str = "all", **twin_options: Any) -> tuple[Any, Any, str]:
    """The app over the sample district with a planner token and one scenario: (app, district, scenario id);
    ``twin_options`` go to ``create_app``."""
    from geodata.sample import build_sample_district
    from server.app import create_app
    from server.roles import User
    from server.settings import Settings

    district = build_sample_district(size_km=size_km, seed=0, cell_m=cell_m)
    settings = Settings(data=data, db_url=f"sqlite:///{data / 'bench.sqlite'}", arch="cpu")
    app = create_app(settings, districts=[district], engines=engines.split(",") if engines != "all" else None,
                     **twin_options)
    twin = app.state.twin
    twin.storage.add_token(token, role="planner", department="Umwelt", name="Bench")
    m = twin.manager.create(User("planner", "Umwelt"), name=scenario_name, district=district.name)
    return app, district, m.scenario_id


def open_spots(district: Any, n: int, rng: np.random.Generator, classes: list[int] | None = None) -> list[list[float]]:
    """``n`` cell centres (local metres) without buildings and water, or of the given surface classes."""
    from geodata.district import SURFACE

    mask = district.building_index < 0
    mask &= np.isin(district.surface_class, classes) if classes is not None else district.surface_class != SURFACE["water"]
    free = np.argwhere(mask)
    pick = free[rng.choice(len(free), size=n, replace=False)]
    xs, ys = district.grid.rowcol_to_xy(pick[:, 0], pick[:, 1])
    return np.c_[xs, ys].tolist()


def run_app(app: Any, port: int, *, ws_deflate: bool = False) -> None:
    """Serve ``app`` as ``twin serve`` does; ``ws_deflate=True`` with the websocket's per-connection
    compression (permessage-deflate), which compresses every frame again for each client."""
    import uvicorn

    uvicorn.run(app, host=HOST, port=port, log_level="warning", ws="websockets-sansio", ws_max_size=1 << 20,
                ws_per_message_deflate=ws_deflate)


# ---- in the parent --------------------------------------------------------------------------------
@dataclass
class Served:
    port: int
    setup: dict[str, Any]
    proc: subprocess.Popen
    data: Path
    log: Path | None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def served(script: str, args: list[str], *, prefix: str, log_output: bool = False, remove: bool = False,
           timeout_s: float = 300.0) -> Iterator[Served]:
    """Run ``script --serve DATA PORT *args`` until the block ends; raises RuntimeError when it does not
    start. With ``log_output`` its output goes to ``DATA/server.log`` (read it after the block); with
    ``remove`` the data folder goes too."""
    data = Path(tempfile.mkdtemp(prefix=prefix))
    port = free_port()
    log = data / "server.log" if log_output else None
    cmd = [sys.executable, script, "--serve", str(data), str(port), *args]
    out = open(log, "wb") if log is not None else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
                            stderr=subprocess.STDOUT if out is not None else None)
    try:
        deadline = time.monotonic() + timeout_s
        while not (data / "setup.json").exists() or not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log is not None else ""
                raise RuntimeError(f"server did not start\n{tail}")
            time.sleep(0.2)
        yield Served(port, json.loads((data / "setup.json").read_text()), proc, data, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if out is not None:
            out.close()
        if remove:
            import shutil

            shutil.rmtree(data, ignore_errors=True)


def rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children (the simulation worker), MB."""
    total = 0.0
    for q in _family(pid):
        try:
            for line in Path(f"/proc/{q}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024.0
        except OSError:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server process and its children (the simulation worker)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for q in _family(pid):
        try:
            f = Path(f"/proc/{q}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def _family(pid: int) -> set[int]:
    pids = {pid}
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids |= {int(c) for c in (task / "children").read_text().split()}
    except OSError:
        pass
    return pids
