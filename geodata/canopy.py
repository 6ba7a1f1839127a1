"""The one canopy rule: where tree crowns stand and how high their tops and trunks reach.

Canopy heights are above ground (UMEP's CDSM convention). Crowns stand on open ground only: on cells more
than ``ROOF_MIN_M`` above the ground (roofs) the canopy is dropped, and negative heights count as none. The
top of a crown is ground + canopy, the bottom of the crown (the trunk zone below is open to the sun)
ground + ``trunk_ratio`` * canopy; cells without canopy have both at the ground.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ROOF_MIN_M", "canopy_on_ground", "canopy_tops"]

ROOF_MIN_M = 2.0  # a surface this far above the terrain is a roof (or another raised structure)


def canopy_on_ground(dsm_m: np.ndarray, ground_m: np.ndarray | None, canopy_m: np.ndarray | None) -> np.ndarray:
    """(rows, cols) float32 canopy heights with crowns on roofs and negative heights removed.
    Without ``ground_m`` every cell is ground; without ``canopy_m`` there is no canopy."""
    dsm = np.asarray(dsm_m, np.float32)
    if canopy_m is None:
        return np.zeros_like(dsm)
    ground = dsm if ground_m is None else np.asarray(ground_m, np.float32)
    roof = (dsm - ground) > ROOF_MIN_M
    return np.where(roof, 0.0, np.maximum(np.asarray(canopy_m, np.float32), 0.0)).astype(np.float32)


def canopy_tops(ground_m: np.ndarray, canopy_m: np.ndarray, trunk_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(crown top, crown bottom) in metres above sea level, float32, for canopy heights on ground cells."""
    ground, can = np.asarray(ground_m), np.asarray(canopy_m)
    has = can > 0
    top = np.where(has, ground + can, ground).astype(np.float32)
    trunk = np.where(has, ground + trunk_ratio * can, ground).astype(np.float32)
    return top, trunk
