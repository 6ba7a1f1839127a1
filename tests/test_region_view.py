"""The region view in Chromium (region.html on a real ``twin serve``): the choropleth and the grid are
drawn, a Gemeinde's chart panel opens, search finds "Zeitz", the drill-down opens the sample town's 3D
twin and comes back, the saved view (the address) restores the state, the kiosk start screen answers its
questions by touch and resets itself; reference screenshots at 1280 x 720 and 1080 x 1920 (kiosk); no
console errors. Regenerate the references deliberately with ``LANDTWIN_REGEN_REFERENCE=1``.
"""

# ruff: noqa: F811  (the fixtures imported from webserver are the test functions' arguments)
from __future__ import annotations

from typing import Any

import pytest
from conftest import shared_data
from test_web_screenshots import check_reference
from webserver import PageWatch, browser, http_json, open_viewer, web_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ZEITZ, NAUMBURG = "15084590", "15084355"
READY = "window.__region && window.__region.ready"
TOLERANCE = 12.0


def open_region(browser: Any, url: str, *, width: int = 1280, height: int = 720, touch: bool = False):
    shared_data("zensus2011_grid_burgenlandkreis")
    ctx = browser.new_context(viewport={"width": width, "height": height}, has_touch=touch, device_scale_factor=1)
    page = ctx.new_page()
    watch = PageWatch(page)
    page.goto(url)
    try:
        page.wait_for_function(READY, timeout=90000)
    except Exception as exc:
        errors = page.evaluate("window.__region ? __region.errors : 'no handle'")
        ctx.close()
        raise AssertionError(f"region view not ready: {errors}; console: {watch.errors}") from exc
    return ctx, page, watch


def test_choropleth_grid_panel_and_search(browser, web_server) -> None:
    ctx, page, watch = open_region(browser, f"{web_server.url}/region.html?grid=1km")
    try:
        drawn = page.evaluate("__region.drawn")
        assert drawn["gemeinden"] == 33 and drawn["gridCells"] > 500 and drawn["stops"] == 780 and drawn["hospitals"] >= 3
        fills = page.evaluate("[...document.querySelectorAll('#rmap-gemeinden path')].map(p => p.getAttribute('fill'))")
        assert len(set(fills)) == 5  # five quantile classes
        # a click on Zeitz opens its chart panel with the charts of the reports
        x, y = page.evaluate(f"__region.clientOf(...__region.centreOf('{ZEITZ}'))")
        page.mouse.click(x, y)
        page.wait_for_function("__region.panelOpen", timeout=20000)
        assert page.evaluate("__region.selected") == ZEITZ
        assert page.evaluate("__region.charts") == ["age_structure", "indicators", "ranking_share_65plus", "trend"]
        assert page.locator("#rpanel svg.chart").count() == 4
        assert "Zeitz" in page.locator("#rpanel-title").inner_text()
        page.click("#rpanel-close")
        assert not page.evaluate("__region.panelOpen")
        # search by name
        page.fill("#rsearch", "zeitz")
        page.press("#rsearch", "Enter")
        page.wait_for_function(f"__region.selected === '{ZEITZ}' && __region.panelOpen", timeout=20000)
        page.fill("#rsearch", "Atlantis")
        page.press("#rsearch", "Enter")
        assert page.locator("#rsearch-msg").inner_text() == "Kein Ort gefunden"
        # a village finds its place and its Gemeinde
        page.fill("#rsearch", "Kayna")
        page.press("#rsearch", "Enter")
        page.wait_for_function(f"__region.found === 'Kayna (Zeitz)' && __region.selected === '{ZEITZ}'", timeout=20000)
        # the 100 m grid, coloured by people over 80
        page.check('input[name="grid"][value="100m"]')
        page.check("#gm80")
        page.wait_for_function("__region.drawn.grid === '100m' && __region.drawn.gridMode === '80plus'")
        cells = web_server.api("/api/reports/burgenlandkreis/map?res=100m")["grid"]["cells"]
        expect = sum(1 for c in cells if c[5])  # cells with under 5 persons over 80 are not shown
        assert 100 < expect < len(cells) and page.evaluate("__region.drawn.gridCells") == expect
        assert watch.errors == [] and page.evaluate("__region.errors") == []
    finally:
        ctx.close()


