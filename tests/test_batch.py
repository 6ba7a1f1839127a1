"""Scenario batches on the local process pool and on a local Ray cluster, the greening search, and forecast
and migration variants of the region."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from heat_fixtures import heat_district

from cli.main import main
from geodata.bundle import write_bundle
from geodata.interventions import Tree
from geodata.scenario_file import read_scenario_file
from models.batch.evaluate import STATUS_OK
from models.batch.report import rank_rows
from models.batch.run import run_batch
from models.batch.variants import BatchSpecError, expand_sweep, parse_variants

pytestmark = pytest.mark.timeout(300)

SWEEP = {"name": "baum", "template": [{"kind": "tree", "id": "t1", "xy_local_m": ["$x", 70.0], "height_m": "$h"}],
         "grid": {"x": [20.0, 60.0, 100.0, 500.0], "h": [12.0]}}  # x = 500 lies outside: that variant fails


@pytest.fixture(scope="module")
def district():
    return heat_district()


@pytest.fixture(scope="module")
def variants():
    return expand_sweep(SWEEP)


@pytest.fixture(scope="module")
def local_run(district, variants, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    return run_batch(district, variants, out, workers=2, progress=False)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="Ray fehlt (Extra 'distributed') / Ray missing (extra 'distributed')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_sweep_expands_every_combination_and_rejects_bad_specs():
    vs = expand_sweep({"name": "p", "base": [{"kind": "tree", "id": "b", "xy_local_m": [5.0, 5.0]}],
                       "template": [{"kind": "tree", "id": "t", "xy_local_m": ["$x", "$y"]}],
                       "grid": {"x": [1.0, 2.0, 3.0], "y": [4.0, 5.0]}})
    assert len(vs) == 6 and len({v.name for v in vs}) == 6
    assert all(len(v.interventions) == 2 and v.interventions[0].id == "b" for v in vs)
    assert {v.interventions[1].xy_local_m for v in vs} == {(x, y) for x in (1.0, 2.0, 3.0) for y in (4.0, 5.0)}
    with pytest.raises(BatchSpecError, match="placeholder \\$z"):
        expand_sweep({"template": [{"kind": "tree", "id": "t", "xy_local_m": ["$z", 1.0]}], "grid": {"x": [1.0]}})
    with pytest.raises(BatchSpecError, match="intervention 1"):
        expand_sweep({"template": [{"kind": "tree", "id": "t", "height_m": "$h"}], "grid": {"h": [-3.0]}})
    with pytest.raises(BatchSpecError, match="appears twice"):
        parse_variants([{"name": "a", "interventions": []}, {"name": "a", "interventions": []}])


def test_failing_variant_is_reported_and_the_rest_ranked(local_run, district):
    t = local_run.table
    assert len(t) == 4
    bad = t[t["status"] != STATUS_OK]
    assert list(bad["name"]) == ["baum_x=500_h=12"] and bad["rank"].isna().all()
    assert "outside" in bad.iloc[0]["error"] and "außerhalb" in bad.iloc[0]["error"]
    good = t[t["status"] == STATUS_OK]
    assert list(good["rank"]) == [1, 2, 3]
    cooling = good["heat_stressed_cooling_person_k"].astype(float).tolist()
    assert cooling == sorted(cooling, reverse=True) and cooling[0] > 0
    out = local_run.out
    assert {p.name for p in out.iterdir()} >= {"ranked.csv", "best.geojson", "best_scenarios", "ranking.png",
                                               "summary.json"}
    gj = json.loads((out / "best.geojson").read_text())
    assert len(gj["features"]) == 3 and all(f["geometry"]["type"] == "Point" for f in gj["features"])
    lon, lat = gj["features"][0]["geometry"]["coordinates"]
    assert 11.7 < lon < 11.9 and 51.1 < lat < 51.2
    drafts = sorted((out / "best_scenarios").iterdir())
    assert drafts[0].name.startswith("01_") and read_scenario_file(drafts[0])[0] == Tree(
        id="t1", xy_local_m=(100.0, 70.0), height_m=12.0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] == 1 and summary["best"] == good.iloc[0]["name"]


def test_cancelled_batch_leaves_no_output(district, variants, tmp_path):
    """SIGTERM (as KeyboardInterrupt) mid-batch: the workers stop, no new output and no temporary folder
    remain, an older batch in the same place is left as it was."""
    parent = tmp_path / "runs"
    parent.mkdir()
    (parent / "out").mkdir()
    (parent / "out" / "ranked.csv").write_text("an older batch\n")

    def terminate(row):
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt):
        run_batch(district, variants, parent / "out", workers=1, progress=False, on_row=terminate)
    assert [p.name for p in parent.iterdir()] == ["out"]
    assert (parent / "out" / "ranked.csv").read_text() == "an older batch\n"


@pytest.fixture(scope="module")
def data_dir(district, tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_bundle(district, root / "districts" / "heatville", tiles=False)
    return root


def test_twin_batch_on_ray_writes_the_same_ranked_table_as_the_process_pool(local_run, data_dir, ray_cluster,
                                                                             tmp_path, capsys):
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps(SWEEP))
    out = tmp_path / "out"
    rc = main(["batch", "heatville", "--sweep", str(spec), "--ray", "auto", "--out", str(out), "--no-progress",
               "--json", "--data-dir", str(data_dir)])
    assert rc == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["backend"] == "ray" and line["variants"] == 4 and line["failed"] == 1
    on_ray = pd.read_csv(out / "ranked.csv").drop(columns="seconds")
    on_pool = pd.read_csv(local_run.out / "ranked.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(on_ray, on_pool, check_exact=True)
    assert on_ray.iloc[0]["name"] == line["best"] == "baum_x=100_h=12"


def test_twin_batch_refuses_bad_input(data_dir, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps(SWEEP))
    for argv in (["--variants", str(bad)], ["--variants", str(tmp_path / "missing.json")],
                 ["--sweep", str(spec), "--hours", "25"], ["--sweep", str(spec), "--workers", "0"]):
        assert main(["batch", "heatville", *argv, "--out", str(tmp_path / "x"), "--no-progress",
                     "--data-dir", str(data_dir)]) == 2
        assert "/" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(KeyError, match="not computed"):
        rank_rows([{"name": "a", "status": STATUS_OK, "error": "", "cost_eur": 1.0}], "nonsense")


def test_optimised_trees_cool_stressed_residents_more_than_the_street_rule(data_dir, tmp_path, capsys):
    out, rule_out = tmp_path / "best.json", tmp_path / "rule.json"
    rc = main(["optimise-greening", "heatville", "--trees", "10", "--trials", "4", "--out", str(out),
               "--rule-out", str(rule_out), "--json", "--data-dir", str(data_dir)])
    assert rc == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["trees"] == 10 and line["cost_eur"] > 0
    assert line["cooling_person_k"] > line["rule_cooling_person_k"] > 0
    best, rule = read_scenario_file(out), read_scenario_file(rule_out)
    assert len(best) == len(rule) == 10 and all(isinstance(t, Tree) for t in best + rule)
    assert {t.xy_local_m for t in best} != {t.xy_local_m for t in rule}
    assert main(["optimise-greening", "heatville", "--trees", "10", "--budget-eur", "10", "--out", str(out),
                 "--data-dir", str(data_dir)]) == 2


def test_stop_set_search_starts_from_the_milp_and_writes_a_draft(tmp_path, capsys):
    from access_world import grid_district

    root = tmp_path / "data"
    write_bundle(grid_district(n=9, n_stops=2, residents_per_building=8, seed=1), root / "districts" / "grid",
                 tiles=False)
    out = tmp_path / "stops.json"
    assert main(["optimise-stop-set", "grid", "--stops", "2", "--trials", "6", "--out", str(out), "--json",
                 "--data-dir", str(root)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["deficit_removed_persons"] >= line["milp_deficit_removed_persons"] > 0
    stops = read_scenario_file(out)
    assert 1 <= len(stops) <= 2 and all(type(s).__name__ == "NewStop" for s in stops)
    draft = json.loads(out.read_text())
    removed = sum(draft["before"][f"deficit_{g}_stop"] - draft["after"][f"deficit_{g}_stop"]
                  for g in ("age65_no_car", "under18"))
    assert removed == line["deficit_removed_persons"]
    assert main(["optimise-stop-set", "grid", "--stops", "0", "--out", str(out), "--data-dir", str(root)]) == 2


def test_traffic_and_transit_variants_use_their_warm_engines():
    """In one process: road and stop variants get traffic and access KPIs, the warm engines are built once
    and left unchanged by the variants (the same variant twice gives the same numbers)."""
    from access_world import grid_district

    from models.batch.evaluate import Evaluator
    from models.batch.variants import parse_variants

    ev = Evaluator(grid_district(n=9, n_stops=2, residents_per_building=8, seed=1))
    closed, stop = parse_variants([
        {"name": "zu", "interventions": [{"kind": "road_closure", "id": "c", "edge_index": 4}]},
        {"name": "halt", "interventions": [{"kind": "new_stop", "id": "s", "xy_local_m": [450.0, 450.0]}]}])
    a = ev.evaluate(closed)
    warm = ev.traffic_engine()
    b = ev.evaluate(closed)
    assert ev.traffic_engine() is warm
    assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert any(k.startswith("traffic_") for k in a) and not any(k.startswith("heat_") for k in a)
    s = ev.evaluate(stop)
    assert any(k.startswith("access_deficit_") for k in s) and not any(k.startswith("traffic_") for k in s)
    bad = ev.evaluate_json({"name": "x", "interventions": [{"kind": "road_closure", "id": "c", "edge_index": 99999}]})
    assert bad["status"] != STATUS_OK and "99999" in bad["error"]


# ---- forecast and migration variants of the region -------------------------------------------------------
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REGION_VARIANTS = {"variants": [
    {"name": "zuzug", "interventions": [{"kind": "refugee_intake", "id": "r", "persons_per_year": 800,
                                         "first_year": 2024, "last_year": 2030, "age_profile": "families"}]},
    {"name": "bleiben", "interventions": [{"kind": "out_migration_factor", "id": "o", "factor": 0.6}]},
    {"name": "gehen", "interventions": [{"kind": "out_migration_factor", "id": "o", "factor": 1.5}]},
    {"name": "fremd", "interventions": [{"kind": "housing_estate", "id": "h", "ags": "15084999", "dwellings": 80}]},
    {"name": "baum", "interventions": [{"kind": "tree", "id": "t", "xy_local_m": [1.0, 2.0]}]},
]}


@pytest.fixture(scope="module")
def region_subject():
    if not (SHARED / "zensus2011_grid_burgenlandkreis").is_dir():
        pytest.skip(f"offene Daten fehlen unter {SHARED} / open data missing under {SHARED}")
    from models.batch.region import RegionSubject
    from models.forecast.service import base_from_shared, housing_for

    base = base_from_shared(SHARED)
    return RegionSubject(base, housing_for(base, SHARED), 2040)


@pytest.fixture(scope="module")
def region_pool(region_subject, tmp_path_factory):
    from models.batch.region import run_region_batch
    from models.batch.variants import parse_variants
    from models.forecast.base import gemeinde_shapes

    out = tmp_path_factory.mktemp("region") / "out"
    return run_region_batch(region_subject, parse_variants(REGION_VARIANTS), out, workers=2, progress=False,
                            shapes=gemeinde_shapes(SHARED))


def test_region_batch_ranks_migration_variants_with_published_counts(region_pool, region_subject):
    from models.forecast.service import forecast, summary
    from models.privacy import check_published

    t = region_pool.table
    ok = t[t["status"] == STATUS_OK]
    assert list(ok["name"]) == ["bleiben", "zuzug", "gehen"]  # old-age ratio, lowest first
    assert list(ok["old_age_ratio"]) == sorted(ok["old_age_ratio"])
    bad = t[t["status"] != STATUS_OK].set_index("name")["error"]
    assert "15084999" in bad["fremd"] and "regional forecast" in bad["baum"] and "Regionalprognose" in bad["baum"]
    # the indicators are the forecast's own published figures (an independent path: models.forecast.service)
    from models.batch.variants import parse_variants

    zuzug = parse_variants(REGION_VARIANTS)[0].interventions
    ref = summary(forecast(region_subject.base, list(zuzug), 2040, housing=region_subject.housing), with_demand=False)
    row = ok.set_index("name").loc["zuzug"]
    assert row["population"] == ref["total_by_year"]["2040"] and row["old_age_ratio"] == ref["old_age_ratio_by_year"]["2040"]
    assert row["persons_67plus"] == ref["age67plus_by_year"]["2040"]
    base = json.loads((region_pool.out / "summary.json").read_text())["baseline"]
    assert row["population_change"] == row["population"] - base["population"] > 0
    assert ok.set_index("name").loc["gehen", "population_change"] < 0
    # per Gemeinde: every count published, the Gemeinden add up to about the Kreis
    gem = pd.read_csv(region_pool.out / "gemeinden.csv", dtype={"ags": str})
    assert set(gem["variant"]) == {"Basis / baseline", "zuzug", "bleiben", "gehen"}
    one = gem[gem["variant"] == "zuzug"]
    assert len(one) == len(region_subject.base.ags) and (one["population"] % 5 == 0).all()
    assert abs(one["population"].sum() - row["population"]) <= 2.5 * (len(one) + 1)
    assert not check_published(json.loads((region_pool.out / "gemeinden.geojson").read_text()))
    gj = json.loads((region_pool.out / "gemeinden.geojson").read_text())
    assert {f["properties"]["variant"] for f in gj["features"]} == {"Basis / baseline", "zuzug", "bleiben", "gehen"}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in gj["features"])
    files = {p.name for p in region_pool.out.iterdir()}
    assert files >= {"ranked.csv", "gemeinden.csv", "gemeinden.geojson", "ranking.png", "trajectories.png",
                     "map_best.png", "summary.json", "best_scenarios"}
    assert sorted(p.name for p in (region_pool.out / "best_scenarios").iterdir())[0] == "01_bleiben.json"


def test_region_batch_on_ray_writes_the_same_table_as_the_pool(region_pool, ray_cluster, tmp_path, capsys):
    spec = tmp_path / "v.json"
    spec.write_text(json.dumps(REGION_VARIANTS))
    out = tmp_path / "out"
    assert main(["batch", "burgenlandkreis", "--variants", str(spec), "--ray", "auto", "--shared-data", str(SHARED),
                 "--out", str(out), "--no-progress", "--json"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["backend"] == "ray" and line["variants"] == 5 and line["failed"] == 2 and line["best"] == "bleiben"
    for name in ("ranked.csv", "gemeinden.csv"):
        on_ray = pd.read_csv(out / name).drop(columns="seconds", errors="ignore")
        on_pool = pd.read_csv(region_pool.out / name).drop(columns="seconds", errors="ignore")
        pd.testing.assert_frame_equal(on_ray, on_pool, check_exact=True)


def test_region_batch_refuses_bad_input(region_subject, tmp_path, capsys):
    spec = tmp_path / "v.json"
    spec.write_text(json.dumps(REGION_VARIANTS))
    for argv in (["--to", "2200"], ["--rank-by", "nonsense"], ["--shared-data", str(tmp_path / "none")]):
        assert main(["batch", "burgenlandkreis", "--variants", str(spec), *argv, "--out", str(tmp_path / "x"),
                     "--no-progress", "--shared-data", str(SHARED), *argv]) == 2
        assert "/" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
