"""The one reader of scenario files: JSON holding a list of interventions or ``{"interventions": [...]}``."""

from __future__ import annotations

import json
from pathlib import Path

from geodata.interventions import Intervention, InterventionError, decode_intervention

__all__ = ["read_scenario_file"]


def read_scenario_file(path: str | Path) -> list[Intervention]:
    """The interventions of the scenario file at ``path``, decoded and checked.

    Raises InterventionError (German / English) for a missing or unreadable file, bad JSON, a document that
    is not a list of interventions, or an invalid intervention (its position in the list named).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InterventionError(f"Szenario {p} nicht gefunden", f"scenario {p} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InterventionError(f"Szenario {p} nicht lesbar ({exc})", f"scenario {p} unreadable") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InterventionError(f"{p.name}: kein gültiges JSON ({exc})", f"{p.name}: not valid JSON") from None
    items = data.get("interventions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InterventionError(f"{p.name}: Liste von Maßnahmen erwartet (oder {{\"interventions\": [...]}})",
                                f"{p.name}: a list of interventions expected (or {{\"interventions\": [...]}})")
    out = []
    for k, item in enumerate(items):
        try:
            out.append(decode_intervention(item))
        except InterventionError as exc:
            raise InterventionError(f"{p.name}, Maßnahme {k + 1}: {exc.de}", f"{p.name}, intervention {k + 1}: {exc.en}") from None
    return out
