"""What a user sees of the live loop: from a planner's edit until EVERY client holds the new result.

The server runs in its own process over the sample district (2 x 2 km at 2 m by default) with all engines.
N protocol clients (citizens) subscribe to UTCI at 15:00, traffic and access, as the web viewer does; a
planner places trees, lays out a pocket park, unseals a yard and closes a road, one edit at a time. For each edit
the benchmark records, per client, when the heat field (``utci_c``) and the heat key figures of that
version (or a newer one) arrived, and for a road closure when the new traffic volumes arrived. One
unmeasured edit of each kind goes first (Taichi compiles a kernel on its first use; ``twin serve`` keeps
compiled kernels in the data folder, so a running server is past that).

Printed per edit kind and client count: edit-to-every-client p50 / p95 / p99 (the slowest client of each
edit), acknowledgement p50, bytes per client per edit, the server's CPU seconds per edit (server and
worker processes, from /proc) and misses (a client that never got the version).

    .venv/bin/python benchmarks/bench_live.py --clients 1,20,50 --edits 8
    .venv/bin/python benchmarks/bench_live.py --clients 20 --size-km 1 --cell-m 2 --browsers 2

``--trace`` also breaks each edit's time down (the server notes its stages in monotonic time, which the
clients on this machine share): edit in the edit log, job start, each engine's start / done / frames
published, the early UTCI frame, the last client's field and key figures, all frames sent ("done") and the
results stored; the median offset of each stage from the edit's send time is printed per edit kind.

``--first-layer`` instead measures ``twin demo`` on a fresh data folder (no district, no kernel cache): the
seconds until it says it is ready (district built, baseline computed) and from then until a viewer that
connects holds the first heat layer (target <= 15 s).

``--browsers K`` also opens K real Chromium pages of the web viewer (Debian's chromium via Playwright)
and reports when their drape shows the edit's version (``__viewer.fieldVersion('utci_c')``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.live_server import cpu_seconds, free_port, open_spots, port_open, run_app, sample_app, served  # noqa: E402

TOKEN = "bench-live-planner"
SUBSCRIBED_FIELDS = ["utci_c"]  # the heat fields the clients subscribe to (--fields)
TARGETS_MS = {("tree", 20): 300, ("tree", 50): 150, ("park", 20): 300, ("park", 50): 150, ("unseal", 20): 300,
              ("unseal", 50): 150, ("road_closure", 20): 1000}


# ---- server side (child process) ------------------------------------------------------------------
def serve(data: Path, port: int, size_km: float, cell_m: float, ws_deflate: bool = False, trace: bool = False,
          tiles: bool = False) -> None:
    import logging

    from geodata.district import DRIVABLE_CLASSES, SURFACE

    if trace:  # the stages of each live job, for the breakdown (see --trace)
        handler = logging.FileHandler(data / "trace.log")
        handler.setFormatter(logging.Formatter("%(message)s"))
        tl = logging.getLogger("landtwin.trace")
        tl.setLevel(logging.DEBUG)
        tl.propagate = False
        tl.addHandler(handler)

    # a slow first baseline must not be stopped
    app, district, sid = sample_app(data, token=TOKEN, scenario_name="Live", size_km=size_km, cell_m=cell_m,
                                    job_timeout_s=900.0)
    if tiles:  # the web viewer starts from the district's 3D tiles
        from geodata.scene import export_tiles

        export_tiles(district, app.state.twin.districts.tiles_dir(district.name))
    rng = np.random.default_rng(0)
    spots = open_spots(district, 200, rng)
    # yards: sealed ground without buildings, each greened once in a run (a park on a park changes little)
    yards = open_spots(district, 160, rng, classes=[SURFACE["asphalt"], SURFACE["paving"]])
    roads = district.roads
    drivable = np.isin(np.asarray(roads.road_class), list(DRIVABLE_CLASSES))
    busy = [int(i) for i in np.argsort(-roads.lanes.astype(float) * roads.length_m * drivable)[:40]]
    (data / "setup.json").write_text(json.dumps({
        "scenario_id": sid, "spots": spots, "yards": yards, "roads": busy,
        "cells": int(district.grid.rows * district.grid.cols)}))
    run_app(app, port, ws_deflate=ws_deflate)


# ---- clients --------------------------------------------------------------------------------------
class Client:
    """A citizen's socket: decodes every frame (as a viewer does) and notes when each version arrived."""

    def __init__(self) -> None:
        self.bytes = 0
        self.heat: dict[int, float] = {}  # version -> first time a utci_c frame of >= that version arrived
        self.kpi: dict[int, float] = {}
        self.traffic: dict[int, float] = {}
        self.done: dict[int, float] = {}  # version -> when the server said its results were all sent
        self.latest = {"heat": -1, "kpi": -1, "traffic": -1, "done": -1}
        self.errors: list[str] = []

    def note(self, kind: str, version: int, t: float) -> None:
        if version > self.latest[kind]:
            self.latest[kind] = version
            getattr(self, kind)[version] = t

    def first_at_least(self, kind: str, version: int) -> float | None:
        times = [t for v, t in getattr(self, kind).items() if v >= version]
        return min(times) if times else None


