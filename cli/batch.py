"""``twin batch``, ``twin optimise-greening``, ``twin heat-tiles``: many scenarios at once, a search for
the best trees, and heat of a district larger than memory.

- ``twin batch NAME (--variants FILE | --sweep SPEC) [--ray ADDRESS] [--workers N] [--hours 15]
  [--rank-by KPI] [--best 5] --out DIR`` evaluates every variant against the warm baseline of the
  district on local processes (default) or a Ray cluster, and writes ``ranked.csv``, ``best.geojson``,
  ``best_scenarios/*.json`` (scenario drafts), charts and ``summary.json`` into DIR, all at once.
- ``twin batch burgenlandkreis --variants FILE [--to 2040] ...``: the variants are forecast and migration
  edits of the region (``twin forecast --help``); each is projected per Gemeinde and ranked by a Kreis
  indicator (default ``old_age_ratio``, lowest first; also ``population``, ``population_change_pct``,
  ``age67plus_share``, ``persons_school_age_6_17``); writes ``ranked.csv``, ``gemeinden.csv``,
  ``gemeinden.geojson``, ``best_scenarios/*.json``, ``ranking.png``, ``trajectories.png`` and
  ``summary.json``. Person counts are published (rounded to 5, 1-4 suppressed).
- ``twin optimise-greening NAME --trees 200 [--budget-eur E] [--trials 30] [--seed 0] --out FILE``
  searches the tree placement that cools the heat-stressed residents most (Optuna) and writes it as a
  scenario draft; ``--rule-out FILE`` also writes the rule's placement (trees along the hottest streets).
- ``twin optimise-stop-set NAME --stops 5 [--trials 40] [--seed 0] --out FILE`` starts from the
  maximal-covering MILP and searches (Optuna) the stop set that removes the most stop deficits of
  persons 65+ without a car and under 18, measured with the full access model; a scenario draft.
- ``twin heat-tiles NAME [--scenario FILE] [--hours 15] --max-memory 4G [--tile-cells N] (--out DIR | --run RUN)`` runs
  the heat model tile by tile in bounded memory (shadows, sky view, surface, Tmrt; then air temperature
  from one coarse solve and UTCI) and writes Cloud-Optimised GeoTIFFs with a manifest (tiled.json); with
  ``--run RUN`` into ``<data>/tiled/RUN``, which the server serves by windows (``/api/tiled/RUN``).

Bad input exits with status 2 and one message (German / English); nothing is left half-written.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from cli.common import load_district, print_summary
from cli.errors import CliError
from cli.forecast import REGIONS
from geodata.files import atomic_file

__all__ = ["register"]

_VARIANTS_HELP = """Variantendatei / variants file: {"variants": [{"name": "...", "interventions": [...]}, ...]}.
Sweep: {"name": "p", "base": [...], "template": [{"kind": "tree", "id": "t", "xy_local_m": ["$x", 80]}],
"grid": {"x": [40, 60]}} gives one variant per combination of the grid values.
Region 'burgenlandkreis': variants of forecast edits (refugee_intake, housing_estate, out_migration_factor,
demographic_path; see twin forecast --help), ranked by old_age_ratio (default), population,
population_change_pct, age67plus_share or persons_school_age_6_17 in the year --to."""


def register(sub: argparse._SubParsersAction) -> None:
    bp = sub.add_parser("batch", help="viele Szenarien bewerten und ordnen / evaluate and rank many scenarios",
                        description=_VARIANTS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    bp.add_argument("name", help="district bundle name, 'sample', or the region 'burgenlandkreis' (forecast variants)")
    src = bp.add_mutually_exclusive_group(required=True)
    src.add_argument("--variants", default=None, help="JSON file of variants")
    src.add_argument("--sweep", default=None, help="JSON sweep spec (template and grid)")
    bp.add_argument("--ray", default=None, metavar="ADDRESS",
                    help="run on this Ray cluster ('auto', 'host:port', 'ray://host:port'); default: local processes")
    bp.add_argument("--workers", type=int, default=None,
                    help="worker processes (default: 2 locally, all CPUs of the Ray cluster)")
    bp.add_argument("--hours", default="15", help="local hours of the heat model, comma separated (default 15)")
    bp.add_argument("--rank-by", default=None,
                    help="KPI column to rank by (default: heat_stressed_cooling_person_k when heat is computed)")
    bp.add_argument("--order", choices=("auto", "desc", "asc"), default="auto",
                    help="best = highest (desc) or lowest (asc); auto knows the cooling KPIs, else lowest")
    bp.add_argument("--best", type=int, default=5, help="how many best variants go to GeoJSON and drafts (default 5)")
    bp.add_argument("--seed", type=int, default=0, help="seed of population and demand (default 0)")
    bp.add_argument("--sample-size-km", type=float, default=2.0, help="size of the 'sample' district (default 2)")
    bp.add_argument("--to", type=int, default=2040, help="region: last year of the forecast (2020-2100, default 2040)")
    bp.add_argument("--shared-data", default=None, metavar="DIR", help="region: open data folder (default ../shared/data)")
    bp.add_argument("--out", required=True, help="output folder (replaced as a whole when the batch finishes)")
    bp.add_argument("--no-progress", action="store_true", help="no progress bar")
    bp.add_argument("--json", action="store_true", help="print a one-line JSON summary")
    bp.set_defaults(func=run_batch_cmd)

    gp = sub.add_parser("optimise-greening", help="beste Baumstandorte suchen / search the best tree placement")
    gp.add_argument("name", help="district bundle name, or 'sample'")
    gp.add_argument("--trees", type=int, default=200, help="number of trees (default 200)")
    gp.add_argument("--budget-eur", type=float, default=None, help="budget; fewer trees if it buys fewer")
    gp.add_argument("--trials", type=int, default=30, help="placements the optimiser measures (default 30)")
    gp.add_argument("--seed", type=int, default=0, help="seed of the optimiser (default 0)")
    gp.add_argument("--hours", default="15", help="local hours of the heat model, comma separated (default 15)")
    gp.add_argument("--sample-size-km", type=float, default=2.0, help="size of the 'sample' district (default 2)")
    gp.add_argument("--out", required=True, help="scenario draft (JSON) of the best placement")
    gp.add_argument("--rule-out", default=None, help="also write the rule's placement (hottest streets) here")
    gp.add_argument("--json", action="store_true", help="print a one-line JSON summary")
    gp.set_defaults(func=run_optimise_greening)

    sp = sub.add_parser("optimise-stop-set", help="beste neue Haltestellen suchen / search the best new stops")
    sp.add_argument("name", help="district bundle name, or 'sample'")
    sp.add_argument("--stops", type=int, default=5, help="number of new stops (default 5)")
    sp.add_argument("--trials", type=int, default=40, help="stop sets the optimiser measures (default 40)")
    sp.add_argument("--seed", type=int, default=0, help="seed of population and optimiser (default 0)")
    sp.add_argument("--sample-size-km", type=float, default=2.0, help="size of the 'sample' district (default 2)")
    sp.add_argument("--out", required=True, help="scenario draft (JSON) of the best stop set")
    sp.add_argument("--json", action="store_true", help="print a one-line JSON summary")
    sp.set_defaults(func=run_optimise_stop_set)

    tp = sub.add_parser("heat-tiles", help="Hitze kachelweise, begrenzter Speicher / heat tile by tile, bounded memory")
    tp.add_argument("name", help="district bundle name, or 'sample'")
    tp.add_argument("--scenario", default=None, help="JSON file: a list of interventions or {'interventions': [...]}")
    tp.add_argument("--hours", default="15", help="local hours, comma separated (default 15)")
    tp.add_argument("--max-memory", default=None, help="memory limit of the run, e.g. 4G or 1500M (default: no tiling)")
    tp.add_argument("--tile-cells", type=int, default=None, help="tile core in cells (instead of --max-memory)")
    tp.add_argument("--sample-size-km", type=float, default=2.0, help="size of the 'sample' district (default 2)")
    out = tp.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", default=None, help="output folder of COGs")
    out.add_argument("--run", default=None, metavar="NAME",
                     help="write to <data>/tiled/NAME, where the server serves it (/api/tiled/NAME)")
    tp.add_argument("--json", action="store_true", help="print a one-line JSON summary")
    tp.set_defaults(func=run_heat_tiles)


def _arch(args: argparse.Namespace) -> str:
    return str(args.arch or os.environ.get("LANDTWIN_ARCH") or "cpu")


def _hours(text: str) -> tuple[int, ...]:
    try:
        hours = tuple(int(h) for h in text.split(","))
    except ValueError:
        raise CliError(f"Stunden {text!r}: ganze Zahlen mit Komma / hours: integers separated by commas") from None
    if not hours or any(h < 0 or h > 23 for h in hours) or len(set(hours)) != len(hours):
        raise CliError(f"Stunden {text!r}: verschiedene Werte 0..23 / hours: distinct values 0..23")
    return hours


def run_batch_cmd(args: argparse.Namespace) -> int:
    from models.batch.evaluate import EvalConfig
    from models.batch.run import run_batch
    from models.batch.variants import BatchSpecError, read_sweep, read_variants

    if args.workers is not None and not 1 <= args.workers <= 256:
        raise CliError(f"--workers {args.workers} außerhalb 1..256 / out of range 1..256")
    if not 1 <= args.best <= 100:
        raise CliError(f"--best {args.best} außerhalb 1..100 / out of range 1..100")
    hours = _hours(args.hours)
    try:
        variants = read_variants(args.variants) if args.variants else read_sweep(args.sweep)
    except BatchSpecError as exc:
        raise CliError(str(exc)) from None
    if args.ray:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise CliError("Ray ist nicht installiert (pip install 'landtwin[distributed]') / "
                           "Ray is not installed (pip install 'landtwin[distributed]')") from None
    if args.name.lower() in REGIONS:
        return _run_region_batch(args, variants)
    district = load_district(args)
    workers = args.workers if args.workers is not None else (0 if args.ray else 2)
    descending = None if args.order == "auto" else args.order == "desc"
    try:
        res = run_batch(district, variants, args.out, config=EvalConfig(hours=hours, arch=_arch(args), seed=args.seed),
                        workers=workers, ray_address=args.ray, rank_by=args.rank_by, descending=descending,
                        n_best=args.best, progress=not args.no_progress)
    except KeyError as exc:
        raise CliError(str(exc.args[0]) if exc.args else str(exc)) from None
    t = res.table
    ok = t[t["rank"].notna()]
    print_summary(args, {"out": str(res.out), "variants": len(t), "failed": int(len(t) - len(ok)),
                         "best": str(ok.iloc[0]["name"]) if len(ok) else None, "backend": res.backend,
                         "seconds": round(res.seconds, 2), "scenarios_per_minute": round(res.scenarios_per_minute, 2)})
    return 0


def _run_region_batch(args: argparse.Namespace, variants: list) -> int:
    from cli.forecast import shared_data_to
    from models.batch.region import RegionSubject, run_region_batch
    from models.forecast.base import ForecastInputError, gemeinde_shapes
    from models.forecast.service import base_from_shared, housing_for

    shared = shared_data_to(args)
    try:
        base = base_from_shared(shared)
        subject = RegionSubject(base, housing_for(base, shared), args.to)
        shapes = gemeinde_shapes(shared)
    except ForecastInputError as exc:
        raise CliError(str(exc)) from None
    workers = args.workers if args.workers is not None else (0 if args.ray else 2)
    descending = None if args.order == "auto" else args.order == "desc"
    try:
        res = run_region_batch(subject, variants, args.out, workers=workers, ray_address=args.ray,
                               rank_by=args.rank_by, descending=descending, n_best=args.best, shapes=shapes,
                               progress=not args.no_progress)
    except KeyError as exc:
        raise CliError(str(exc.args[0]) if exc.args else str(exc)) from None
    t = res.table
    ok = t[t["rank"].notna()]
    print_summary(args, {"out": str(res.out), "region": args.name.lower(), "to_year": args.to, "variants": len(t),
                         "failed": int(len(t) - len(ok)), "best": str(ok.iloc[0]["name"]) if len(ok) else None,
                         "backend": res.backend, "seconds": round(res.seconds, 2),
                         "scenarios_per_minute": round(res.scenarios_per_minute, 2)})
    return 0


def run_optimise_greening(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from models.batch.evaluate import EvalConfig
    from models.batch.greening import optimise_greening

    if not 1 <= args.trees <= 100_000:
        raise CliError(f"--trees {args.trees} außerhalb 1..100000 / out of range 1..100000")
    if not 1 <= args.trials <= 10_000:
        raise CliError(f"--trials {args.trials} außerhalb 1..10000 / out of range 1..10000")
    if args.budget_eur is not None and not args.budget_eur > 0:
        raise CliError("--budget-eur muss positiv sein / must be positive")
    hours = _hours(args.hours)
    district = load_district(args)
    with Progress(transient=True) as bar:
        task = bar.add_task("Platzierungen / placements", total=args.trials)
        try:
            best, rule = optimise_greening(district, args.trees, budget_eur=args.budget_eur, trials=args.trials,
                                           seed=args.seed, config=EvalConfig(hours=hours, arch=_arch(args)),
                                           on_trial=lambda i, v: bar.update(task, advance=1))
        except ValueError as exc:
            raise CliError(str(exc)) from None

    def dump(data: dict) -> object:
        return lambda tmp: Path(tmp).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    out = atomic_file(args.out, dump(best.to_json()))
    if args.rule_out:
        atomic_file(args.rule_out, dump(rule.to_json()))
    print_summary(args, {"out": str(out), "trees": len(best.trees), "cost_eur": best.kpis.get("cost_eur"),
                         "cooling_person_k": round(best.cooling_person_k, 3),
                         "rule_cooling_person_k": round(rule.cooling_person_k, 3),
                         "gain_over_rule": round(best.cooling_person_k / rule.cooling_person_k, 3)
                         if rule.cooling_person_k > 0 else None})
    return 0


def run_optimise_stop_set(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from models.batch.stops import optimise_stop_set

    if not 1 <= args.stops <= 500:
        raise CliError(f"--stops {args.stops} außerhalb 1..500 / out of range 1..500")
    if not 1 <= args.trials <= 10_000:
        raise CliError(f"--trials {args.trials} außerhalb 1..10000 / out of range 1..10000")
    district = load_district(args)
    with Progress(transient=True) as bar:
        task = bar.add_task("Haltestellen-Sets / stop sets", total=args.trials)
        try:
            plan = optimise_stop_set(district, args.stops, trials=args.trials, seed=args.seed, arch=_arch(args),
                                     on_trial=lambda i, v: bar.update(task, advance=1))
        except ValueError as exc:
            raise CliError(str(exc)) from None
    data = plan.to_json()
    out = atomic_file(args.out, lambda tmp: Path(tmp).write_text(json.dumps(data, ensure_ascii=False, indent=1),
                                                                 encoding="utf-8"))
    print_summary(args, {"out": str(out), "stops": len(plan.stops), "method": plan.method,
                         "deficit_removed_persons": plan.gain_persons, "milp_deficit_removed_persons": plan.milp_gain_persons})
    return 0


def parse_memory(text: str) -> int:
    """Bytes of ``4G``, ``1500M``, ``800k`` or a plain number of bytes."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except (ValueError, IndexError):
        raise CliError(f"--max-memory {text!r}: z. B. 4G oder 1500M / e.g. 4G or 1500M") from None
    if not 2**20 <= value <= 2**50:
        raise CliError(f"--max-memory {text!r} außerhalb 1M..1P / out of range 1M..1P")
    return int(value)


