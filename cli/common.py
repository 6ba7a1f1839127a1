"""Helpers every ``twin`` command shares: the district by name, the scenario file, the summary line.
Errors of the layers below (DataError, SampleError, InterventionError) become CliError here, in one place."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.errors import CliError

__all__ = ["load_district", "read_scenario", "print_summary"]


def load_district(args: argparse.Namespace) -> Any:
    """The district ``args.name``: its bundle in the data folder, or for ``sample`` without a bundle the
    sample district of ``args.sample_size_km`` (2 km where the command has no such option)."""
    from geodata.bundle import load_district as load
    from geodata.sample import SampleError
    from geodata.sources import DataError
    from server.settings import data_dir

    try:
        return load(data_dir(args.data_dir), args.name, sample_size_km=float(getattr(args, "sample_size_km", 2.0)))
    except (DataError, SampleError) as exc:
        raise CliError(str(exc)) from None


def read_scenario(path: str | None) -> list[Any]:
    """The interventions of a scenario file (none without a file)."""
    if not path:
        return []
    from geodata.interventions import InterventionError
    from geodata.scenario_file import read_scenario_file

    try:
        return read_scenario_file(path)
    except InterventionError as exc:
        raise CliError(str(exc)) from None


def print_summary(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """One JSON line with ``--json``, otherwise one ``key: value`` line per entry."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    else:
        for k, v in data.items():
            print(f"{k}: {v}")
