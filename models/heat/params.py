"""Parameters of the heat model; defaults and their sources in ``assets/heat_params.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

__all__ = ["HeatParams"]


@dataclass(frozen=True)
class HeatParams:
    """Model parameters; defaults and sources in ``assets/heat_params.json``."""

    values: dict = field(default_factory=dict)
    arch: str = "cpu"

    @classmethod
    def default(cls, arch: str = "cpu", **overrides: float) -> HeatParams:
        raw = json.loads(resources.files("assets").joinpath("heat_params.json").read_text(encoding="utf-8"))
        vals = {k: v["value"] for k, v in raw.items()}
        unknown = set(overrides) - set(vals)
        if unknown:
            raise ValueError(f"unknown heat parameters: {sorted(unknown)}")
        vals.update(overrides)
        return cls(vals, arch)

    def __getitem__(self, key: str):
        return self.values[key]
