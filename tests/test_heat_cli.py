"""``twin heat``, ``twin svf``, ``twin shadows``, ``twin tmrt``: outputs, JSON summaries, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from heat_fixtures import heat_district
from rasterio.transform import Affine

from cli.main import main
from geodata.bundle import write_bundle

pytestmark = pytest.mark.usefixtures("taichi_cpu")

UMEP_HEADER = ("%iy id it imin qn qh qe qs qf U RH Tair press rain kdown snow ldown fcld wuh xsmd lai kdiff "
               "kdir wdir")


def _tif(path: Path, arr: np.ndarray, crs: str = "EPSG:25832", cell: float = 1.0) -> Path:
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1], count=1,
                       dtype="float32", crs=crs, transform=Affine(cell, 0.0, 690000.0, 0.0, -cell, 5670000.0)) as dst:
        dst.write(arr.astype(np.float32), 1)
    return path


def _met(path: Path, gap: bool = False) -> Path:
    rows = [UMEP_HEADER]
    for h in range(24):
        if gap and h == 9:
            continue
        ta = 22 + 8 * np.sin(np.pi * (h - 9) / 12)
        kdown = max(0.0, 820 * np.sin(np.pi * (h - 5) / 15))
        rows.append(" ".join(str(v) for v in [2024, 197, h, 0] + [-999] * 5 + [2.0, 45.0, round(ta, 2), 100.2, 0,
                                                                              round(kdown, 1)] + [-999] * 8 + [250]))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture()
def dsm(tmp_path: Path) -> tuple[Path, Path, Path]:
    ground = np.full((60, 70), 100.0, np.float32)
    dsm = ground.copy()
    dsm[20:35, 25:40] = 115.0
    cdsm = np.zeros_like(ground)
    cdsm[45:50, 10:15] = 9.0
    return _tif(tmp_path / "dsm.tif", dsm), _tif(tmp_path / "cdsm.tif", cdsm), _tif(tmp_path / "dem.tif", ground)


def _json_line(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_svf_and_shadows_on_a_dsm(tmp_path: Path, dsm, capsys) -> None:
    d, c, g = dsm
    assert main(["svf", "--dsm", str(d), "--cdsm", str(c), "--dem", str(g), "--out", str(tmp_path / "svf.tif"),
                 "--json"]) == 0
    s = _json_line(capsys)
    assert 0.5 < s["svf_mean"] < 1.0
    with rasterio.open(tmp_path / "svf.tif") as src:
        assert src.count == 2 and src.crs.to_epsg() == 25832
        svf = src.read(1)
    assert svf[47, 12] < 0.1 and svf[5, 5] > 0.9
    assert main(["shadows", "--dsm", str(d), "--azimuth", "180", "--altitude", "45", "--out",
                 str(tmp_path / "sh.tif"), "--json"]) == 0
    with rasterio.open(tmp_path / "sh.tif") as src:
        sh = src.read(1)
    assert sh[27, 32] == 1.0 and sh[17, 32] == 0.0 and sh[40, 32] == 1.0  # roof lit, north of the block shaded
    assert main(["shadows", "--dsm", str(d), "--cdsm", str(c), "--dem", str(g), "--when", "2024-07-15T15:00",
                 "--out", str(tmp_path / "sh2.tif"), "--json"]) == 0
    s = _json_line(capsys)
    assert 40 < s["altitude_deg"] < 60 and 200 < s["azimuth_deg"] < 240


def test_tmrt_from_a_umep_met_file(tmp_path: Path, dsm, capsys) -> None:
    d, c, g = dsm
    out = tmp_path / "tmrt"
    assert main(["tmrt", "--dsm", str(d), "--cdsm", str(c), "--dem", str(g), "--weather", str(_met(tmp_path / "m.txt")),
                 "--hours", "12,15", "--out", str(out), "--json"]) == 0
    s = _json_line(capsys)
    assert s["hours"] == [12, 15] and 40 < s["tmrt_mean_c"][0] < 75
    assert {p.name for p in out.iterdir()} == {"tmrt_12.tif", "utci_12.tif", "tmrt_15.tif", "utci_15.tif", "svf.tif"}


def test_heat_of_a_bundle_with_a_scenario(tmp_path: Path, capsys) -> None:
    district = heat_district(size_m=120.0)
    write_bundle(district, tmp_path / "data" / "districts" / "hv", tiles=False)
    scen = tmp_path / "scen.json"
    scen.write_text(json.dumps({"interventions": [
        {"kind": "tree", "id": "t1", "xy_local_m": [60.0, 20.0], "height_m": 12, "crown_diameter_m": 8}]}))
    out = tmp_path / "out"
    assert main(["--data-dir", str(tmp_path / "data"), "heat", "hv", "--scenario", str(scen), "--hour", "15",
                 "--out", str(out), "--json"]) == 0
    s = _json_line(capsys)
    assert s["cost_eur"] == 3500.0 and s["utci_diff_to_baseline_k"] < 0
    names = {p.name for p in out.iterdir()}
    assert {"utci_c_15.tif", "tmrt_c_15.tif", "air_temp_c_15.tif", "surface_temp_c_15.tif", "sunlit_15.tif",
            "svf.tif", "stress_class_15.tif", "kpis.json", "utci_15.png"} <= names
    kpis = json.loads((out / "kpis.json").read_text())["kpis"]
    assert kpis["utci_p95_c"] >= kpis["utci_mean_c"]
    assert (out / "utci_15.png").stat().st_size > 10_000


def test_bad_input_is_refused_and_writes_nothing(tmp_path: Path, dsm, capsys) -> None:
    d, c, g = dsm
    district = heat_district(size_m=120.0)
    write_bundle(district, tmp_path / "data" / "districts" / "hv", tiles=False)
    scen = tmp_path / "scen.json"
    scen.write_text(json.dumps([{"kind": "tree", "id": "t1", "xy_local_m": [9000.0, 20.0]}]))
    out = tmp_path / "out"
    assert main(["--data-dir", str(tmp_path / "data"), "heat", "hv", "--scenario", str(scen), "--out", str(out)]) == 2
    assert "outside" in capsys.readouterr().err and not out.exists()
    scen.write_text(json.dumps([{"kind": "tree", "id": "t1", "xy_local_m": [20.0, 20.0], "height_m": -4}]))
    assert main(["--data-dir", str(tmp_path / "data"), "heat", "hv", "--scenario", str(scen), "--out", str(out)]) == 2
    assert not out.exists()
    geo = _tif(tmp_path / "geo.tif", np.zeros((10, 10)), crs="EPSG:4326", cell=0.001)
    assert main(["svf", "--dsm", str(geo), "--out", str(tmp_path / "x.tif")]) == 2
    assert "projected" in capsys.readouterr().err and not (tmp_path / "x.tif").exists()
    assert main(["tmrt", "--dsm", str(d), "--weather", str(_met(tmp_path / "gap.txt", gap=True)), "--out",
                 str(tmp_path / "t")]) == 2
    assert "gap" in capsys.readouterr().err and not (tmp_path / "t").exists()
    assert main(["shadows", "--dsm", str(d), "--out", str(tmp_path / "s.tif")]) == 2


def test_heat_at_night_with_energy_heat_wave_and_wind(tmp_path: Path, capsys) -> None:
    district = heat_district(size_m=120.0)
    write_bundle(district, tmp_path / "data" / "districts" / "hv", tiles=False)
    out = tmp_path / "out"
    assert main(["--data-dir", str(tmp_path / "data"), "heat", "hv", "--hour", "4", "--energy", "--heat-wave-days", "3",
                 "--out", str(out), "--json"]) == 0
    s = _json_line(capsys)
    assert s["hour"] == 4 and s["cooling_demand_kwh_day"] > 0 and s["tropical_nights_max"] >= 0
    names = {p.name for p in out.iterdir()}
    assert {"air_temp_c_04.tif", "buildings_cooling.csv", "tropical_nights.tif", "heat_wave.json"} <= names
    rows = (out / "buildings_cooling.csv").read_text().splitlines()
    assert rows[0].startswith("building_id,") and len(rows) == 1 + len(district.buildings.height_m)
    kpis = json.loads((out / "kpis.json").read_text())["kpis"]
    assert kpis["kpi_hour"] == 4 and kpis["cooling_demand_kwh_day"] == pytest.approx(s["cooling_demand_kwh_day"], rel=1e-3)
    assert main(["--data-dir", str(tmp_path / "data"), "heat", "hv", "--wind-speed", "-1", "--out", str(tmp_path / "w")]) == 2
    assert main(["--data-dir", str(tmp_path / "data"), "heat", "hv", "--heat-wave-days", "40", "--out", str(tmp_path / "w")]) == 2
    assert not (tmp_path / "w").exists()
