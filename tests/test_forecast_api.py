"""REST API of the forecast: baseline, draft scenarios, stored scenarios' forecast edits, pyramids, demand,
charts; bad requests get 4xx with German and English; no person count 1-4 in any response."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_data
from fastapi.testclient import TestClient
from server_support import auth, make_app

from models.privacy import MIN_COUNT


@pytest.fixture(scope="module")
def client(tmp_path_factory):  # type: ignore[no-untyped-def]
    shared_data("zensus2011_grid_burgenlandkreis")
    tmp = Path(tmp_path_factory.mktemp("forecast_api"))
    app, tokens = make_app(tmp)
    with TestClient(app) as c:
        c.tokens = tokens  # type: ignore[attr-defined]
        yield c


def _person_numbers(value: object, key: str = "") -> list[tuple[str, float]]:
    """(key, number) of every number below a person-count key of a response."""
    out: list[tuple[str, float]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _person_numbers(v, k if not str(k).isdigit() and not str(k).startswith("15084") else key)
    elif isinstance(value, list):
        for v in value:
            out += _person_numbers(v, key)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append((key, float(value)))
    return out


_COUNT_KEYS = ("total_by_year", "age67plus_by_year", "age65plus_by_year", "under18_by_year", "by_gemeinde",
               "births", "deaths", "in", "out", "persons_male", "persons_female", "demand", "demand_by_year")


def _assert_published(body: object) -> None:
    for k, v in _person_numbers(body):
        if k in _COUNT_KEYS:
            assert v == 0 or (v >= MIN_COUNT and v % 5 == 0), (k, v)


def test_baseline_and_openapi(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/regions/burgenlandkreis/forecast")
    assert r.status_code == 200
    d = r.json()
    assert d["total_by_year"]["2035"] == pytest.approx(150047, rel=0.02)
    assert len(d["by_gemeinde"]) == 33 and all(x["within"] for x in d["official_comparison"])
    _assert_published(d)
    spec = client.get("/api/openapi.json").json()
    paths = [p for p in spec["paths"] if p.startswith("/api/regions/{region}/forecast")]
    assert len(paths) >= 6
    for p in paths:
        for op in spec["paths"][p].values():
            assert op.get("summary") and "422" in op["responses"]


def test_draft_scenario_with_capacities_against_the_baseline(client) -> None:  # type: ignore[no-untyped-def]
    body = {"to": 2035, "interventions": [
        {"kind": "housing_estate", "id": "h", "ags": "15084355", "dwellings": 500, "persons_per_dwelling": 2.0,
         "year": 2030}],
        "capacities": [{"ags": "15084355", "service": "school_primary", "capacity": 1200}]}
    r = client.post("/api/regions/burgenlandkreis/forecast", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    diff = d["by_gemeinde"]["15084355"]["2030"] - d["baseline"]["by_gemeinde"]["15084355"]["2030"]
    assert abs(diff - 1000) <= 5  # published figures are rounded to 5
    assert d["by_gemeinde"]["15084355"]["2029"] == d["baseline"]["by_gemeinde"]["15084355"]["2029"]
    _assert_published(d)


@pytest.mark.parametrize("body, code, word", [
    ({"interventions": [{"kind": "tree", "id": "t"}]}, 422, "forecast"),
    ({"interventions": [{"kind": "housing_estate", "id": "h", "ags": "15084999"}]}, 422, "Kreis"),
    ({"to": 1990}, 422, "2020"),
    ({"capacities": [{"ags": "15084355", "service": "ufo", "capacity": 1}]}, 422, "ufo"),
    ({"capacities": [{"ags": "15084355", "service": "kita", "capacity": -1}]}, 422, "capacity"),
])
def test_bad_drafts_are_refused(client, body, code: int, word: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/regions/burgenlandkreis/forecast", json=body)
    assert r.status_code == code
    assert word in r.text


def test_pyramid_demand_gemeinde_and_charts(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/regions/burgenlandkreis/forecast/pyramid", params={"year": 2040, "ags": "15084013"})
    assert r.status_code == 200
    p = r.json()
    assert p["base"]["year"] == 2019 and p["forecast"]["year"] == 2040 and len(p["forecast"]["age_groups"]) == 20
    assert None in p["forecast"]["persons_male"] + p["forecast"]["persons_female"]  # a small Gemeinde: some "unter 5"
    _assert_published(p)
    r = client.get("/api/regions/burgenlandkreis/forecast/demand", params={"year": 2030})
    assert r.status_code == 200
    services = {s["service"]: s for s in r.json()["services"]}
    assert services["dwellings"]["capacity"] > 0 and services["kita"]["capacity"] is None
    _assert_published(r.json())
    r = client.get("/api/regions/burgenlandkreis/forecast/gemeinden/15084590")
    assert r.status_code == 200 and r.json()["name"] == "Zeitz"
    _assert_published(r.json())
    for chart in ("pyramid", "old_age_ratio", "demand"):
        r = client.get(f"/api/regions/burgenlandkreis/forecast/charts/{chart}.png", params={"year": 2035})
        assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    assert client.get("/api/regions/nowhere/forecast").status_code == 404
    assert client.get("/api/regions/burgenlandkreis/forecast/gemeinden/15084999").status_code == 404
    assert client.get("/api/regions/burgenlandkreis/forecast/pyramid", params={"year": 2050}).status_code == 422
    assert client.get("/api/regions/burgenlandkreis/forecast/charts/map.png").status_code == 422


def test_a_stored_scenarios_forecast_edits_count(client) -> None:  # type: ignore[no-untyped-def]
    h = auth(client.tokens["planner"])
    r = client.post("/api/scenarios", json={"name": "Zuzug", "district": "tiny"}, headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["scenario_id"]
    intake = {"kind": "refugee_intake", "id": "r1", "persons_per_year": 600, "first_year": 2024, "last_year": 2024,
              "gemeinden": ["15084590"]}
    r = client.post(f"/api/scenarios/{sid}/interventions", json={"intervention": intake}, headers=h)
    assert r.status_code in (200, 201), r.text
    r = client.get(f"/api/regions/burgenlandkreis/forecast/scenarios/{sid}", params={"to": 2030})
    assert r.status_code == 200, r.text
    d = r.json()
    assert [e["id"] for e in d["scenario"]] == ["r1"]
    diff = d["by_gemeinde"]["15084590"]["2024"] - d["baseline"]["by_gemeinde"]["15084590"]["2024"]
    assert abs(diff - 600) <= 5
    _assert_published(d)
    r = client.get(f"/api/regions/burgenlandkreis/forecast/scenarios/{sid}/chart.png", params={"to": 2030})
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    assert client.get("/api/regions/burgenlandkreis/forecast/scenarios/nope123/chart.png").status_code == 404


def test_capacities_from_a_department_layer(client) -> None:  # type: ignore[no-untyped-def]
    csv = "ags;name;plaetze\n15084355;Kitas Naumburg;1450\n15084590;Kitas Zeitz;1210\n"
    h = auth(client.tokens["planner"])
    r = client.post("/api/layers", files={"file": ("kitas.csv", csv.encode())},
                    data={"title": "Kita-Plätze", "visibility": "private"}, headers=h)
    assert r.status_code == 201, r.text
    lid = r.json()["layer_id"]
    q = {"year": 2030, "ags": "15084355", "capacity_layer": lid, "capacity_service": "kita", "capacity_field": "plaetze"}
    r = client.get("/api/regions/burgenlandkreis/forecast/demand", params=q, headers=h)
    assert r.status_code == 200, r.text
    kita = next(s for s in r.json()["services"] if s["service"] == "kita")
    assert kita["capacity"] == 1450 and kita["gap"] == pytest.approx(1450 - kita["demand"])
    # a private layer is not there for anyone else; bad fields and services are refused
    assert client.get("/api/regions/burgenlandkreis/forecast/demand", params=q).status_code == 404
    for bad in ({"capacity_field": "name"}, {"capacity_field": "nope"}, {"capacity_service": "ufo"},
                {"capacity_service": None}):
        r = client.get("/api/regions/burgenlandkreis/forecast/demand", params={**q, **bad}, headers=h)
        assert r.status_code == 422, (bad, r.text)
