"""Settlements: clusters of inhabited 100 m cells, named after their place.

Cells are clustered on the 100 m grid: two cells belong to one settlement when they touch or lie at most
one empty cell apart (8-neighbourhood after one step of dilation), so a village with a gap of one field
stays one place. Names come from the stops in and near the settlement: DB/HAFAS stop names read
"<place> <stop>, <Gemeinde>" (e.g. "Langendorf Kirchbergstr., Weißenfels"); the place is the first word of
the local part (two words after prefixes such as "Bad", "Groß"), the Gemeinde when the local part is a
single word or a street. The largest settlement of a town (BEZ "Stadt") carries the town's name; other
settlements "<place> (<Gemeinde>)"; settlements without a stop "bei <nearest named place>".
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["cluster_cells", "place_of_stop", "name_settlements"]

_PREFIX = {"Bad", "Groß", "Klein", "Alt", "Neu", "Ober", "Nieder", "Unter", "Hohen", "Sankt", "St.", "Kleinen", "Großen"}
_STREETISH = re.compile(r"(str\.|straße|strasse|weg|platz|ring|allee|gasse|markt|bahnhof|hbf|schule|gymnasium|kirche"
                        r"|friedhof|siedlung|abzweig|ortsmitte|zentrum|mitte|center|industrie|gewerbe)$", re.IGNORECASE)
_STREET_WORD = re.compile(r"^(str\.|straße|weg|platz|ring|allee|gasse|chaussee|damm)$", re.IGNORECASE)


def cluster_cells(x_3035: np.ndarray, y_3035: np.ndarray) -> np.ndarray:
    """(N,) int64 cluster label (0..K-1) of cells given by their lower-left corners in EPSG:3035 metres."""
    x = np.asarray(x_3035, float)
    y = np.asarray(y_3035, float)
    if x.size == 0:
        return np.zeros(0, np.int64)
    i = np.round((x - x.min()) / 100.0).astype(np.int64) + 1
    j = np.round((y - y.min()) / 100.0).astype(np.int64) + 1
    grid = np.zeros((int(j.max()) + 2, int(i.max()) + 2), bool)
    grid[j, i] = True
    joined = ndimage.binary_dilation(grid, structure=np.ones((3, 3), bool))
    lab, _ = ndimage.label(joined, structure=np.ones((3, 3), bool))
    raw = lab[j, i]
    _, dense = np.unique(raw, return_inverse=True)
    return dense.astype(np.int64)


def place_of_stop(stop_name: str) -> tuple[str, str, bool]:
    """(place, gemeinde, place_is_gemeinde) read from a DB/HAFAS stop name."""
    local, _, town = stop_name.rpartition(", ")
    if not local:
        local, town = stop_name, ""
    words = [w for w in re.sub(r"\([^)]*\)", " ", local).split() if w]
    town = re.sub(r"\s+\(.*$", "", town).strip() if town else ""
    if not words:
        return town, town, True
    if len(words) == 1 or _STREETISH.search(words[0]) or (len(words) > 1 and _STREET_WORD.match(words[1])):
        if town:
            return town, town, True
        return words[0], "", False
    place = " ".join(words[:2]) if words[0] in _PREFIX and len(words) > 2 else words[0]
    return place, town, False


def name_settlements(label: np.ndarray, cell_xy: np.ndarray, persons: np.ndarray, ags: np.ndarray,
                     gemeinde_name: dict[str, str], gemeinde_kind: dict[str, str], stop_xy: np.ndarray,
                     stop_names: np.ndarray, *, stop_radius_m: float = 400.0) -> pd.DataFrame:
    """One row per settlement (index = label): ``settlement`` (unique name), ``ags``, ``persons``, ``cells``,
    ``x_m``, ``y_m`` (population-weighted centre).

    label (N,), cell_xy (N, 2) working CRS metres, persons (N,), ags (N,) str; stops (S, 2) and their names.
    """
    k = int(label.max()) + 1 if label.size else 0
    w = np.asarray(persons, float)
    tot = np.bincount(label, weights=w, minlength=k)
    cnt = np.bincount(label, minlength=k)
    wsafe = np.where(tot > 0, tot, 1.0)
    cx = np.where(tot > 0, np.bincount(label, weights=w * cell_xy[:, 0], minlength=k) / wsafe,
                  np.bincount(label, weights=cell_xy[:, 0], minlength=k) / np.maximum(cnt, 1))
    cy = np.where(tot > 0, np.bincount(label, weights=w * cell_xy[:, 1], minlength=k) / wsafe,
                  np.bincount(label, weights=cell_xy[:, 1], minlength=k) / np.maximum(cnt, 1))
    # the settlement's Gemeinde: the one holding most of its persons
    main_ags = np.empty(k, dtype=object)
    df = pd.DataFrame({"l": label, "a": ags, "w": w + 1e-9})
    best = df.groupby(["l", "a"])["w"].sum().reset_index().sort_values("w").drop_duplicates("l", keep="last")
    main_ags[best["l"].to_numpy()] = best["a"].to_numpy()
    votes: list[Counter] = [Counter() for _ in range(k)]
    if len(stop_names) and label.size:
        d, idx = cKDTree(cell_xy).query(np.asarray(stop_xy, float).reshape(-1, 2), distance_upper_bound=stop_radius_m)
        for s, (dd, ii) in enumerate(zip(d, idx)):
            if np.isfinite(dd):
                place, _town, is_town = place_of_stop(str(stop_names[s]))
                if place:
                    votes[label[ii]][(place, is_town)] += 1
    # the largest settlement of each town
    core: dict[str, int] = {}
    for lab in np.argsort(-tot):
        a = main_ags[lab]
        if a not in core and gemeinde_kind.get(a, "") == "Stadt":
            core[a] = int(lab)
    names: list[str | None] = [None] * k
    for lab in range(k):
        a = main_ags[lab]
        gname = gemeinde_name.get(a, a)
        if core.get(a) == lab:
            names[lab] = gname
            continue
        v = votes[lab]
        own = [(n, c) for (n, t), c in v.items() if not t]
        if own:
            place = max(own, key=lambda nc: (nc[1], nc[0]))[0]
        elif v:
            place = max(v.items(), key=lambda it: (it[1], it[0][0]))[0][0]
        else:
            continue
        names[lab] = place if place == gname or gname.startswith(place + " ") else f"{place} ({gname})"
    named = np.array([n is not None for n in names])
    if named.any() and not named.all():
        ni = np.nonzero(named)[0]
        _, j = cKDTree(np.column_stack([cx[ni], cy[ni]])).query(np.column_stack([cx[~named], cy[~named]]))
        for lab, jj in zip(np.nonzero(~named)[0], np.atleast_1d(j)):
            names[lab] = f"bei {names[ni[jj]]}"
    for lab in range(k):
        if names[lab] is None:
            names[lab] = f"Ortslage {gemeinde_name.get(main_ags[lab], main_ags[lab])}"
    # unique names, the largest keeps the plain name
    seen: Counter = Counter()
    final = [""] * k
    for lab in np.argsort(-tot, kind="stable"):
        n = str(names[lab])
        seen[n] += 1
        final[lab] = n if seen[n] == 1 else f"{n} {seen[n]}"
    return pd.DataFrame({"settlement": final, "ags": main_ags.astype(str), "persons": tot, "cells": cnt,
                         "x_m": cx, "y_m": cy})
