"""Where the engines run: :class:`EngineRunner` composes the adapters of :mod:`server.engines` for one
job; :class:`WorkerProcess` hosts a runner in a separate process that owns Taichi.

Taichi kernels hold the interpreter lock while they run, so engines running in a thread of the server
process would stall the event loop (and every websocket) for as long as a kernel runs. The worker
process keeps the server responsive: jobs go in over a pipe, events (progress frames, each engine's
output) come back as they happen, and a shared flag cancels a job between engine steps. A job that
runs past its time limit gets the process killed (a kernel cannot be interrupted otherwise); the
caller starts a new one.

Person counts leave the engines only as published figures: :func:`published_output` passes every
KPI and deficit count through :mod:`models.privacy` before anything is sent, stored or exported.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import msgspec

import protocol as p
from geodata.district import District
from geodata.interventions import Intervention
from models.privacy import publish_count, publish_kpis
from server.engines import ENGINE_INPUTS, EngineInputs, EngineOutput, inputs_signature, make_adapter, restamp

__all__ = ["EngineRunner", "WorkerProcess", "Cancelled", "WorkerFailed", "published_output"]

log = logging.getLogger("landtwin.worker")


class Cancelled(Exception):
    """The job was superseded by a newer version of its scenario."""


class WorkerFailed(RuntimeError):
    """An engine raised in the worker (message carries its type and text), or the worker process died
    or ran past its time limit (``restartable``: a new process may run the job)."""

    def __init__(self, message: str, *, restartable: bool = False, timed_out: bool = False) -> None:
        super().__init__(message)
        self.restartable, self.timed_out = restartable, timed_out


def _published_deficit(a: p.DeficitArea) -> p.DeficitArea | None:
    n = publish_count(a.persons)
    if not n:
        return None
    deficit = {c: k for c, k in ((c, publish_count(v)) for c, v in a.deficit_persons.items()) if k}
    return p.DeficitArea(a.group, a.xy_local_m, n, a.time_min, a.area_id, a.bbox_local_m, deficit)


def published_output(name: str, version: int, out: EngineOutput) -> EngineOutput:
    """``out`` with every person count published (:func:`models.privacy.publish_kpis`: 1-4 suppressed,
    others rounded to 5) in its KPIs, its KPI frame and the deficit areas of its access frames."""
    out.kpis = publish_kpis(out.kpis)
    frames: list[Any] = []
    for f in out.frames:
        if isinstance(f, p.KpiFrame):
            continue
        if isinstance(f, p.AccessFrame) or (isinstance(f, tuple) and isinstance(f[1], p.AccessFrame)):
            pair = f if isinstance(f, tuple) else (f,)
            areas = [d for d in (_published_deficit(a) for a in pair[-1].deficits) if d is not None]
            published = tuple(msgspec.structs.replace(g, deficits=areas) for g in pair)
            f = published if isinstance(f, tuple) else published[0]
        frames.append(f)
    engine = name if name in ("heat", "traffic", "access", "costs") else "compare"
    frames.append(p.KpiFrame(version, engine, dict(out.kpis)))  # type: ignore[arg-type]
    out.frames = frames
    return out


def _published_early(frames: list[Any]) -> list[Any]:
    """Frames an engine sends ahead of its output, with the person counts of key figures published."""
    return [p.KpiFrame(f.scenario_version, f.engine, publish_kpis(dict(f.values))) if isinstance(f, p.KpiFrame) else f
            for f in frames]


def _raise_if(cancelled: bool) -> None:
    if cancelled:
        raise Cancelled()


class _Last:
    """What an engine last computed for one adapter set: its inputs, its output and what it handed on."""

    __slots__ = ("sig", "hours", "upstream", "stamp", "out", "ctx")

    def __init__(self, sig: bytes, hours: tuple[int, ...], upstream: dict[str, int], stamp: int,
                 out: EngineOutput, ctx: dict[str, Any]) -> None:
        self.sig, self.hours, self.upstream, self.stamp, self.out, self.ctx = sig, hours, upstream, stamp, out, ctx


class EngineRunner:
    """Runs the named engines in order for a job; keeps engine state per (scenario, district).

    An engine whose inputs (:data:`server.engines.ENGINE_INPUTS`: its intervention kinds, the results
    of its upstream engines, the hours when it is hourly) are those of its last run is not run again:
    its last output is re-stamped with the job's version."""

    def __init__(self, engine_names: list[str]) -> None:
        self.engine_names = engine_names
        self._adapters: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._last: dict[tuple[str, str], dict[str, _Last]] = {}
        self._stamp = 0

    def _adapters_for(self, scenario_id: str, district: District, engines: tuple[str, ...] = (),
                      purpose: str = "live") -> dict[str, Any]:
        """The adapters of a scenario's live jobs; exports share one set per district, so that they
        never disturb the incremental state of the live engines."""
        key = (scenario_id if purpose == "live" else "", f"{district.name}:{purpose}")
        ad = self._adapters.get(key)
        if ad is None:
            ad = {}
            self._adapters[key] = ad
        for name in engines or self.engine_names:
            if name not in ad:
                ad[name] = make_adapter(name, district)
            while len(self._adapters) > 4:  # engines hold district-sized state
                self._last.pop(self._adapters.popitem(last=False)[0], None)
        self._adapters.move_to_end(key)
        order = [n for n in self.engine_names if n in (engines or self.engine_names)]
        return {n: ad[n] for n in order}

    def run(self, scenario_id: str, version: int, district: District, interventions: list[Intervention],
            hours: tuple[int, ...], cancelled: Callable[[], bool], emit: Callable[[tuple], None], *,
            engines: tuple[str, ...] = (), purpose: str = "live") -> None:
        """Emit ("progress", message), ("engine", name, EngineOutput) and ("mark", stage, monotonic time)
        events (where the time of a job goes: ``<engine>:start`` and ``<engine>:done`` of every engine that
        runs); raise Cancelled.

        A "progress" event is published to the scenario's clients at once: :class:`protocol.Progress`, and
        in live jobs the results an engine has ahead of its output (the heat engine's UTCI at the key
        figures' hour and its instantaneous key figures, before its other fields and its building
        cooling); its output repeats them (for storage and late joiners), the hub sends each once.
        Meanwhile the job's other messages that need not come first (progress, outputs only re-stamped,
        quick outputs) wait until those early results are out; an engine without them sends as it goes."""
        adapters = self._adapters_for(scenario_id, district, engines, purpose)
        key = (scenario_id if purpose == "live" else "", f"{district.name}:{purpose}")
        last = self._last.setdefault(key, {})
        ctx: dict[str, Any] = {}  # results one engine hands to the next (traffic heat, UTCI)
        stamps: dict[str, int] = {}  # engine -> the computation whose output this job uses
        n = len(adapters)
        hours = tuple(hours)
        # live: while an engine with results ahead of its output (the heat map) computes, what need not
        # come first waits for those results: its progress, the outputs only re-stamped ("version N
        # holds") and quick outputs (costs). Sent to every client then, they took a core from it.
        live = purpose == "live"
        held: list[tuple] = []
        holding = live

        def later(ev: tuple) -> None:
            if holding:
                held.append(ev)
            else:
                emit(ev)

        def release() -> None:
            waiting = held[:]
            held.clear()
            for ev in waiting:
                emit(ev)

        for i, (name, adapter) in enumerate(adapters.items()):
            if cancelled():
                raise Cancelled()
            spec = ENGINE_INPUTS.get(name, EngineInputs(None, hourly=True))
            sig = inputs_signature(name, interventions)
            upstream = {u: stamps[u] for u in spec.upstream if u in stamps}
            prev = last.get(name)
            if (prev is not None and prev.sig == sig and prev.upstream == upstream
                    and (not spec.hourly or prev.hours == hours)):
                ctx.update(prev.ctx)
                stamps[name] = prev.stamp
                prev.out = adapter.restamp(prev.out, version) if hasattr(adapter, "restamp") else restamp(prev.out, version)
                later(("engine", name, prev.out))
                continue
            engine = name if name in ("heat", "traffic", "access") else "compare"

            def progress(stage: str, frac: float, _i: int = i, _engine: str = engine) -> None:
                later(("progress", p.Progress(version, _engine, stage, min(1.0, (_i + frac) / n))))  # type: ignore[arg-type]

            quick = getattr(adapter, "quick", False)
            ahead = live and getattr(adapter, "early_results", False)
            if not (quick or ahead):  # an engine without early results: everything goes out as it comes
                release()
                holding = False
            progress(name, 0.0)
            before = set(ctx)
            last.pop(name, None)  # an engine that fails half-way keeps no claim to its inputs
            if live:  # results an engine has ahead of its output go out at once, then what waited for them

                def early(frames: list[Any]) -> None:
                    nonlocal holding
                    for f in _published_early(frames):
                        emit(("progress", f))
                    if any(isinstance(f, p.KpiFrame) for f in frames):  # the map and its key figures are out
                        release()
                        holding = False

                ctx["early"] = early
            ctx["check"] = lambda: _raise_if(cancelled())  # an engine may stop between its own steps
            emit(("mark", f"{name}:start", time.monotonic()))
            try:
                out = adapter.compute(interventions, version, hours, progress, ctx)
            finally:
                ctx.pop("early", None)
                ctx.pop("check", None)
            emit(("mark", f"{name}:done", time.monotonic()))
            out.computed_version = version
            out = published_output(name, version, out)
            self._stamp += 1
            stamps[name] = self._stamp
            last[name] = _Last(sig, hours, upstream, self._stamp, out, {k: v for k, v in ctx.items() if k not in before})
            if quick:
                later(("engine", name, out))
            else:
                release()
                emit(("engine", name, out))
                holding = live
        release()


