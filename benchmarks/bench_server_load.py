"""Load benchmark of the live server: N websocket clients on one scenario while an edit arrives every
second; the server runs in its own process over the sample district with the real engines.

Prints p50/p95/p99 edit-to-all-clients latency (from sending an edit until the last client has its
``applied`` message), frames per second delivered, server memory (RSS) at start and end, and errors.

    .venv/bin/python benchmarks/bench_server_load.py --clients 50 --seconds 120
    .venv/bin/python benchmarks/bench_server_load.py --clients 20 --seconds 60 --engines costs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.live_server import open_spots, rss_mb, run_app, sample_app, served  # noqa: E402

TOKEN = "bench-planner-token"


def serve(data: Path, port: int, engines: str, size_km: float, cell_m: float) -> None:
    """Server mode (runs in the child process)."""
    app, district, sid = sample_app(data, token=TOKEN, scenario_name="Last", size_km=size_km, cell_m=cell_m,
                                    engines=engines)
    spots = open_spots(district, 400, np.random.default_rng(0))
    (data / "setup.json").write_text(json.dumps({"scenario_id": sid, "spots": spots}))
    run_app(app, port)


class Stats:
    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.errors: list[str] = []
        self.arrivals: dict[str, list[float]] = {}  # object id + revision -> receive times


class _Head:
    """Decodes only what the benchmark looks at (a viewer decodes everything, in its own process)."""

    def __init__(self) -> None:
        import msgspec

        class Head(msgspec.Struct):
            t: str
            object_id: str = ""
            revision: int = 0
            message_en: str = ""

        self.decoder = msgspec.msgpack.Decoder(Head)


async def client(port: int, sid: str, stats: Stats, ready: asyncio.Event, stop: asyncio.Event, *, editor: bool,
                 edits: list, counter: list[int]) -> None:
    from websockets.asyncio.client import connect

    import protocol as p

    head = _Head()
    async with connect(f"ws://127.0.0.1:{port}/ws/scenarios/{sid}", max_size=1 << 26) as ws:
        await ws.send(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, token=TOKEN if editor else "", role="planner" if editor else "citizen")))
        welcome = p.decode_server(await ws.recv())
        await ws.send(p.encode(p.Subscribe(layers=["heat", "traffic", "access"], hour=15)))
        counter[0] += 1
        if counter[0] >= counter[1]:
            ready.set()
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            t = time.monotonic()
            stats.frames += 1
            stats.bytes += len(data)
            msg = head.decoder.decode(data)
            if msg.t == "applied":
                stats.arrivals.setdefault(f"{msg.object_id}@{msg.revision}", []).append(t)
            elif msg.t in ("error", "rejected"):
                stats.errors.append(f"{msg.t}: {msg.message_en}")
        _ = welcome


async def run(port: int, sid: str, spots: list, n_clients: int, seconds: float, server_pid: int, warmup_s: float) -> dict:
    from websockets.asyncio.client import connect

    import protocol as p
    from geodata.interventions import Tree

    stats = Stats()
    ready, stop = asyncio.Event(), asyncio.Event()
    counter = [0, n_clients]
    edits: list = []
    tasks = [asyncio.create_task(client(port, sid, stats, ready, stop, editor=False, edits=edits, counter=counter))
             for _ in range(n_clients)]
    await asyncio.wait_for(ready.wait(), 120)
    await asyncio.sleep(15.0)  # the worker process is up and the first results are delivered
    rss_boot = rss_mb(server_pid)
    sent: dict[str, float] = {}
    rng = np.random.default_rng(1)
    async with connect(f"ws://127.0.0.1:{port}/ws/scenarios/{sid}", max_size=1 << 26) as ed:
        await ed.send(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, token=TOKEN, role="planner")))
        await ed.recv()
        revisions: dict[str, int] = {}
        t_start = time.monotonic()
        k = 0
        measuring = False
        rss0, frames0, bytes0, t_measure = rss_boot, stats.frames, stats.bytes, t_start
        while time.monotonic() - t_start < warmup_s + seconds:
            if not measuring and time.monotonic() - t_start >= warmup_s:
                # warm-up over (engine state, caches, allocator arenas): the measured run starts here
                measuring = True
                rss0, frames0, bytes0, t_measure = rss_mb(server_pid), stats.frames, stats.bytes, time.monotonic()
            k += 1
            oid = f"tree{int(rng.integers(0, 12))}"
            x, y = spots[int(rng.integers(0, len(spots)))]
            tree = Tree(id=oid, xy_local_m=(float(x), float(y)), height_m=float(rng.uniform(6, 18)))
            if oid in revisions:
                msg = p.UpdateIntervention(k, tree, base_revision=revisions[oid])
                revisions[oid] += 1
            else:
                msg = p.AddIntervention(k, tree)
                revisions[oid] = 1
            if measuring:
                sent[f"{oid}@{revisions[oid]}"] = time.monotonic()
            await ed.send(p.encode(msg))
            next_t = t_start + k * 1.0
            while time.monotonic() < next_t:  # drain the editor's own socket
                try:
                    await asyncio.wait_for(ed.recv(), timeout=max(0.01, next_t - time.monotonic()))
                except TimeoutError:
                    break
        await asyncio.sleep(3.0)
    duration = time.monotonic() - t_measure
    rss1 = rss_mb(server_pid)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    to_all, each, missing = [], [], 0
    for key, t0 in sent.items():
        got = stats.arrivals.get(key, [])
        if len(got) < n_clients:
            missing += n_clients - len(got)
        if got:
            each.extend((np.asarray(got) - t0) * 1000.0)
            if len(got) == n_clients:
                to_all.append((max(got) - t0) * 1000.0)
    frames = stats.frames - frames0
    return {
        "clients": n_clients, "edits": len(sent), "seconds": round(duration, 1),
        "edit_to_all_ms": {q: round(float(np.percentile(to_all, v)), 1) for q, v in (("p50", 50), ("p95", 95), ("p99", 99))} if to_all else {},
        "edit_to_each_ms_p95": round(float(np.percentile(each, 95)), 1) if each else None,
        "frames_per_s": round(frames / duration, 1), "mbytes_per_s": round((stats.bytes - bytes0) / duration / 1e6, 2),
        "warmup_s": warmup_s, "rss_after_boot_mb": round(rss_boot, 1), "rss_start_mb": round(rss0, 1), "rss_end_mb": round(rss1, 1), "rss_growth_pct": round(100.0 * (rss1 - rss0) / rss0, 1),
        "errors": len(stats.errors) + missing, "error_samples": stats.errors[:3], "missing_deliveries": missing,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--engines", default="all", help="all, or a comma list such as costs,heat")
    ap.add_argument("--warmup-s", type=float, default=20.0, help="edits before the measured run starts")
    ap.add_argument("--size-km", type=float, default=0.5)
    ap.add_argument("--cell-m", type=float, default=4.0)
    ap.add_argument("--serve", nargs=2, metavar=("DATA", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.engines, args.size_km, args.cell_m)
        return 0
    try:
        with served(__file__, ["--engines", args.engines, "--size-km", str(args.size_km), "--cell-m", str(args.cell_m)],
                    prefix="landtwin-load-") as srv:
            res = asyncio.run(run(srv.port, srv.setup["scenario_id"], srv.setup["spots"], args.clients, args.seconds,
                                  srv.proc.pid, args.warmup_s))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    res["engines"] = args.engines
    res["district"] = f"sample {args.size_km} km at {args.cell_m} m"
    print(json.dumps(res, indent=2))
    ok = res["edit_to_all_ms"].get("p95", 1e9) <= 300 and res["rss_growth_pct"] < 10 and res["errors"] == 0
    print(f"target p95 <= 300 ms, memory growth < 10 %, zero errors: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
