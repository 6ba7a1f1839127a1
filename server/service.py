"""The simulation service: one coordinating thread, and ONE worker process that owns Taichi and runs
every engine (:mod:`server.worker`; the cost engine alone runs in the thread).

Requests are debounced per scenario (a burst of edits becomes one job), a newer request supersedes a
queued one and cancels a running one between engine steps (so an edit never waits behind stale
work), and every result is published as protocol frames naming the scenario version it was computed
for, with progress frames along the way. Results are kept in memory by (scenario, version) and their
KPIs and frames in storage, so they are computed again only when missing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

import protocol as p
from geodata.district import District
from geodata.interventions import Intervention
from server.engines import ENGINE_ORDER, EngineOutput, available_engines
from server.storage import Storage
from server.worker import Cancelled, EngineRunner, WorkerProcess

__all__ = ["SimulationService", "ResultSet", "Cancelled"]

log = logging.getLogger("landtwin.service")


@dataclass
class ResultSet:
    scenario_id: str
    version: int
    hours: tuple[int, ...]
    outputs: dict[str, EngineOutput] = field(default_factory=dict)

    def kpis(self) -> dict[str, dict[str, float]]:
        return {name: dict(out.kpis) for name, out in self.outputs.items()}

    def frames(self) -> list[Any]:
        return [f for out in self.outputs.values() for f in out.frames]


@dataclass
class _Job:
    scenario_id: str
    version: int
    district: District
    interventions: list[Intervention]
    hours: tuple[int, ...]
    due: float
    waited: bool = False
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SimulationService:
    """``publish(scenario_id, message)`` is called from the worker thread for every frame."""

    def __init__(self, storage: Storage, publish: Callable[[str, Any], None], *, arch: str = "cpu",
                 debounce_s: float = 0.15, engines: list[str] | None = None, cache_size: int = 4) -> None:
        self.storage = storage
        self.publish = publish
        self.arch = arch
        self.debounce_s = debounce_s
        self.engine_names = [e for e in ENGINE_ORDER if e in (engines or available_engines())]
        self._pending: dict[str, _Job] = {}
        self._running: _Job | None = None
        self._cond = threading.Condition()
        self._cache: OrderedDict[tuple[str, int], ResultSet] = OrderedDict()
        self._cache_size = cache_size
        # engines with Taichi kernels run in a worker process (kernels hold the interpreter lock);
        # the cheap cost engine alone runs in the coordinating thread
        self.use_process = any(n != "costs" for n in self.engine_names)
        self._runner = EngineRunner(self.engine_names)
        self._process: WorkerProcess | None = None
        self._stop = False
        self._thread: threading.Thread | None = None
        self.jobs_run = 0
        self.jobs_cancelled = 0

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="simulation", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            if self._running:
                self._running.cancelled = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=30)
            self._thread = None

    # --- requests -----------------------------------------------------------------------------------
    def request(self, scenario_id: str, version: int, district: District, interventions: list[Intervention],
                hours: tuple[int, ...] = (15,), *, wait: bool = False, timeout: float = 300.0) -> ResultSet | None:
        """Ask for results of ``version``; debounced unless ``wait``, which blocks until they exist."""
        cached = self.cached(scenario_id, version)
        if cached is not None and set(hours) <= set(cached.hours):
            if not wait:
                for f in cached.frames():
                    self.publish(scenario_id, f)
            return cached
        with self._cond:
            old = self._pending.get(scenario_id)
            if old is not None and old.version == version and set(hours) <= set(old.hours):
                job = old
                job.waited = job.waited or wait
                if wait:
                    job.due = min(job.due, time.monotonic())
            else:
                hours_all = tuple(sorted(set(hours) | (set(old.hours) if old and old.version == version else set())))
                job = _Job(scenario_id, version, district, list(interventions), hours_all,
                           due=time.monotonic() + (0.0 if wait else self.debounce_s), waited=wait)
                if old is not None and not old.waited:
                    old.cancelled = True
                    old.done.set()
                self._pending[scenario_id] = job
            run = self._running
            if run is not None and run.scenario_id == scenario_id and run.version < version and not run.waited:
                run.cancelled = True  # superseded: stop between engine steps
                if self._process is not None:
                    self._process.cancel.set()
            self._cond.notify_all()
        if not wait:
            return None
        if not job.done.wait(timeout):
            raise TimeoutError(f"results of {scenario_id} v{version} not ready in {timeout} s")
        if job.error is not None:
            raise job.error
        res = self.cached(scenario_id, version)
        if res is None:
            raise Cancelled(f"{scenario_id} v{version}")
        return res

    def cached(self, scenario_id: str, version: int) -> ResultSet | None:
        with self._cond:
            res = self._cache.get((scenario_id, version))
            if res is not None:
                self._cache.move_to_end((scenario_id, version))
                return res
        return self._from_storage(scenario_id, version)

    def latest(self, scenario_id: str) -> ResultSet | None:
        with self._cond:
            mine = [r for (sid, _), r in self._cache.items() if sid == scenario_id]
        return max(mine, key=lambda r: r.version) if mine else None

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and self._running is None

    # --- the worker ---------------------------------------------------------------------------------
    def _run(self) -> None:
        if self.use_process:
            self._process = WorkerProcess(self.engine_names, self.arch)
        try:
            self._loop()
        finally:
            if self._process is not None:
                self._process.stop()
                self._process = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                job = self._next_due_locked()
                if job is None:
                    return
                self._running = job
            try:
                self._execute(job)
                self.jobs_run += 1
            except Cancelled:
                self.jobs_cancelled += 1
            except BaseException as exc:  # noqa: BLE001 - reported to the waiter and logged, the worker lives on
                log.exception("simulation of %s v%s failed", job.scenario_id, job.version)
                job.error = exc
            finally:
                with self._cond:
                    self._running = None
                job.done.set()

    def _next_due_locked(self) -> _Job | None:
        while not self._stop:
            if self._pending:
                job = min(self._pending.values(), key=lambda j: j.due)
                wait_s = job.due - time.monotonic()
                if wait_s <= 0:
                    del self._pending[job.scenario_id]
                    return job
                self._cond.wait(wait_s)
            else:
                self._cond.wait()
        return None

    def _execute(self, job: _Job) -> None:
        res = ResultSet(job.scenario_id, job.version, job.hours)

        def emit(ev: tuple) -> None:
            if ev[0] == "progress":
                self.publish(job.scenario_id, ev[1])
                return
            _, name, out = ev
            res.outputs[name] = out
            for f in out.frames:
                self.publish(job.scenario_id, f)
            self._persist(job, name, out)

        if self._process is not None:
            if not self._process.proc.is_alive():  # the worker died (killed, out of memory): start a new one
                log.warning("simulation process ended (exit code %s); starting a new one", self._process.proc.exitcode)
                self._process = WorkerProcess(self.engine_names, self.arch)
            self._process.run(job.scenario_id, job.version, job.district, job.interventions, job.hours, emit)
        else:
            self._runner.run(job.scenario_id, job.version, job.district, job.interventions, job.hours,
                             lambda: job.cancelled, emit)
        self.publish(job.scenario_id, p.Progress(job.version, "compare", "done", 1.0))
        with self._cond:
            self._cache[(job.scenario_id, job.version)] = res
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # --- the result cache in storage ----------------------------------------------------------------
    def _persist(self, job: _Job, name: str, out: EngineOutput) -> None:
        frames = [f[1] if isinstance(f, tuple) else f for f in out.frames]  # keep full frames only
        blob = msgspec.msgpack.encode({"hours": list(job.hours), "kpis": out.kpis, "frames": [p.encode(f) for f in frames]})
        self.storage.put_result(job.scenario_id, job.version, name, blob)

    def _from_storage(self, scenario_id: str, version: int) -> ResultSet | None:
        res: ResultSet | None = None
        for name in self.engine_names:
            blob = self.storage.get_result(scenario_id, version, name)
            if blob is None:
                return None
            d = msgspec.msgpack.decode(blob)
            if res is None:
                res = ResultSet(scenario_id, version, tuple(d["hours"]))
            res.outputs[name] = EngineOutput(kpis=d["kpis"], frames=[p.decode_server(b) for b in d["frames"]])
        if res is not None:
            with self._cond:
                self._cache[(scenario_id, version)] = res
        return res
