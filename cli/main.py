"""The ``twin`` command line. Each subcommand lives in ``cli/<topic>.py`` with a
``register(subparsers)`` function that adds its parsers and sets ``func`` to a callable taking the
parsed args and returning an exit code."""

from __future__ import annotations

import argparse
import sys

from cli import access, batch, data, forecast, heat, region, sample, serve, tokens, traffic, view
from cli.errors import CliError

__all__ = ["main", "build_parser", "CliError"]

# topic modules, in the order their commands appear in --help
_TOPICS = (data, sample, heat, traffic, access, region, batch, forecast, serve, tokens, view)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twin",
        description="landtwin: 3D-Zwilling für Hitze, Verkehr und Erreichbarkeit / a 3D twin for heat, traffic and access",
    )
    parser.add_argument("--arch", default=None, help="Taichi backend: cpu (default), cuda, vulkan, gpu")
    parser.add_argument("--data-dir", default=None, help="where bundles and the database live (default ./data)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for topic in _TOPICS:
        topic.register(sub)
    _global_options_after_the_command(parser, sub)
    return parser


def _global_options_after_the_command(parser: argparse.ArgumentParser, sub: argparse._SubParsersAction) -> None:
    """``--arch`` and ``--data-dir`` are accepted after the command too (``twin heat sample --arch cpu``);
    given there, they win over the same option given before the command. The top-level help stays as it is."""
    globals_ = [a for a in parser._actions if {"--arch", "--data-dir"} & set(a.option_strings)]
    for cmd in sub.choices.values():
        for action in globals_:
            if not any(o in cmd._option_string_actions for o in action.option_strings):
                cmd.add_argument(*action.option_strings, dest=action.dest, default=argparse.SUPPRESS, help=action.help)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"Fehler / error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
