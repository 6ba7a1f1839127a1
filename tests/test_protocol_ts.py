"""The web viewer's generated protocol types match protocol/__init__.py."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_protocol_ts", ROOT / "scripts" / "gen_protocol_ts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_typescript_is_current() -> None:
    gen = _generator()
    committed = gen.TARGET.read_text(encoding="utf-8")
    assert committed == gen.render_ts(), (
        "viewer/web/src/protocol.gen.ts is stale: run .venv/bin/python scripts/gen_protocol_ts.py"
    )


def test_every_message_has_a_typescript_type() -> None:
    import protocol as p

    text = _generator().render_ts()
    for cls in (*p.CLIENT_MESSAGES, *p.SERVER_MESSAGES):
        assert f"export interface {cls.__name__} {{" in text
        assert f't: "{cls.__struct_config__.tag}";' in text
    assert "data: Uint8Array;" in text
    assert f"export const PROTOCOL_VERSION = {p.PROTOCOL_VERSION};" in text


def test_a_changed_protocol_makes_the_check_fail(tmp_path: Path) -> None:
    gen = _generator()
    stale = tmp_path / "protocol.gen.ts"
    stale.write_text(gen.render_ts().replace("PROTOCOL_VERSION = ", "PROTOCOL_VERSION = 9"), encoding="utf-8")
    gen.TARGET = stale
    assert gen.main(["--check"]) == 1


@pytest.mark.skipif(not (ROOT / "viewer/web/node_modules/typescript").exists() or shutil.which("node") is None,
                    reason="TypeScript compiler not installed in viewer/web/node_modules")
def test_generated_typescript_compiles(tmp_path: Path) -> None:
    gen = _generator()
    src = tmp_path / "protocol.gen.ts"
    src.write_text(gen.render_ts(), encoding="utf-8")
    tsc = ROOT / "viewer/web/node_modules/typescript/bin/tsc"
    r = subprocess.run(["node", str(tsc), "--noEmit", "--strict", "--target", "es2020", str(src)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