def test_saved_view_restores_the_state(browser, web_server) -> None:
    ctx, page, watch = open_region(browser, f"{web_server.url}/region.html")
    try:
        page.select_option("#ind", "old_age_ratio")
        page.check('input[name="grid"][value="off"]')
        page.evaluate(f"document.querySelector('#rmap-gemeinden path[data-ags=\"{NAUMBURG}\"]').dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter', bubbles: true}}))")
        page.wait_for_function("__region.panelOpen")
        page.click("#rlang-en")
        assert page.locator("#rlayers-title").inner_text().lower() == "layers"
        assert page.evaluate("document.documentElement.lang") == "en" and "Old" not in page.locator("#rpanel-title").inner_text()
        page.wait_for_function("__region.panelOpen && document.querySelector('#rpanel .rchart figcaption').textContent.startsWith('Age')")
        link = page.url
        assert "lang=en" in link
        assert "ind=old_age_ratio" in link and f"ags={NAUMBURG}" in link and "grid=off" in link
        ctx2, page2, watch2 = open_region(browser, link)
        try:
            page2.wait_for_function("__region.panelOpen")
            assert page2.evaluate("[__region.indicator, __region.selected, __region.drawn.grid, __region.drawn.gridCells]") == \
                ["old_age_ratio", NAUMBURG, "off", 0]
            assert page2.evaluate("__region.lang") == "en"
            assert watch2.errors == []
        finally:
            ctx2.close()
        assert watch.errors == []
    finally:
        ctx.close()


def test_drill_down_to_the_sample_town_and_back(browser, web_server) -> None:
    ctx, page, watch = open_region(browser, f"{web_server.url}/region.html?ags={NAUMBURG}")
    try:
        page.wait_for_function("__region.panelOpen")
        assert page.evaluate(f"__region.twinOf('{NAUMBURG}')") == "sample"
        assert page.evaluate(f"__region.twinOf('{ZEITZ}')") is None
        page.click("#open-twin")
        page.wait_for_function("window.__viewer && window.__viewer.ready && window.__viewer.scenarioId !== ''", timeout=90000)
        assert "district=sample" in page.url
        page.click("#back-to-region")
        page.wait_for_function(READY, timeout=90000)
        assert page.url.split("?")[0].endswith("/region.html")
        assert watch.errors == []
    finally:
        ctx.close()


def test_a_planner_stays_signed_in_from_the_region_into_the_town_and_back(browser, web_server) -> None:
    """The token leaves the address bar when read, and is kept for the tab: the drill-down still edits."""
    ctx, page, watch = open_region(browser, f"{web_server.url}/region.html?ags={NAUMBURG}#token={web_server.planner_token}")
    try:
        assert "token" not in page.url
        page.wait_for_function("__region.panelOpen")
        page.click("#open-twin")
        page.wait_for_function("window.__viewer && window.__viewer.ready && window.__viewer.scenarioId !== ''", timeout=90000)
        assert "token" not in page.url
        assert page.evaluate("__viewer.canEdit") is True
        page.click("#back-to-region")
        page.wait_for_function(READY, timeout=90000)
        assert "token" not in page.url
        assert watch.errors == []
    finally:
        ctx.close()


def test_kiosk_questions_by_touch_and_reset(browser, web_server) -> None:
    ctx, page, watch = open_region(browser, f"{web_server.url}/region.html?mode=kiosk&idle=5", width=1080, height=1920,
                                   touch=True)
    try:
        assert page.locator("#kiosk-questions").is_visible() and not page.locator("#rlayers").is_visible()
        page.tap('button[data-q="old"]')
        page.wait_for_function("__region.drawn.grid === '100m' && __region.drawn.gridMode === '80plus' && __region.drawn.gridCells > 0")
        page.tap('button[data-q="bus"]')
        page.wait_for_function("__region.drawn.stops === 780 && __region.drawn.grid === 'off'")
        x, y = page.evaluate("__region.clientOf(12.05, 51.12)")
        page.touchscreen.tap(x, y)
        page.wait_for_function("__region.nearest !== null")
        nearest = page.evaluate("__region.nearest")
        assert 0 < nearest["m"] < 5000 and nearest["name"] in page.locator("#kiosk-answer").inner_text()
        page.tap('button[data-q="town"]')
        assert page.locator("#kiosk-town").get_attribute("href").startswith("/?")
        page.wait_for_function("__region.resets >= 1 && __region.question === ''", timeout=20000)  # idle 5 s
        assert watch.errors == []
    finally:
        ctx.close()


