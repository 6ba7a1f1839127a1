"""End-to-end tests of the web viewer in a real Chromium against a real ``twin serve``.

The page's test handle ``window.__viewer`` reports state (tiles, layers, scenario version, picks); the
tests drive the page as a person would: touch taps with ``has_touch=True``, clicks and keys.
"""

# ruff: noqa: F811  (the fixtures imported from webserver are the test functions' arguments)
from __future__ import annotations

import io
import time

import pytest
from webserver import browser, open_viewer, web_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def _canvas_is_drawn(page) -> tuple[float, int]:
    import numpy as np
    from PIL import Image

    png = page.locator("#canvas").screenshot()
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB").resize((160, 90)), dtype=np.float64).reshape(-1, 3)
    lum = px @ np.array([0.3, 0.59, 0.11])
    return float(lum.std()), len(np.unique(px, axis=0))


def _ground_tap_point(page, clear_m: float = 30.0) -> tuple[float, float]:
    """A screen point near the view centre whose pick is open ground, ``clear_m`` from the scenario's trees."""
    box = page.locator("#canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    trees = page.evaluate("__viewer.trees")
    for dx, dy in [(0, 0), (40, 0), (-40, 0), (0, 40), (0, -40), (80, 40), (-80, -40), (60, -60), (-60, 60), (120, 0),
                   (-120, 0), (0, 100), (0, -100), (150, 60), (-150, -60), (100, 100), (-100, 100)]:
        hit = page.evaluate(
            "([x, y]) => { const h = __viewer.app.view.raycast(x, y, [__viewer.app.tiles.group])[0];"
            " return h ? [h.object.userData.kind || 'other', h.point.x, -h.point.z] : null; }", [cx + dx, cy + dy])
        if hit and hit[0] == "ground" and all((hit[1] - t[0]) ** 2 + (hit[2] - t[1]) ** 2 > clear_m**2 for t in trees):
            return cx + dx, cy + dy
    pytest.fail("no open ground near the view centre")


def test_page_loads_renders_the_district_without_console_errors(browser, web_server) -> None:
    ctx, page, watch = open_viewer(browser, web_server.page_url(token=web_server.planner_token))
    try:
        h = page.evaluate("({t: __viewer.tilesLoaded, n: __viewer.tilesTotal, l: __viewer.layers, m: __viewer.mode,"
                          " e: __viewer.canEdit, ms: __viewer.firstRenderMs, f: __viewer.frames})")
        assert h["n"] > 0 and h["t"] == h["n"], h
        assert h["l"]["raster"] == "utci" and "comments" in h["l"]["overlays"]
        assert h["m"] == "planner" and h["e"] is True and h["f"] > 0
        std, colours = _canvas_is_drawn(page)
        assert std > 8 and colours > 200, (std, colours)
        assert page.locator("#compass").is_visible() and page.locator("#scalebar-label").inner_text().strip()
        # English on request, German by default
        assert page.locator("#tool-tree").inner_text().strip() == "Baum"
        page.click("#lang-en")
        assert page.locator("#tool-tree").inner_text().strip() == "Tree"
        # keyboard: number keys pick tools, Escape leaves them
        page.focus("#canvas")
        page.keyboard.press("1")
        assert page.evaluate("__viewer.activeTool") == "tree"
        page.keyboard.press("Escape")
        assert page.evaluate("__viewer.activeTool") is None
        time.sleep(0.5)
        assert watch.errors == []
    finally:
        ctx.close()


def test_touch_tap_places_a_tree_that_a_second_context_sees(browser, web_server) -> None:
    url = web_server.page_url(token=web_server.planner_token)
    ctx, page, watch = open_viewer(browser, url, touch=True)
    ctx2, page2, watch2 = open_viewer(browser, web_server.page_url(mode="citizen"))
    try:
        before = page.evaluate("__viewer.scenarioVersion")
        trees2 = page2.evaluate("__viewer.trees.length")
        tb = page.locator("#tool-tree").bounding_box()
        page.touchscreen.tap(tb["x"] + tb["width"] / 2, tb["y"] + tb["height"] / 2)
        assert page.evaluate("__viewer.activeTool") == "tree"
        x, y = _ground_tap_point(page)
        page.touchscreen.tap(x, y)
        page.wait_for_function(f"__viewer.scenarioVersion > {before}", timeout=15000)
        pick = page.evaluate("__viewer.lastPick")
        assert pick["kind"] == "ground"
        tree = [iv for iv in page.evaluate("__viewer.interventions") if iv["kind"] == "tree"][-1]
        assert tree["xy_local_m"] == pytest.approx(pick["xy_local_m"], abs=0.01)
        # the server holds it
        stored = web_server.api(f"/api/scenarios/{web_server.scenario_id}/interventions")
        assert any(e["intervention"]["id"] == tree["id"] for e in stored)
        # and the other browser context sees the tree appear
        page2.wait_for_function(f"__viewer.trees.length > {trees2}", timeout=15000)
        assert any(t[0] == pytest.approx(tree["xy_local_m"][0]) for t in page2.evaluate("__viewer.trees"))
        assert watch.errors == [] and watch2.errors == []
    finally:
        ctx.close()
        ctx2.close()


def test_touch_tree_changes_the_heat_layer_where_it_stands(browser, web_server) -> None:
    if "heat" not in web_server.api("/api/health")["engines"]:
        pytest.skip("the server has no heat engine (models/heat.py missing)")
    ctx, page, watch = open_viewer(browser, web_server.page_url(token=web_server.planner_token), touch=True)
    try:
        page.wait_for_function("__viewer.fieldVersion('utci_c') === __viewer.scenarioVersion", timeout=90000)
        sx, sy = _ground_tap_point(page)
        px, py = page.evaluate("([x, y]) => { const h = __viewer.app.view.raycast(x, y, [__viewer.app.tiles.group])[0];"
                               " return [h.point.x, -h.point.z]; }", [sx, sy])
        window = "([px, py]) => { const out = []; for (let dy = -10; dy <= 10; dy += 2) for (let dx = -10; dx <= 10; dx += 2)" \
                 " out.push(__viewer.sample('utci_c', px + dx, py + dy)); return out; }"
        before = page.evaluate(window, [px, py])
        v0 = page.evaluate("__viewer.scenarioVersion")
        page.evaluate("__viewer.setTool('tree')")
        page.touchscreen.tap(sx, sy)
        page.wait_for_function(f"__viewer.scenarioVersion > {v0}", timeout=15000)
        assert page.evaluate("__viewer.lastPick.xy_local_m") == pytest.approx([px, py], abs=0.05)
        version = page.evaluate("__viewer.scenarioVersion")
        page.wait_for_function(f"__viewer.fieldVersion('utci_c') >= {version}", timeout=90000)
        after = page.evaluate(window, [px, py])
        diff = [a - b for a, b in zip(after, before) if a == a and b == b]
        assert len(diff) > 100, "UTCI missing around the tree"
        assert min(diff) < -0.1, (min(diff), max(diff))  # cooler in the tree's shade
        assert max(diff) < 0.5  # and nowhere near it hotter
        assert watch.errors == []
    finally:
        ctx.close()


def test_citizen_cannot_use_planner_tools(browser, web_server) -> None:
    ctx, page, watch = open_viewer(browser, web_server.page_url(mode="citizen"), touch=True)
    try:
        assert page.evaluate("__viewer.tools") == ["comment"]
        assert page.evaluate("__viewer.canEdit") is False
        assert page.locator("#tool-tree").count() == 0 and not page.locator("#btn-undo").is_visible()
        page.evaluate("__viewer.setTool('tree')")
        assert page.evaluate("__viewer.activeTool") is None
        # even a hand-made edit through the page's own connection is refused by the server
        n = len(web_server.api(f"/api/scenarios/{web_server.scenario_id}/interventions"))
        v = page.evaluate("__viewer.scenarioVersion")
        page.evaluate("__viewer.app.conn.add({kind: 'tree', id: 'citizen-tree-1', xy_local_m: [1000, 1000]})")
        page.wait_for_function("(__viewer.messages.rejected || 0) + (__viewer.messages.error || 0) > 0", timeout=10000)
        assert page.evaluate("__viewer.scenarioVersion") == v
        assert len(web_server.api(f"/api/scenarios/{web_server.scenario_id}/interventions")) == n
        # the citizen pins an idea in 3D by touch, and votes for it
        cb = page.locator("#tool-comment").bounding_box()
        page.touchscreen.tap(cb["x"] + cb["width"] / 2, cb["y"] + cb["height"] / 2)
        assert page.evaluate("__viewer.activeTool") == "comment"
        n_comments = len(page.evaluate("__viewer.comments"))
        x, y = _ground_tap_point(page)
        page.touchscreen.tap(x, y)
        page.locator("#comment-dialog").wait_for(state="visible")
        page.locator("#ck-idea").tap()
        page.locator("#comment-text").fill("Hier fehlt Schatten an der Haltestelle.")
        page.locator("#comment-send").tap()
        page.wait_for_function(f"__viewer.comments.length > {n_comments}", timeout=10000)
        mine = [c for c in page.evaluate("__viewer.comments") if c["text"].startswith("Hier fehlt Schatten")][-1]
        assert mine["kind"] == "idea" and mine["votes"] == 0
        stored = web_server.api(f"/api/scenarios/{web_server.scenario_id}/comments")
        assert any(c["comment_id"] == mine["comment_id"] for c in stored)
        hx, hy = page.evaluate(f"__viewer.screenOfComment({mine['comment_id']})")
        page.touchscreen.tap(hx, hy)
        page.locator("#comment-card").wait_for(state="visible")
        page.locator("#comment-card .btn.primary").tap()
        page.wait_for_function(f"__viewer.comments.find(c => c.comment_id === {mine['comment_id']}).votes === 1", timeout=10000)
        assert watch.errors == []
    finally:
        ctx.close()


def test_kiosk_resets_after_its_idle_time(browser, web_server) -> None:
    ctx, page, watch = open_viewer(browser, web_server.page_url(mode="kiosk", idle="6", token=web_server.kiosk_token), touch=True)
    try:
        k = page.evaluate("__viewer.kiosk")
        assert k["start"] is True and k["resets"] == 0
        sandbox = page.evaluate("__viewer.scenarioId")
        assert sandbox != web_server.scenario_id
        go = page.locator("#kiosk-go").bounding_box()
        page.touchscreen.tap(go["x"] + go["width"] / 2, go["y"] + go["height"] / 2)
        assert page.evaluate("__viewer.activeTool") == "tree"
        x, y = _ground_tap_point(page)
        n0 = page.evaluate("__viewer.trees.length")
        page.touchscreen.tap(x, y)
        page.wait_for_function(f"__viewer.trees.length > {n0}", timeout=15000)
        # the official scenario is untouched by the kiosk
        official = web_server.api(f"/api/scenarios/{web_server.scenario_id}/interventions")
        assert all(e["intervention"]["id"] != page.evaluate("__viewer.interventions.at(-1).id") for e in official)
        # idle: reset to the starting state and the attract loop
        page.wait_for_function("__viewer.kiosk.resets >= 1 && __viewer.kiosk.attract", timeout=20000)
        page.wait_for_function(f"__viewer.scenarioId !== '{sandbox}' && __viewer.trees.length === {n0}", timeout=15000)
        assert page.evaluate("__viewer.activeTool") is None
        page.touchscreen.tap(x, y)
        assert page.evaluate("__viewer.kiosk") == {"attract": False, "resets": 1, "start": True}
        assert watch.errors == []
    finally:
        ctx.close()


def _screen_hit(page, kind: str) -> tuple[float, float]:
    """A screen point near the view centre where the tiles show ``kind`` (building, ground, ...)."""
    box = page.locator("#canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for r in range(0, 300, 12):
        for dx, dy in [(r, 0), (-r, 0), (0, r), (0, -r), (r, r), (-r, -r)]:
            k = page.evaluate("([x, y]) => { const h = __viewer.app.view.raycast(x, y, [__viewer.app.tiles.group])[0];"
                              " return h ? h.object.userData.kind : null; }", [cx + dx, cy + dy])
            if k == kind:
                return cx + dx, cy + dy
    pytest.fail(f"no {kind} near the view centre")


def _tap(page, selector: str) -> None:
    b = page.locator(selector).bounding_box()
    page.touchscreen.tap(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)


def test_touch_gestures_and_every_kind_of_tool_by_touch_alone(browser, web_server) -> None:
    ctx, page, watch = open_viewer(browser, web_server.page_url(token=web_server.planner_token), touch=True)
    try:
        cdp = ctx.new_cdp_session(page)
        box = page.locator("#canvas").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

        def touch(kind: str, pts: list[tuple[float, float]]) -> None:
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(pts)]})

        cam = "(() => { const v = __viewer.app.view; return [v.headingRad(), v.camera.position.distanceTo(v.controls.target)]; })()"
        h0, d0 = page.evaluate(cam)
        touch("touchStart", [(cx, cy)])  # one finger rotates
        for i in range(1, 9):
            touch("touchMove", [(cx + 20 * i, cy)])
        touch("touchEnd", [])
        h1, d1 = page.evaluate(cam)
        assert abs(h1 - h0) > 0.05 and d1 == pytest.approx(d0, rel=1e-3)
        touch("touchStart", [(cx - 40, cy), (cx + 40, cy)])  # two fingers spread: zoom in
        for i in range(1, 9):
            touch("touchMove", [(cx - 40 - 15 * i, cy), (cx + 40 + 15 * i, cy)])
        touch("touchEnd", [])
        h2, d2 = page.evaluate(cam)
        assert d2 < d1 * 0.9

        def kinds() -> list[str]:
            return [iv["kind"] for iv in page.evaluate("__viewer.interventions")]

        # an area: three taps and "done"
        n_park = kinds().count("park")
        _tap(page, "#tool-park")
        for dx, dy in [(-70, -30), (70, -30), (0, 60)]:
            page.touchscreen.tap(cx + dx, cy + dy)
        _tap(page, "#btn-done")
        page.wait_for_function(f"__viewer.interventions.filter(i => i.kind === 'park').length === {n_park + 1}", timeout=15000)
        # undo and redo by touch
        _tap(page, "#tool-park")  # leave the tool
        _tap(page, "#btn-undo")
        page.wait_for_function(f"__viewer.interventions.filter(i => i.kind === 'park').length === {n_park}", timeout=15000)
        _tap(page, "#btn-redo")
        page.wait_for_function(f"__viewer.interventions.filter(i => i.kind === 'park').length === {n_park + 1}", timeout=15000)
        # a green roof by picking a building
        _tap(page, "#tool-green_roof")
        bx, by = _screen_hit(page, "building")
        page.touchscreen.tap(bx, by)
        page.wait_for_function("__viewer.interventions.some(i => i.kind === 'green_roof')", timeout=15000)
        roof = [iv for iv in page.evaluate("__viewer.interventions") if iv["kind"] == "green_roof"][-1]
        assert roof["building_id"] == page.evaluate("__viewer.lastPick.building_id") and roof["building_id"] >= 0
        # Tempo 30 by picking a road
        page.wait_for_function("__viewer.app.roads !== null", timeout=15000)
        edge = page.evaluate("(() => { const g = __viewer.app.roads; const k = g.offsets[3]; return [g.xy[2 * k], g.xy[2 * k + 1]]; })()")
        page.evaluate("([x, y]) => { const v = __viewer.app.view; const t = v.controls.target;"
                      " const dx = x - t.x, dz = -y - t.z; t.x += dx; t.z += dz; v.camera.position.x += dx;"
                      " v.camera.position.z += dz; v.controls.update(); }", edge)
        _tap(page, "#tool-tempo30")
        rx, ry = page.evaluate(f"__viewer.screenOf({edge[0]}, {edge[1]})")
        page.touchscreen.tap(rx, ry)
        page.wait_for_function("__viewer.interventions.some(i => i.kind === 'speed_limit')", timeout=15000)
        sl = [iv for iv in page.evaluate("__viewer.interventions") if iv["kind"] == "speed_limit"][-1]
        assert sl["maxspeed_kmh"] == 30
        # A/B comparison: split and difference
        _tap(page, "#btn-compare")
        page.wait_for_function("__viewer.compare === 'split'", timeout=10000)
        _tap(page, "#cmp-diff")
        assert page.evaluate("__viewer.compare") == "diff"
        _tap(page, "#btn-kpi")
        assert page.locator("#kpi-panel").is_visible()
        assert watch.errors == []
    finally:
        ctx.close()


