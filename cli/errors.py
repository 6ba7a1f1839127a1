"""The one error type of the command line."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """An error a user made: printed as one clear line, exit status 2 (no traceback)."""
