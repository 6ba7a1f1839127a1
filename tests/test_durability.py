"""Durability: SIGKILL the server in the middle of a stream of edits, restart it, find every edit that was
acknowledged; 20 kills in a row leave an intact database; and, traced with strace, every acknowledgement
leaves the process only after the commit was synced to disk."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from server_support import PLANNER_TOKEN, ServerZygote, auth
from websockets.exceptions import ConnectionClosed
from ws_client import WsClient

import protocol as p
from geodata.interventions import Tree
from server.storage import Storage

pytestmark = pytest.mark.slow


def _stream_until_killed(port: int, sid: str, n: int, kill_after: int, proc, prefix: str, rng) -> set[str]:
    """Send ``n`` add edits, up to 8 in flight; SIGKILL the server once ``kill_after`` are acknowledged.
    Returns the ids the server acknowledged (EditApplied to this session)."""
    c = WsClient(port, sid, token=PLANNER_TOKEN)
    acked: set[str] = set()
    sent = 0
    killed = threading.Event()
    try:
        while sent < n or len(acked) < sent:
            while sent < n and sent - len(acked) < 8:
                x, y = rng.uniform(66, 114), rng.uniform(66, 124)
                c.send(p.AddIntervention(sent, Tree(id=f"{prefix}{sent}", xy_local_m=(float(x), float(y)))))
                sent += 1
            msg = c.recv(timeout=20)
            if isinstance(msg, p.EditApplied) and msg.session_id == c.welcome.session_id:
                acked.add(msg.object_id)
                if len(acked) >= kill_after and not killed.is_set():
                    proc.kill()  # SIGKILL, edits still in flight
                    killed.set()
            assert not isinstance(msg, p.EditRejected), msg
    except (ConnectionClosed, TimeoutError, OSError):
        pass
    if not killed.is_set():
        proc.kill()
    proc.wait(timeout=20)
    return acked


def _create(port: int) -> str:
    r = httpx.post(f"http://127.0.0.1:{port}/api/scenarios", json={"name": "D", "district": "tiny"},
                   headers=auth(PLANNER_TOKEN), timeout=20)
    assert r.status_code == 201
    return r.json()["scenario_id"]


@pytest.fixture
def zygote(tmp_path: Path):
    z = ServerZygote(tmp_path)
    yield z
    z.close()


def test_every_acknowledged_edit_survives_sigkill(tmp_path: Path, zygote: ServerZygote) -> None:
    rng = np.random.default_rng(1)
    proc, port = zygote.start()
    sid = _create(port)
    acked = _stream_until_killed(port, sid, 200, kill_after=120, proc=proc, prefix="a", rng=rng)
    assert len(acked) >= 120
    proc, port = zygote.start()
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/api/scenarios/{sid}", timeout=20).json()
        stored = {e["intervention"]["id"] for e in body["interventions"]}
        assert acked <= stored, f"lost acknowledged edits: {sorted(acked - stored)[:5]}"
        assert body["version"] == len(stored)  # versions are gapless: one per committed edit
        # the restarted server accepts the rest of the stream
        c = WsClient(port, sid, token=PLANNER_TOKEN)
        c.send(p.AddIntervention(1, Tree(id="after", xy_local_m=(90.0, 90.0))))
        assert c.until(lambda m: isinstance(m, p.EditApplied)).scenario_version == body["version"] + 1
        c.close()
    finally:
        proc.kill()
        proc.wait(timeout=20)


def test_twenty_kills_leave_no_corrupt_database(tmp_path: Path, zygote: ServerZygote) -> None:
    rng = np.random.default_rng(2)
    proc, port = zygote.start()
    sid = _create(port)
    all_acked: set[str] = set()
    for k in range(20):
        acked = _stream_until_killed(port, sid, 24, kill_after=int(rng.integers(1, 16)), proc=proc, prefix=f"k{k}_", rng=rng)
        all_acked |= acked
        st = Storage(f"sqlite:///{tmp_path / 'twin.sqlite'}")
        try:
            assert st.integrity_ok(), f"corrupt database after kill {k + 1}"
            stored = {r.object_id for r in st.load_edits(sid)}
            assert all_acked <= stored, f"kill {k + 1}: lost {sorted(all_acked - stored)[:5]}"
            versions = [r.version for r in st.load_edits(sid)]
            assert versions == list(range(1, len(versions) + 1))
        finally:
            st.dispose()
        proc, port = zygote.start()
    proc.kill()
    proc.wait(timeout=20)
    assert len(all_acked) >= 20


# --- the acknowledgement waits for a durable commit: fsync before the socket write -------------------
# SIGKILL kills the process but not the OS page cache, so the tests above would pass with
# ``synchronous=OFF`` too. Here the server runs under strace: every ``applied`` frame must leave the
# process only after a completed fdatasync/fsync of the database's WAL that followed the previous one.

_BROKEN = """
import sys
sys.path.insert(0, {tests!r})
import server.storage as s