@pytest.mark.timeout(300)
def test_every_heat_raster_receives_its_field_and_is_drawn(browser, web_server) -> None:
    """Each raster the layer list offers subscribes to its field; the field arrives and the drape shows it."""
    if "heat" not in web_server.api("/api/health")["engines"]:
        pytest.skip("the server has no heat engine")
    expected = {"surface_temp": "surface_temp_c", "air_temp": "air_temp_c", "tmrt": "tmrt_c", "utci": "utci_c",
                "heat_stress": "utci_c", "uhi": "uhi_k"}
    ctx, page, watch = open_viewer(browser, web_server.page_url())
    try:
        page.wait_for_function("__viewer.ready", timeout=60000)
        for raster, field in expected.items():
            page.evaluate(f"__viewer.setRaster('{raster}')")
            page.wait_for_function(
                f"__viewer.draped !== null && __viewer.draped.field === '{field}' && __viewer.draped.finite > 0"
                " && __viewer.draped.opacity > 0", timeout=120000)
            assert field in page.evaluate("__viewer.layers.fields")
            d = page.evaluate("__viewer.draped")
            assert d["finite"] > 1000, (raster, d)
            assert d["coarse"] == (field in ("air_temp_c", "uhi_k")), (raster, d)  # the air drapes its coarse raster
        assert watch.errors == []
    finally:
        ctx.close()


