"""Region view benchmark: time from the start of navigation to the first complete render of region.html
(Gemeinden, 1 km grid, stops and hospitals drawn) in Debian's Chromium, on the sample set-up (``twin serve``
on the sample district; the region from ``../shared/data``). Target: at most 2 s.

The first load after the server starts includes building the region's published view on the server
(the Region from the open data, about a second); it is printed apart from the warm loads. Also prints the
size of the map document and of the region bundle. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_region_view.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_web import CHROMIUM_ARGS, DIST, ROOT, Server  # noqa: E402

TARGET_MS = 2000.0


def load(browser, url: str, width: int = 1280, height: int = 720) -> dict:
    ctx = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function("window.__region && __region.ready", timeout=120000)
    wall = (time.perf_counter() - t0) * 1000.0
    out = page.evaluate("({first: __region.firstRenderMs, script: __region.scriptStartMs, drawn: __region.drawn,"
                        " nav: performance.getEntriesByType('navigation')[0].toJSON()})")
    ctx.close()
    return {"first_ms": out["first"], "script_ms": out["script"], "wall_ms": wall, "drawn": out["drawn"],
            "dom_ms": out["nav"]["domContentLoadedEventEnd"], "errors": errors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not (DIST / "region.html").exists():
        print("viewer/web/dist is not built (cd viewer/web && npm run build)")
        return 2
    from playwright.sync_api import sync_playwright

    from cli.serve import ensure_sample_bundle

    with tempfile.TemporaryDirectory(prefix="landtwin-bench-region-") as tmp:
        data = Path(tmp)
        ensure_sample_bundle(data)
        server = Server(data)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                warmup = browser.new_context()  # the browser's own first start is not the region view's cost
                warmup.new_page().goto(server.url + "/api/health")
                warmup.close()
                cold = load(browser, server.url + "/region.html")
                warm = [load(browser, server.url + "/region.html") for _ in range(args.runs)]
                kiosk = load(browser, server.url + "/region.html?mode=kiosk", 1080, 1920)
                browser.close()
            with urllib.request.urlopen(server.url + "/api/reports/burgenlandkreis/map?res=1km", timeout=30) as r:
                map_kb = len(r.read()) / 1024
        finally:
            server.stop()
    med = statistics.median(w["first_ms"] for w in warm)
    d = warm[0]["drawn"]
    print(f"region view, 1280 x 720: {d['gemeinden']} Gemeinden, {d['gridCells']} grid cells, {d['stops']} stops, "
          f"{d['hospitals']} hospitals")
    print(f"first render after navigation start: cold server {cold['first_ms']:.0f} ms, warm median {med:.0f} ms "
          f"(min {min(w['first_ms'] for w in warm):.0f}, max {max(w['first_ms'] for w in warm):.0f}; {args.runs} runs); "
          f"target <= {TARGET_MS:.0f} ms: {'met' if med <= TARGET_MS else 'NOT met'} warm, "
          f"{'met' if cold['first_ms'] <= TARGET_MS else 'NOT met'} cold")
    print(f"kiosk 1080 x 1920: first render {kiosk['first_ms']:.0f} ms")
    print(f"map document (1 km grid): {map_kb:.0f} KiB; region.js {(DIST / 'region.js').stat().st_size / 1024:.0f} KiB")
    errs = cold["errors"] + [e for w in warm for e in w["errors"]] + kiosk["errors"]
    print(f"console errors: {len(errs)}")
    _ = ROOT
    return 0


if __name__ == "__main__":
    sys.exit(main())