def _no_sync(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()

s._sqlite_pragmas = _no_sync  # a server that acknowledges before the data is durable
import server_main
server_main.serve(__import__("pathlib").Path(sys.argv[1]), int(sys.argv[2]), None)
"""


def _strace_usable() -> bool:
    import shutil
    import subprocess

    if shutil.which("strace") is None:
        return False
    return subprocess.run(["strace", "-f", "-e", "trace=fdatasync", "-o", "/dev/null", "true"],
                          capture_output=True, timeout=30).returncode == 0


def _traced_edits(data: Path, n: int, *, broken: bool) -> list[tuple[str, str]]:
    """Run the server under strace, make ``n`` acknowledged edits one after the other; return the
    events in order: ("sync", path) for a completed fsync/fdatasync, ("ack", "") for a socket write
    carrying an ``applied`` frame."""
    import os
    import re
    import signal
    import subprocess
    import sys

    from server_support import ROOT, free_port
    from websockets.sync.client import connect

    port = free_port()
    trace = data / "trace.txt"
    script = [str(ROOT / "tests" / "server_main.py")]
    if broken:
        (data / "broken_server.py").write_text(_BROKEN.format(tests=str(ROOT / "tests")))
        script = [str(data / "broken_server.py")]
    cmd = ["strace", "-f", "-y", "-x", "-s", "64", "-e", "trace=fsync,fdatasync,write,writev,sendto,sendmsg",
           "-o", str(trace), sys.executable, *script, str(data), str(port)]
    strace = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        sid = None
        deadline = time.monotonic() + 120
        while sid is None:
            assert time.monotonic() < deadline, "server under strace did not start"
            try:
                sid = _create(port)
            except httpx.TransportError:
                time.sleep(0.2)
        # no compression, so that the frame's bytes are visible in the trace
        with connect(f"ws://127.0.0.1:{port}/ws/scenarios/{sid}", compression=None, open_timeout=30) as ws:
            ws.send(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, token=PLANNER_TOKEN)))
            p.decode_server(ws.recv(timeout=30))
            for i in range(n):
                ws.send(p.encode(p.AddIntervention(i, Tree(id=f"d{i}", xy_local_m=(70.0 + i, 80.0)))))
                while not isinstance(m := p.decode_server(ws.recv(timeout=30)), p.EditApplied):
                    assert not isinstance(m, p.EditRejected), m
    finally:
        for child in open(f"/proc/{strace.pid}/task/{strace.pid}/children").read().split():
            os.kill(int(child), signal.SIGKILL)
        strace.wait(timeout=30)
    events: list[tuple[str, str]] = []
    pending: dict[str, str] = {}
    sync = re.compile(r"^(\d+) +(?:fsync|fdatasync)\(\d+<([^>]*)>\)")
    applied = ("applied", "".join(f"\\x{b:02x}" for b in b"\xa7applied"))  # as text, or hex-escaped by strace
    for line in trace.read_text(errors="replace").splitlines():
        m = sync.match(line)
        if m and "unfinished" in line:
            pending[m.group(1)] = m.group(2)
        elif m and line.rstrip().endswith("= 0"):
            events.append(("sync", m.group(2)))
        elif re.match(r"^(\d+) +<\.\.\. (?:fsync|fdatasync) resumed>.*= 0", line):
            events.append(("sync", pending.pop(line.split()[0], "")))
        elif re.match(r"^\d+ +(?:write|writev|sendto|sendmsg)\(\d+<(?:socket|TCP|TCPv6):", line) and any(a in line for a in applied):
            events.append(("ack", ""))
    return events


def _acks_without_sync(events: list[tuple[str, str]], db_name: str) -> int:
    """How many acknowledgements left without a completed WAL sync since the previous one."""
    bad, synced = 0, False
    for kind, path in events:
        if kind == "sync" and path.endswith(f"{db_name}-wal"):
            synced = True
        elif kind == "ack":
            bad += not synced
            synced = False
    return bad


@pytest.mark.timeout(300)
def test_the_commit_is_durable_before_the_acknowledgement_leaves(tmp_path: Path) -> None:
    if not _strace_usable():
        pytest.skip("strace is not installed or cannot trace here (apt-get install strace)")
    good = tmp_path / "good"
    good.mkdir()
    events = _traced_edits(good, 5, broken=False)
    assert sum(k == "ack" for k, _ in events) == 5, events
    assert _acks_without_sync(events, "twin.sqlite") == 0, events
    # the check itself catches a server that acknowledges from the page cache
    bad = tmp_path / "bad"
    bad.mkdir()
    events = _traced_edits(bad, 5, broken=True)
    assert sum(k == "ack" for k, _ in events) == 5
    assert _acks_without_sync(events, "twin.sqlite") == 5
