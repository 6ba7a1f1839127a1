"""Reports of the region through the real API: the PDF for one Gemeinde renders (its first page, turned
into a PNG by poppler's pdftoppm, matches a reference picture), its numbers equal the API's, the chart
specs are right by construction (shares add up, the ranking is ordered), nothing published is a count of
1 to 4, and bad requests are refused.

Regenerate the reference picture deliberately with ``LANDTWIN_REGEN_REFERENCE=1``.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data
from fastapi.testclient import TestClient
from server_support import make_app

from models.privacy import check_published

NAUMBURG = "15084355"
REFERENCE = Path(__file__).parent / "reference_images" / "report_naumburg_p1.png"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    shared_data("burgenlandkreis_admin_boundaries_vg5000")
    shared_data("zensus2011_grid_burgenlandkreis")
    from models.region.build import build_region
    from models.region.bundle import write_region

    data = Path(tmp_path_factory.mktemp("reports"))
    write_region(build_region(shared_data()), data)  # the bundle that /api/regions serves and the reports read
    app, _ = make_app(data)
    with TestClient(app) as c:
        yield c


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (Debian poppler-utils) is not installed; scripts/system-deps.sh installs it")
    return path


def _page_png(pdf: bytes, tmp: Path, page: int = 1, dpi: int = 50) -> np.ndarray:
    from PIL import Image

    (tmp / "r.pdf").write_bytes(pdf)
    subprocess.run([_poppler("pdftoppm"), "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-singlefile",
                    str(tmp / "r.pdf"), str(tmp / "page")], check=True, timeout=60)
    return np.asarray(Image.open(tmp / "page.png").convert("RGB"), dtype=np.int16)


def test_gemeinde_pdf_renders_like_the_reference(client, tmp_path: Path) -> None:
    r = client.get("/api/reports/burgenlandkreis/report.pdf", params={"ags": NAUMBURG})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    (tmp_path / "info.pdf").write_bytes(r.content)
    info = subprocess.run([_poppler("pdfinfo"), str(tmp_path / "info.pdf")], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    assert "Pages:           3" in info, info
    img = _page_png(r.content, tmp_path)
    assert img.shape[0] > img.shape[1] > 300  # A4 portrait
    if os.environ.get("LANDTWIN_REGEN_REFERENCE") == "1":
        from PIL import Image

        Image.fromarray(img.astype(np.uint8)).save(REFERENCE)
    if not REFERENCE.exists():
        pytest.fail(f"reference {REFERENCE.name} missing; make it with LANDTWIN_REGEN_REFERENCE=1")
    from PIL import Image

    ref = np.asarray(Image.open(REFERENCE).convert("RGB"), dtype=np.int16)
    assert ref.shape == img.shape
    differs = (np.abs(ref - img).max(axis=2) > 48).mean()
    assert differs < 0.004, f"{differs:.2%} of the pixels differ from the reference"  # the creation date may differ
    # the page is a map with colour, not a blank sheet
    colourful = (np.ptp(img, axis=2) > 60).mean()
    assert colourful > 0.08


def test_report_numbers_equal_the_api(client, tmp_path: Path) -> None:
    content = client.get("/api/reports/burgenlandkreis/content", params={"ags": NAUMBURG}).json()
    figures = {r["key"]: r for r in content["key_figures"]}
    assert content["name"] == "Naumburg (Saale)" and figures["population_2019"]["value"] > 25_000
    rows = list(csv.DictReader(io.StringIO(client.get("/api/reports/burgenlandkreis/report.csv",
                                                      params={"ags": NAUMBURG}).text), delimiter=";"))
    assert [r["kennzahl"] for r in rows] == list(figures)
    for r in rows:
        f = figures[r["kennzahl"]]
        assert (float(r["wert"]) if r["wert"] else None) == f["value"], r
        assert float(r["wert_kreis"]) == f["kreis"], r
    # the PDF's text shows the same figures
    pdf = client.get("/api/reports/burgenlandkreis/report.pdf", params={"ags": NAUMBURG}).content
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run([_poppler("pdftotext"), "-layout", str(tmp_path / "r.pdf"), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    for key in ("population_2019", "share_65plus", "old_age_ratio", "age_80_plus"):
        assert figures[key]["text"] in text, (key, figures[key]["text"])
        assert figures[key]["kreis_text"] in text, key
    assert "Quellen" in text and "Destatis 12411-0017" in text and "31.12.2019" in text
    # the Kreis' persons are the published sum of the age groups, each rounded to 5
    kreis = client.get("/api/reports/burgenlandkreis/content").json()
    kf = {r["key"]: r["value"] for r in kreis["key_figures"]}
    assert abs(kf["population_2019"] - 178_846) <= 5  # Destatis 31.12.2019
    assert abs(sum(v for k, v in kf.items() if k.startswith("age_")) - kf["population_2019"]) <= 5 * 7


def test_report_numbers_equal_the_region_api(client) -> None:
    """Where the region API is served, its Gemeinde figures and the report's are the same numbers."""
    r = client.get("/api/regions/burgenlandkreis/gemeinden.geojson")
    if r.status_code == 404:
        pytest.skip("the region API (/api/regions) is not served by this build")
    props = next(f["properties"] for f in r.json()["features"] if f["properties"]["ags"] == NAUMBURG)
    content = client.get("/api/reports/burgenlandkreis/content", params={"ags": NAUMBURG}).json()
    compared = 0
    for row in content["key_figures"]:
        if row["key"] in props:
            assert row["value"] == props[row["key"]], row["key"]
            compared += 1
    assert compared >= 15


