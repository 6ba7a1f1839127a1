"""Run UMEP (SOLWEIG) on prepared rasters; executed by ``.peers/umep/bin/python``, never by landtwin's venv.

Usage: umep_runner.py CONFIG.json

CONFIG holds: dsm, dem, cdsm (GeoTIFF paths), bbox [minx, miny, maxx, maxy], epw, day (YYYY-MM-DD),
hours (list of EPW clock hours for SOLWEIG), positions ([[azimuth, altitude], ...] for single shadows),
out (folder). Writes ``out/umep.npz`` (shadows, svf, tmrt per hour) and ``out/umep.json`` (timings).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from umep import skyviewfactor_algorithm, solweig_algorithm, wall_heightaspect_algorithm
from umep.functions import wallalgorithms
from umep.functions.svf_functions import svfForProcessing153
from umep.util.SEBESOLWEIGCommonFiles.shadowingfunction_wallheight_13 import shadowingfunction_wallheight_13


def main(cfg_path: str) -> None:
    cfg = json.loads(Path(cfg_path).read_text())
    out = Path(cfg["out"])
    out.mkdir(parents=True, exist_ok=True)
    with rasterio.open(cfg["dsm"]) as src:
        dsm = src.read(1).astype(np.float32)
        scale = 1.0 / src.transform.a
    timings = {}

    # single shadow masks at the given sun positions (buildings and terrain)
    t0 = time.perf_counter()
    walls = wallalgorithms.findwalls(dsm, 1.0)
    aspect = wallalgorithms.filter1Goodwin_as_aspect_v3(walls, scale, dsm)
    timings["walls"] = time.perf_counter() - t0
    shadows = []
    t0 = time.perf_counter()
    for az, alt in cfg["positions"]:
        shadows.append(shadowingfunction_wallheight_13(dsm, az, alt, scale, walls, aspect)[0].astype(np.float32))
    timings["shadow_each"] = (time.perf_counter() - t0) / max(len(cfg["positions"]), 1)

    # sky view factor of buildings and terrain (153 patches)
    zeros = np.zeros_like(dsm)
    t0 = time.perf_counter()
    svf = svfForProcessing153(dsm, zeros, zeros, scale, 0, float(dsm.max() - dsm.min()))["svf"].astype(np.float32)
    timings["svf"] = time.perf_counter() - t0

    if not cfg.get("solweig", True):
        np.savez_compressed(out / "umep.npz", shadows=np.stack(shadows) if shadows else zeros[None], svf=svf)
        (out / "umep.json").write_text(json.dumps({"timings_s": timings, "tmrt_hours": []}))
        return
    # the SOLWEIG day: walls, sky view factors (with the canopy file), Tmrt for every hour
    t0 = time.perf_counter()
    wall_heightaspect_algorithm.generate_wall_hts(dsm_path=cfg["dsm"], bbox=cfg["bbox"], out_dir=str(out / "walls"))
    skyviewfactor_algorithm.generate_svf(dsm_path=cfg["dsm"], bbox=cfg["bbox"], out_dir=str(out / "svf"),
                                         dem_path=cfg["dem"], cdsm_path=cfg["cdsm"], trans_veg_perc=3)
    solweig_algorithm.generate_solweig(
        dsm_path=cfg["dsm"], wall_ht_path=str(out / "walls" / "wall_hts.tif"),
        wall_aspect_path=str(out / "walls" / "wall_aspects.tif"), svf_path=str(out / "svf" / "svfs.zip"),
        epw_path=cfg["epw"], bbox=cfg["bbox"], out_dir=str(out / "solweig"), start_date_Ymd=cfg["day"],
        end_date_Ymd=cfg["day"], hours=cfg["hours"], veg_dsm_path=cfg["cdsm"],
    )
    timings["solweig_day"] = time.perf_counter() - t0
    tmrt = {}
    for f in sorted((out / "solweig" / "Tmrt").glob("Tmrt_*.tif")):
        hhmm = f.stem.split("_")[-1].rstrip("DN")
        with rasterio.open(f) as src:
            tmrt[f"tmrt_{int(hhmm[:2]):02d}"] = src.read(1).astype(np.float32)
    np.savez_compressed(out / "umep.npz", shadows=np.stack(shadows) if shadows else zeros[None], svf=svf, **tmrt)
    (out / "umep.json").write_text(json.dumps({"timings_s": timings, "tmrt_hours": sorted(tmrt)}))


if __name__ == "__main__":
    main(sys.argv[1])
