"""``twin forecast``: population forecast of the region by Gemeinde, with migration scenarios and demand.

- ``twin forecast burgenlandkreis --to 2040 [--scenario FILE] --json`` prints one JSON line with
  ``total_by_year``, ``age67plus_by_year``, ``old_age_ratio_by_year`` (65+ per 100 aged 20-64), ``by_gemeinde``
  (AGS -> year -> persons), demand per service, the assumptions and (baseline) the comparison with the
  official forecasts.
- ``--csv DIR`` writes the full tables (Gemeinde x year x age x sex, components, demand), ``--charts DIR``
  pyramids, old-age ratio, demand and (with a scenario) scenario vs baseline as PNG.
- ``--capacities FILE`` (CSV ``ags,service,capacity``) sets demand against capacities.
- ``--shared-data DIR`` is where the open data lies (default ``../shared/data`` beside the project);
  ``--gemeinde-table FILE`` an official Gemeinde table of 2019 (``ags``, ``population``, optional age groups).

Person counts are published (rounded to 5, 1-4 suppressed). Bad input: one message, exit status 2,
nothing written.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from cli.errors import CliError

__all__ = ["register", "run_forecast_cmd", "default_shared_dir", "shared_data_to"]

REGIONS = ("burgenlandkreis",)


def default_shared_dir() -> Path:
    env = os.environ.get("LANDTWIN_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def register(sub: argparse._SubParsersAction) -> None:
    fp = sub.add_parser("forecast", help="Bevölkerungsprognose je Gemeinde / population forecast per Gemeinde")
    fp.add_argument("name", help="region (burgenlandkreis)")
    fp.add_argument("--to", type=int, default=2040, help="last year (2020-2100, default 2040)")
    fp.add_argument("--scenario", default=None, help="JSON file: list of forecast edits (refugee_intake, "
                    "housing_estate, out_migration_factor, demographic_path)")
    fp.add_argument("--json", action="store_true", help="print one JSON line")
    fp.add_argument("--csv", default=None, metavar="DIR", help="write the full tables as CSV into DIR")
    fp.add_argument("--charts", default=None, metavar="DIR", help="write charts (PNG) into DIR")
    fp.add_argument("--chart-gemeinden", action="store_true", help="also a pyramid per Gemeinde")
    fp.add_argument("--capacities", default=None, metavar="FILE", help="CSV ags,service,capacity")
    fp.add_argument("--shared-data", default=None, metavar="DIR", help="open data folder (default ../shared/data)")
    fp.add_argument("--gemeinde-table", default=None, metavar="FILE",
                    help="official Gemeinde table 2019 (CSV: ags, population[, age_<lo>_<hi> .. age_<lo>_plus])")
    fp.set_defaults(func=run_forecast_cmd)


def _read(path: str, what: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{what} {path} nicht gefunden / {what} {path} not found")
    if p.stat().st_size > 5_000_000:
        raise CliError(f"{what} {path} ist zu groß (> 5 MB) / {what} {path} is too large (> 5 MB)")
    return p.read_bytes()


def shared_data_to(args: argparse.Namespace) -> Path:
    """The open-data folder of ``--shared-data`` (or the default), after checking it and the target year ``--to``."""
    if not 2020 <= args.to <= 2100:
        raise CliError(f"Zieljahr {args.to} ungültig (2020-2100) / target year {args.to} invalid (2020-2100)")
    shared = Path(args.shared_data) if args.shared_data else default_shared_dir()
    if not shared.is_dir():
        raise CliError(f"Ordner der offenen Daten {shared} fehlt / open data folder {shared} missing")
    return shared


def run_forecast_cmd(args: argparse.Namespace) -> int:
    from models.forecast.base import ForecastInputError, gemeinde_shapes, read_gemeinde_table
    from models.forecast.demand import read_capacities
    from models.forecast.scenario import decode_scenario
    from models.forecast.service import base_from_shared, forecast, housing_for, summary, write_tables

    if args.name.lower() not in REGIONS:
        raise CliError(f"Unbekannte Region {args.name!r} (bekannt: {', '.join(REGIONS)}) / unknown region "
                       f"{args.name!r} (known: {', '.join(REGIONS)})")
    shared = shared_data_to(args)
    try:
        edits = decode_scenario(_read(args.scenario, "Szenario")) if args.scenario else []
        table = None
        if args.gemeinde_table:
            table = read_gemeinde_table(_read(args.gemeinde_table, "Gemeindetabelle"), set(gemeinde_shapes(shared)))
        base = base_from_shared(shared, table)
        housing = housing_for(base, shared)
        caps = read_capacities(_read(args.capacities, "Kapazitäten"), base.ags) if args.capacities else None
        run = forecast(base, edits, args.to, housing=housing, capacities=caps)
        baseline = forecast(base, [], args.to, housing=housing, capacities=caps) if edits else None
    except ForecastInputError as exc:
        raise CliError(str(exc)) from None
    out = summary(run)
    if args.csv:
        write_tables(run, args.csv)
    if args.charts:
        from models.forecast.charts import write_charts

        write_charts(run, args.charts, baseline=baseline, gemeinden=args.chart_gemeinden)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, separators=(",", ":")))
    else:
        k = out["total_by_year"]
        print(f"Burgenlandkreis {out['base_year']}: {k[str(out['base_year'])]} -> {out['to_year']}: "
              f"{k[str(out['to_year'])]} Einwohner / inhabitants")
        for y in sorted(out["old_age_ratio_by_year"]):
            if int(y) % 5 == 0 or int(y) == out["to_year"]:
                print(f"  {y}: {k[y]} Einwohner, 67+ {out['age67plus_by_year'][y]}, "
                      f"Altenquotient / old-age ratio {out['old_age_ratio_by_year'][y]}")
        for row in out.get("official_comparison", []):
            dev = row.get("deviation_pct", row.get("deviation_points"))
            unit = "%" if "deviation_pct" in row else " Punkte / points"
            print(f"  amtlich / official {row['indicator']} {row['year']}: {row['value']} - Modell / model "
                  f"{row['model']} ({dev:+}{unit}) {'ok' if row['within'] else 'außerhalb / outside'}")
    return 0