def test_chart_specs_are_consistent(client) -> None:
    content = client.get("/api/reports/burgenlandkreis/content", params={"ags": NAUMBURG}).json()
    specs = {c["id"]: c for c in content["charts"]}
    ages = specs["age_structure"]
    assert sum(ages["series"][0]["values"]) == pytest.approx(100.0, abs=0.05)
    assert sum(ages["reference"]["values"]) == pytest.approx(100.0, abs=0.05)
    assert len(ages["categories"]) == len(ages["series"][0]["values"]) == 7
    rank = specs["ranking_share_65plus"]
    vals = rank["series"][0]["values"]
    assert len(vals) == 33 and vals == sorted(vals, reverse=True)
    assert rank["categories"][rank["highlight"]]["de"] == "Naumburg (Saale)"
    ind = specs["indicators"]
    figures = {r["key"]: r for r in content["key_figures"]}
    assert ind["series"][0]["values"][1] == pytest.approx(100 * figures["share_65plus"]["value"], abs=0.01)
    for spec in content["charts"]:
        assert spec["title"]["de"] and spec["title"]["en"] and spec["source"]["de"]
        assert spec["kind"] in ("bars", "columns", "lines")


def test_nothing_published_is_a_count_under_five(client) -> None:
    for ags in (None, NAUMBURG, "15084130"):
        body = client.get("/api/reports/burgenlandkreis/content", params={"ags": ags} if ags else {}).json()
        published = {r["key"]: r["value"] for r in body["key_figures"]}
        assert check_published(published) == []
        for k, v in published.items():
            if k.startswith("age_") or k == "population_2019":
                assert v is None or v == 0 or v % 5 == 0, (k, v)


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/api/reports/nowhere/content", {}, 404),
    ("/api/reports/burgenlandkreis/content", {"ags": "15084999"}, 404),
    ("/api/reports/burgenlandkreis/report.pdf", {"ags": "Naumburg"}, 422),
    ("/api/reports/burgenlandkreis/report.csv", {"ags": "1508435"}, 422),
])
def test_bad_requests_are_refused(client, path: str, params: dict, status: int) -> None:
    r = client.get(path, params=params)
    assert r.status_code == status
    assert r.json()["message_de"] and r.json()["message_en"]