@pytest.mark.timeout(240)
def test_cooling_overlay_draws_on_the_sample_town(browser, web_server) -> None:
    """On the 2 km sample (1 M cells) the buildings' cooling demand is computed live: the overlay colours its
    buildings from the export, with the legend in German and English."""
    if "heat" not in web_server.api("/api/health")["engines"]:
        pytest.skip("the server has no heat engine")
    ctx, page, watch = open_viewer(browser, web_server.page_url(token=web_server.planner_token))
    try:
        page.wait_for_function("__viewer.kpis.heat !== undefined && 'cooling_demand_kwh_day' in __viewer.kpis.heat",
                               timeout=180000)
        page.evaluate("__viewer.setOverlay('cooling', true)")
        page.wait_for_function("__viewer.cooling.buildings > 0 && __viewer.cooling.coloured > 0", timeout=60000)
        c = page.evaluate("__viewer.cooling")
        assert c["mode"] == "kwh" and c["unavailable"] == ""
        assert "kWh" in page.locator("#legend").inner_text()
        page.click("#lang-en")
        page.evaluate("__viewer.setOverlay('cooling', false)")
        page.evaluate("__viewer.setOverlay('cooling_change', true)")
        page.wait_for_function("__viewer.cooling.mode === 'change' && __viewer.cooling.coloured > 0", timeout=30000)
        assert "Cooling demand: change" in page.locator("#legend").inner_text()
        assert watch.errors == []
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    """``twin serve`` on a 0.5 km sample (10,000 cells), where the cooling demand is computed with every edit."""
    import argparse

    from webserver import DIST, running_twin_serve

    if not (DIST / "index.html").exists():
        pytest.skip("viewer/web/dist is not built")
    from cli import sample

    data = tmp_path_factory.mktemp("smalldata")
    sample.run(argparse.Namespace(name="sample", size_km=0.5, seed=0, cell=5.0, render=None, force=False, json=False,
                                  data_dir=str(data)))
    with running_twin_serve(data) as server:
        yield server


