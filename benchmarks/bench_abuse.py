"""Abuse benchmark of the live server, on loopback only: well-behaved planners edit while anonymous
clients try to stall it. The server runs in its own process over the sample district with the real
engines.

Phase 1 (quiet): ``--editors`` planner clients (each on its own socket, one edit every
``--edit-every-s`` seconds, trees of its own) edit the official scenario. Phase 2 (abuse): the same
editors, plus ``--abusers`` anonymous clients that, as fast as the server lets them, ask for a sandbox
with the kiosk header, fork, export a field at a random hour, subscribe to every hour in turn, send
oversized websocket messages and 2 MiB request bodies, and post comments.

Prints, per phase, the editors' edit-to-result p50/p95 (from sending an edit until that editor has a
heat KPI frame of that version or a newer one), the abusers' answers by status, the server's memory
(RSS, with the simulation worker) after warm-up and at the end, server errors (5xx other than
``503 not_ready``, tracebacks in the server log) and lost acknowledged edits (acknowledged revisions
missing from the stored scenario afterwards). Bounded: at most ``--minutes`` of abuse and a fixed
number of clients.

    .venv/bin/python benchmarks/bench_abuse.py                       # 50 editors, 20 abusers, 5 min
    .venv/bin/python benchmarks/bench_abuse.py --minutes 1 --quiet-minutes 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.live_server import HOST, open_spots, rss_mb, run_app, sample_app, served  # noqa: E402

TOKEN = "bench-abuse-planner"


def serve(data: Path, port: int, engines: str, size_km: float, cell_m: float) -> None:
    """Server mode (runs in the child process)."""
    app, district, sid = sample_app(data, token=TOKEN, scenario_name="Amtlich", size_km=size_km, cell_m=cell_m,
                                    engines=engines)
    spots = open_spots(district, 600, np.random.default_rng(0))
    (data / "setup.json").write_text(json.dumps({"scenario_id": sid, "spots": spots}))
    run_app(app, port)


class _Head:
    """Decodes only what the benchmark looks at."""

    def __init__(self) -> None:
        import msgspec

        class Head(msgspec.Struct):
            t: str
            object_id: str = ""
            revision: int = 0
            session_id: str = ""
            request_id: int = -1
            scenario_version: int = -1
            engine: str = ""
            code: str = ""
            message_en: str = ""

        self.decoder = msgspec.msgpack.Decoder(Head)


class Shared:
    def __init__(self) -> None:
        self.phase = "warmup"
        self.latency: dict[str, list[float]] = collections.defaultdict(list)  # phase -> ms
        self.acked: dict[str, int] = {}  # object id -> last acknowledged revision
        self.rejected: list[str] = []
        self.errors: list[str] = []
        self.abuse: collections.Counter = collections.Counter()
        self.stop = asyncio.Event()


async def editor(i: int, port: int, sid: str, spots: list, every_s: float, sh: Shared, result_engine: str) -> None:
    from websockets.asyncio.client import connect

    import protocol as p
    from geodata.interventions import Tree

    head = _Head()
    rng = random.Random(i)
    async with connect(f"ws://{HOST}:{port}/ws/scenarios/{sid}", max_size=1 << 26) as ws:
        await ws.send(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, token=TOKEN, role="planner")))
        welcome = p.decode_server(await ws.recv())
        me = welcome.session_id
        await ws.send(p.encode(p.Subscribe(layers=["heat", "traffic", "access"], hour=15)))
        revisions: dict[str, int] = {}
        await asyncio.sleep(rng.uniform(0, every_s))
        k = 0
        while not sh.stop.is_set():
            k += 1
            oid = f"e{i}t{rng.randrange(3)}"
            x, y = spots[rng.randrange(len(spots))]
            tree = Tree(id=oid, xy_local_m=(float(x), float(y)), height_m=rng.uniform(6, 18))
            msg = (p.UpdateIntervention(k, tree, base_revision=revisions[oid]) if oid in revisions
                   else p.AddIntervention(k, tree))
            phase, t0 = sh.phase, time.monotonic()
            await ws.send(p.encode(msg))
            version = None
            deadline = t0 + 60.0
            while time.monotonic() < deadline and not sh.stop.is_set():
                try:
                    data = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                h = head.decoder.decode(data)
                if h.t == "applied" and h.session_id == me and h.request_id == k:
                    version = h.scenario_version
                    revisions[oid] = h.revision
                    sh.acked[oid] = h.revision
                elif h.t == "rejected" and h.request_id == k:
                    sh.rejected.append(h.message_en)
                    revisions.pop(oid, None)
                    break
                elif h.t == "error":
                    sh.errors.append(f"editor {i}: {h.code} {h.message_en}")
                elif h.t == "kpis" and h.engine == result_engine and version is not None and h.scenario_version >= version:
                    if phase == sh.phase:
                        sh.latency[phase].append((time.monotonic() - t0) * 1000.0)
                    break
            await asyncio.sleep(max(0.0, every_s - (time.monotonic() - t0)) * rng.uniform(0.8, 1.2))


async def abuser(i: int, port: int, sid: str, sh: Shared) -> None:
    import httpx
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    import protocol as p

    rng = random.Random(1000 + i)
    base = f"http://{HOST}:{port}/api"
    big = b"x" * (2 << 20)

    def note(kind: str, r: httpx.Response) -> None:
        code = r.status_code
        sh.abuse[f"{kind} {code}"] += 1
        if code >= 500 and not (code == 503 and r.json().get("error") == "not_ready"):
            sh.errors.append(f"abuser {kind}: {code} {r.text[:120]}")

    async def open_socket():
        ws = await connect(f"ws://{HOST}:{port}/ws/scenarios/{sid}", max_size=1 << 26)
        await ws.send(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, role="kiosk")))
        await ws.recv()

        async def drain() -> None:
            async for _ in ws:
                pass

        return ws, asyncio.create_task(drain())

    async with httpx.AsyncClient(timeout=30.0) as http:
        ws, reader = await open_socket()
        hour = rng.randrange(24)
        try:
            while not sh.stop.is_set():
                act = rng.randrange(7)
                try:
                    if act == 0:
                        note("sandbox", await http.post(f"{base}/scenarios/{sid}/sandbox", headers={"X-Landtwin-Role": "kiosk"}))
                    elif act == 1:
                        note("fork", await http.post(f"{base}/scenarios/{sid}/fork", json={"name": "mine"}))
                    elif act == 2:
                        note("export", await http.get(f"{base}/scenarios/{sid}/exports/fields/utci_c.tif",
                                                      params={"hour": rng.randrange(24)}))
                    elif act == 3:
                        hour = (hour + 1) % 24
                        await ws.send(p.encode(p.Subscribe(layers=["heat", "agents"], hour=hour)))
                        sh.abuse["subscribe"] += 1
                    elif act == 4:
                        await ws.send(b"\x81" + os.urandom(300 * 1024))  # over the protocol's message limit
                        sh.abuse["oversized ws"] += 1
                    elif act == 5:
                        note("2 MiB body", await http.post(f"{base}/scenarios/{sid}/comments", content=big,
                                                           headers={"content-type": "application/json"}))
                    else:
                        note("comment", await http.post(f"{base}/scenarios/{sid}/comments", json={
                            "scenario_version": 0, "xyz_local_m": [10, 10, 1], "text": "spam"}))
                except (httpx.TransportError, OSError) as exc:
                    sh.abuse[f"transport {type(exc).__name__}"] += 1
                except WebSocketException:  # the server closed the socket (too fast, too large): come back
                    sh.abuse["socket closed by server"] += 1
                    reader.cancel()
                    ws, reader = await open_socket()
                await asyncio.sleep(rng.uniform(0.02, 0.1))
        finally:
            reader.cancel()
            await ws.close()


async def run(args: argparse.Namespace, port: int, sid: str, spots: list, server_pid: int) -> dict:
    import httpx

    sh = Shared()
    result_engine = "heat" if args.engines in ("all",) or "heat" in args.engines else "costs"
    editors = [asyncio.create_task(editor(i, port, sid, spots, args.edit_every_s, sh, result_engine))
               for i in range(args.editors)]
    await asyncio.sleep(args.warmup_s)
    rss0 = rss_mb(server_pid)
    sh.phase = "quiet"
    await asyncio.sleep(args.quiet_minutes * 60.0)
    sh.phase = "abuse"
    abusers = [asyncio.create_task(abuser(i, port, sid, sh)) for i in range(args.abusers)]
    await asyncio.sleep(args.minutes * 60.0)
    rss1 = rss_mb(server_pid)
    sh.stop.set()
    done = await asyncio.gather(*editors, *abusers, return_exceptions=True)
    crashed = [repr(d) for d in done if isinstance(d, BaseException)]
    async with httpx.AsyncClient(timeout=60.0) as http:
        body = (await http.get(f"http://{HOST}:{port}/api/scenarios/{sid}", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    stored = {e["intervention"]["id"]: e["revision"] for e in body["interventions"]}
    lost = sorted(o for o, rev in sh.acked.items() if stored.get(o, 0) < rev)

    def pct(xs: list[float], q: float) -> float | None:
        return round(float(np.percentile(xs, q)), 1) if xs else None

    quiet, abuse = sh.latency["quiet"], sh.latency["abuse"]
    return {
        "editors": args.editors, "abusers": args.abusers, "quiet_minutes": args.quiet_minutes, "abuse_minutes": args.minutes,
        "edit_to_result_ms": {ph: {"n": len(xs), "p50": pct(xs, 50), "p95": pct(xs, 95)} for ph, xs in (("quiet", quiet), ("abuse", abuse))},
        "p95_ratio_abuse_vs_quiet": round(pct(abuse, 95) / pct(quiet, 95), 2) if quiet and abuse else None,
        "rss_start_mb": round(rss0, 1), "rss_end_mb": round(rss1, 1), "rss_growth_pct": round(100.0 * (rss1 - rss0) / rss0, 1),
        "server_errors": len(sh.errors), "error_samples": sh.errors[:3], "client_crashes": crashed[:3],
        "acknowledged_objects": len(sh.acked), "lost_acknowledged_edits": len(lost), "lost_samples": lost[:5],
        "editor_rejections": len(sh.rejected), "rejection_samples": sh.rejected[:3],
        "abuse_answers": dict(sorted(sh.abuse.items())),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--editors", type=int, default=50)
    ap.add_argument("--abusers", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=5.0, help="length of the abuse phase")
    ap.add_argument("--quiet-minutes", type=float, default=2.0, help="length of the quiet phase")
    ap.add_argument("--warmup-s", type=float, default=30.0)
    ap.add_argument("--edit-every-s", type=float, default=10.0, help="seconds between one editor's edits")
    ap.add_argument("--engines", default="all", help="all, or a comma list such as costs,traffic,heat")
    ap.add_argument("--size-km", type=float, default=0.5)
    ap.add_argument("--cell-m", type=float, default=4.0)
    ap.add_argument("--serve", nargs=2, metavar=("DATA", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.engines, args.size_km, args.cell_m)
        return 0
    if not (1 <= args.editors <= 200 and 0 <= args.abusers <= 100 and 0 < args.minutes <= 30 and 0 < args.quiet_minutes <= 30):
        print("editors 1..200, abusers 0..100, minutes 0..30 / bounded by design", file=sys.stderr)
        return 2
    try:
        with served(__file__, ["--engines", args.engines, "--size-km", str(args.size_km), "--cell-m", str(args.cell_m)],
                    prefix="landtwin-abuse-", log_output=True) as srv:
            res = asyncio.run(run(args, srv.port, srv.setup["scenario_id"], srv.setup["spots"], srv.proc.pid))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    log = srv.log
    assert log is not None
    text = log.read_text(errors="replace")
    res["server_log_tracebacks"] = text.count("Traceback")
    res["engines"] = args.engines
    res["district"] = f"sample {args.size_km} km at {args.cell_m} m"
    print(json.dumps(res, indent=2))
    ratio = res["p95_ratio_abuse_vs_quiet"]
    ok = (ratio is not None and ratio <= 1.5 and res["rss_growth_pct"] < 10 and res["server_errors"] == 0
          and res["server_log_tracebacks"] == 0 and res["lost_acknowledged_edits"] == 0)
    print(f"target p95 within 1.5x of quiet, memory growth < 10 %, 0 server errors, 0 lost edits: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
