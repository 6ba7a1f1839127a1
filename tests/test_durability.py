"""Durability: SIGKILL the server in the middle of a stream of edits, restart it, find every edit that was
acknowledged; 20 kills in a row leave an intact database."""

from __future__ import annotations

import threading
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