async def run_client(port: int, sid: str, c: Client, ready: asyncio.Event, counter: list[int],
                     stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    import protocol as p

    async with connect(f"ws://127.0.0.1:{port}/ws/scenarios/{sid}", max_size=1 << 27) as ws:
        await ws.send(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, token="", role="citizen")))
        await ws.recv()
        await ws.send(p.encode(p.Subscribe(layers=["heat", "traffic", "access"], hour=15, fields=SUBSCRIBED_FIELDS)))
        counter[0] += 1
        if counter[0] >= counter[1]:
            ready.set()
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            t = time.monotonic()
            c.bytes += len(data)
            msg = p.decode_server(data)
            if isinstance(msg, p.FieldFrame) and msg.layer == "utci_c":
                c.note("heat", msg.scenario_version, t)
            elif isinstance(msg, p.KpiFrame) and msg.engine == "heat":
                c.note("kpi", msg.scenario_version, t)
            elif isinstance(msg, p.EdgeFrame):
                c.note("traffic", msg.scenario_version, t)
            elif isinstance(msg, p.Progress) and msg.stage == "done":
                c.note("done", msg.scenario_version, t)
            elif isinstance(msg, p.ErrorMessage):
                c.errors.append(msg.message_en)


def _next_yard(setup: dict) -> tuple[float, float]:
    """A yard not greened yet in this run (the yards are in random order)."""
    n = setup["yard_next"] = setup.get("yard_next", -1) + 1
    x, y = setup["yards"][n % len(setup["yards"])]
    return float(x), float(y)


def _edit(kind: str, k: int, setup: dict, rng: np.random.Generator):
    from geodata.interventions import Park, RoadClosure, Tree, Unseal

    if kind == "tree":
        x, y = setup["spots"][int(rng.integers(0, len(setup["spots"])))]
        return Tree(id=f"t{k}", xy_local_m=(float(x), float(y)), height_m=12.0)
    if kind == "park":  # a 30 x 30 m pocket park around a yard: grass with trees on a third of it
        x, y = _next_yard(setup)
        return Park(id=f"p{k}", polygon_local_m=[(x - 15, y - 15), (x + 15, y - 15), (x + 15, y + 15), (x - 15, y + 15)],
                    tree_cover=0.3)
    if kind == "unseal":
        x, y = _next_yard(setup)
        return Unseal(id=f"u{k}", polygon_local_m=[(x - 10, y - 10), (x + 10, y - 10), (x + 10, y + 10), (x - 10, y + 10)])
    n = setup["closed"] = setup.get("closed", -1) + 1  # a road not closed yet in this run
    return RoadClosure(id=f"r{k}", edge_index=int(setup["roads"][n % len(setup["roads"])]))


def read_trace(path: Path | None, sid: str) -> dict[int, dict[str, float]]:
    """version -> stage -> first monotonic time, from the server's trace log (empty without one)."""
    out: dict[int, dict[str, float]] = {}
    if path is None or not path.exists():
        return out
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[0] != sid:
            continue
        out.setdefault(int(parts[1]), {}).setdefault(parts[2], float(parts[3]))
    return out


def _breakdown(samples: list[dict[str, float]]) -> dict[str, float]:
    """Median offset (ms) of each stage over the edits, in the order of the medians."""
    stages = {k for s in samples for k in s}
    med = {k: round(float(np.median([s[k] for s in samples if k in s])), 1) for k in stages}
    return dict(sorted(med.items(), key=lambda kv: kv[1]))