@pytest.mark.timeout(300)
def test_cooling_overlay_colours_the_buildings_by_demand_and_by_change(browser, small_server) -> None:
    if "heat" not in small_server.api("/api/health")["engines"]:
        pytest.skip("the server has no heat engine")
    ctx, page, watch = open_viewer(browser, small_server.page_url(token=small_server.planner_token))
    try:
        page.wait_for_function("__viewer.kpis.heat !== undefined && __viewer.tilesLoaded === __viewer.tilesTotal",
                               timeout=120000)
        before = _canvas_pixels(page)
        page.evaluate("__viewer.setOverlay('cooling', true)")
        page.wait_for_function("__viewer.cooling.buildings > 0 && __viewer.cooling.coloured > 0", timeout=60000)
        c = page.evaluate("__viewer.cooling")
        fc = small_server.api(f"/api/scenarios/{small_server.scenario_id}/exports/buildings_cooling.geojson")
        assert c["mode"] == "kwh" and c["buildings"] == len(fc["features"]) and c["unavailable"] == ""
        assert c["coloured"] > 0.5 * len({f["properties"]["building_id"] for f in fc["features"]})
        page.wait_for_timeout(500)
        after = _canvas_pixels(page)
        assert float(abs(after - before).mean()) > 0.5  # the buildings changed colour on screen
        assert "kWh" in page.locator("#legend").inner_text()
        # the change against the baseline: the official scenario is the baseline itself, so no building is
        # redder or bluer than the ramp's middle
        page.evaluate("__viewer.setOverlay('cooling', false)")
        page.evaluate("__viewer.setOverlay('cooling_change', true)")
        page.wait_for_function("__viewer.cooling.mode === 'change' && __viewer.cooling.coloured > 0", timeout=30000)
        page.evaluate("__viewer.setOverlay('cooling_change', false)")
        page.wait_for_function("__viewer.cooling.mode === 'off'", timeout=30000)
        page.wait_for_timeout(500)
        restored = _canvas_pixels(page)
        assert float(abs(restored - before).mean()) < float(abs(after - before).mean())  # the tiles' own colours back
        assert watch.errors == []
    finally:
        ctx.close()


