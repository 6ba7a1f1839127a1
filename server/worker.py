"""Where the engines run: :class:`EngineRunner` composes the adapters of :mod:`server.engines` for one
job; :class:`WorkerProcess` hosts a runner in a separate process that owns Taichi.

Taichi kernels hold the interpreter lock while they run, so engines running in a thread of the server
process would stall the event loop (and every websocket) for as long as a kernel runs. The worker
process keeps the server responsive: jobs go in over a pipe, events (progress frames, each engine's
output) come back as they happen, and a shared flag cancels a job between engine steps.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import protocol as p
from geodata.district import District
from geodata.interventions import Intervention
from server.engines import make_adapter

__all__ = ["EngineRunner", "WorkerProcess", "Cancelled", "WorkerFailed"]

log = logging.getLogger("landtwin.worker")


class Cancelled(Exception):
    """The job was superseded by a newer version of its scenario."""


class WorkerFailed(RuntimeError):
    """An engine raised in the worker (message carries its type and text)."""


class EngineRunner:
    """Runs the named engines in order for a job; keeps engine state per (scenario, district)."""

    def __init__(self, engine_names: list[str]) -> None:
        self.engine_names = engine_names
        self._adapters: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    def _adapters_for(self, scenario_id: str, district: District) -> dict[str, Any]:
        key = (scenario_id, district.name)
        ad = self._adapters.get(key)
        if ad is None:
            ad = {name: make_adapter(name, district) for name in self.engine_names}
            self._adapters[key] = ad
            while len(self._adapters) > 4:  # engines hold district-sized state
                self._adapters.popitem(last=False)
        self._adapters.move_to_end(key)
        return ad

    def run(self, scenario_id: str, version: int, district: District, interventions: list[Intervention],
            hours: tuple[int, ...], cancelled: Callable[[], bool], emit: Callable[[tuple], None]) -> None:
        """Emit ("progress", Progress) and ("engine", name, EngineOutput) events; raise Cancelled."""
        adapters = self._adapters_for(scenario_id, district)
        ctx: dict[str, Any] = {}  # results one engine hands to the next (traffic heat, UTCI)
        n = len(adapters)
        for i, (name, adapter) in enumerate(adapters.items()):
            if cancelled():
                raise Cancelled()
            engine = name if name in ("heat", "traffic", "access") else "compare"

            def progress(stage: str, frac: float, _i: int = i, _engine: str = engine) -> None:
                emit(("progress", p.Progress(version, _engine, stage, min(1.0, (_i + frac) / n))))  # type: ignore[arg-type]

            progress(name, 0.0)
            out = adapter.compute(interventions, version, hours, progress, ctx)
            if name != "costs":
                out.frames.append(p.KpiFrame(version, engine, out.kpis))  # type: ignore[arg-type]
            emit(("engine", name, out))


def _worker_main(conn: Any, cancel: Any, engine_names: list[str], arch: str) -> None:
    from sim_kernels.runtime import ensure_init

    ensure_init(arch)  # this process owns Taichi
    runner = EngineRunner(engine_names)
    districts: dict[str, District] = {}
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
        _, job_id, sid, version, dname, interventions, hours = msg
        try:
            runner.run(sid, version, districts[dname], interventions, hours, cancel.is_set,
                       lambda ev, _j=job_id: conn.send(("event", _j, ev)))
            conn.send(("done", job_id))
        except Cancelled:
            conn.send(("cancelled", job_id))
        except Exception as exc:  # noqa: BLE001 - reported to the server, the worker lives on
            log.exception("engine failure")
            conn.send(("error", job_id, f"{type(exc).__name__}: {exc}"))


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
            hours: tuple[int, ...], emit: Callable[[tuple], None]) -> None:
        try:
            if district.name not in self._districts:
                self._conn.send(("district", district))
                self._districts.add(district.name)
            self._job += 1
            self.cancel.clear()
            self._conn.send(("job", self._job, scenario_id, version, district.name, list(interventions), tuple(hours)))
        except (BrokenPipeError, OSError) as exc:
            raise WorkerFailed(f"simulation process unreachable: {exc}") from None
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise WorkerFailed(f"simulation process ended: {exc}") from None
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

    def stop(self) -> None:
        try:
            self._conn.send(("stop",))
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=10)