async def measure(port: int, setup: dict, n_clients: int, kinds: list[str], edits: int, server_pid: int,
                  timeout_s: float, browsers: int, trace: Path | None = None, pace_s: float | None = None) -> list[dict]:
    from websockets.asyncio.client import connect

    import protocol as p

    sid = setup["scenario_id"]
    clients = [Client() for _ in range(n_clients)]
    ready, stop = asyncio.Event(), asyncio.Event()
    counter = [0, n_clients]
    tasks = [asyncio.create_task(run_client(port, sid, c, ready, counter, stop)) for c in clients]
    await asyncio.wait_for(ready.wait(), 120)
    pages = await asyncio.to_thread(_open_pages, port, sid, browsers) if browsers else None
    rows = []
    rng = np.random.default_rng(n_clients)
    async with connect(f"ws://127.0.0.1:{port}/ws/scenarios/{sid}", max_size=1 << 27) as ed:
        await ed.send(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, token=TOKEN, role="planner")))
        await ed.recv()
        # settle: every client holds the current version before the first measured edit
        t_wait = time.monotonic()
        while time.monotonic() - t_wait < 300 and min(c.latest["heat"] for c in clients) < 0:
            await asyncio.sleep(0.2)
        if not setup.get("warmed"):  # one unmeasured edit of each kind: kernels compile on their first use
            setup["warmed"] = True
            for i, kind in enumerate(kinds):
                await ed.send(p.encode(p.AddIntervention(500 + i, _edit(kind, 500 + i, setup, rng))))
                version = -1
                while version < 0:
                    msg = p.decode_server(await asyncio.wait_for(ed.recv(), timeout=60))
                    if isinstance(msg, p.EditApplied) and msg.request_id == 500 + i:
                        version = msg.scenario_version
                t_warm = time.monotonic()
                while time.monotonic() - t_warm < 300 and not all(c.first_at_least("done", version) for c in clients):
                    await asyncio.sleep(0.05)
        k = 1000 * n_clients  # intervention ids stay unique over the client counts of one run
        for kind in kinds:
            lat, lat_kpi, lat_traffic, acks, nbytes, cpu, misses, page_lat = [], [], [], [], [], [], 0, []
            stages: list[tuple[int, float, dict[str, float]]] = []  # (version, send time, client-side stages)
            for _ in range(edits):
                k += 1
                b0 = [c.bytes for c in clients]
                c0 = cpu_seconds(server_pid)
                t0 = time.monotonic()
                await ed.send(p.encode(p.AddIntervention(k, _edit(kind, k, setup, rng))))
                version = -1
                while version < 0:
                    msg = p.decode_server(await asyncio.wait_for(ed.recv(), timeout=30))
                    if isinstance(msg, p.EditApplied) and msg.request_id == k:
                        version = msg.scenario_version
                        acks.append((time.monotonic() - t0) * 1000.0)
                    elif isinstance(msg, p.EditRejected) and msg.request_id == k:
                        raise RuntimeError(f"edit rejected: {msg.message_en}")
                want_traffic = kind == "road_closure"
                deadline = t0 + timeout_s
                while time.monotonic() < deadline:
                    done = all(c.first_at_least("heat", version) and c.first_at_least("kpi", version)
                               and (not want_traffic or c.first_at_least("traffic", version)) for c in clients)
                    if done:
                        break
                    await asyncio.sleep(0.005)
                heat_t = [c.first_at_least("heat", version) for c in clients]
                seen = {"ack": t0 + acks[-1] / 1000.0}
                for what in ("heat", "kpi", "traffic"):
                    ts = [c.first_at_least(what, version) for c in clients]
                    got = [t for t in ts if t is not None]
                    if got and len(got) == len(ts):
                        seen[f"client:first_{what}"], seen[f"client:last_{what}"] = min(got), max(got)
                if any(t is None for t in heat_t):
                    misses += sum(t is None for t in heat_t)
                else:
                    lat.append((max(heat_t) - t0) * 1000.0)
                kt = [c.first_at_least("kpi", version) for c in clients]
                if all(t is not None for t in kt):
                    lat_kpi.append((max(kt) - t0) * 1000.0)
                if want_traffic:
                    tt = [c.first_at_least("traffic", version) for c in clients]
                    if all(t is not None for t in tt + heat_t):
                        lat_traffic.append((max(tt + heat_t) - t0) * 1000.0)  # volumes and the heat they cause
                if pages:
                    page_lat.append(await asyncio.to_thread(_wait_pages, pages, version, t0, timeout_s))
                if pace_s is not None:  # the next edit while this one's later results are still being computed
                    await asyncio.sleep(pace_s)
                    nbytes.append(float(np.mean([c.bytes - b for c, b in zip(clients, b0)])))
                    cpu.append(cpu_seconds(server_pid) - c0)
                    continue
                while time.monotonic() < deadline and not all(c.first_at_least("done", version) for c in clients):
                    await asyncio.sleep(0.005)  # every frame of this edit (access comes after heat) counts
                await asyncio.sleep(0.1)
                done_t = [t for t in (c.first_at_least("done", version) for c in clients) if t is not None]
                if len(done_t) == len(clients):
                    seen["client:last_done"] = max(done_t)
                stages.append((version, t0, seen))
                nbytes.append(float(np.mean([c.bytes - b for c, b in zip(clients, b0)])))
                cpu.append(cpu_seconds(server_pid) - c0)
                await asyncio.sleep(0.5)
            rows.append(_row(kind, n_clients, lat, lat_kpi, lat_traffic, acks, nbytes, cpu, misses, page_lat))
            if trace is not None:
                await asyncio.sleep(1.5)  # results are stored a little after their frames went out
                server = read_trace(trace, sid)
                rows[-1]["stages_ms"] = _breakdown([
                    {k: (t - t0) * 1000.0 for k, t in {**server.get(v, {}), **seen}.items()}
                    for v, t0, seen in stages])
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # each row as soon as it is measured
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    if pages:
        await asyncio.to_thread(_close_pages, pages)
    return rows