def run_heat_tiles(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from cli.common import read_scenario
    from geodata.apply_heat import HeatEditError
    from models.heat.params import HeatParams
    from models.heat.tiled import TiledHeatError, run_tiled

    limit = parse_memory(args.max_memory) if args.max_memory else None
    if args.tile_cells is not None and not 16 <= args.tile_cells <= 100_000:
        raise CliError(f"--tile-cells {args.tile_cells} außerhalb 16..100000 / out of range 16..100000")
    hours = _hours(args.hours)
    target = args.out
    if args.run is not None:
        import re

        from server.settings import data_dir
        from server.tiled_runs import RUN_PATTERN

        if not re.match(RUN_PATTERN, args.run):
            raise CliError(f"--run {args.run!r}: Buchstaben, Ziffern, - und _ (höchstens 64) / "
                           "letters, digits, - and _ (at most 64)")
        target = str(data_dir(args.data_dir) / "tiled" / args.run)
    ivs = read_scenario(args.scenario)
    district = load_district(args)
    with Progress(transient=True) as bar:
        task = bar.add_task("Kacheln / tiles", total=None)
        try:
            res = run_tiled(district, target, interventions=ivs, hours=hours,
                            params=HeatParams.default(arch=_arch(args)), max_memory_bytes=limit,
                            core_cells=args.tile_cells, on_tile=lambda i, n: bar.update(task, completed=i, total=n))
        except (TiledHeatError, HeatEditError) as exc:
            raise CliError(str(exc)) from None
    print_summary(args, {"out": str(res.out), "tiles": len(res.plan.tiles()), "tile_core_cells": res.plan.core,
                         "halo_cells": res.plan.halo, "cells": res.cells, "seconds": round(res.seconds, 2),
                         "cells_per_second": round(res.cells_per_second), "peak_rss_mib": round(res.peak_rss_bytes / 2**20),
                         "files": res.files})
    return 0
