"""``twin``'s global options ``--arch`` and ``--data-dir`` before or after the command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from server_support import tiny_district

from cli.main import build_parser, main
from geodata.bundle import write_bundle


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("argv", [
    ["heat", "sample", "--arch", "cuda", "--out", "X"],
    ["--arch", "cuda", "heat", "sample", "--out", "X"],
    ["--arch", "vulkan", "heat", "sample", "--arch", "cuda", "--out", "X"],  # after the command wins
])
def test_arch_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.arch == "cuda" and args.out == "X" and args.data_dir is None


def test_defaults_stay_when_not_given_after_the_command() -> None:
    args = build_parser().parse_args(["--data-dir", "D", "--arch", "cpu", "traffic", "sample", "--out", "X"])
    assert (args.data_dir, args.arch) == ("D", "cpu")
    args = build_parser().parse_args(["traffic", "sample", "--out", "X"])
    assert (args.data_dir, args.arch) == (None, None)


def test_every_command_accepts_both_options_after_it() -> None:
    for name, cmd in _commands(build_parser()).items():
        assert {"--arch", "--data-dir"} <= set(cmd._option_string_actions), name


def test_top_level_help_is_unchanged(monkeypatch) -> None:
    import cli.main

    text = build_parser().format_help()
    monkeypatch.setattr(cli.main, "_global_options_after_the_command", lambda parser, sub: None)
    assert build_parser().format_help() == text  # accepting them after the command leaves the help as it was
    for name in ("--arch", "--data-dir", "import", "info", "sample", "heat", "svf", "shadows", "tmrt", "traffic",
                 "assign", "access", "optimise-stops", "import-gtfs", "serve", "view"):
        assert name in text


@pytest.mark.parametrize("where", ["before", "after"])
def test_data_dir_after_the_command_reaches_the_command(tmp_path: Path, where: str, capsys) -> None:
    write_bundle(tiny_district("kreis.2024"), tmp_path / "districts" / "kreis.2024", tiles=False)
    opt = ["--data-dir", str(tmp_path)]
    argv = [*opt, "info", "kreis.2024", "--json"] if where == "before" else ["info", "kreis.2024", "--json", *opt]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["buildings"] == 4