@pytest.mark.parametrize(("name", "url", "width", "height", "touch"), [
    ("region_planner_1280x720", "/region.html?ags=15084355", 1280, 720, False),
    ("region_kiosk_1080x1920", "/region.html?mode=kiosk&idle=600", 1080, 1920, True),
], ids=["planner_1280x720", "kiosk_1080x1920"])
def test_region_screenshot_matches_reference(browser, web_server, name, url, width, height, touch) -> None:
    ctx, page, watch = open_region(browser, web_server.url + url, width=width, height=height, touch=touch)
    try:
        if "ags=" in url:
            page.wait_for_function("__region.panelOpen")
        page.add_style_tag(content="* { animation: none !important; transition: none !important; }")
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        diff = check_reference(name, page.screenshot())
        assert diff <= TOLERANCE, f"{name}: mean difference {diff:.1f} > {TOLERANCE}"
        assert watch.errors == []
    finally:
        ctx.close()


def test_department_layer_drawn_with_legend_and_capacity_against_demand(browser, web_server) -> None:
    import httpx

    csv_text = "ags;name;plaetze\n15084355;Kitas Naumburg;1450\n15084590;Kitas Zeitz;1210\n15084550;Kitas Weißenfels;1580\n"
    r = httpx.post(f"{web_server.url}/api/layers", files={"file": ("kitas.csv", csv_text.encode())},
                   data={"title": "Kita-Plätze (Test)", "visibility": "public", "style_mode": "classes",
                         "style_field": "plaetze", "style_classes": "3"},
                   headers={"Authorization": f"Bearer {web_server.planner_token}"}, timeout=60)
    assert r.status_code == 201, r.text
    lid = r.json()["layer_id"]
    ctx, page, watch = open_region(browser, f"{web_server.url}/region.html?grid=off")
    try:
        page.check(f'input[data-layer="{lid}"]')
        page.wait_for_function(f"__region.drawn.layers.includes('{lid}') && __region.drawn.layerShapes >= 3")
        assert "Kita-Plätze (Test)" in page.locator("#rlegend").inner_text()
        page.click(f'button[data-cap="{lid}"]')
        page.select_option("#cap-service", "kita")
        page.click("#cap-form button[type=submit]")
        page.wait_for_function("__region.charts.includes('capacity')", timeout=30000)
        table = page.locator(".cap-table tbody tr")
        assert table.count() == 3 and "Naumburg" in table.nth(0).inner_text()
        # the permalink keeps the layer on
        assert f"layers={lid}" in page.url
        assert watch.errors == []
    finally:
        ctx.close()


def test_town_twin_shows_the_effect_of_a_tree_where_it_stands(browser, web_server) -> None:
    """In the town twin, a visitor's tree is acknowledged in words and on the map where it stands."""
    from test_web_viewer import _ground_tap_point

    if "heat" not in web_server.api("/api/health")["engines"]:
        pytest.skip("the server has no heat engine")
    ctx, page, watch = open_viewer(browser, web_server.page_url(token=web_server.planner_token), touch=True)
    try:
        page.wait_for_function("__viewer.fieldVersion('utci_c') === __viewer.scenarioVersion", timeout=90000)
        assert page.evaluate("__viewer.effect") is None
        sx, sy = _ground_tap_point(page)
        px, py = page.evaluate("([x, y]) => { const h = __viewer.app.view.raycast(x, y, [__viewer.app.tiles.group])[0];"
                               " return [h.point.x, -h.point.z]; }", [sx, sy])
        near = "([px, py]) => { const out = []; for (let dy = -16; dy <= 16; dy += 2) for (let dx = -16; dx <= 16; dx += 2)" \
               " out.push(__viewer.sample('utci_c', px + dx, py + dy)); return out; }"
        before = page.evaluate(near, [px, py])
        v0 = page.evaluate("__viewer.scenarioVersion")
        page.evaluate("__viewer.setTool('tree')")
        page.touchscreen.tap(sx, sy)
        page.wait_for_function(f"__viewer.scenarioVersion > {v0}", timeout=15000)
        version = page.evaluate("__viewer.scenarioVersion")
        # the effect shows for a few seconds of wall time: everything shown with it is read in one go (software
        # WebGL on a busy machine can take seconds between two reads)
        page.wait_for_function(f"__viewer.effect && __viewer.effect.version >= {version}", timeout=90000, polling=50)
        shown = page.evaluate(f"([px, py]) => {{ const l = document.getElementById('edit-effect');"
                              f" return {{eff: __viewer.effect, after: ({near})([px, py]), visible: !l.hidden,"
                              f" text: l.textContent, local: __viewer.app.drape.uDrapeB.value.userData.localRamp === true}}; }}",
                              [px, py])
        eff, after = shown["eff"], shown["after"]
        diffs = [a - b for a, b in zip(after, before) if a == a and b == b]
        assert eff["peakK"] < 0 and eff["cells"] > 0
        assert eff["peakK"] == pytest.approx(min(diffs), abs=0.05)  # the largest cooling lies under the tree
        assert eff["text"] == f"hier {max(1, round(-eff['peakK']))} °C kühler"
        assert abs(eff["xy"][0] - px) < 25 and abs(eff["xy"][1] - py) < 25  # shown where it happened
        assert shown["visible"] and shown["text"].startswith(eff["text"])
        # while it shows, the ramp spans the visible part's range (a few degrees, not the district's 26)
        lo, hi = eff["rampLocal"]
        assert 2 <= hi - lo < 26 and f"{round(lo)}–{round(hi)} °C" in shown["text"]
        assert shown["local"]
        page.wait_for_function("!__viewer.app.drape.uDrapeB.value.userData.localRamp", timeout=15000)  # then back
        assert not page.locator("#edit-effect").is_visible()
        assert watch.errors == []
    finally:
        ctx.close()


