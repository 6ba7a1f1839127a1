"""The one place where Taichi is initialised.

``ensure_init(arch)`` is called by whoever runs kernels (the simulation service, the CLI, tests);
kernels themselves never initialise Taichi and hold no module-level fields.

Compiled kernels are kept between runs (Taichi's offline cache); ``$LANDTWIN_KERNEL_CACHE`` names the
folder (the server puts it in its data folder, so that a fresh machine compiles once, not per start).
"""

from __future__ import annotations

import logging
import os
import threading

import taichi as ti

__all__ = ["ensure_init", "current_arch", "KERNEL_CACHE_ENV"]

KERNEL_CACHE_ENV = "LANDTWIN_KERNEL_CACHE"  # folder of compiled kernels (inherited by worker processes)

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_arch: str | None = None

_ARCHES = {"cpu": "cpu", "cuda": "cuda", "vulkan": "vulkan", "gpu": "gpu"}


def ensure_init(arch: str | None = None) -> str:
    """Initialise Taichi once on ``arch`` (cpu, cuda, vulkan, gpu; default ``$LANDTWIN_ARCH`` or cpu).

    ``gpu`` picks any available GPU backend and falls back to the CPU with a log line. A later call
    with another arch keeps the first one (Taichi cannot switch cleanly inside a process) and says so.
    Returns the arch in use ("cpu", "cuda", "vulkan", ...).
    """
    global _arch
    wanted = (arch or os.environ.get("LANDTWIN_ARCH") or "cpu").lower()
    if wanted not in _ARCHES:
        raise ValueError(f"Unknown Taichi arch {wanted!r}; choose one of {sorted(_ARCHES)}")
    with _lock:
        if _arch is not None:
            if wanted not in (_arch, "gpu"):
                _log.info("Taichi already runs on %s; keeping it (asked for %s)", _arch, wanted)
            return _arch
        threads = int(os.environ.get("LANDTWIN_CPU_THREADS", "0")) or None
        kwargs = {"offline_cache": True, "log_level": ti.WARN, "default_fp": ti.f32, "random_seed": 0}
        if threads:
            kwargs["cpu_max_num_threads"] = threads
        cache = os.environ.get(KERNEL_CACHE_ENV, "").strip()
        if cache:
            os.makedirs(cache, exist_ok=True)
            kwargs["offline_cache_file_path"] = cache
        ti.init(arch=getattr(ti, _ARCHES[wanted]), **kwargs)
        got = str(ti.lang.impl.current_cfg().arch).split(".")[-1]
        actual = "cpu" if got in ("x64", "arm64") else got
        if wanted in ("cuda", "vulkan", "gpu") and actual == "cpu":
            _log.warning("No GPU backend available for %s; Taichi falls back to the CPU", wanted)
        _arch = actual
        return actual


def current_arch() -> str | None:
    """The arch Taichi was initialised on, or None before ``ensure_init``."""
    return _arch
