"""Heat interventions applied to copies of a District's rasters: trees, tree rows, parks, green
roofs, unsealing, water surfaces and cool surfaces.

``apply_heat_interventions`` returns edited copies of the DSM, the canopy height and the surface
class, the window of cells that differ from the District and the investment cost. The District is
never touched; the first invalid edit raises ``HeatEditError`` (German / English) before anything is
returned, so a bad scenario changes nothing. Interventions of other kinds (roads, transit) are skipped.

Rasters are (row, col), row 0 north, on the District grid; geometry is in the local frame (metres).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from geodata.district import SURFACE, District
from geodata.interventions import (
    CoolSurface,
    GreenRoof,
    Intervention,
    InterventionError,
    Park,
    Tree,
    TreeRow,
    Unseal,
    WaterSurface,
    intervention_cost_eur,
    validate_against,
)

__all__ = ["HeatEditError", "HeatSurfaces", "HeatApplier", "apply_heat_interventions", "HEAT_KINDS", "SEALED_CLASSES"]

HEAT_KINDS = frozenset({"tree", "tree_row", "park", "green_roof", "unseal", "water", "cool_surface"})
SEALED_CLASSES = (SURFACE["asphalt"], SURFACE["paving"], SURFACE["gravel"], SURFACE["cool_surface"], SURFACE["bare_soil"])


class HeatEditError(InterventionError):
    """A heat intervention that cannot be applied (names the intervention and the reason)."""


@dataclass(frozen=True)
class HeatSurfaces:
    """Edited rasters of a scenario.

    dsm_m : (rows, cols) float32, terrain and buildings, m a.s.l.
    canopy_m : (rows, cols) float32, canopy height above ground, m.
    surface_class : (rows, cols) uint8, ``SURFACE`` codes.
    changed_window : (r0, r1, c0, c1) half-open bbox of cells that differ from the District, or None.
    cost_eur : investment cost of the heat interventions, EUR.
    """

    dsm_m: np.ndarray
    canopy_m: np.ndarray
    surface_class: np.ndarray
    changed_window: tuple[int, int, int, int] | None
    cost_eur: float


def _err(obj: Intervention, de: str, en: str) -> HeatEditError:
    return HeatEditError(f"Maßnahme {obj.id}: {de}", f"intervention {obj.id}: {en}")


def _disk_cells(district: District, x: float, y: float, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    g = district.grid
    r = max(radius_m, g.cell_m / 2.0)
    rr, cc = g.xy_to_rowcol(np.array([x - r, x + r]), np.array([y + r, y - r]))
    r0, r1 = max(int(rr[0]), 0), min(int(rr[1]) + 1, g.rows)
    c0, c1 = max(int(cc[0]), 0), min(int(cc[1]) + 1, g.cols)
    rows, cols = np.mgrid[r0:r1, c0:c1]
    px, py = g.rowcol_to_xy(rows, cols)
    inside = (px - x) ** 2 + (py - y) ** 2 <= r * r
    if not inside.any():  # a crown smaller than a cell: the cell under the trunk
        tr, tc = g.xy_to_rowcol(np.array([x]), np.array([y]))
        return np.clip(tr, 0, g.rows - 1), np.clip(tc, 0, g.cols - 1)
    return rows[inside], cols[inside]


def _polygon_cells(district: District, pts: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    g = district.grid
    poly = Polygon(pts)
    w, s, e, n = poly.bounds
    rr, cc = g.xy_to_rowcol(np.array([w, e]), np.array([n, s]))
    r0, r1 = max(int(rr[0]), 0), min(int(rr[1]) + 1, g.rows)
    c0, c1 = max(int(cc[0]), 0), min(int(cc[1]) + 1, g.cols)
    rows, cols = np.mgrid[r0:r1, c0:c1]
    px, py = g.rowcol_to_xy(rows, cols)
    inside = shapely.contains_xy(poly, px, py)
    return rows[inside], cols[inside]


def _plant(obj: Intervention, district: District, canopy: np.ndarray, x: float, y: float, height_m: float,
           crown_m: float) -> tuple[np.ndarray, np.ndarray]:
    if not (np.isfinite(height_m) and height_m > 0 and np.isfinite(crown_m) and crown_m > 0):
        raise _err(obj, f"Baumhöhe {height_m} m und Kronendurchmesser {crown_m} m müssen positiv sein",
                   f"tree height {height_m} m and crown diameter {crown_m} m must be positive")
    rows, cols = _disk_cells(district, x, y, crown_m / 2.0)
    free = district.building_index[rows, cols] < 0
    if not free.any():
        raise _err(obj, f"Baum bei ({x:.1f}, {y:.1f}) steht auf einem Gebäude",
                   f"tree at ({x:.1f}, {y:.1f}) stands on a building")
    rows, cols = rows[free], cols[free]
    canopy[rows, cols] = np.maximum(canopy[rows, cols], np.float32(height_m))
    return rows, cols


def apply_heat_interventions(district: District, interventions: Sequence[Intervention],
                             *, park_tree_height_m: float = 14.0, park_tree_crown_m: float = 9.0) -> HeatSurfaces:
    """Apply the heat interventions in order to copies of the District's rasters.

    Raises
    ------
    HeatEditError
        for an intervention outside the district, on a missing building, or with a non-positive size.
    """
    state = _Applied.start(district)
    state.extend(district, interventions, park_tree_height_m, park_tree_crown_m)
    return state.surfaces(district)


class HeatApplier:
    """``apply_heat_interventions`` of one District with memory: a list that is the previous one plus
    interventions at its end (the live loop's usual edit) applies only those on top of the previous
    rasters; any other list starts from the District. The rasters returned are shared with the next
    call's starting point: read them, never write into them. An invalid intervention raises
    ``HeatEditError`` and leaves the memory as it was."""

    def __init__(self, district: District, *, park_tree_height_m: float = 14.0, park_tree_crown_m: float = 9.0):
        self.district = district
        self.park = (float(park_tree_height_m), float(park_tree_crown_m))
        self._last: tuple[tuple[Intervention, ...], _Applied] | None = None

    def __call__(self, interventions: Sequence[Intervention]) -> HeatSurfaces:
        heat = tuple(o for o in interventions if o.__struct_config__.tag in HEAT_KINDS)  # type: ignore[attr-defined]
        last = self._last
        if last is not None and heat == last[0]:
            return last[1].surfaces(self.district)
        if last is not None and len(heat) > len(last[0]) and heat[:len(last[0])] == last[0]:
            state, rest = last[1].copy(), heat[len(last[0]):]
        else:
            state, rest = _Applied.start(self.district), heat
        state.extend(self.district, rest, *self.park)
        self._last = (heat, state)
        return state.surfaces(self.district)


@dataclass
class _Applied:
    """Rasters with interventions applied, the cells each one touched and their cost so far."""

    dsm: np.ndarray
    canopy: np.ndarray
    surface: np.ndarray
    touched_r: list[np.ndarray]
    touched_c: list[np.ndarray]
    cost: float

    @classmethod
    def start(cls, district: District) -> _Applied:
        return cls(district.dsm_m.copy(), district.canopy_m.copy(), district.surface_class.copy(), [], [], 0.0)

    def copy(self) -> _Applied:
        return _Applied(self.dsm.copy(), self.canopy.copy(), self.surface.copy(), list(self.touched_r),
                        list(self.touched_c), self.cost)

    def extend(self, district: District, interventions: Sequence[Intervention], park_tree_height_m: float,
               park_tree_crown_m: float) -> None:
        """Apply ``interventions`` in order on top of what is applied already."""
        canopy, surface = self.canopy, self.surface
        ground = district.building_index < 0
        for obj in interventions:
            if obj.__struct_config__.tag not in HEAT_KINDS:  # type: ignore[attr-defined]
                continue
            try:
                validate_against(obj, district)
            except InterventionError as exc:
                raise HeatEditError(f"Maßnahme {obj.id}: {exc.de}", f"intervention {obj.id}: {exc.en}") from None
            if isinstance(obj, Tree):
                x, y = obj.xy_local_m
                rows, cols = _plant(obj, district, canopy, x, y, obj.height_m, obj.crown_diameter_m)
            elif isinstance(obj, TreeRow):
                line = LineString(obj.line_local_m)
                n = int(line.length // obj.spacing_m) + 1
                points = [line.interpolate(i * obj.spacing_m) for i in range(n)]
                parts = [_plant(obj, district, canopy, pt.x, pt.y, obj.height_m, obj.crown_diameter_m) for pt in points]
                rows = np.concatenate([p[0] for p in parts])
                cols = np.concatenate([p[1] for p in parts])
            elif isinstance(obj, GreenRoof):
                b = district.buildings.index_of(obj.building_id)
                rows, cols = np.nonzero(district.building_index == b)
                surface[rows, cols] = SURFACE["green_roof"]
            else:
                rows, cols = _polygon_cells(district, obj.polygon_local_m)  # type: ignore[union-attr]
                if rows.size == 0:
                    raise _err(obj, "Die Fläche trifft keine Rasterzelle", "the area covers no raster cell")
                g = ground[rows, cols]
                if isinstance(obj, Park):
                    rows, cols = rows[g], cols[g]
                    surface[rows, cols] = SURFACE["grass"]
                    if obj.tree_cover > 0:
                        crown_area = np.pi * park_tree_crown_m**2 / 4.0
                        spacing = float(np.sqrt(crown_area / obj.tree_cover))
                        poly = Polygon(obj.polygon_local_m)
                        w, s, e, n = poly.bounds
                        xs, ys = np.meshgrid(np.arange(w + spacing / 2, e, spacing), np.arange(s + spacing / 2, n, spacing))
                        keep = shapely.contains_xy(poly, xs, ys)
                        for x, y in zip(xs[keep], ys[keep]):
                            tr, tc = _disk_cells(district, float(x), float(y), park_tree_crown_m / 2.0)
                            ok = ground[tr, tc]
                            canopy[tr[ok], tc[ok]] = np.maximum(canopy[tr[ok], tc[ok]], np.float32(park_tree_height_m))
                            rows, cols = np.concatenate([rows, tr[ok]]), np.concatenate([cols, tc[ok]])
                elif isinstance(obj, Unseal):
                    sealed = np.isin(surface[rows, cols], SEALED_CLASSES) & g
                    rows, cols = rows[sealed], cols[sealed]
                    surface[rows, cols] = SURFACE["grass"]
                elif isinstance(obj, WaterSurface):
                    rows, cols = rows[g], cols[g]
                    surface[rows, cols] = SURFACE["water"]
                    canopy[rows, cols] = 0.0
                elif isinstance(obj, CoolSurface):
                    paved = np.isin(surface[rows, cols], (SURFACE["asphalt"], SURFACE["paving"], SURFACE["roof"]))
                    rows, cols = rows[paved], cols[paved]
                    surface[rows, cols] = SURFACE["cool_surface"]
            self.touched_r.append(rows)
            self.touched_c.append(cols)
            self.cost += intervention_cost_eur(obj, district)

    def surfaces(self, district: District) -> HeatSurfaces:
        """The rasters as they stand, the window of cells that differ from the District, the cost."""
        dsm, canopy, surface = self.dsm, self.canopy, self.surface
        touched_r, touched_c = self.touched_r, self.touched_c
        window = None
        if touched_r:
            r = np.concatenate(touched_r)
            c = np.concatenate(touched_c)
            if r.size:
                changed = ((canopy[r, c] != district.canopy_m[r, c]) | (surface[r, c] != district.surface_class[r, c])
                           | (dsm[r, c] != district.dsm_m[r, c]))
                if changed.any():
                    r, c = r[changed], c[changed]
                    window = (int(r.min()), int(r.max()) + 1, int(c.min()), int(c.max()) + 1)
        return HeatSurfaces(dsm, canopy, surface, window, float(self.cost))
