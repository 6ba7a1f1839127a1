"""Read-only arrays: a District is immutable, and so are the numpy arrays it holds.

``read_only(obj)`` clears ``flags.writeable`` on every numpy array reachable from ``obj`` through dataclass
fields, tuples, lists and dict values (the District, its Buildings, Roads, Trees, Stops, Pois, LandCover,
water lines, railways and the arrays in ``meta``). Code that needs a changed raster copies it first
(``arr.copy()``); writing into a District's array raises ``ValueError: assignment destination is read-only``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import numpy as np

__all__ = ["read_only"]

T = TypeVar("T")


def read_only(obj: T) -> T:
    """``obj`` with every numpy array inside it made read-only (in place); returns ``obj``."""
    _freeze(obj, set())
    return obj


def _freeze(obj: Any, seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        obj.flags.writeable = False
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _freeze(getattr(obj, f.name), seen)
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            _freeze(v, seen)
    elif isinstance(obj, dict):
        for v in obj.values():
            _freeze(v, seen)
