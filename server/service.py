"""The simulation service: one coordinating thread, and ONE worker process that owns Taichi and runs
every engine (:mod:`server.worker`; the cost engine alone runs in the thread).

Two kinds of jobs:

- **live** jobs compute what the scenario's viewers see: the shown hour (15:00, the hour of the KPIs)
  plus the hours subscribed (a bounded number, :data:`MAX_LIVE_HOURS`). An edit of a scenario whose
  results are shown runs at once; a burst of edits becomes one job (a newer version takes the queued
  one's place and its turn; the first computation of a scenario waits ``debounce_s`` for more edits);
  a newer version cancels a running one between engine steps; every frame names the scenario version
  it was computed for. Engines whose inputs an edit did not change are not rerun (:mod:`server.worker`).
- **export** jobs compute one field at other hours for one request: only the engines it needs, on
  their own engine state (so they never disturb the incremental path of the live engines), after every
  due live job, cancelled when a live job arrives or their waiter gives up. Their results are
  stored under their own hours and never published: what the scenario's viewers see stays as it was.

Results are kept by (scenario, version, hours), in memory and in storage. Storing is off the path of
the frames: a live job that nobody waits for is stored by a background thread once its frames went out,
a little later (``store_delay_s``) and while no live job runs, so that a burst of edits of one scenario writes its newest version once
(results are derived data: an unstored version is computed again when asked for); a job that someone waits
for (a REST request, an export) is stored before its waiter returns; :meth:`SimulationService.stop`
writes what is queued. Where the time of a live job goes is noted in :attr:`SimulationService.trace`
(``(scenario, version, stage, monotonic time)``; also logged at DEBUG level on ``landtwin.trace``).
A waiter whose job is
superseded by a newer version follows it, so it returns with the newest results instead of hanging.
A job that fails because the worker process died or ran past ``job_timeout_s`` restarts the process,
is retried once (not after a timeout), and when it still fails its scenario's clients get an
:class:`protocol.ErrorMessage` naming the version (code ``simulation_failed``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

import protocol as p
from geodata.district import District
from geodata.interventions import Intervention
from server.engines import ENGINE_ORDER, EngineOutput, available_engines
from server.storage import Storage
from server.worker import Cancelled, EngineRunner, WorkerFailed, WorkerProcess

__all__ = ["SimulationService", "ResultSet", "Cancelled", "SHOWN_HOUR", "MAX_LIVE_HOURS", "Superseded"]

log = logging.getLogger("landtwin.service")
trace_log = logging.getLogger("landtwin.trace")

SHOWN_HOUR = 15  # the hour of the KPIs everyone sees
MAX_LIVE_HOURS = 4  # hours computed on every edit (the shown one and the most subscribed others)
STORE_MAX_WAIT_S = 10.0  # a live result is stored when no live job runs, or this long after it was due
EXPORT_ENGINES = {"heat": ("traffic", "heat")}  # what a field export of an engine needs


class Superseded(Cancelled):
    """An export job gave way to live work (or its waiter left); ask again."""


@dataclass
class ResultSet:
    scenario_id: str
    version: int
    hours: tuple[int, ...]
    outputs: dict[str, EngineOutput] = field(default_factory=dict)

    def kpis(self) -> dict[str, dict[str, Any]]:
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
    live: bool = True
    engines: tuple[str, ...] = ()
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    superseded_by: _Job | None = None
    result: ResultSet | None = None
    waiters: int = 0  # export requests waiting for this job
    callbacks: list[Callable[[ResultSet | None], None]] = field(default_factory=list)  # called when it ends

    @property
    def key(self) -> tuple:
        return (self.scenario_id,) if self.live else (self.scenario_id, self.version, self.hours, "export")


class SimulationService:
    """``publish(scenario_id, message)`` is called from the worker thread for every frame."""

    def __init__(self, storage: Storage, publish: Callable[[str, Any], None], *, arch: str = "cpu",
                 debounce_s: float = 0.15, engines: list[str] | None = None, cache_size: int = 8,
                 job_timeout_s: float = 120.0, store_delay_s: float = 0.5) -> None:
        self.storage = storage
        self.publish = publish
        self.arch = arch
        self.debounce_s = debounce_s
        self.job_timeout_s = job_timeout_s
        self.engine_names = [e for e in ENGINE_ORDER if e in (engines or available_engines())]
        self._pending: dict[tuple, _Job] = {}
        self._running: _Job | None = None
        self._cond = threading.Condition()
        self._cache: OrderedDict[tuple[str, int, tuple[int, ...]], ResultSet] = OrderedDict()
        self._cache_size = cache_size
        self._exports: OrderedDict[tuple[str, int, tuple[int, ...]], ResultSet] = OrderedDict()  # never shown
        # engines with Taichi kernels run in a worker process (kernels hold the interpreter lock);
        # the cheap cost engine alone runs in the coordinating thread
        self.use_process = any(n != "costs" for n in self.engine_names)
        self._runner = EngineRunner(self.engine_names)
        self._process: WorkerProcess | None = None
        self._stop = False
        self._thread: threading.Thread | None = None
        self.jobs_run = 0
        self.jobs_cancelled = 0
        self.jobs_failed = 0
        self.worker_restarts = 0
        self.executed: list[tuple[str, int, tuple[int, ...], bool, tuple[str, ...]]] = []  # (scenario, version, hours, live, engines)
        self.computed: list[tuple[str, int, str]] = []  # (scenario, version, engine) of engines that ran (not re-stamped)
        self.trace: deque[tuple[str, int, str, float]] = deque(maxlen=4096)  # (scenario, version, stage, monotonic s)
        # results waiting to be stored: key -> (due, scenario, version, hours, [(engine, output)])
        self.store_delay_s = store_delay_s
        self._store: OrderedDict[tuple, tuple[float, str, int, tuple[int, ...], list[tuple[str, EngineOutput]]]] = OrderedDict()
        self._store_cond = threading.Condition()
        self._store_lock = threading.Lock()  # held while writing
        self._store_thread: threading.Thread | None = None
        self._store_stop = False
        self.stores_written = 0
        self.stores_coalesced = 0

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="simulation", daemon=True)
            self._thread.start()
        if self._store_thread is None:
            self._store_stop = False
            self._store_thread = threading.Thread(target=self._store_loop, name="results-store", daemon=True)
            self._store_thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            if self._running:
                self._running.cancelled = True
                if self._process is not None:
                    self._process.cancel.set()
            for job in self._pending.values():
                job.cancelled = True
                job.done.set()
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=30)
            self._thread = None
        with self._store_cond:
            self._store_stop = True
            self._store_cond.notify_all()
        if self._store_thread:
            self._store_thread.join(timeout=60)
            self._store_thread = None
        self.flush()  # what is still queued (the thread was not started, or gave up)

    def mark(self, scenario_id: str, version: int, stage: str, t: float | None = None) -> None:
        """Note when a stage of a live job of ``version`` happened (monotonic seconds, comparable between
        processes of one machine)."""
        t = time.monotonic() if t is None else t
        self.trace.append((scenario_id, version, stage, t))
        if trace_log.isEnabledFor(logging.DEBUG):
            trace_log.debug("%s %d %s %.6f", scenario_id, version, stage, t)

    # --- requests -----------------------------------------------------------------------------------
    def request(self, scenario_id: str, version: int, district: District, interventions: list[Intervention],
                hours: tuple[int, ...] = (SHOWN_HOUR,), *, wait: bool = False, timeout: float = 300.0) -> ResultSet | None:
        """Ask for the live results of ``version``; debounced unless ``wait``, which blocks until they
        (or those of a newer version that superseded them) exist."""
        hours = tuple(sorted(set(hours)))
        cached = self.cached(scenario_id, version, hours)
        if cached is not None:  # already there (and sent when computed): nothing to publish again
            return cached
        with self._cond:
            old = self._pending.get((scenario_id,))
            if old is not None and old.version == version and set(hours) <= set(old.hours):
                job = old
                job.waited = job.waited or wait
                if wait:
                    job.due = min(job.due, time.monotonic())
            else:
                hours_all = tuple(sorted(set(hours) | (set(old.hours) if old and old.version == version else set())))
                if wait or (old is None and any(k[0] == scenario_id for k in self._cache)):
                    due = time.monotonic()  # results are shown: a single edit runs at once
                elif old is not None:
                    due = old.due  # a burst: the newest version takes the queued one's turn
                else:
                    due = time.monotonic() + self.debounce_s
                job = _Job(scenario_id, version, district, list(interventions), hours_all,
                           due=due, waited=wait, engines=tuple(self.engine_names))
                if old is not None:
                    old.cancelled = True
                    old.superseded_by = job  # its waiters follow the newer job
                    old.done.set()
                self._pending[job.key] = job
            run = self._running
            if run is not None and (not run.live or (
                    run.scenario_id == scenario_id and run.version < version and not run.waited)):
                run.cancelled = True  # superseded, or an export giving way to live work: stop between engine steps
                if self._process is not None:
                    self._process.cancel.set()
            self._cond.notify_all()
        if not wait:
            return None
        return self._await(job, timeout)

    def export(self, scenario_id: str, version: int, district: District, interventions: list[Intervention],
               hour: int, engine: str, *, timeout: float = 120.0, cancel: threading.Event | None = None) -> ResultSet:
        """Results at ``hour`` alone for one export: stored, or computed with only the engines that
        ``engine`` needs, never published. Raises :class:`Superseded` when live work took its place or
        ``cancel`` was set (the client went away); the job stops when its last waiter leaves."""
        hours = (int(hour),)
        found = self.stored_export(scenario_id, version, hour, engine)
        if found is not None:
            return found
        needs = tuple(e for e in self.engine_names if e in EXPORT_ENGINES.get(engine, (engine,)))
        with self._cond:
            job = _Job(scenario_id, version, district, list(interventions), hours, due=time.monotonic(),
                       waited=True, live=False, engines=needs)
            job = self._pending.setdefault(job.key, job)
            job.waiters += 1
            self._cond.notify_all()
        try:
            return self._await(job, timeout, cancel)
        except (TimeoutError, Superseded):
            with self._cond:  # the last waiter leaves: the export is cancelled
                job.waiters -= 1
                if job.waiters <= 0 and not job.done.is_set():
                    job.cancelled = True
                    if self._pending.get(job.key) is job:
                        del self._pending[job.key]
                        job.done.set()
                    if self._running is job and self._process is not None:
                        self._process.cancel.set()
            raise

    def export_later(self, scenario_id: str, version: int, district: District, interventions: list[Intervention],
                     hour: int, engine: str, then: Callable[[ResultSet | None], None], *,
                     max_pending: int | None = None) -> bool:
        """Like :meth:`export` without waiting: ``then(result or None)`` is called from the service's
        thread when the job ends (at once when the result is there). With ``max_pending``, nothing is
        queued (False) while that many exports are queued already."""
        found = self.stored_export(scenario_id, version, hour, engine)
        if found is not None:
            then(found)
            return True
        hours = (int(hour),)
        needs = tuple(e for e in self.engine_names if e in EXPORT_ENGINES.get(engine, (engine,)))
        with self._cond:
            job = _Job(scenario_id, version, district, list(interventions), hours, due=time.monotonic(),
                       waited=True, live=False, engines=needs)
            if job.key not in self._pending and max_pending is not None and \
                    sum(not j.live for j in self._pending.values()) >= max_pending:
                return False
            job = self._pending.setdefault(job.key, job)
            job.callbacks.append(then)
            self._cond.notify_all()
        return True

    def wait_live(self, scenario_id: str, version: int, timeout: float) -> ResultSet | None:
        """Wait up to ``timeout`` for the queued or running live job of ``version`` (or one that
        superseded it) without changing its priority; its results at the shown hour, or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            job = self._pending.get((scenario_id,))
            if job is None and self._running is not None and self._running.live and self._running.scenario_id == scenario_id:
                job = self._running
        while job is not None and job.version <= version:
            if not job.done.wait(max(0.0, deadline - time.monotonic())):
                return None
            if job.superseded_by is None:
                break
            job = job.superseded_by
        return self.cached(scenario_id, version)

    def stored_export(self, scenario_id: str, version: int, hour: int, engine: str) -> ResultSet | None:
        """A result at ``hour`` that is already there (shown, exported or stored); never computes."""
        hours = (int(hour),)
        for found in (self.cached(scenario_id, version, hours), self._exports.get((scenario_id, version, hours)),
                      self._from_storage(scenario_id, version, set(hours), complete=False)):
            if found is not None and engine in found.outputs:
                return found
        return None

    def _await(self, job: _Job, timeout: float, cancel: threading.Event | None = None) -> ResultSet:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if not job.done.wait(max(0.0, left if cancel is None else min(left, 0.2))):
                if cancel is not None and cancel.is_set():
                    raise Superseded(f"{job.scenario_id} v{job.version}: cancelled by its client")
                if time.monotonic() < deadline:
                    continue
                raise TimeoutError(f"results of {job.scenario_id} v{job.version} not ready in {timeout} s")
            if job.superseded_by is not None:
                job = job.superseded_by
                continue
            if job.error is not None:
                raise job.error
            if job.result is not None:
                return job.result
            if not job.live:
                raise Superseded(f"{job.scenario_id} v{job.version}")
            res = self.cached(job.scenario_id, job.version, job.hours)
            if res is None:
                raise Cancelled(f"{job.scenario_id} v{job.version}")
            return res

    def cached(self, scenario_id: str, version: int, hours: tuple[int, ...] | None = None) -> ResultSet | None:
        """Results of ``version`` computed at (at least) ``hours``; None asks for the shown hour."""
        want = set(hours) if hours else {SHOWN_HOUR}
        with self._cond:
            for key, res in reversed(self._cache.items()):
                if key[0] == scenario_id and key[1] == version and want <= set(key[2]):
                    self._cache.move_to_end(key)
                    return res
        return self._from_storage(scenario_id, version, want)

    def drop(self, scenario_id: str) -> None:
        """Forget the results of a removed scenario."""
        with self._cond:
            for cache in (self._cache, self._exports):
                for key in [k for k in cache if k[0] == scenario_id]:
                    del cache[key]
        with self._store_cond:
            for key in [k for k in self._store if k[0] == scenario_id]:
                del self._store[key]
        with self._store_lock:  # a write that was under way when the scenario went is undone
            self.storage.delete_results(scenario_id)

    def latest(self, scenario_id: str) -> ResultSet | None:
        with self._cond:
            mine = [r for k, r in self._cache.items() if k[0] == scenario_id and SHOWN_HOUR in k[2]]
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
                self._execute_retrying(job)
                self.jobs_run += 1
            except Cancelled:
                self.jobs_cancelled += 1
            except BaseException as exc:  # noqa: BLE001 - reported to the waiter and the clients, the worker lives on
                log.error("simulation of %s v%s failed: %s", job.scenario_id, job.version, exc)
                self.jobs_failed += 1
                job.error = exc
                if job.live:
                    self.publish(job.scenario_id, p.ErrorMessage(
                        code="simulation_failed", message_de=f"Die Berechnung von Version {job.version} ist fehlgeschlagen",
                        message_en=f"Computing version {job.version} failed", scenario_version=job.version))
            finally:
                with self._cond:
                    self._running = None
                job.done.set()
                for callback in job.callbacks:
                    try:
                        callback(job.result)
                    except Exception:  # noqa: BLE001 - a receiver's failure is not the job's
                        log.exception("result callback failed")

    def _next_due_locked(self) -> _Job | None:
        while not self._stop:
            if self._pending:
                live = [j for j in self._pending.values() if j.live]
                job = min(live or list(self._pending.values()), key=lambda j: j.due)
                wait_s = job.due - time.monotonic()
                if wait_s <= 0:
                    del self._pending[job.key]
                    return job
                self._cond.wait(wait_s)
            else:
                self._cond.wait()
        return None

    def _execute_retrying(self, job: _Job) -> None:
        try:
            self._execute(job)
        except WorkerFailed as exc:
            if not exc.restartable or exc.timed_out or job.cancelled:
                raise
            log.warning("simulation of %s v%s: %s; retrying once", job.scenario_id, job.version, exc)
            self._execute(job)

    def _ensure_process(self) -> WorkerProcess:
        if self._process is None or not self._process.proc.is_alive():  # died (killed, out of memory) or stopped
            if self._process is not None:
                log.warning("simulation process ended (exit code %s); starting a new one", self._process.proc.exitcode)
                self._process.stop()
            self.worker_restarts += 1
            self._process = WorkerProcess(self.engine_names, self.arch)
        return self._process

    def _execute(self, job: _Job) -> None:
        res = ResultSet(job.scenario_id, job.version, job.hours)
        self.executed.append((job.scenario_id, job.version, job.hours, job.live, job.engines))
        sid, version = job.scenario_id, job.version
        if job.live:
            self.mark(sid, version, "start")

        def emit(ev: tuple) -> None:
            if ev[0] == "mark":
                if job.live:
                    self.mark(sid, version, ev[1], ev[2])
                return
            if ev[0] == "progress":
                if job.live:
                    self.publish(sid, ev[1])
                    if not isinstance(ev[1], p.Progress):
                        self.mark(sid, version, f"early:{type(ev[1]).__name__}")
                return
            _, name, out = ev
            res.outputs[name] = out
            if out.computed_version == job.version:
                self.computed.append((sid, version, name))
            if job.live:
                for f in out.frames:
                    self.publish(sid, f)
                self.mark(sid, version, f"{name}:published")

        purpose = "live" if job.live else "export"
        if self.use_process and any(e != "costs" for e in job.engines):
            proc = self._ensure_process()
            try:
                proc.run(job.scenario_id, job.version, job.district, job.interventions, job.hours, emit,
                         engines=job.engines, purpose=purpose, timeout_s=self.job_timeout_s)
            except WorkerFailed as exc:
                if exc.restartable:  # the process is gone or was stopped: start a new one now
                    self._process = None
                    self._ensure_process()
                raise
        else:
            self._runner.run(job.scenario_id, job.version, job.district, job.interventions, job.hours,
                             lambda: job.cancelled, emit, engines=job.engines, purpose=purpose)
        if job.live:
            self.publish(job.scenario_id, p.Progress(job.version, "compare", "done", 1.0))
            self.mark(sid, version, "done")
        job.result = res
        with self._cond:
            cache = self._cache if job.live else self._exports
            cache[(job.scenario_id, job.version, job.hours)] = res
            while len(cache) > self._cache_size:
                cache.popitem(last=False)
        outputs = list(res.outputs.items())
        if job.live and not job.waited:  # nobody waits: stored later, the newest of a burst once
            self._store_later(sid, version, job.hours, outputs)
        else:  # a waiter (REST, export) finds them stored when it returns
            self._write(sid, version, job.hours, outputs)

    # --- the result cache in storage ----------------------------------------------------------------
    def _store_later(self, scenario_id: str, version: int, hours: tuple[int, ...],
                     outputs: list[tuple[str, EngineOutput]]) -> None:
        """Queue a live result for the storing thread; it replaces an unwritten older version of its
        scenario (and keeps that one's turn)."""
        with self._store_cond:
            key = (scenario_id, "live")
            old = self._store.get(key)
            due = old[0] if old is not None else time.monotonic() + self.store_delay_s
            if old is not None:
                self.stores_coalesced += 1
            self._store[key] = (due, scenario_id, version, hours, outputs)
            self._store_cond.notify_all()
        if self._store_thread is None:  # not started (a service used without start): write now
            self.flush()

    def _live_busy(self) -> bool:
        with self._cond:
            return (self._running is not None and self._running.live) or any(j.live for j in self._pending.values())

    def _store_loop(self) -> None:
        while True:
            with self._store_cond:
                while True:
                    if self._store_stop:
                        return  # stop() flushes what is left
                    if self._store:
                        key, item = next(iter(self._store.items()))
                        now = time.monotonic()
                        wait_s = item[0] - now
                        # due, and no live job that the writing would slow down (or waited long enough)
                        if wait_s <= 0 and (now - item[0] > STORE_MAX_WAIT_S or not self._live_busy()):
                            del self._store[key]
                            break
                        self._store_cond.wait(wait_s if wait_s > 0 else 0.05)
                    else:
                        self._store_cond.wait()
            try:
                self._write(*item[1:])
            except Exception:  # noqa: BLE001 - derived data: the version is computed again when asked for
                log.exception("storing the results of %s v%s failed", item[1], item[2])

    def flush(self) -> None:
        """Write every queued result now."""
        while True:
            with self._store_cond:
                if not self._store:
                    return
                _, item = self._store.popitem(last=False)
            self._write(*item[1:])

    def _write(self, scenario_id: str, version: int, hours: tuple[int, ...], outputs: list[tuple[str, EngineOutput]]) -> None:
        with self._store_lock:
            for name, out in outputs:
                frames = [f[1] if isinstance(f, tuple) else f for f in out.frames]  # keep full frames only
                blob = msgspec.msgpack.encode({"hours": list(hours), "kpis": out.kpis, "frames": [p.encode(f) for f in frames]})
                self.storage.put_result(scenario_id, version, name, blob, hours=hours)
            self.stores_written += 1
        self.mark(scenario_id, version, "stored")

    def _from_storage(self, scenario_id: str, version: int, want: set[int], *, complete: bool = True) -> ResultSet | None:
        """A stored live result (every engine) at hours including ``want``; with ``complete=False``
        also an export's result at exactly ``want``."""
        sets = [h for h in self.storage.result_hours(scenario_id, version) if want <= set(h)]
        for hours in sorted(sets, key=len):
            res = ResultSet(scenario_id, version, hours)
            for name in self.engine_names:
                blob = self.storage.get_result(scenario_id, version, name, hours=hours)
                if blob is None:
                    continue
                d = msgspec.msgpack.decode(blob)
                res.outputs[name] = EngineOutput(kpis=d["kpis"], frames=[p.decode_server(b) for b in d["frames"]])
            if len(res.outputs) == len(self.engine_names):  # a live result: every engine
                with self._cond:
                    self._cache[(scenario_id, version, hours)] = res
                return res
            if not complete and res.outputs and hours == tuple(sorted(want)):  # an export's: the engines it needed
                return res
        return None