def test_town_twin_saved_view_restores_scenario_layers_camera_and_hour(browser, web_server) -> None:
    ctx, page, watch = open_viewer(browser, web_server.page_url(mode="citizen"))
    try:
        page.evaluate("__viewer.setRaster('air_temp'); __viewer.setOverlay('traffic', true); __viewer.setOverlay('comments', false);"
                      " __viewer.setHour(9);")
        page.evaluate("(() => { const v = __viewer.view; v.camera.position.set(900, 420, -700); v.controls.target.set(1000, 60, -1000);"
                      " v.controls.update(); v.invalidate(false); })()")
        page.wait_for_function("location.search.includes('raster=air_temp') && location.search.includes('hour=9')"
                               " && location.search.includes('cam=900.0')", timeout=10000)
        link = page.url
        assert "token" not in link and f"scenario={web_server.scenario_id}" in link
        ctx2, page2, watch2 = open_viewer(browser, link)
        try:
            page2.wait_for_function("__viewer.layers.raster === 'air_temp'", timeout=20000)
            got = page2.evaluate("({layers: __viewer.layers, hour: __viewer.hour, sid: __viewer.scenarioId,"
                                 " cam: __viewer.view.camera.position.toArray(), tgt: __viewer.view.controls.target.toArray()})")
            assert got["hour"] == 9 and got["sid"] == web_server.scenario_id
            assert "traffic" in got["layers"]["overlays"] and "comments" not in got["layers"]["overlays"]
            assert got["cam"] == pytest.approx([900, 420, -700], abs=0.2)
            assert got["tgt"] == pytest.approx([1000, 60, -1000], abs=0.2)
            assert watch2.errors == []
        finally:
            ctx2.close()
        assert watch.errors == []
    finally:
        ctx.close()


def test_region_proposals_drawn_and_accepted_as_a_draft(browser, web_server) -> None:
    from models.region.build import build_region
    from models.region.bundle import region_dir, write_region

    if not (region_dir(web_server.data, "burgenlandkreis") / "manifest.json").exists():
        write_region(build_region(shared_data()), web_server.data)  # what `twin region build` writes
    ctx, page, watch = open_region(browser, f"{web_server.url}/region.html?grid=off")
    try:
        page.fill("#pbudget", "3")
        page.click("#prop-go")
        page.wait_for_function("__region.proposals.drawn === 3", timeout=120000)
        assert page.locator('#rmap-dept [data-layer="proposals"] circle').count() == 3
        assert page.locator(".prop-list li").count() == 3
        page.click("#prop-accept")
        page.wait_for_function("__region.proposals.accepted", timeout=60000)
        rows = page.locator("#prop-eval tbody tr")
        assert rows.count() >= 3
        before, after = (int(t.replace(".", "")) for t in rows.nth(0).locator("td").all_inner_texts()[1:3])
        assert after < before  # fewer people 65+ without a good stop
        assert watch.errors == []
    finally:
        ctx.close()


