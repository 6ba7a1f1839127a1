"""Shared fixtures: paths to the real open data beside the project, and Taichi on the CPU."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from hypothesis import settings

# CI explores the same examples every run (a red CI must be reproducible); local runs keep exploring.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Taichi's own sources hold invalid escape sequences and call deprecated locale functions; where no
# bytecode was cached, its first import warns, and with warnings as errors that would fail collection.
# Import it once here, quietly; our own code still runs with warnings as errors.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import taichi  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data; skips the test with a clear reason when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real open data not present: {p} (the shared data folder lies beside the project)")
    return p


@pytest.fixture(scope="session")
def taichi_cpu() -> str:
    from sim_kernels.runtime import ensure_init

    return ensure_init("cpu")
