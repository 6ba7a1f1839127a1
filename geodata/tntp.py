"""Reader for the TNTP formats of the transportation test networks (network, trips, flows, nodes).

The TNTP format is tab- or space-separated text: a metadata header of ``<KEY> value`` lines ending at
``<END OF METADATA>``, ``~`` comment lines, and ``;``-terminated records. Node numbers in the files are
1-based; everything returned here is 0-based (node ``k`` in the file is index ``k - 1``).

Units follow the file: free-flow times and link costs are usually minutes, capacities and flows
vehicles per hour, lengths in the file's length unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TntpError", "TntpNetwork", "read_net", "read_trips", "read_flows", "read_nodes"]


class TntpError(ValueError):
    """A malformed TNTP file; the message names the file, the line and the problem (German / English)."""


@dataclass(frozen=True)
class TntpNetwork:
    """A TNTP network, L links over N nodes, the first Z nodes being zones.

    ``first_thru_node`` is 0-based: nodes with an index below it are zones that paths may start or end
    at but never pass through.
    """

    n_nodes: int
    n_zones: int
    first_thru_node: int
    link_from: np.ndarray  # (L,) int32, 0-based
    link_to: np.ndarray  # (L,) int32, 0-based
    capacity_veh_h: np.ndarray  # (L,) float64
    length: np.ndarray  # (L,) float64, in the file's length unit
    free_flow_time_min: np.ndarray  # (L,) float64
    bpr_alpha: np.ndarray  # (L,) float64, the TNTP "b"
    bpr_beta: np.ndarray  # (L,) float64, the TNTP "power"

    def __len__(self) -> int:
        return int(self.link_from.shape[0])


_META = re.compile(r"^\s*<([^>]+)>\s*(.*)$")


def _read_text(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise TntpError(f"Datei nicht gefunden: {p} / file not found: {p}")
    try:
        return p.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise TntpError(f"{p}: keine Textdatei ({exc}) / not a text file") from None


def _split_header(text: str, path: str | Path) -> tuple[dict[str, str], list[tuple[int, str]]]:
    meta: dict[str, str] = {}
    lines = text.splitlines()
    body_start = None
    for i, line in enumerate(lines):
        m = _META.match(line)
        if m:
            key = m.group(1).strip().upper()
            if key == "END OF METADATA":
                body_start = i + 1
                break
            meta[key] = m.group(2).strip()
    if body_start is None:
        raise TntpError(f"{path}: <END OF METADATA> fehlt / missing <END OF METADATA>")
    body = [(i + 1, ln) for i, ln in enumerate(lines) if i >= body_start]
    return meta, body


def _meta_int(meta: dict[str, str], key: str, path: str | Path) -> int:
    if key not in meta:
        raise TntpError(f"{path}: Kopfzeile <{key}> fehlt / header <{key}> missing")
    try:
        return int(float(meta[key].split()[0]))
    except (ValueError, IndexError):
        raise TntpError(f"{path}: <{key}> ist keine Zahl: {meta[key]!r} / <{key}> is not a number") from None


def read_net(path: str | Path) -> TntpNetwork:
    """Read a ``*_net.tntp`` file.

    Columns: init node, term node, capacity, length, free flow time, b, power[, speed, toll, type].
    Raises ``TntpError`` on a malformed file, a node outside 1..N, a non-positive capacity or a negative
    free-flow time.
    """
    text = _read_text(path)
    meta, body = _split_header(text, path)
    n_nodes = _meta_int(meta, "NUMBER OF NODES", path)
    n_zones = _meta_int(meta, "NUMBER OF ZONES", path)
    first_thru = _meta_int(meta, "FIRST THRU NODE", path) if "FIRST THRU NODE" in meta else 1
    n_links = _meta_int(meta, "NUMBER OF LINKS", path)
    rows: list[list[float]] = []
    for lineno, line in body:
        s = line.strip()
        if not s or s.startswith("~"):
            continue
        s = s.rstrip(";").strip()
        parts = s.split()
        if len(parts) < 7:
            raise TntpError(
                f"{path}:{lineno}: weniger als 7 Spalten / fewer than 7 columns: {line.strip()!r}"
            )
        try:
            rows.append([float(v) for v in parts[:7]])
        except ValueError:
            raise TntpError(f"{path}:{lineno}: keine Zahl in {line.strip()!r} / not a number") from None
    if len(rows) != n_links:
        raise TntpError(
            f"{path}: {len(rows)} Kanten statt {n_links} laut Kopf / {len(rows)} links, header says {n_links}"
        )
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    a = arr[:, 0].astype(np.int64)
    b = arr[:, 1].astype(np.int64)
    bad = (a < 1) | (a > n_nodes) | (b < 1) | (b > n_nodes)
    if bad.any():
        k = int(np.argmax(bad))
        raise TntpError(
            f"{path}: Kante {k + 1} verweist auf Knoten außerhalb 1..{n_nodes} / link {k + 1} refers to a node outside 1..{n_nodes}"
        )
    cap, fft = arr[:, 2], arr[:, 4]
    if not np.isfinite(arr).all():
        raise TntpError(f"{path}: ungültige Zahl (NaN/Inf) / non-finite value")
    if (cap <= 0).any():
        k = int(np.argmax(cap <= 0))
        raise TntpError(f"{path}: Kante {k + 1} hat Kapazität {cap[k]} <= 0 / link {k + 1} has capacity <= 0")
    if (fft < 0).any() or (arr[:, 5] < 0).any() or (arr[:, 6] < 0).any():
        raise TntpError(
            f"{path}: negative Fahrzeit oder BPR-Parameter / negative free-flow time or BPR parameter"
        )
    if not (1 <= n_zones <= n_nodes) or not (1 <= first_thru <= n_nodes + 1):
        raise TntpError(f"{path}: Zonen/FIRST THRU NODE unplausibel / implausible zones or first thru node")
    return TntpNetwork(
        n_nodes=n_nodes,
        n_zones=n_zones,
        first_thru_node=first_thru - 1,
        link_from=(a - 1).astype(np.int32),
        link_to=(b - 1).astype(np.int32),
        capacity_veh_h=cap.copy(),
        length=arr[:, 3].copy(),
        free_flow_time_min=fft.copy(),
        bpr_alpha=arr[:, 5].copy(),
        bpr_beta=arr[:, 6].copy(),
    )


_ENTRY = re.compile(r"(\d+)\s*:\s*([-+0-9.eE]+)")


def read_trips(path: str | Path, n_zones: int | None = None) -> np.ndarray:
    """Read a ``*_trips.tntp`` OD matrix: (Z, Z) float64 trips, origin rows, destination columns.

    ``n_zones`` checks the header's zone count against the network's.
    """
    text = _read_text(path)
    meta, body = _split_header(text, path)
    z = _meta_int(meta, "NUMBER OF ZONES", path)
    if n_zones is not None and z != n_zones:
        raise TntpError(f"{path}: {z} Zonen, das Netz hat {n_zones} / {z} zones, the network has {n_zones}")
    od = np.zeros((z, z), dtype=np.float64)
    origin = -1
    for lineno, line in body:
        s = line.strip()
        if not s or s.startswith("~"):
            continue
        if s.lower().startswith("origin"):
            try:
                origin = int(s.split()[1]) - 1
            except (IndexError, ValueError):
                raise TntpError(f"{path}:{lineno}: ungültige Origin-Zeile / bad Origin line") from None
            if not 0 <= origin < z:
                raise TntpError(f"{path}:{lineno}: Zone {origin + 1} außerhalb 1..{z} / zone outside 1..{z}")
            continue
        if origin < 0:
            raise TntpError(
                f"{path}:{lineno}: Werte vor der ersten Origin-Zeile / values before the first Origin"
            )
        for dest_s, val_s in _ENTRY.findall(s):
            d = int(dest_s) - 1
            if not 0 <= d < z:
                raise TntpError(f"{path}:{lineno}: Zone {d + 1} außerhalb 1..{z} / zone outside 1..{z}")
            try:
                v = float(val_s)
            except ValueError:
                raise TntpError(f"{path}:{lineno}: keine Zahl {val_s!r} / not a number") from None
            if not np.isfinite(v) or v < 0:
                raise TntpError(f"{path}:{lineno}: ungültige Fahrtenzahl {v} / invalid trip count")
            od[origin, d] += v
    total = meta.get("TOTAL OD FLOW")
    if total is not None:
        try:
            expected = float(total)
        except ValueError:
            expected = None
        if expected is not None and abs(od.sum() - expected) > 1e-6 * max(1.0, expected) + 1e-3:
            raise TntpError(
                f"{path}: Summe {od.sum():.1f} != <TOTAL OD FLOW> {expected} / sum differs from the header"
            )
    return od


def read_flows(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read a reference ``*_flow.tntp``: (from, to) 0-based int32, volume and cost float64, each (L,)."""
    text = _read_text(path)
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.replace(";", " ").split()
        if len(parts) < 4:
            continue
        try:
            rows.append([float(v) for v in parts[:4]])
        except ValueError:
            if not rows:  # the column header
                continue
            raise TntpError(f"{path}:{lineno}: keine Zahl in {line.strip()!r} / not a number") from None
    if not rows:
        raise TntpError(f"{path}: keine Flüsse gefunden / no flows found")
    arr = np.asarray(rows)
    return (
        arr[:, 0].astype(np.int32) - 1,
        arr[:, 1].astype(np.int32) - 1,
        arr[:, 2].copy(),
        arr[:, 3].copy(),
    )


def read_nodes(path: str | Path) -> np.ndarray:
    """Read a ``*_node.tntp`` coordinate table: (N, 2) float64 x, y in the file's units, by 0-based node."""
    text = _read_text(path)
    rows: dict[int, tuple[float, float]] = {}
    for line in text.splitlines():
        parts = line.replace(";", " ").split()
        if len(parts) < 3:
            continue
        try:
            rows[int(parts[0])] = (float(parts[1]), float(parts[2]))
        except ValueError:
            continue
    if not rows:
        raise TntpError(f"{path}: keine Knoten gefunden / no nodes found")
    n = max(rows)
    out = np.full((n, 2), np.nan)
    for k, xy in rows.items():
        if k >= 1:
            out[k - 1] = xy
    return out