def test_a_planner_accepts_a_proposal_into_a_region_scenario(browser, web_server) -> None:
    """With a planner's token the proposal becomes edits of a region scenario on the server (checked
    through the REST API), and the page shows that scenario, its edits and its figures."""
    from models.region.build import build_region
    from models.region.bundle import region_dir, write_region

    if not (region_dir(web_server.data, "burgenlandkreis") / "manifest.json").exists():
        write_region(build_region(shared_data()), web_server.data)  # what `twin region build` writes
    ctx, page, watch = open_region(browser, f"{web_server.url}/region.html?grid=off#token={web_server.planner_token}")
    try:
        page.fill("#pbudget", "2")
        page.click("#prop-go")
        page.wait_for_function("__region.proposals.drawn === 2", timeout=120000)
        proposal = web_server.api("/api/regions/burgenlandkreis/proposals?budget=2&kind=stops")
        page.click("#prop-accept")
        page.wait_for_function("__region.proposals.accepted", timeout=60000)
        sc = page.evaluate("__region.proposals.scenario")
        assert sc is not None and sc["edits"] == 2, sc
        got = http_json(f"{web_server.url}/api/scenarios/{sc['id']}", token=web_server.planner_token)
        assert got["district"] == "region:burgenlandkreis" and got["version"] == sc["version"]
        kinds = [e["intervention"]["kind"] for e in got["interventions"]]
        assert kinds == ["new_stop", "new_stop"]
        want = sorted(tuple(round(v, 1) for v in i["xy_local_m"]) for i in proposal["interventions"])
        assert sorted(tuple(round(v, 1) for v in e["intervention"]["xy_local_m"]) for e in got["interventions"]) == want
        # the page names the scenario and lists the edits; the address keeps the scenario for the next visit
        assert page.locator("#prop-scenario").inner_text() == got["name"]
        assert page.locator(".prop-edits li").count() == 2
        rows = page.locator("#prop-eval tbody tr")
        before, after = (int(t.replace(".", "")) for t in rows.nth(0).locator("td").all_inner_texts()[1:3])
        assert after < before  # fewer people 65+ without a good stop
        assert f"rs={sc['id']}" in page.url
        # accepting again adds the same places as new edits of the same scenario
        page.click("#prop-accept")
        page.wait_for_function("__region.proposals.scenario.edits === 4", timeout=60000)
        again = http_json(f"{web_server.url}/api/scenarios/{sc['id']}", token=web_server.planner_token)
        assert len(again["interventions"]) == 4
        assert watch.errors == [] and page.evaluate("__region.errors") == []
    finally:
        ctx.close()


def test_a_planners_start_is_the_region_view_and_other_addresses_stay(browser, web_server) -> None:
    """The bare address with a planner's token opens the region view (the token kept for the tab); the
    same address without a token, and any address with a query, open the town twin as before."""
    from models.region.build import build_region
    from models.region.bundle import region_dir, write_region

    if not (region_dir(web_server.data, "burgenlandkreis") / "manifest.json").exists():
        write_region(build_region(shared_data()), web_server.data)
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, device_scale_factor=1)
    try:
        page = ctx.new_page()
        watch = PageWatch(page)
        page.goto(f"{web_server.url}/#token={web_server.planner_token}")
        page.wait_for_url("**/region.html", timeout=30000)
        page.wait_for_function(READY, timeout=90000)
        assert page.evaluate("sessionStorage.getItem('landtwin.token')") == web_server.planner_token
        assert "token" not in page.url
        # from the region, the drill-down's address (with its district) opens the town, signed in
        page.goto(f"{web_server.url}/?district=sample&from=region")
        page.wait_for_function("window.__viewer && __viewer.ready && __viewer.scenarioId !== ''", timeout=60000)
        assert page.evaluate("__viewer.canEdit") is True and "/region.html" not in page.url
        assert watch.errors == []
    finally:
        ctx.close()
    for url in (f"{web_server.url}/", web_server.page_url(token=web_server.planner_token),
                web_server.page_url(mode="kiosk", token=web_server.kiosk_token)):
        ctx, page, watch = open_viewer(browser, url)
        try:
            assert "/region.html" not in page.url and watch.errors == []
        finally:
            ctx.close()
