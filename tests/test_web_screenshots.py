"""Screenshots of the web viewer in each mode, checked against small committed reference images.

Each mode is shot at 1280 x 720 and the kiosk also at 1080 x 1920 (portrait), on the official scenario
of the sample district (these tests run before the editing tests of ``test_web_viewer.py``; a few trees
more stay within the tolerance) once its heat layer has arrived, reduced to a thumbnail and compared by
mean absolute difference. Regenerate the references deliberately with ``LANDTWIN_REGEN_REFERENCE=1``.
"""

# ruff: noqa: F811  (the fixtures imported from webserver are the test functions' arguments)
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from webserver import browser, open_viewer, web_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

REFERENCE = Path(__file__).resolve().parent / "web_reference"
REGEN = os.environ.get("LANDTWIN_REGEN_REFERENCE") == "1"
THUMB_PX = 320  # the long side of the reference thumbnails
TOLERANCE = 12.0  # mean absolute difference per channel (0..255) still accepted
HIDE_TRANSIENT = "#toast, #status { visibility: hidden !important; } * { animation: none !important; }"


def thumbnail(png: bytes) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = img.size
    scale = THUMB_PX / max(w, h)
    return np.asarray(img.resize((round(w * scale), round(h * scale)), Image.Resampling.BOX), dtype=np.uint8)


def check_reference(name: str, png: bytes) -> float:
    """Mean absolute difference of the screenshot to ``web_reference/<name>.png`` (writes it when regenerating)."""
    from PIL import Image

    thumb = thumbnail(png)
    path = REFERENCE / f"{name}.png"
    if REGEN:
        REFERENCE.mkdir(exist_ok=True)
        Image.fromarray(thumb).save(path, optimize=True)
        return 0.0
    if not path.exists():
        pytest.fail(f"no reference image {path}: run with LANDTWIN_REGEN_REFERENCE=1 once and look at it")
    ref = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
    assert ref.shape == thumb.shape, (ref.shape, thumb.shape)
    return float(np.abs(ref.astype(np.int16) - thumb.astype(np.int16)).mean())


CASES = [
    ("planner_1280x720", "planner", 1280, 720),
    ("citizen_1280x720", "citizen", 1280, 720),
    ("kiosk_1280x720", "kiosk", 1280, 720),
    ("kiosk_1080x1920", "kiosk", 1080, 1920),
]


@pytest.mark.parametrize(("name", "mode", "width", "height"), CASES, ids=[c[0] for c in CASES])
def test_mode_screenshot_matches_reference(browser, web_server, name, mode, width, height) -> None:
    params = {"mode": mode, "scenario": web_server.scenario_id, "idle": "600"}
    if mode == "planner":
        params["token"] = web_server.planner_token
    elif mode == "kiosk":
        params["token"] = web_server.kiosk_token  # a paired kiosk device
    ctx, page, watch = open_viewer(browser, web_server.page_url(**params), width=width, height=height, touch=mode != "planner")
    try:
        page.wait_for_function("__viewer.fieldVersion('utci_c') === __viewer.scenarioVersion", timeout=120000)
        page.add_style_tag(content=HIDE_TRANSIENT)
        page.evaluate("new Promise(r => { __viewer.view.invalidate(); requestAnimationFrame(() => requestAnimationFrame(r)); })")
        diff = check_reference(name, page.screenshot())
        assert diff <= TOLERANCE, f"{name}: mean difference {diff:.1f} > {TOLERANCE} (look at the page; regenerate deliberately)"
        assert watch.errors == []
    finally:
        ctx.close()
