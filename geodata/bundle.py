"""District bundles: a folder that holds one District, written atomically and read back exactly.

Layout of ``<data-dir>/districts/<NAME>/``::

    manifest.json   name, format version, sources (sha256, licence), frame, grid, summary, content hash,
                    file checksums, meta
    terrain.tif     float32 m a.s.l.      dsm.tif      float32 m a.s.l.
    canopy.tif      float32 m above ground  surface.tif uint8 surface class (see SURFACE)
                    (GeoTIFFs in the frame's ETRS89/UTM CRS, geotransform ``GridSpec.affine_utm``)
    arrays.npz      building_index, the building table (footprints as WKB), roads (geometry as
                    concatenated vertices + offsets), trees, stops, pois, land cover (WKB), water
                    lines, railways, and numpy arrays of ``meta``; strings as unicode arrays, no pickles
    tiles/          GLB scene tiles and tileset.json (``geodata.scene.export_tiles``), when available

The folder is written under a temporary name beside its final place and renamed when complete, so a
failed write leaves nothing behind and readers never see half a bundle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely

from geodata.crs import LocalFrame
from geodata.district import Buildings, District, GridSpec, LandCover, Pois, Roads, SourceInfo, Stops, Trees
from geodata.files import atomic_dir, district_geo, write_geotiff
from geodata.names import NAME_PATTERN, is_district_name
from geodata.sources import DataError, sha256_of

__all__ = ["FORMAT_VERSION", "NAME_PATTERN", "bundle_dir", "load_district", "write_bundle", "load_bundle",
           "read_manifest", "bundle_is_current"]

FORMAT_VERSION = 1


def bundle_dir(data_dir: str | Path, name: str) -> Path:
    """``<data_dir>/districts/<name>``; DataError for names that are not plain folder names."""
    if not is_district_name(name):
        raise DataError(None, f"ungültiger Name {name!r} (erlaubt: Buchstaben, Ziffern, _ . -)",
                        f"invalid name {name!r} (allowed: letters, digits, _ . -)")
    return Path(data_dir) / "districts" / name


def _side_km(path: Path) -> float | None:
    try:
        g = read_manifest(path)["grid"]
        return round(float(g["rows"]) * float(g["cell_m"]) / 1000.0, 6)
    except (DataError, KeyError, TypeError, ValueError):
        return None


def load_district(data_dir: str | Path, name: str, *, sample_size_km: float = 2.0) -> District:
    """The district ``name``: its bundle in ``<data_dir>/districts/`` when there is one; for ``sample``
    the bundle only when it has the size asked for, otherwise the sample district of ``sample_size_km``
    is built (2 m cells, seed 0).

    Raises DataError (bad name, missing or unreadable bundle) or ``geodata.sample.SampleError`` (bad size).
    """
    path = bundle_dir(data_dir, name)
    if path.is_dir() and (name != "sample" or _side_km(path) == round(float(sample_size_km), 6)):
        return load_bundle(path)
    if name == "sample":
        from geodata.sample import build_sample_district

        return build_sample_district(size_km=sample_size_km, seed=0, cell_m=2.0)
    raise DataError(None, f"Gebiet {name!r} nicht gefunden in {path.parent}", f"district {name!r} not found")
_RASTERS = {"terrain.tif": "terrain_m", "dsm.tif": "dsm_m", "canopy.tif": "canopy_m", "surface.tif": "surface_class"}


def _strings(values: Any) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=str) if len(values) else np.zeros(0, dtype="U1")


def _objects(arr: np.ndarray) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    out[...] = arr.astype(str).tolist() if arr.size else []
    return out


def _pack_lines(lines: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(g) for g in lines])
    xy = np.concatenate([np.asarray(g, np.float64).reshape(-1, 2) for g in lines]) if lines else np.zeros((0, 2))
    return xy, offsets


def _unpack_lines(xy: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(xy[offsets[i]:offsets[i + 1]].copy() for i in range(len(offsets) - 1))


def _pack_wkb(polys: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    blobs = [shapely.to_wkb(p) for p in polys]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    return np.frombuffer(b"".join(blobs), dtype=np.uint8).copy(), offsets


def _unpack_wkb(data: np.ndarray, offsets: np.ndarray) -> tuple[Any, ...]:
    raw = data.tobytes()
    return tuple(shapely.from_wkb(raw[offsets[i]:offsets[i + 1]]) for i in range(len(offsets) - 1))


def _arrays(d: District) -> dict[str, np.ndarray]:
    b, r, lc = d.buildings, d.roads, d.landcover
    fp, fp_off = _pack_wkb(b.footprints)
    rg, rg_off = _pack_lines(r.geometry)
    lp, lp_off = _pack_wkb(lc.polygons)
    wl, wl_off = _pack_lines(d.water_lines)
    rl, rl_off = _pack_lines(d.railways)
    out = {
        "building_index": d.building_index,
        "b_id": b.building_id, "b_fp_wkb": fp, "b_fp_off": fp_off, "b_base_m": b.base_m, "b_height_m": b.height_m,
        "b_eave_height_m": b.eave_height_m, "b_roof_shape": _strings(b.roof_shape), "b_use": _strings(b.use),
        "b_storeys": b.storeys, "b_dwellings": b.dwellings, "b_residents": b.residents,
        "b_residents_by_age": b.residents_by_age, "b_source_id": _strings(b.source_id),
        "b_height_source": _strings(b.height_source),
        "r_node_xy": r.node_xy_local_m, "r_node_source_id": r.node_source_id, "r_from": r.edge_from,
        "r_to": r.edge_to, "r_length_m": r.length_m, "r_class": _strings(r.road_class), "r_lanes": r.lanes,
        "r_maxspeed_kmh": r.maxspeed_kmh, "r_oneway": r.oneway, "r_name": _strings(r.name),
        "r_source_id": _strings(r.source_id), "r_geom_xy": rg, "r_geom_off": rg_off,
        "t_xy": d.trees.xy_local_m, "t_height_m": d.trees.height_m, "t_crown_m": d.trees.crown_diameter_m,
        "t_species": _strings(d.trees.species), "t_source_id": _strings(d.trees.source_id),
        "s_xy": d.stops.xy_local_m, "s_name": _strings(d.stops.name), "s_mode": _strings(d.stops.mode),
        "s_source_id": _strings(d.stops.source_id),
        "p_xy": d.pois.xy_local_m, "p_category": _strings(d.pois.category), "p_name": _strings(d.pois.name),
        "p_source_id": _strings(d.pois.source_id),
        "lc_wkb": lp, "lc_off": lp_off, "lc_code": lc.surface_code, "lc_kind": _strings(lc.kind),
        "w_xy": wl, "w_off": wl_off, "w_width_m": np.asarray(d.water_line_width_m, np.float64),
        "rail_xy": rl, "rail_off": rl_off,
    }
    for k, v in d.meta.items():
        if isinstance(v, np.ndarray):
            out[f"meta__{k}"] = _strings(v) if v.dtype == object else v
    return out


def _write_raster(path: Path, arr: np.ndarray, d: District) -> None:
    # float rasters: NaN marks no data (none is written); the surface classes: 255 is no class
    write_geotiff(path, arr, dtype=arr.dtype.name, nodata=None if arr.dtype.kind == "f" else 255, **district_geo(d))


def _export_tiles(d: District, folder: Path) -> dict | None:
    from geodata.scene import export_tiles

    return export_tiles(d, folder / "tiles")


def write_bundle(district: District, root: str | Path, *, sources: Sequence[SourceInfo] | None = None,
                 content_hash: str = "", tiles: bool = True) -> Path:
    """Write ``district`` to the bundle folder ``root`` (replacing an older bundle there) and return it.

    The bundle is assembled in a temporary folder beside ``root`` and renamed into place at the end;
    on any error the temporary folder is removed and ``root`` is left as it was.
    """
    root = Path(root)

    def write(tmp: Path) -> None:
        for fname, attr in _RASTERS.items():
            _write_raster(tmp / fname, np.asarray(getattr(district, attr)), district)
        np.savez_compressed(tmp / "arrays.npz", **_arrays(district))
        tileset = _export_tiles(district, tmp) if tiles else None
        srcs = list(sources if sources is not None else district.sources)
        files = {p.relative_to(tmp).as_posix(): sha256_of(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {
            "format": "landtwin-district",
            "format_version": FORMAT_VERSION,
            "name": district.name,
            "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "content_hash": content_hash,
            "sources": [{"path": s.path, "sha256": s.sha256, "kind": s.kind, "licence": s.licence} for s in srcs],
            "frame": {"epsg": district.frame.epsg, "origin_e_m": district.frame.origin_e_m,
                      "origin_n_m": district.frame.origin_n_m},
            "grid": {"cell_m": district.grid.cell_m, "rows": district.grid.rows, "cols": district.grid.cols,
                     "west_m": district.grid.west_m, "south_m": district.grid.south_m},
            "summary": district.summary(),
            "tiles": tileset if isinstance(tileset, dict) else None,
            "meta": {k: v for k, v in district.meta.items() if not isinstance(v, np.ndarray)},
            "files": files,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False, default=str) + "\n",
                                           encoding="utf-8")

    atomic_dir(root, write)
    return root


def read_manifest(path: str | Path) -> dict:
    """The manifest of a bundle folder; DataError when it is missing or unreadable."""
    p = Path(path) / "manifest.json"
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(p, "Bündel fehlt oder ist unlesbar", "bundle is missing or unreadable") from exc
    if m.get("format") != "landtwin-district":
        raise DataError(p, "kein landtwin-Bündel", "not a landtwin bundle")
    return m


def bundle_is_current(path: str | Path, content_hash: str) -> bool:
    """The bundle exists, has this content hash and format version, and its files are intact."""
    try:
        m = read_manifest(path)
    except DataError:
        return False
    if m.get("content_hash") != content_hash or m.get("format_version") != FORMAT_VERSION:
        return False
    return all((Path(path) / f).is_file() for f in m.get("files", {}))


def load_bundle(path: str | Path, *, verify: bool = False) -> District:
    """Read a bundle folder back into the District it was written from.

    verify : also check every file's sha256 against the manifest (DataError on a mismatch).
    """
    root = Path(path)
    m = read_manifest(root)
    if m.get("format_version") != FORMAT_VERSION:
        raise DataError(root, f"Bündelformat {m.get('format_version')} wird nicht unterstützt",
                        f"bundle format {m.get('format_version')} is not supported")
    if verify:
        for f, h in m["files"].items():
            if sha256_of(root / f) != h:
                raise DataError(root / f, "Prüfsumme stimmt nicht (verändert oder beschädigt)", "checksum mismatch")
    frame = LocalFrame(int(m["frame"]["epsg"]), float(m["frame"]["origin_e_m"]), float(m["frame"]["origin_n_m"]))
    g = m["grid"]
    grid = GridSpec(float(g["cell_m"]), int(g["rows"]), int(g["cols"]), float(g["west_m"]), float(g["south_m"]))
    rasters = {}
    for fname, attr in _RASTERS.items():
        with rasterio.open(root / fname) as src:
            rasters[attr] = src.read(1)
    with np.load(root / "arrays.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    buildings = Buildings(
        a["b_id"], _unpack_wkb(a["b_fp_wkb"], a["b_fp_off"]), a["b_base_m"], a["b_height_m"], a["b_eave_height_m"],
        _objects(a["b_roof_shape"]), _objects(a["b_use"]), a["b_storeys"], a["b_dwellings"], a["b_residents"],
        a["b_residents_by_age"], _objects(a["b_source_id"]), _objects(a["b_height_source"]),
    )
    roads = Roads(
        a["r_node_xy"], a["r_node_source_id"], a["r_from"], a["r_to"], a["r_length_m"], _objects(a["r_class"]),
        a["r_lanes"], a["r_maxspeed_kmh"], a["r_oneway"], _objects(a["r_name"]), _objects(a["r_source_id"]),
        _unpack_lines(a["r_geom_xy"], a["r_geom_off"]),
    )
    meta = dict(m.get("meta") or {})
    for k, v in a.items():
        if k.startswith("meta__"):
            meta[k[6:]] = _objects(v) if v.dtype.kind == "U" else v
    return District(
        name=m["name"], frame=frame, grid=grid, terrain_m=rasters["terrain_m"], dsm_m=rasters["dsm_m"],
        canopy_m=rasters["canopy_m"], surface_class=rasters["surface_class"], building_index=a["building_index"],
        buildings=buildings, roads=roads,
        trees=Trees(a["t_xy"], a["t_height_m"], a["t_crown_m"], _objects(a["t_species"]), _objects(a["t_source_id"])),
        stops=Stops(a["s_xy"], _objects(a["s_name"]), _objects(a["s_mode"]), _objects(a["s_source_id"])),
        pois=Pois(a["p_xy"], _objects(a["p_category"]), _objects(a["p_name"]), _objects(a["p_source_id"])),
        landcover=LandCover(_unpack_wkb(a["lc_wkb"], a["lc_off"]), a["lc_code"], _objects(a["lc_kind"])),
        water_lines=_unpack_lines(a["w_xy"], a["w_off"]),
        water_line_width_m=tuple(float(w) for w in a["w_width_m"]),
        railways=_unpack_lines(a["rail_xy"], a["rail_off"]),
        sources=tuple(SourceInfo(s["path"], s["sha256"], s["kind"], s["licence"]) for s in m.get("sources", [])),
        meta=meta,
    )


def content_key(parts: dict[str, Any]) -> str:
    """sha256 over a JSON description of the inputs (their sha256), options and the format version."""
    doc = json.dumps({"format_version": FORMAT_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


__all__ += ["content_key"]