def _pct(v: list[float]) -> dict[str, float]:
    if not v:
        return {}
    return {q: round(float(np.percentile(v, x)), 1) for q, x in (("p50", 50), ("p95", 95), ("p99", 99))}


def _row(kind, n, lat, lat_kpi, lat_traffic, acks, nbytes, cpu, misses, page_lat) -> dict:
    row = {"edit": kind, "clients": n, "edits": len(acks), "field_to_every_client_ms": _pct(lat),
           "kpis_to_every_client_ms": _pct(lat_kpi), "ack_ms_p50": round(float(np.median(acks)), 1) if acks else None,
           "bytes_per_client_per_edit": int(np.median(nbytes)) if nbytes else None,
           "server_cpu_s_per_edit": round(float(np.median(cpu)), 3) if cpu else None, "missed": misses}
    if lat_traffic:
        row["traffic_and_heat_to_every_client_ms"] = _pct(lat_traffic)
    if page_lat:
        row["browser_drape_ms"] = _pct([x for x in page_lat if x is not None])
    target = TARGETS_MS.get((kind, n))
    if target is not None:
        p95 = (row.get("traffic_and_heat_to_every_client_ms") or row["field_to_every_client_ms"]).get("p95")
        row["target_p95_ms"] = target
        row["target_met"] = bool(p95 is not None and p95 <= target and misses == 0)
    return row


# ---- real browsers (optional) ---------------------------------------------------------------------
def _open_pages(port: int, sid: str, n: int):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader", "--disable-dev-shm-usage"])
    pages = []
    for _ in range(n):
        page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        page.goto(f"http://127.0.0.1:{port}/?scenario={sid}&mode=citizen")
        page.wait_for_function("window.__viewer && __viewer.ready && __viewer.fieldVersion('utci_c') >= 0", timeout=180000)
        pages.append(page)
    return pw, browser, pages


def _wait_pages(pages, version: int, t0: float, timeout_s: float) -> float | None:
    _, _, ps = pages
    try:
        for page in ps:
            page.wait_for_function(f"__viewer.fieldVersion('utci_c') >= {version}", timeout=int(timeout_s * 1000))
    except Exception:  # noqa: BLE001 - a page that never shows the version counts as a miss
        return None
    return (time.monotonic() - t0) * 1000.0


def _close_pages(pages) -> None:
    pw, browser, _ = pages
    browser.close()
    pw.stop()


