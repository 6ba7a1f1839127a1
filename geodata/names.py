"""The one pattern of district names (bundle folder names), used by the importer, the command line, the
server and its API: letters, digits and ``_ . -``, starting with a letter or digit (so never ``.`` or
``..``), at most 64 characters; ``kreis.2024`` is a valid name."""

from __future__ import annotations

import re

__all__ = ["NAME_PATTERN", "is_district_name"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


def is_district_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None