def _canvas_pixels(page):
    import numpy as np
    from PIL import Image

    png = page.locator("#canvas").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB").resize((320, 180)), dtype=np.float64)


@pytest.mark.timeout(300)
def test_heat_island_and_cooling_in_the_ab_comparison(browser, small_server) -> None:
    """A scenario with trees against its parent: scenario A streams the heat island too (split and B − A),
    the key figures show both, and the cooling change overlay compares B with A."""
    from webserver import http_json

    if "heat" not in small_server.api("/api/health")["engines"]:
        pytest.skip("the server has no heat engine")
    tok = small_server.planner_token
    b = http_json(f"{small_server.url}/api/scenarios/{small_server.scenario_id}/fork", method="POST", token=tok,
                  body={"name": "Bäume"})["scenario_id"]
    import urllib.error

    planted = 0
    for i in range(60):  # trees on open ground near the middle (one on a roof is refused with 422)
        xy = [150.0 + 23.0 * (i % 9), 150.0 + 29.0 * (i // 9)]
        try:
            http_json(f"{small_server.url}/api/scenarios/{b}/interventions", method="POST", token=tok, body={"intervention": {
                "kind": "tree", "id": f"t{i}", "xy_local_m": xy, "height_m": 15.0, "crown_diameter_m": 10.0}})
            planted += 1
        except urllib.error.HTTPError as exc:
            assert exc.code == 422
        if planted == 3:
            break
    assert planted == 3
    ctx, page, watch = open_viewer(browser, small_server.page_url(scenario=b, token=tok))
    try:
        page.evaluate("__viewer.setRaster('uhi')")
        page.wait_for_function("__viewer.draped !== null && __viewer.draped.field === 'uhi_k'", timeout=120000)
        page.click("#btn-compare")
        page.wait_for_function("__viewer.layers.fieldsA.includes('uhi_k')", timeout=120000)
        page.click("#cmp-diff")
        page.wait_for_function("__viewer.compare === 'diff' && __viewer.draped.finite > 1000", timeout=30000)
        page.click("#btn-kpi")
        page.wait_for_function("document.querySelector('#kpi-body').innerText.includes('Wärmeinsel')", timeout=60000)
        page.evaluate("__viewer.setOverlay('cooling_change', true)")
        page.wait_for_function("__viewer.cooling.mode === 'change' && __viewer.cooling.coloured > 0"
                               " && __viewer.app.cooling.valuesA !== null", timeout=60000)
        assert "B − A" in page.locator("#legend").inner_text()
        assert watch.errors == []
    finally:
        ctx.close()
