"""``twin forecast``: the JSON line, CSV tables, charts, capacities, bad input (exit 2, nothing written) and
the privacy of everything published."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_data

from cli.main import main
from models.privacy import MIN_COUNT


@pytest.fixture(scope="module")
def shared() -> Path:
    return shared_data()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["forecast", "burgenlandkreis", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _counts(value: object) -> list[float]:
    """Every number in a JSON-like value (for the privacy check of person tables)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _counts(v)]
    if isinstance(value, list):
        return [x for v in value for x in _counts(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


def test_json_line_has_the_series_and_meets_the_official_forecasts(capsys, shared: Path) -> None:  # type: ignore[no-untyped-def]
    rc, out, _ = _run(capsys, "--to", "2040", "--json", "--shared-data", str(shared))
    assert rc == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    years = [str(y) for y in range(2019, 2041)]
    for key in ("total_by_year", "age67plus_by_year", "old_age_ratio_by_year"):
        assert list(d[key]) == years
    assert len(d["by_gemeinde"]) == 33
    assert all(list(v) == years for v in d["by_gemeinde"].values())
    assert d["total_by_year"]["2035"] == pytest.approx(150047, rel=0.02)
    assert d["age67plus_by_year"]["2035"] == pytest.approx(49590, rel=0.03)
    assert d["old_age_ratio_by_year"]["2030"] == pytest.approx(72, abs=3)
    assert all(r["within"] for r in d["official_comparison"])
    assert any("Gemeinde" in a for a in d["assumptions"])
    # Kreis = sum of Gemeinden (within the rounding of the published figures, 2.5 per Gemeinde)
    for y in ("2019", "2030", "2040"):
        s = sum(v[y] for v in d["by_gemeinde"].values())
        assert abs(s - d["total_by_year"][y]) <= 2.5 * 34
    # privacy: every person count is 0 or >= 5 and a multiple of 5
    for key in ("total_by_year", "age67plus_by_year", "by_gemeinde", "components_by_year", "demand_by_year"):
        for v in _counts(d[key]):
            assert v == 0 or (v >= MIN_COUNT and v % 5 == 0), (key, v)


def test_scenario_csv_and_charts(capsys, shared: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scen = tmp_path / "scen.json"
    scen.write_text(json.dumps([
        {"kind": "housing_estate", "id": "estate", "ags": "15084355", "dwellings": 500, "persons_per_dwelling": 2.0,
         "year": 2030},
        {"kind": "refugee_intake", "id": "intake", "persons_per_year": 400, "first_year": 2024, "last_year": 2025},
    ]))
    caps = tmp_path / "caps.csv"
    caps.write_text("ags,service,capacity\n15084355,school_primary,1200\n15084355,kita,900\n")
    out_csv, out_png = tmp_path / "csv", tmp_path / "charts"
    rc, out, err = _run(capsys, "--to", "2035", "--scenario", str(scen), "--capacities", str(caps), "--csv", str(out_csv),
                        "--charts", str(out_png), "--json", "--shared-data", str(shared))
    assert rc == 0, err
    d = json.loads(out)
    assert "official_comparison" not in d  # only the baseline is compared with the official forecasts
    assert [e["id"] for e in d["scenario"]] == ["estate", "intake"]
    pop = pd.read_csv(out_csv / "population.csv", dtype={"ags": str})
    assert set(pop.columns) == {"ags", "name", "year", "sex", "age", "persons"}
    assert len(pop) == 33 * 17 * 2 * 101
    v = pop["persons"].dropna()
    assert ((v == 0) | ((v >= MIN_COUNT) & (v % 5 == 0))).all()
    assert pop["persons"].isna().any()  # small cells are suppressed, not shown
    comp = pd.read_csv(out_csv / "components.csv", dtype={"ags": str})
    for c in ("births", "deaths", "in_migrants", "out_migrants", "persons"):
        x = comp[c].dropna()
        assert ((x == 0) | (x >= MIN_COUNT)).all()
    dem = pd.read_csv(out_csv / "demand.csv", dtype={"ags": str})
    row = dem[(dem.ags == "15084355") & (dem.service == "school_primary") & (dem.year == 2035)].iloc[0]
    assert row.capacity == 1200 and row.gap == pytest.approx(1200 - row.demand)
    assert math.isnan(dem[(dem.ags == "15084012") & (dem.service == "kita")].capacity.iloc[0])
    assert (out_csv / "assumptions.txt").read_text(encoding="utf-8").count("/") >= 4
    names = sorted(p.name for p in out_png.iterdir())
    assert names == ["demand.png", "old_age_ratio.png", "pyramid_kreis_2035.png", "scenario_vs_baseline.png"]
    for p in out_png.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


@pytest.mark.parametrize("scenario, capacities, extra, match", [
    ("{not json", None, [], "JSON"),
    ('[{"kind": "tree", "id": "t"}]', None, [], "forecast"),
    ('[{"kind": "housing_estate", "id": "h", "ags": "15084999"}]', None, [], "Kreis"),
    (None, "ags,service,capacity\n15084355,ufo,3\n", [], "ufo"),
    (None, "ags,service,capacity\n99999999,kita,3\n", [], "99999999"),
    (None, "ags,service,capacity\n15084355,kita,-3\n", [], ">= 0"),
    (None, None, ["--to", "2019"], "2019"),
])
def test_bad_input_exits_2_and_writes_nothing(capsys, shared: Path, tmp_path: Path, scenario, capacities, extra,  # type: ignore[no-untyped-def]
                                              match: str) -> None:
    args = ["--json", "--shared-data", str(shared), "--csv", str(tmp_path / "csv"), "--charts", str(tmp_path / "png"), *extra]
    if scenario is not None:
        (tmp_path / "s.json").write_text(scenario)
        args += ["--scenario", str(tmp_path / "s.json")]
    if capacities is not None:
        (tmp_path / "c.csv").write_text(capacities)
        args += ["--capacities", str(tmp_path / "c.csv")]
    rc, out, err = _run(capsys, *args)
    assert rc == 2
    assert match in err and " / " in err and out == ""
    assert not (tmp_path / "csv").exists() and not (tmp_path / "png").exists()


def test_unknown_region_and_missing_data(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert main(["forecast", "nirgendwo", "--json"]) == 2
    assert "nirgendwo" in capsys.readouterr().err
    assert main(["forecast", "burgenlandkreis", "--shared-data", str(tmp_path / "none")]) == 2
    assert "missing" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["forecast", "burgenlandkreis", "--shared-data", str(tmp_path / "empty")]) == 2
    assert "file missing" in capsys.readouterr().err


def test_an_official_gemeinde_table_sets_the_base(capsys, shared: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = tmp_path / "gemeinden.csv"
    table.write_text("ags;population\n15084550;40000\n15084355;32155\n")
    rc, out, err = _run(capsys, "--to", "2025", "--json", "--gemeinde-table", str(table), "--shared-data", str(shared))
    assert rc == 0, err
    d = json.loads(out)
    assert d["by_gemeinde"]["15084550"]["2019"] == 40000
    assert d["total_by_year"]["2019"] == 178845  # the Kreis stays the Destatis total (published, rounded to 5)
    assert any("amtlichen Gemeindetabelle" in a for a in d["assumptions"])
    # a full table with age groups is the base as it is
    rc, out, _ = _run(capsys, "--to", "2025", "--json", "--shared-data", str(shared))
    names = json.loads(out)["gemeinde_names"]
    rows = ["ags,age_0_17,age_18_64,age_65_plus"] + [f"{a},100,600,300" for a in names]
    table.write_text("\n".join(rows) + "\n")
    rc, out, err = _run(capsys, "--to", "2025", "--json", "--gemeinde-table", str(table), "--shared-data", str(shared))
    assert rc == 0, err
    d = json.loads(out)
    assert d["total_by_year"]["2019"] == 1000 * len(names)
    assert d["gemeinde_names"] == names


@pytest.mark.parametrize("text, match", [
    ("ags;population\n15084999;100\n", "15084999"),
    ("ags;population\n15084355;-5\n", "negative"),
    ("ags;population\n15084355;100\n15084355;200\n", "duplicate"),
    ("gemeinde;population\nx;1\n", "needs ags"),
    ("ags,age_0_17,age_18_64,age_65_plus\n15084355,1,2,3\n", "missing"),
    ("ags;population\n15084355;900000\n", "more persons"),
])
def test_bad_gemeinde_tables_exit_2(capsys, shared: Path, tmp_path: Path, text: str, match: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "t.csv").write_text(text)
    rc, out, err = _run(capsys, "--json", "--gemeinde-table", str(tmp_path / "t.csv"), "--shared-data", str(shared),
                        "--csv", str(tmp_path / "csv"))
    assert rc == 2 and match in err and out == ""
    assert not (tmp_path / "csv").exists()


def test_corrupt_open_data_is_refused(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "burgenlandkreis_admin_boundaries_vg5000").mkdir()
    (tmp_path / "zensus2011_grid_burgenlandkreis").mkdir()
    gj = tmp_path / "burgenlandkreis_admin_boundaries_vg5000" / "burgenlandkreis_gemeinden.geojson"
    grid = tmp_path / "zensus2011_grid_burgenlandkreis" / "zensus2011_100m_age5_burgenlandkreis_bbox.csv"
    grid.write_text("cell_id,lon,lat\nx,11.8,51.1\n")
    for text in ("{broken", '{"type": "FeatureCollection", "features": [{"properties": {}}]}'):
        gj.write_text(text)
        assert main(["forecast", "burgenlandkreis", "--json", "--shared-data", str(tmp_path),
                     "--csv", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert "nicht lesbar" in err and "not readable" in err
        assert not (tmp_path / "out").exists()
