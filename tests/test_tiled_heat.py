"""Tiled heat: stitched tiles equal the untiled run; a too-narrow halo does not; bounded memory; COGs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from heat_fixtures import heat_district

from cli.main import main
from geodata.bundle import write_bundle
from geodata.interventions import Tree
from models.heat.engine import HeatEngine, HeatParams
from models.heat.tiled import (
    TiledHeatError,
    air_and_utci,
    bytes_per_cell,
    plan_tiles,
    read_manifest,
    run_tiled,
)

pytestmark = pytest.mark.timeout(300)

HOURS = (10, 15)
# short shadow reach and sky-view radius so that halos are narrower than the district
PARAMS = dict(shadow_max_reach_m=60.0, svf_radius_m=30.0)
TREES = [Tree(id="a", xy_local_m=(60.0, 100.0)), Tree(id="b", xy_local_m=(170.0, 130.0))]


@pytest.fixture(scope="module")
def district():
    return heat_district(240.0)


@pytest.fixture(scope="module")
def untiled(district):
    return HeatEngine(district, params=HeatParams.default(**PARAMS)).compute(TREES, hours=HOURS, full=True)


def _read(folder, name):
    with rasterio.open(folder / f"{name}.tif") as src:
        return src.read(), src.tags(ns="IMAGE_STRUCTURE"), src.crs, src.transform


@pytest.fixture(scope="module")
def tiled(district, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiled") / "heat"
    return run_tiled(district, out, interventions=TREES, hours=HOURS, params=HeatParams.default(**PARAMS),
                     core_cells=40)


def test_stitched_tiles_equal_the_untiled_run(tiled, untiled, district):
    assert len(tiled.plan.tiles()) == 9 and tiled.plan.halo < 60  # halos narrower than the 120-cell district
    for name in ("sunlit", "svf", "surface_temp_c", "tmrt_c"):
        arr, structure, crs, transform = _read(tiled.out, name)
        ref = untiled.fields[name]
        ref = ref[None] if ref.ndim == 2 else ref
        assert arr.shape == ref.shape
        np.testing.assert_allclose(arr, ref, rtol=0, atol=1e-4, err_msg=name)
        assert structure.get("LAYOUT") == "COG"
        assert crs.to_epsg() == district.frame.epsg
        assert transform.a == district.grid.cell_m


def test_stitched_air_and_utci_equal_the_untiled_run(tiled, untiled):
    """The coarse air field solved once from the stitched sums, then air and UTCI tile by tile."""
    for name, atol in (("air_temp_c", 1e-4), ("utci_c", 1e-4)):
        arr, structure, *_ = _read(tiled.out, name)
        ref = untiled.fields[name]
        assert arr.shape == ref.shape and structure.get("LAYOUT") == "COG"
        np.testing.assert_allclose(arr, ref, rtol=0, atol=atol, err_msg=name)
    air, *_ = _read(tiled.out, "air_temp_c")
    assert np.ptp(air[1]) > 0.05  # the air field varies: trees and buildings, not one number
    man = read_manifest(tiled.out)
    assert man["hours"] == list(HOURS) and {"air_temp_c", "utci_c", "tmrt_c"} <= set(man["layers"])
    assert set(tiled.files) == {f"{x}.tif" for x in man["layers"]}
    assert not [p.name for p in tiled.out.iterdir() if p.name.startswith(".")]


def test_air_and_utci_added_to_a_finished_run_equal_the_one_pass(tiled, district, tmp_path):
    """The public entry on a run written without air: same files as the run that did both, and the
    manifest lists them afterwards."""
    res = run_tiled(district, tmp_path / "later", interventions=TREES, hours=HOURS,
                    params=HeatParams.default(**PARAMS), core_cells=60, air=False)
    assert "utci_c" not in read_manifest(res.out)["layers"] and not (res.out / "utci_c.tif").exists()
    written = air_and_utci(district, res.out, interventions=TREES, params=HeatParams.default(**PARAMS))
    assert written == ["air_temp_c.tif", "utci_c.tif"] and "utci_c" in read_manifest(res.out)["layers"]
    for name in ("air_temp_c", "utci_c"):
        np.testing.assert_allclose(_read(res.out, name)[0], _read(tiled.out, name)[0], rtol=0, atol=1e-4)
    assert not [p.name for p in res.out.iterdir() if p.name.startswith(".")]


def test_air_and_utci_refuse_a_folder_of_another_district(tiled, tmp_path):
    with pytest.raises(TiledHeatError, match="not the output of a tiled run"):
        air_and_utci(heat_district(240.0), tmp_path)
    with pytest.raises(TiledHeatError, match="does not match"):
        air_and_utci(heat_district(200.0), tiled.out)


def test_a_too_narrow_halo_is_wrong(district, untiled, tmp_path):
    res = run_tiled(district, tmp_path / "narrow", interventions=TREES, hours=HOURS,
                    params=HeatParams.default(**PARAMS), core_cells=40, halo_cells_override=2)
    sunlit, *_ = _read(res.out, "sunlit")
    assert np.abs(sunlit - untiled.fields["sunlit"]).max() > 0.5


def test_air_grid_fluxes_do_not_depend_on_tiling(tiled, district, tmp_path):
    one = run_tiled(district, tmp_path / "one", interventions=TREES, hours=HOURS, params=HeatParams.default(**PARAMS))
    assert len(one.plan.tiles()) == 1
    a, *_ = _read(tiled.out, "q_h_air_grid")
    b, *_ = _read(one.out, "q_h_air_grid")
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-2)
    assert np.abs(b).max() > 0


def test_memory_limit_chooses_the_tile_and_refuses_too_little():
    halo = 50
    big = plan_tiles((5000, 5000), halo, 1, max_memory_bytes=2**30, align=10)
    small = plan_tiles((5000, 5000), halo, 1, max_memory_bytes=2**28, align=10)
    assert big.core > small.core and big.core % 10 == 0
    assert (small.core + 2 * halo) ** 2 * bytes_per_cell(1) <= 2**28
    with pytest.raises(TiledHeatError, match="too small"):
        plan_tiles((5000, 5000), halo, 1, max_memory_bytes=2**20)


def test_cli_heat_tiles(district, tmp_path, capsys):
    root = tmp_path / "data"
    write_bundle(district, root / "districts" / "heatville", tiles=False)
    out = tmp_path / "tiles"
    assert main(["heat-tiles", "heatville", "--tile-cells", "60", "--out", str(out), "--json",
                 "--data-dir", str(root)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["tiles"] == 4 and line["cells"] == 120 * 120 and "tmrt_c.tif" in line["files"]
    for argv in (["--max-memory", "lots"], ["--max-memory", "2M"], ["--hours", "7,7"]):
        assert main(["heat-tiles", "heatville", *argv, "--out", str(tmp_path / "x"), "--data-dir", str(root)]) == 2
        assert "/" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
