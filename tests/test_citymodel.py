"""City models: hand-made CityJSON and LoD2 CityGML (AdV style), roof shapes, heights, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geodata.citymodel import epsg_from_srs, read_citygml, read_cityjson, read_citymodel
from geodata.crs import LocalFrame
from geodata.sources import DataError

FIX = Path(__file__).parent / "fixtures"


def test_srs_names() -> None:
    assert epsg_from_srs("urn:adv:crs:ETRS89_UTM32*DE_DHHN2016_NH") == 25832
    assert epsg_from_srs("urn:ogc:def:crs,crs:EPSG::25833,crs:EPSG::7837") == 25833
    assert epsg_from_srs("https://www.opengis.net/def/crs/EPSG/0/25832") == 25832
    assert epsg_from_srs("EPSG:4326") == 4326 and epsg_from_srs("local") is None


def test_cityjson_gabled_and_flat() -> None:
    m = read_cityjson(FIX / "tiny_blocks.city.json")
    b = m.buildings
    assert m.source_epsg == 25832 and list(b.source_id) == ["cityjson:house-1", "cityjson:shop-2"]
    np.testing.assert_allclose(b.base_m, [110.0, 110.0])
    np.testing.assert_allclose(b.height_m, [10.0, 9.0])  # ridge 120 - base 110; flat top 119
    np.testing.assert_allclose(b.eave_height_m, [6.0, 9.0])
    assert list(b.roof_shape) == ["gabled", "flat"]  # inferred from two sloped planes; roofType 1000
    assert list(b.use) == ["residential", "commercial"] and b.storeys[0] == 2
    assert [round(f.area, 3) for f in b.footprints] == [80.0, 100.0]
    assert set(b.height_source) == {"lod2"}
    # the frame is placed 30 m south-west of the data
    x0, y0 = np.asarray(b.footprints[0].exterior.coords).min(axis=0)
    assert (x0, y0) == (30.0, 30.0)


def test_citygml_lod2_roof_types_and_parts() -> None:
    frame = LocalFrame(25832, 696700.0, 5670400.0)
    m = read_citygml(FIX / "tiny_lod2.gml", frame=frame)
    b = m.buildings
    assert list(b.source_id) == ["citygml:DEST_LOD2_H1", "citygml:DEST_LOD2_B2_P1"]
    assert list(b.roof_shape) == ["gabled", "flat"]  # roofType 3100 and 1000
    np.testing.assert_allclose(b.height_m, [11.0, 8.0])
    np.testing.assert_allclose(b.eave_height_m, [6.5, 8.0])
    assert list(b.use) == ["residential", "church"]  # the part inherits its building's function 31001_3041
    fp = b.footprints[0]
    assert fp.area == pytest.approx(96.0)
    np.testing.assert_allclose(fp.bounds, (110.0, 80.0, 122.0, 88.0))


def test_citygml_in_another_utm_zone_is_reprojected() -> None:
    frame = LocalFrame.for_lonlat(11.81, 51.15, epsg=25833)
    b = read_citymodel(FIX / "tiny_lod2.gml", frame=frame).buildings
    assert b.footprints[0].area == pytest.approx(96.0 * 1.0, rel=0.01)  # scale differences between zones < 1 %


def test_bad_city_models(tmp_path: Path) -> None:
    text = (FIX / "tiny_lod2.gml").read_text()
    cut = tmp_path / "cut.gml"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(DataError, match=r"cut.gml.*beschädigt oder abgeschnitten.*corrupt or truncated"):
        read_citygml(cut)
    nan = tmp_path / "nan.gml"
    nan.write_text(text.replace("5670484.000 121.000", "5670484.000 NaN", 1))
    with pytest.raises(DataError, match="nicht-endliche.*non-finite"):
        read_citygml(nan)
    nocrs = tmp_path / "nocrs.gml"
    nocrs.write_text(text.replace('srsName="urn:adv:crs:ETRS89_UTM32*DE_DHHN2016_NH"', ""))
    with pytest.raises(DataError, match="no CRS"):
        read_citygml(nocrs)
    doc = json.loads((FIX / "tiny_blocks.city.json").read_text())
    doc["CityObjects"] = {}
    empty = tmp_path / "empty.city.json"
    empty.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="leeres Gebiet.*empty area"):
        read_cityjson(empty)
    trunc = tmp_path / "trunc.city.json"
    trunc.write_text((FIX / "tiny_blocks.city.json").read_text()[:500])
    with pytest.raises(DataError, match="trunc.city.json"):
        read_cityjson(trunc)