def test_kreis_png_and_csv(client) -> None:
    from PIL import Image

    r = client.get("/api/reports/burgenlandkreis/report.png")
    img = Image.open(io.BytesIO(r.content))
    assert r.headers["content-type"] == "image/png" and img.size[1] > img.size[0] > 500
    rows = list(csv.DictReader(io.StringIO(client.get("/api/reports/burgenlandkreis/report.csv").text), delimiter=";"))
    assert rows[0]["name"] == "Burgenlandkreis" and rows[0]["kennzahl"] == "population_2019"


def test_trend_chart_from_the_forecast(client) -> None:
    content = client.get("/api/reports/burgenlandkreis/content", params={"ags": NAUMBURG}).json()
    trend = next(c for c in content["charts"] if c["id"] == "trend")
    assert [c["de"] for c in trend["categories"]][:2] == ["2019", "2020"] and trend["categories"][-1]["de"] == "2040"
    assert [s["label"]["de"] for s in trend["series"]] == ["Naumburg (Saale)", "Burgenlandkreis"]
    for s in trend["series"]:
        assert s["values"][0] == 100.0 and 60 < s["values"][-1] < 100  # both shrink by 2040


def test_capacity_against_demand_per_gemeinde(client) -> None:
    token = "planner-token-for-tests"
    st = client.app.state.twin.storage
    st.add_token(token + "-cap", role="planner", department="Soziales", name="Sara")
    h = {"Authorization": f"Bearer {token}-cap"}
    csv_text = "ags;name;plaetze\n15084355;Kitas Naumburg;1450\n15084590;Kitas Zeitz;1210\n"
    r = client.post("/api/layers", files={"file": ("kitas.csv", csv_text.encode())},
                    data={"title": "Kita-Plätze", "visibility": "private"}, headers=h)
    assert r.status_code == 201, r.text
    lid = r.json()["layer_id"]
    cap = client.get("/api/reports/burgenlandkreis/capacity",
                     params={"layer": lid, "service": "kita", "field": "plaetze", "year": 2030}, headers=h)
    assert cap.status_code == 200, cap.text
    body = cap.json()
    rows = {r["ags"]: r for r in body["rows"]}
    assert len(rows) == 33 and rows[NAUMBURG]["capacity"] == 1450 and rows["15084130"]["capacity"] is None
    for a in (NAUMBURG, "15084590"):
        assert rows[a]["gap"] == pytest.approx(rows[a]["capacity"] - rows[a]["demand"])
        assert rows[a]["demand"] % 5 == 0 and 300 < rows[a]["demand"] < 2000
    assert [c["de"] for c in body["chart"]["categories"]] == ["Naumburg (Saale)", "Zeitz"]
    # the same demand as the forecast API's for that Gemeinde, year and layer
    fc = client.get("/api/regions/burgenlandkreis/forecast/demand",
                    params={"ags": NAUMBURG, "year": 2030, "capacity_layer": lid, "capacity_service": "kita",
                            "capacity_field": "plaetze"}, headers=h)
    if fc.status_code != 404:
        kita = next(x for x in fc.json()["services"] if x["service"] == "kita")
        assert kita["demand"] == rows[NAUMBURG]["demand"] and kita["capacity"] == 1450
    # a private layer stays private; a text field is no capacity
    assert client.get("/api/reports/burgenlandkreis/capacity",
                      params={"layer": lid, "service": "kita", "field": "plaetze"}).status_code == 404
    bad = client.get("/api/reports/burgenlandkreis/capacity",
                     params={"layer": lid, "service": "kita", "field": "name"}, headers=h)
    assert bad.status_code == 422 and bad.json()["message_de"]
    assert client.get("/api/reports/burgenlandkreis/capacity",
                      params={"layer": lid, "service": "pizza", "field": "plaetze"}, headers=h).status_code == 422