def _sender(conn: Any, outbox: queue.SimpleQueue) -> None:
    """Sends the worker's messages in order, so that the next engine runs while an output (tens of MB
    of fields on a large district) is pickled and goes through the pipe; ``sent`` (when given) is set
    once its message went."""
    while True:
        item = outbox.get()
        if item is None:
            return
        msg, sent = item
        try:
            conn.send(msg)
        except (BrokenPipeError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 - a message that cannot be sent fails its job, not the worker
            log.exception("sending a result failed")
            try:
                conn.send(("error", msg[1], f"{type(exc).__name__}: {exc}"))
            except (BrokenPipeError, OSError):
                return
        finally:
            if sent is not None:
                sent.set()


def _post(outbox: queue.SimpleQueue, job_id: int, ev: tuple) -> None:
    """An engine's output goes out behind the engine's back; what it sends ahead of its output (early
    frames, progress) goes now: the engine waits until it is sent (Taichi kernels hold the interpreter
    lock, the sender could not run before the engine's next kernel ended)."""
    if ev[0] == "progress":
        sent = threading.Event()
        outbox.put((("event", job_id, ev), sent))
        sent.wait(60.0)
    else:
        outbox.put((("event", job_id, ev), None))


def _worker_main(conn: Any, cancel: Any, engine_names: list[str], arch: str) -> None:
    from sim_kernels.runtime import ensure_init

    ensure_init(arch)  # this process owns Taichi
    runner = EngineRunner(engine_names)
    districts: dict[str, District] = {}
    # the server sends the next job only after this one's last message: nothing an event holds changes
    # before the sender has sent it
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    sender = threading.Thread(target=_sender, args=(conn, outbox), name="worker-sender", daemon=True)
    sender.start()
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return
            if msg[0] == "stop":
                return
            if msg[0] == "district":
                districts[msg[1].name] = msg[1]
                continue
            _, job_id, sid, version, dname, interventions, hours, engines, purpose = msg
            try:
                runner.run(sid, version, districts[dname], interventions, hours, cancel.is_set,
                           lambda ev, _j=job_id: _post(outbox, _j, ev), engines=engines, purpose=purpose)
                outbox.put((("done", job_id), None))
            except Cancelled:
                outbox.put((("cancelled", job_id), None))
            except Exception as exc:  # noqa: BLE001 - reported to the server, the worker lives on
                log.exception("engine failure")
                outbox.put((("error", job_id, f"{type(exc).__name__}: {exc}"), None))
    finally:
        outbox.put(None)
        sender.join(timeout=30)


class WorkerProcess:
    """A spawned process that runs jobs one at a time (used from one coordinating thread)."""

    def __init__(self, engine_names: list[str], arch: str) -> None:
        ctx = mp.get_context("spawn")  # never fork a process that has threads and an event loop
        self._conn, child = ctx.Pipe()
        self.cancel = ctx.Event()
        self.proc = ctx.Process(target=_worker_main, args=(child, self.cancel, engine_names, arch),
                                name="landtwin-simulation", daemon=True)
        self.proc.start()
        child.close()
        self._districts: set[str] = set()
        self._job = 0

    def run(self, scenario_id: str, version: int, district: District, interventions: list[Intervention],
            hours: tuple[int, ...], emit: Callable[[tuple], None], *, engines: tuple[str, ...] = (),
            purpose: str = "live", timeout_s: float = 120.0) -> None:
        """Run one job; raises Cancelled, or WorkerFailed (``restartable`` when the process died or
        ran past ``timeout_s`` and was killed: this object is unusable then)."""
        try:
            if district.name not in self._districts:
                self._conn.send(("district", district))
                self._districts.add(district.name)
            self._job += 1
            self.cancel.clear()
            self._conn.send(("job", self._job, scenario_id, version, district.name, list(interventions), tuple(hours),
                             tuple(engines), purpose))
        except (BrokenPipeError, OSError) as exc:
            raise WorkerFailed(f"simulation process unreachable: {exc}", restartable=True) from None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                    self.kill()
                    raise WorkerFailed(f"simulation ran past {timeout_s:g} s and was stopped", restartable=True, timed_out=True)
                msg = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise WorkerFailed(f"simulation process ended: {exc}", restartable=True) from None
            if msg[1] != self._job:
                continue
            if msg[0] == "event":
                emit(msg[2])
            elif msg[0] == "done":
                return
            elif msg[0] == "cancelled":
                raise Cancelled()
            else:
                raise WorkerFailed(msg[2])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(timeout=10)

    def stop(self) -> None:
        try:
            self._conn.send(("stop",))
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=10)
