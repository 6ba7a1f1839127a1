"""Fixtures for the web viewer's end-to-end tests: a real ``twin serve`` in a subprocess on a free port
with a temporary data folder (the sample district's bundle and tiles built into it), and Debian's
Chromium driven by Playwright with the launch arguments of PEERS.md.

A test module imports the fixtures: ``from webserver import browser, web_server``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from server_support import free_port

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "viewer" / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader", "--disable-dev-shm-usage",
]


def http_json(url: str, *, method: str = "GET", body: Any = None, token: str = "") -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=20) as res:
        return json.loads(res.read())


@dataclass
class WebServer:
    """A running ``twin serve``: its address, data folder, a planner token and the official scenario."""

    url: str
    data: Path
    planner_token: str
    scenario_id: str
    proc: subprocess.Popen
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)
    kiosk_token: str = ""  # a paired kiosk device (the kiosk mode needs one)

    def page_url(self, **params: str) -> str:
        token = params.pop("token", "")
        q = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.url}/?{q}" + (f"#token={token}" if token else "")

    def api(self, path: str, **kw: Any) -> Any:
        return http_json(self.url + path, **kw)


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 90.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"twin serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if http_json(url + "/api/health")["status"] == "ok":
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"twin serve did not answer within {timeout_s} s:\n{log.read_text()[-3000:]}")


@contextmanager
def running_twin_serve(data: Path) -> Iterator[WebServer]:
    """``twin serve`` on the district bundle in ``data``, on a free port, with a planner token; stopped on exit."""
    port = free_port()
    log = data / "serve.log"
    twin = Path(sys.executable).with_name("twin")
    cmd = [str(twin), "--data-dir", str(data), "--arch", "cpu", "serve", "--port", str(port)]
    env = {**os.environ, "LANDTWIN_ARCH": "cpu", "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        admin = (data / "admin-token.txt").read_text().strip()
        planner = http_json(url + "/api/tokens", method="POST", token=admin,
                            body={"role": "planner", "department": "Stadtplanung"})["token"]
        kiosk = http_json(url + "/api/tokens", method="POST", token=admin, body={"role": "kiosk", "name": "Test-Kiosk"})["token"]
        scenarios = http_json(url + "/api/scenarios?district=sample")
        official = next(s for s in scenarios if s["kind"] == "official")
        yield WebServer(url=url, data=data, planner_token=planner, scenario_id=official["scenario_id"],
                        proc=proc, log=log, kiosk_token=kiosk)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# One server and one browser per test session, even though every test module imports the fixtures
# (pytest then knows one fixture per module): the first module to ask starts them, the others share.
_SHARED: dict[str, Any] = {}


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """``twin serve`` on the sample district (bundle and tiles built into a temporary data folder)."""
    if "web_server" in _SHARED:
        yield _SHARED["web_server"]
        return
    if not (DIST / "index.html").exists() or not (DIST / "app.js").exists():
        pytest.skip("viewer/web/dist is not built: run `make setup` (npm ci && npm run build in viewer/web)")
    from cli.serve import ensure_sample_bundle

    data = tmp_path_factory.mktemp("webdata")
    ensure_sample_bundle(data)
    try:
        with running_twin_serve(data) as server:
            _SHARED["web_server"] = server
            yield server
    finally:
        _SHARED.pop("web_server", None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright (never ``playwright install``)."""
    if "browser" in _SHARED:
        yield _SHARED["browser"]
        return
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip("Debian's chromium is not installed: `apt-get install -y chromium` (make test does it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _SHARED["browser"] = b
        try:
            yield b
        finally:
            _SHARED.pop("browser", None)
            b.close()


class PageWatch:
    """Console errors and uncaught exceptions of a page (a 'ready' page has none)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))


def open_viewer(browser: Any, url: str, *, width: int = 1280, height: int = 720, touch: bool = False,
                timeout_ms: int = 60000) -> tuple[Any, Any, PageWatch]:
    """A new context and page on ``url``, waited until the viewer's test handle reports ready."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, has_touch=touch, device_scale_factor=1)
    page = ctx.new_page()
    watch = PageWatch(page)
    page.goto(url)
    try:
        page.wait_for_function("window.__viewer && window.__viewer.ready && window.__viewer.scenarioId !== ''",
                               timeout=timeout_ms)
    except Exception as exc:
        state = page.evaluate("window.__viewer ? JSON.stringify({ready: __viewer.ready, timings: __viewer.timings,"
                              " connection: __viewer.connection, messages: __viewer.messages}) : 'no handle'")
        ctx.close()
        raise AssertionError(f"viewer not ready: {state}; console: {watch.errors}") from exc
    return ctx, page, watch
