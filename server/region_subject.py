"""The region as a scenario subject: a scenario whose ``district`` is ``region:<name>`` edits the region
(``<data>/regions/<name>/``, built by ``twin region build``) instead of a town.

Such a scenario goes through the same scenario system as a town's (fork, compare, undo and redo,
comments, roles); only its edits and results differ: the edits are the region's (``new_stop``,
``on_demand_zone``), checked by :func:`models.region.scenario.validate_region_intervention`, and the
results are the region's access key figures (:func:`models.region.scenario.region_kpis`), computed in
this process by the access model (about a second for the Kreis, no simulation worker, no Taichi) and
kept per scenario version. The town-only views of a scenario (fields, links, the live websocket) answer
404 for a region scenario.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geodata.interventions import Intervention
from geodata.sources import DataError
from models.region import Region, load_region, region_dir
from models.region.access import RegionAccess, region_access
from models.region.scenario import evaluate, region_kpis, validate_region_intervention
from server.districts import DistrictMissing
from server.engines import EngineOutput
from server.service import SHOWN_HOUR, ResultSet

__all__ = ["REGION_PREFIX", "RESULT_NAME", "is_region_subject", "subject_name", "region_of", "RegionMissing",
           "LoadedRegion", "RegionCatalog"]

REGION_PREFIX = "region:"
RESULT_NAME = "region"  # the key of the region's figures in a scenario's KPI table


def is_region_subject(name: Any) -> bool:
    """True for a scenario subject ``region:<name>``."""
    return isinstance(name, str) and name.startswith(REGION_PREFIX)


def subject_name(region: str) -> str:
    return REGION_PREFIX + region


def region_of(subject: str) -> str:
    return subject[len(REGION_PREFIX):] if is_region_subject(subject) else subject


class RegionMissing(DistrictMissing):
    """No region of that name, or a damaged bundle (404, German and English)."""

    def __init__(self, name: str, de: str | None = None, en: str | None = None) -> None:
        super().__init__(name)
        self.de = de or f"Region {name!r} gibt es nicht (twin region build {name})"
        self.en = en or f"Region {name!r} does not exist (twin region build {name})"


class _Outline:
    """``inside(xs, ys)`` in the region's local frame: within the Kreis (what a comment's point is checked by)."""

    def __init__(self, region: Region) -> None:
        self._outline = region.kreis_outline
        self._origin = region.local_origin_m

    def inside(self, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
        ox, oy = self._origin
        x = np.asarray(xs, float) + ox
        y = np.asarray(ys, float) + oy
        return np.asarray(shapely.contains_xy(self._outline, x, y), bool)


class LoadedRegion:
    """A loaded region with its base access and encoded API responses, valid while the bundle is unchanged."""

    def __init__(self, name: str, region: Region, stamp: int) -> None:
        self.name = name
        self.region = region
        self.stamp = stamp
        self.access: RegionAccess = region_access(region)
        self.bodies: dict[Any, bytes] = {}
        self.lock = threading.Lock()
        self.grid = _Outline(region)

    @property
    def subject(self) -> str:
        return subject_name(self.name)

    def validate(self, obj: Intervention) -> None:
        """InterventionError (German / English) unless ``obj`` is a region edit inside the Kreis."""
        validate_region_intervention(obj, self.region)


class RegionCatalog:
    """Name -> loaded region (reloaded when its bundle's manifest changes), and the key figures of region
    scenarios per version (thread-safe)."""

    def __init__(self, data_dir: Path, *, results_kept: int = 64) -> None:
        self.data = Path(data_dir)
        self._loaded: dict[str, LoadedRegion] = {}
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple[str, int, int], ResultSet] = OrderedDict()
        self._results_lock = threading.Lock()
        self._results_kept = results_kept

    def get(self, name: str) -> LoadedRegion:
        """The region ``name`` (plain name, or a subject ``region:<name>``); RegionMissing when absent or damaged."""
        name = region_of(name)
        try:
            folder = region_dir(self.data, name)
        except DataError:
            raise RegionMissing(name) from None
        manifest = folder / "manifest.json"
        if not manifest.is_file():
            raise RegionMissing(name)
        stamp = manifest.stat().st_mtime_ns
        key = str(folder.resolve())
        with self._lock:
            hit = self._loaded.get(key)
            if hit is not None and hit.stamp == stamp:
                return hit
            try:
                loaded = LoadedRegion(name, load_region(name, self.data), stamp)
            except DataError as exc:
                raise RegionMissing(name, f"Region {name!r} ist beschädigt: {exc.de}",
                                    f"Region {name!r} is damaged: {exc.en}") from None
            self._loaded[key] = loaded
            return loaded

    def results(self, scenario_id: str, version: int, subject: str,
                interventions: Sequence[Intervention]) -> ResultSet:
        """The region scenario's key figures at ``version`` (published counts) as a result set with one
        output, :data:`RESULT_NAME`; computed once per version and kept."""
        loaded = self.get(subject)
        key = (scenario_id, int(version), loaded.stamp)
        with self._results_lock:  # one evaluation at a time: a burst of requests computes a version once
            hit = self._results.get(key)
            if hit is not None:
                self._results.move_to_end(key)
                return hit
            access = evaluate(loaded.region, list(interventions)) if interventions else loaded.access
            res = ResultSet(scenario_id, int(version), (SHOWN_HOUR,),
                            outputs={RESULT_NAME: EngineOutput(kpis=region_kpis(access), computed_version=int(version))})
            self._results[key] = res
            while len(self._results) > self._results_kept:
                self._results.popitem(last=False)
            return res

    def drop(self, scenario_id: str) -> None:
        with self._results_lock:
            for key in [k for k in self._results if k[0] == scenario_id]:
                del self._results[key]
