"""Variants of a scenario batch: read from a variants file or expanded from a sweep spec.

A **variants file** is JSON: ``{"variants": [{"name": "...", "interventions": [...]}, ...]}`` (or the bare
list). A **sweep spec** is JSON with a template of interventions whose string values ``"$name"`` are
placeholders, and the values each placeholder takes; every combination is one variant::

    {"name": "baumreihe", "base": [...],
     "template": [{"kind": "tree", "id": "t1", "xy_local_m": ["$x", 80.0], "height_m": "$h"}],
     "grid": {"x": [40.0, 60.0, 80.0], "h": [8.0, 12.0]}}

Interventions are decoded and checked by ``geodata.interventions``; anything wrong raises
``BatchSpecError`` with a German and an English message.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geodata.interventions import Intervention, InterventionError, decode_intervention, encode_intervention

__all__ = ["Variant", "BatchSpecError", "read_variants", "expand_sweep", "read_sweep", "MAX_VARIANTS"]

MAX_VARIANTS = 10_000
_NAME = re.compile(r"^[^\x00-\x1f/\\\"]{1,80}$")


class BatchSpecError(ValueError):
    """A rejected variants file or sweep spec; ``de`` and ``en`` carry the message."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.de = de
        self.en = en


@dataclass(frozen=True)
class Variant:
    """One scenario of a batch: a unique name and its interventions (decoded, in order)."""

    name: str
    interventions: tuple[Intervention, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "interventions": [encode_intervention(i) for i in self.interventions]}


def _decode_all(items: Any, where: str) -> tuple[Intervention, ...]:
    if not isinstance(items, list):
        raise BatchSpecError(f"{where}: Liste von Maßnahmen erwartet", f"{where}: a list of interventions expected")
    out = []
    for k, item in enumerate(items):
        try:
            out.append(decode_intervention(item))
        except InterventionError as exc:
            raise BatchSpecError(f"{where}, Maßnahme {k + 1}: {exc.de}", f"{where}, intervention {k + 1}: {exc.en}") from None
    return tuple(out)


def _check_names(variants: list[Variant]) -> list[Variant]:
    if not variants:
        raise BatchSpecError("keine Varianten", "no variants")
    if len(variants) > MAX_VARIANTS:
        raise BatchSpecError(f"{len(variants)} Varianten, höchstens {MAX_VARIANTS}",
                             f"{len(variants)} variants, at most {MAX_VARIANTS}")
    seen: set[str] = set()
    for v in variants:
        if not _NAME.match(v.name):
            raise BatchSpecError(f"ungültiger Variantenname {v.name!r}", f"invalid variant name {v.name!r}")
        if v.name in seen:
            raise BatchSpecError(f"Variantenname {v.name!r} doppelt", f"variant name {v.name!r} appears twice")
        seen.add(v.name)
    return variants


def _load_json(path: str | Path) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BatchSpecError(f"Datei {p} nicht gefunden", f"file {p} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchSpecError(f"Datei {p} nicht lesbar ({exc})", f"file {p} unreadable") from None
    except json.JSONDecodeError as exc:
        raise BatchSpecError(f"{p.name}: kein gültiges JSON ({exc})", f"{p.name}: not valid JSON") from None


def parse_variants(data: Any, where: str = "Varianten") -> list[Variant]:
    """Variants from a decoded variants document (see the module docstring)."""
    items = data.get("variants") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise BatchSpecError(f"{where}: Liste von Varianten erwartet (oder {{\"variants\": [...]}})",
                             f"{where}: a list of variants expected (or {{\"variants\": [...]}})")
    out = []
    for k, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BatchSpecError(f"{where}, Variante {k + 1}: Objekt mit \"name\" und \"interventions\" erwartet",
                                 f"{where}, variant {k + 1}: an object with \"name\" and \"interventions\" expected")
        out.append(Variant(item["name"], _decode_all(item.get("interventions", []), f"{where}, {item['name']}")))
    return _check_names(out)


def read_variants(path: str | Path) -> list[Variant]:
    """The variants of the variants file at ``path``."""
    return parse_variants(_load_json(path), Path(path).name)


def _substitute(obj: Any, values: dict[str, Any]) -> Any:
    if isinstance(obj, str) and obj.startswith("$"):
        key = obj[1:]
        if key not in values:
            raise BatchSpecError(f"Platzhalter {obj} ohne Werte in \"grid\"", f"placeholder {obj} has no values in \"grid\"")
        return values[key]
    if isinstance(obj, list):
        return [_substitute(v, values) for v in obj]
    if isinstance(obj, dict):
        return {k: _substitute(v, values) for k, v in obj.items()}
    return obj


def expand_sweep(spec: Any, where: str = "Sweep") -> list[Variant]:
    """Every combination of the ``grid`` values applied to the ``template``, after the ``base`` interventions."""
    if not isinstance(spec, dict) or not isinstance(spec.get("template"), list) or not isinstance(spec.get("grid"), dict):
        raise BatchSpecError(f"{where}: Objekt mit \"template\" (Liste) und \"grid\" (Objekt) erwartet",
                             f"{where}: an object with \"template\" (list) and \"grid\" (object) expected")
    grid = spec["grid"]
    for key, vals in grid.items():
        if not isinstance(vals, list) or not vals:
            raise BatchSpecError(f"{where}: \"grid\".{key} muss eine nicht leere Liste sein",
                                 f"{where}: \"grid\".{key} must be a non-empty list")
    n = 1
    for vals in grid.values():
        n *= len(vals)
    if n > MAX_VARIANTS:
        raise BatchSpecError(f"{where}: {n} Kombinationen, höchstens {MAX_VARIANTS}",
                             f"{where}: {n} combinations, at most {MAX_VARIANTS}")
    base = _decode_all(spec.get("base", []), f"{where}, base")
    prefix = str(spec.get("name", "variante"))
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        values = dict(zip(keys, combo))
        label = "_".join(f"{k}={_short(v)}" for k, v in values.items())
        name = f"{prefix}_{label}" if label else prefix
        items = _decode_all(_substitute(spec["template"], values), f"{where}, {name}")
        out.append(Variant(name[:80], base + items))
    return _check_names(out)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (int, str)):
        return str(v)
    return json.dumps(v, separators=(",", ":"))[:20]


def read_sweep(path: str | Path) -> list[Variant]:
    """The variants of the sweep spec at ``path``."""
    return expand_sweep(_load_json(path), Path(path).name)
