"""Person counts at the boundary: what may leave the server.

Every count of persons that is published (API responses, websocket frames, exports, CLI output) passes
through :func:`publish_count` (or :func:`publish_counts` for arrays, :func:`publish_kpis` for KPI dicts):

- 0 stays 0;
- 1 to 4 persons are suppressed: ``None`` (shown as "unter 5" / "under 5"), ``NaN`` in float arrays;
- every other count is rounded to a multiple of 5 (half up), so that differences of published totals
  (a Gemeinde minus all but one of its cells, a scenario minus its baseline) cannot recover a count
  below 5 exactly: each published figure is uncertain by up to ±2.5 persons.

The threshold and the rounding base follow the practice of the German statistical offices for the
Zensus grid (cells with fewer than 3 or 5 persons are blocked; published counts are perturbed or
rounded); ``assets/access_thresholds.json`` holds the threshold used by the engines (``min_group_persons``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MIN_COUNT", "ROUND_TO", "UNDER_LABEL", "publish_count", "publish_counts", "publish_kpis",
           "is_count_key", "check_published"]

MIN_COUNT = 5
ROUND_TO = 5
UNDER_LABEL = {"de": "unter 5", "en": "under 5"}

# KPI names that hold counts of persons (not shares, means or times)
_COUNT_KEY = re.compile(r"^(persons|deficit|residents|population|pop|count_persons|age|under|newcomers)(_|$)")


def publish_count(n: float | int | None) -> int | None:
    """A published person count: 0, ``None`` for 1-4 (suppressed), else rounded to a multiple of 5."""
    if n is None:
        return None
    x = float(n)
    if not math.isfinite(x):
        return None
    if x <= 0.0:
        return 0
    if x < MIN_COUNT:
        return None
    return int(math.floor(x / ROUND_TO + 0.5) * ROUND_TO)


def publish_counts(a: np.ndarray) -> np.ndarray:
    """Float array of published counts: 0, ``NaN`` where 1-4 (suppressed), else rounded to 5."""
    x = np.asarray(a, dtype=np.float64)
    out = np.floor(x / ROUND_TO + 0.5) * ROUND_TO
    out[x <= 0.0] = 0.0
    out[(x > 0.0) & (x < MIN_COUNT)] = np.nan
    out[~np.isfinite(x)] = np.nan
    return out


def is_count_key(key: str) -> bool:
    """Whether a KPI name holds a count of persons (``persons_*``, ``deficit_*``, ...), not a share or mean."""
    k = key.lower()
    if any(t in k for t in ("share", "mean", "ratio", "rate", "_min", "_km", "_m_", "pct", "per_")):
        return False
    return bool(_COUNT_KEY.match(k))


def publish_kpis(kpis: Mapping[str, Any]) -> dict[str, Any]:
    """A KPI dict with every person count published (suppressed counts become ``None``)."""
    out: dict[str, Any] = {}
    for k, v in kpis.items():
        if is_count_key(k) and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = publish_count(v)
        else:
            out[k] = v
    return out


def check_published(value: Any, path: str = "") -> list[str]:
    """Paths of person counts 1-4 found in a JSON-like value (for tests of every response)."""
    bad: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            p = f"{path}.{k}" if path else str(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and is_count_key(str(k)):
                if 0 < float(v) < MIN_COUNT:
                    bad.append(p)
            else:
                bad.extend(check_published(v, p))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            bad.extend(check_published(v, f"{path}[{i}]"))
    return bad
