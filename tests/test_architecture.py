"""The layering of DESIGN.md section 2 and the code style hold (import-linter, ruff)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_import_contracts_hold() -> None:
    r = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_server_package_init_is_empty() -> None:
    assert (ROOT / "server" / "__init__.py").read_text().strip() == ""


def test_ti_init_only_in_runtime() -> None:
    hits = [
        p.relative_to(ROOT).as_posix()
        for pkg in ("sim_kernels", "geodata", "server", "viewer")
        for p in (ROOT / pkg).rglob("*.py")
        if "ti.init(" in p.read_text(encoding="utf-8")
    ]
    assert hits == ["sim_kernels/runtime.py"]


def test_kernels_import_numpy_and_taichi_only() -> None:
    import ast

    allowed = {"numpy", "taichi", "sim_kernels", "__future__", "dataclasses", "typing", "math", "functools",
               "logging", "os", "threading", "collections", "enum", "time", "heapq", "itertools"}
    bad = []
    for p in (ROOT / "sim_kernels").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                if n.split(".")[0] not in allowed:
                    bad.append(f"{p.relative_to(ROOT)}: {n}")
    assert not bad, bad
