"""The layering of DESIGN.md section 2 and the code style hold (import-linter, ruff)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PACKAGES = ("geodata", "sim_kernels", "models", "protocol", "server", "viewer", "cli")


def test_import_contracts_hold() -> None:
    r = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_server_package_init_is_empty() -> None:
    assert (ROOT / "server" / "__init__.py").read_text().strip() == ""


def test_ti_init_only_in_runtime() -> None:
    hits = [
        p.relative_to(ROOT).as_posix()
        for pkg in PACKAGES
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


def test_no_import_cycles_between_project_modules() -> None:
    """Every import statement counts, those inside functions too (grimp reads them all)."""
    import grimp
    import networkx as nx

    graph = grimp.build_graph(*PACKAGES)
    g = nx.DiGraph()
    for mod in graph.modules:
        for imported in graph.find_modules_directly_imported_by(mod):
            g.add_edge(mod, imported)
    # a package's __init__ importing its own submodules is not a cycle of the design
    cycles = [c for c in nx.simple_cycles(g) if len(c) > 1]
    assert not cycles, cycles[:5]


def test_no_importlib_indirection_in_server_and_cli() -> None:
    hits = [
        p.relative_to(ROOT).as_posix()
        for pkg in ("server", "cli", "models")
        for p in (ROOT / pkg).rglob("*.py")
        if "importlib.import_module" in (s := p.read_text(encoding="utf-8")) or "__import__(" in s
    ]
    assert hits == []
