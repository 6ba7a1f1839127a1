"""``twin import`` / ``twin info``: the hand-made town with DEM and LoD2 buildings, the content-hash cache,
and the real Hoyerswerda extract with its GLB tiles."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import shared_data
from rasterio.transform import Affine

from cli.main import main
from geodata.bundle import load_bundle, read_manifest

FIX = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]


def write_dem(path: Path, *, crs: str | None = "EPSG:25832", west: float = 696300.0, north: float = 5670800.0,
              size: int = 80) -> Path:
    """A 10 m GeoTIFF around the hand-made town: z = 110 m + 1 % slope to the east."""
    z = (110.0 + 0.1 * np.arange(size, dtype=np.float32))[None, :].repeat(size, axis=0)
    kw = dict(driver="GTiff", width=size, height=size, count=1, dtype="float32",
              transform=Affine(10.0, 0.0, west, 0.0, -10.0, north))
    if crs:
        kw["crs"] = crs
    with rasterio.open(path, "w", **kw) as dst:
        dst.write(z, 1)
    return path


def test_import_tiny_town_with_dem_and_lod2(tmp_path: Path, capsys) -> None:
    dem = write_dem(tmp_path / "dem.tif")
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "import", "--osm", str(FIX / "tiny_town.osm"), "--dem", str(dem),
            "--buildings", str(FIX / "tiny_lod2.gml"), "--name", "tiny", "--no-tiles"]
    assert main(args) == 0
    assert "geschrieben / written" in capsys.readouterr().out
    d = load_bundle(data / "districts" / "tiny", verify=True)
    src = list(d.buildings.source_id)
    assert "citygml:DEST_LOD2_H1" in src and "osm:way/200" in src and len(d.buildings) == 4 + 2
    i = src.index("citygml:DEST_LOD2_H1")
    assert d.buildings.roof_shape[i] == "gabled" and d.buildings.height_source[i] == "lod2"
    assert 110.0 < d.terrain_m.min() < d.terrain_m.max() < 118.0  # the DEM, resampled
    j = src.index("osm:way/200")  # the 16.5 m block stands on the terrain
    assert d.dsm_m[d.building_index == j].max() == pytest.approx(d.buildings.base_m[j] + 16.5, abs=1e-3)
    assert [s.kind for s in d.sources] == ["osm", "dem", "citygml"]
    created = read_manifest(data / "districts" / "tiny")["created_utc"]

    assert main(args) == 0  # same inputs and options: the bundle is reused
    assert "wiederverwendet / reused" in capsys.readouterr().out
    assert read_manifest(data / "districts" / "tiny")["content_hash"] and (
        read_manifest(data / "districts" / "tiny")["created_utc"] == created)
    assert main([*args, "--cell", "4"]) == 0  # another option: rebuilt
    assert "geschrieben / written" in capsys.readouterr().out
    assert read_manifest(data / "districts" / "tiny")["grid"]["cell_m"] == 4.0

    assert main(["--data-dir", str(data), "info", "tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["summary"]["buildings"] == 6 and info["summary"]["stops"] == 2
    assert [s["kind"] for s in info["sources"]] == ["osm", "dem", "citygml"]
    assert main(["--data-dir", str(data), "info", "tiny"]) == 0
    assert "Gebäude / buildings: 6" in capsys.readouterr().out
    assert main(["--data-dir", str(data), "info", "nowhere"]) == 2
    assert "not found" in capsys.readouterr().err


def _validate_glbs(paths: list[Path]) -> dict:
    node = shutil.which("node")
    script = ROOT / "tools" / "validators" / "validate.mjs"
    if node is None or not (ROOT / "tools" / "validators" / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("glTF-Validator not installed (node and tools/validators/node_modules; run make setup)")
    r = subprocess.run([node, str(script), *map(str, paths)], capture_output=True, text=True, timeout=300)
    return json.loads(r.stdout)


def test_hoyerswerda_bundle_and_tiles(tmp_path: Path, capsys) -> None:
    pbf = shared_data("osm_hoyerswerda_centre", "Hoyerswerda.osm.pbf")
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "import", "--osm", str(pbf), "--name", "hoyerswerda"]) == 0
    capsys.readouterr()
    path = data / "districts" / "hoyerswerda"
    d = load_bundle(path)
    s = d.summary()
    assert (s["buildings"], s["stops"], s["epsg"]) == (340, 38, 25833)
    assert (d.buildings.height_m > 0).all() and all(fp.is_valid for fp in d.buildings.footprints)
    assert d.residents_total > 0 and (d.buildings.residents_by_age.sum(axis=1) == d.buildings.residents).all()
    assert (d.building_index >= 0).sum() > 0 and len(np.unique(d.building_index[d.building_index >= 0])) >= 330
    m = read_manifest(path)
    tiles = sorted((path / "tiles").glob("*.glb")) if (path / "tiles").is_dir() else []
    if m["tiles"] is None:
        pytest.skip("geodata.scene.export_tiles not available: no GLB tiles written")
    assert tiles and (path / "tiles" / "tileset.json").is_file()
    report = _validate_glbs(tiles)
    bad = [(f["path"], f["errors"], f["warnings"]) for f in report["files"] if f["errors"] or f["warnings"]]
    assert report["ok"] and not bad, bad
