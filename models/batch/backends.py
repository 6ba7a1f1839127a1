"""Where a batch runs: a local process pool (default) or a Ray cluster.

Both start one evaluator per worker process (``Evaluator`` of a District, or another class with the
same ``(subject, config)`` constructor and ``evaluate_json``, e.g. the region's forecast evaluator) (Taichi initialised once there, by the engines'
``ensure_init``), hand it the District once, and stream the variants' rows back as they finish through
``on_row``. Neither schedules anything itself: the pool is ``concurrent.futures`` with the ``spawn``
context, the cluster is Ray's (actors, one CPU each). On KeyboardInterrupt both cancel what has not
started and re-raise.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from geodata.district import District
from models.batch.evaluate import STATUS_FAILED, EvalConfig, Evaluator

__all__ = ["run_local", "run_ray"]

Row = dict[str, Any]
OnRow = Callable[[Row], None]

_WORKER: Any = None


def _share_cpus(threads: int) -> None:
    """Taichi's CPU threads of this worker (before the engines start it), unless the user chose them: the
    workers share the machine instead of each spawning a thread per core."""
    os.environ.setdefault("LANDTWIN_CPU_THREADS", str(max(1, threads)))


def _init_worker(district: Any, config: EvalConfig, threads: int, evaluator: type = Evaluator) -> None:
    global _WORKER
    _share_cpus(threads)
    _WORKER = evaluator(district, config)


def _evaluate(variant_json: dict[str, Any]) -> Row:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.evaluate_json(variant_json)


def _failed(name: str, exc: BaseException) -> Row:
    return {"name": name, "status": STATUS_FAILED, "error": f"{type(exc).__name__}: {exc}"}


def run_local(district: District | Any, variants: Sequence[dict[str, Any]], config: EvalConfig, *, workers: int,
              on_row: OnRow, evaluator: type = Evaluator) -> None:
    """Evaluate the variants (JSON form) on ``workers`` local processes; ``on_row`` per finished variant.
    ``evaluator(district, config)`` is built once in each worker."""
    ctx = multiprocessing.get_context("spawn")
    workers = max(1, workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(district, config, (os.cpu_count() or 1) // workers, evaluator))
    try:
        pending: dict[Future, str] = {pool.submit(_evaluate, v): v["name"] for v in variants}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                name = pending.pop(fut)
                try:
                    row = fut.result()
                except Exception as exc:  # a worker that died takes only its variant with it
                    row = _failed(name, exc)
                on_row(row)
    except BaseException:
        # stop the running variants too: the pool has no public way to end its workers before 3.14
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()
        raise
    pool.shutdown(wait=True)


class _RayWorker:
    """The body of a Ray actor: one Evaluator, one process."""

    def __init__(self, district: Any, config: EvalConfig, evaluator: type = Evaluator) -> None:
        _share_cpus(1)  # one CPU per actor
        self.evaluator = evaluator(district, config)

    def evaluate(self, variant_json: dict[str, Any]) -> Row:
        return self.evaluator.evaluate_json(variant_json)


def run_ray(district: District | Any, variants: Sequence[dict[str, Any]], config: EvalConfig, *, address: str | None,
            workers: int | None, on_row: OnRow, evaluator: type = Evaluator) -> None:
    """Evaluate the variants on a Ray cluster (``address``: ``auto``, ``ray://host:port`` or ``host:port``;
    None uses the cluster this process is already connected to). ``workers`` actors (default: the
    cluster's CPUs), each fed its next variant as soon as it finishes one."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor_cls = ray.remote(num_cpus=1)(_RayWorker)
    district_ref = ray.put(district)
    actors: list[Any] = [actor_cls.remote(district_ref, config, evaluator) for _ in range(min(n, len(variants)) or 1)]
    queue = list(variants)
    running: dict[Any, tuple[Any, str]] = {}
    try:
        for actor in actors:
            if queue:
                v = queue.pop(0)
                running[actor.evaluate.remote(v)] = (actor, v["name"])
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            actor, name = running.pop(ref)
            try:
                row = ray.get(ref)
            except Exception as exc:
                row = _failed(name, exc)
            on_row(row)
            if queue:
                v = queue.pop(0)
                running[actor.evaluate.remote(v)] = (actor, v["name"])
    finally:  # killing the actors ends their running variants too
        for actor in actors:
            ray.kill(actor)
