"""Bad input to ``twin import``: one clear message naming the file and the problem (German / English),
exit status 2, and no bundle (nor a temporary folder) left behind. The broken files are made here."""

from __future__ import annotations

from pathlib import Path

import osmium
import pytest
from test_import_cli import write_dem

from cli.main import main

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tiny_pbf(tmp_path_factory) -> Path:
    """The hand-made town written as PBF by libosmium."""
    path = tmp_path_factory.mktemp("pbf") / "tiny.osm.pbf"
    with osmium.SimpleWriter(str(path)) as w:
        for obj in osmium.FileProcessor(str(FIX / "tiny_town.osm")):
            w.add(obj)
    return path


def _run(tmp_path: Path, capsys, *extra: str, osm: Path | None = None) -> tuple[int, str, Path]:
    data = tmp_path / "data"
    code = main(["--data-dir", str(data), "import", "--osm", str(osm or FIX / "tiny_town.osm"),
                 "--name", "town", "--no-tiles", *extra])
    return code, capsys.readouterr().err, data


def _nothing_written(data: Path) -> bool:
    d = data / "districts"
    return not d.exists() or not any(d.iterdir())


def test_corrupt_pbf(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "noise.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dthis is not a protobuf blob" * 20)
    code, err, data = _run(tmp_path, capsys, osm=bad)
    assert code == 2 and "noise.osm.pbf" in err and "beschädigt" in err and "corrupt" in err
    assert _nothing_written(data)


def test_truncated_pbf_and_xml(tmp_path: Path, capsys, tiny_pbf: Path) -> None:
    raw = tiny_pbf.read_bytes()
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(raw[: len(raw) // 2])
    code, err, data = _run(tmp_path, capsys, osm=cut)
    assert code == 2 and "cut.osm.pbf" in err and "abgeschnitten" in err and "truncated" in err
    assert _nothing_written(data)
    text = (FIX / "tiny_town.osm").read_text()
    cut_xml = tmp_path / "cut.osm"
    cut_xml.write_text(text[: len(text) // 2])
    code, err, data = _run(tmp_path, capsys, osm=cut_xml)
    assert code == 2 and "cut.osm" in err and "truncated" in err and _nothing_written(data)
    code, _, data = _run(tmp_path, capsys, osm=tiny_pbf)  # the intact PBF imports
    assert code == 0 and (data / "districts" / "town" / "manifest.json").is_file()


def test_empty_area(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?>\n<osm version="0.6"><bounds minlat="51.15" minlon="11.81" '
                     'maxlat="51.151" maxlon="11.811"/><node id="1" lat="51.1505" lon="11.8105"/></osm>\n')
    code, err, data = _run(tmp_path, capsys, osm=empty)
    assert code == 2 and "empty.osm" in err and "leeres Gebiet" in err and "empty area" in err
    assert _nothing_written(data)


def test_raster_without_crs(tmp_path: Path, capsys) -> None:
    dem = write_dem(tmp_path / "nocrs.tif", crs=None)
    code, err, data = _run(tmp_path, capsys, "--dem", str(dem))
    assert code == 2 and "nocrs.tif" in err and "ohne Koordinatenbezugssystem" in err and "no CRS" in err
    assert _nothing_written(data)


def test_raster_not_covering_the_area(tmp_path: Path, capsys) -> None:
    dem = write_dem(tmp_path / "elsewhere.tif", west=700000.0)
    code, err, data = _run(tmp_path, capsys, "--dem", str(dem))
    assert code == 2 and "elsewhere.tif" in err and "does not cover the district area" in err
    assert _nothing_written(data)


def test_buildings_outside_the_terrain(tmp_path: Path, capsys) -> None:
    far = tmp_path / "far.gml"
    far.write_text((FIX / "tiny_lod2.gml").read_text().replace(" 5670", " 5680"))  # 10 km north
    code, err, data = _run(tmp_path, capsys, "--buildings", str(far))
    assert code == 2 and "far.gml" in err and "außerhalb des Geländes" in err and "outside the terrain" in err
    assert _nothing_written(data)


def test_non_finite_heights(tmp_path: Path, capsys) -> None:
    nan = tmp_path / "nan.gml"
    nan.write_text((FIX / "tiny_lod2.gml").read_text().replace("5670484.000 121.000", "5670484.000 NaN", 1))
    code, err, data = _run(tmp_path, capsys, "--buildings", str(nan))
    assert code == 2 and "nan.gml" in err and "nicht-endliche" in err and "non-finite" in err
    assert _nothing_written(data)
    inf = tmp_path / "inf.gml"
    inf.write_text((FIX / "tiny_lod2.gml").read_text().replace(">11.0</bldg:measuredHeight>", ">INF</bldg:measuredHeight>"))
    code, err, data = _run(tmp_path, capsys, "--buildings", str(inf))
    assert code == 2 and "inf.gml" in err and "measuredHeight" in err and _nothing_written(data)


def test_missing_file_and_bad_name(tmp_path: Path, capsys) -> None:
    code, err, data = _run(tmp_path, capsys, osm=tmp_path / "missing.osm.pbf")
    assert code == 2 and "missing.osm.pbf" in err and "existiert nicht" in err and "does not exist" in err
    data = tmp_path / "data"
    code = main(["--data-dir", str(data), "import", "--osm", str(FIX / "tiny_town.osm"), "--name", "../escape"])
    assert code == 2 and "invalid name" in capsys.readouterr().err
    assert _nothing_written(data) and not (tmp_path / "escape").exists()


def test_failed_rebuild_keeps_the_good_bundle(tmp_path: Path, capsys) -> None:
    code, _, data = _run(tmp_path, capsys)
    assert code == 0
    manifest = (data / "districts" / "town" / "manifest.json").read_text()
    dem = write_dem(tmp_path / "nocrs.tif", crs=None)
    code, err, _ = _run(tmp_path, capsys, "--dem", str(dem))
    assert code == 2 and "no CRS" in err
    assert (data / "districts" / "town" / "manifest.json").read_text() == manifest
    assert sorted(p.name for p in (data / "districts").iterdir()) == ["town"]