# ---- driver ---------------------------------------------------------------------------------------
def first_layer(timeout_s: float = 1800.0) -> int:
    """``twin demo`` in a fresh data folder: time to "ready", then to the first UTCI field at a viewer."""
    import threading
    import urllib.request

    from websockets.sync.client import connect

    import protocol as p

    data = Path(tempfile.mkdtemp(prefix="landtwin-demo-"))
    port = free_port()
    twin = Path(sys.executable).with_name("twin")
    t0 = time.monotonic()
    proc = subprocess.Popen([str(twin), "--data-dir", str(data), "--arch", "cpu", "demo", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "LANDTWIN_ARCH": "cpu", "PYTHONUNBUFFERED": "1"})
    said_ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"landtwin: http"):
                said_ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not said_ready.wait(timeout_s):
            print("twin demo did not say it was ready", file=sys.stderr)
            return 1
        t_ready = time.monotonic()
        while not port_open(port):
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/scenarios?district=sample", timeout=60) as r:
            sid = next(s["scenario_id"] for s in json.loads(r.read()) if s["kind"] == "official")
        with connect(f"ws://127.0.0.1:{port}/ws/scenarios/{sid}", max_size=1 << 27) as ws:
            ws.send(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, token="", role="citizen")))
            ws.recv()
            ws.send(p.encode(p.Subscribe(layers=["heat"], hour=15, fields=["utci_c"])))
            while True:
                msg = p.decode_server(ws.recv(timeout=timeout_s))
                if isinstance(msg, p.FieldFrame) and msg.layer == "utci_c":
                    break
        t_field = time.monotonic()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    print(json.dumps({"start_to_ready_s": round(t_ready - t0, 1), "ready_to_first_heat_layer_s": round(t_field - t_ready, 2),
                      "target_s": 15.0, "target_met": t_field - t_ready <= 15.0}))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="1,20,50", help="comma list of client counts")
    ap.add_argument("--kinds", default="tree,park,unseal,road_closure")
    ap.add_argument("--edits", type=int, default=8, help="edits of each kind per client count")
    ap.add_argument("--size-km", type=float, default=2.0)
    ap.add_argument("--cell-m", type=float, default=2.0)
    ap.add_argument("--browsers", type=int, default=0, help="real Chromium pages besides the protocol clients")
    ap.add_argument("--timeout-s", type=float, default=30.0, help="give up on an edit's results after this")
    ap.add_argument("--pace-s", type=float, default=None,
                    help="send the next edit this long after every client holds the field, without waiting for the "
                         "edit's later results (building cooling, access): edits in quick succession")
    ap.add_argument("--trace", action="store_true", help="break each edit's time down into the server's stages")
    ap.add_argument("--first-layer", action="store_true", help="time twin demo on a fresh data folder instead")
    ap.add_argument("--ws-deflate", action="store_true",
                    help="serve with the websocket's per-connection compression (twin serve does not: large arrays "
                         "come compressed once for all clients)")
    ap.add_argument("--fields", default="utci_c",
                    help="heat fields the clients subscribe to, e.g. utci_c,air_temp_c,uhi_k (bytes per client grow)")
    ap.add_argument("--serve", nargs=2, metavar=("DATA", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    SUBSCRIBED_FIELDS[:] = [f.strip() for f in args.fields.split(",") if f.strip()]
    if args.first_layer:
        return first_layer()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.size_km, args.cell_m, ws_deflate=args.ws_deflate,
              trace=args.trace, tiles=args.browsers > 0)
        return 0
    rows: list[dict] = []
    try:
        with served(__file__, ["--size-km", str(args.size_km), "--cell-m", str(args.cell_m)]
                    + (["--ws-deflate"] if args.ws_deflate else []) + (["--trace"] if args.trace else [])
                    + (["--browsers", str(args.browsers)] if args.browsers else []), prefix="landtwin-live-",
                    remove=True) as srv:
            setup = srv.setup
            kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
            for n in [int(x) for x in args.clients.split(",")]:
                rows += asyncio.run(measure(srv.port, setup, n, kinds, args.edits, srv.proc.pid, args.timeout_s,
                                            args.browsers, srv.data / "trace.log" if args.trace else None,
                                            args.pace_s))
                print(json.dumps(rows[-len(kinds):]), flush=True)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"district: sample {args.size_km} km at {args.cell_m} m ({setup['cells']:,} cells), all engines, "
          f"clients subscribed to {', '.join(SUBSCRIBED_FIELDS)}, "
          f"websocket per-connection compression {'on' if args.ws_deflate else 'off'}; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'edit':<13}{'clients':>8}{'p50':>9}{'p95':>9}{'p99':>9}{'kpi p95':>9}{'ack p50':>9}{'KB/client':>11}"
          f"{'cpu s':>8}{'missed':>8}  target")
    for r in rows:
        f = r.get("traffic_and_heat_to_every_client_ms") or r["field_to_every_client_ms"]
        kb = (r["bytes_per_client_per_edit"] or 0) / 1000.0
        tgt = "" if "target_p95_ms" not in r else f"p95 <= {r['target_p95_ms']} ms: {'met' if r['target_met'] else 'NOT met'}"
        print(f"{r['edit']:<13}{r['clients']:>8}{f.get('p50', float('nan')):>9}{f.get('p95', float('nan')):>9}"
              f"{f.get('p99', float('nan')):>9}{r['kpis_to_every_client_ms'].get('p95', float('nan')):>9}"
              f"{r['ack_ms_p50'] or float('nan'):>9}{kb:>11.1f}{r['server_cpu_s_per_edit'] or 0:>8}{r['missed']:>8}  {tgt}")
    print("bytes per client for one tree: target <= 50 KB")
    for r in rows:
        if r.get("stages_ms"):
            print(f"{r['edit']} x {r['clients']} clients, median ms after the edit was sent: "
                  + ", ".join(f"{k} {v:g}" for k, v in r["stages_ms"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
