"""Run a scenario batch end to end: evaluate every variant on a backend, with a progress bar, and write
the report into ``out`` all at once (a temporary folder renamed at the end): a cancelled batch
(KeyboardInterrupt, SIGTERM) or a failed one leaves no output behind."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from geodata.district import District
from geodata.files import atomic_dir
from models.batch.backends import run_local, run_ray
from models.batch.evaluate import STATUS_OK, EvalConfig, Evaluator
from models.batch.report import default_rank_by, write_report
from models.batch.variants import Variant

__all__ = ["BatchResult", "run_batch", "run_variants", "sigterm_as_interrupt"]


class BatchResult:
    """The ranked table, the folder written, and how long it took."""

    def __init__(self, table: pd.DataFrame, out: Path, seconds: float, backend: str, workers: int) -> None:
        self.table = table
        self.out = out
        self.seconds = seconds
        self.backend = backend
        self.workers = workers

    @property
    def scenarios_per_minute(self) -> float:
        return len(self.table) / self.seconds * 60.0 if self.seconds > 0 else float("inf")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt in the main thread (so cleanup runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_batch(district: District, variants: Sequence[Variant], out: str | Path, *, config: EvalConfig = EvalConfig(),
              workers: int = 2, ray_address: str | None = None, use_ray: bool = False, rank_by: str | None = None,
              descending: bool | None = None, n_best: int = 5, progress: bool = True,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> BatchResult:
    """Evaluate ``variants`` against the warm baseline of ``district`` and write the report to ``out``.

    ``use_ray`` or a ``ray_address`` runs on Ray, otherwise on ``workers`` local processes. ``on_row``
    sees each finished variant's row (as the progress bar does). Raises KeyError for an unknown
    ``rank_by``; KeyboardInterrupt propagates after the workers are stopped, with nothing written.
    """

    def report(tmp: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> pd.DataFrame:
        return write_report(tmp, rows, variants, district, rank_by=rank_by or default_rank_by(rows),
                            descending=descending, n_best=n_best, summary={**summary, "district": district.name})

    return run_variants(district, Evaluator, variants, out, report, config=config, workers=workers,
                        ray_address=ray_address, use_ray=use_ray, progress=progress, on_row=on_row)


def run_variants(subject: Any, evaluator: type, variants: Sequence[Variant], out: str | Path,
                 report: Callable[[Path, list[dict[str, Any]], dict[str, Any]], pd.DataFrame], *,
                 config: EvalConfig = EvalConfig(), workers: int = 2, ray_address: str | None = None,
                 use_ray: bool = False, progress: bool = True,
                 on_row: Callable[[dict[str, Any]], None] | None = None) -> BatchResult:
    """The batch machinery for any subject: ``evaluator(subject, config)`` in each worker evaluates the
    variants, ``report(folder, rows, summary)`` writes the results into the temporary folder that becomes
    ``out`` and returns the ranked table."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError("Variantennamen doppelt / variant names repeat")
    payload = [v.to_json() for v in variants]
    rows: list[dict[str, Any]] = []
    backend = "ray" if (use_ray or ray_address) else "local"
    t0 = time.perf_counter()
    bar = Progress(TextColumn("[bold]Varianten / variants"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   TextColumn("{task.fields[failed]} fehlgeschlagen / failed"), disable=not progress, transient=False)

    def write(tmp: Path) -> None:
        with bar, sigterm_as_interrupt():
            task = bar.add_task("batch", total=len(payload), failed=0)

            def got(row: dict[str, Any]) -> None:
                rows.append(row)
                bar.update(task, advance=1, failed=sum(r["status"] != STATUS_OK for r in rows))
                if on_row is not None:
                    on_row(row)

            if backend == "ray":
                run_ray(subject, payload, config, address=ray_address, workers=workers if workers > 0 else None,
                        on_row=got, evaluator=evaluator)
            else:
                run_local(subject, payload, config, workers=workers, on_row=got, evaluator=evaluator)
        seconds = time.perf_counter() - t0
        summary = {"backend": backend, "workers": workers, "seconds": round(seconds, 3),
                   "scenarios_per_minute": round(len(rows) / seconds * 60.0, 3) if seconds > 0 else None,
                   "hours": list(config.hours), "arch": config.arch}
        nonlocal_table[0] = report(tmp, rows, summary)

    nonlocal_table: list[pd.DataFrame] = [pd.DataFrame()]
    target = atomic_dir(out, write)
    return BatchResult(nonlocal_table[0], target, time.perf_counter() - t0, backend, workers)
