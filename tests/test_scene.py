"""The 3D scene: roof geometry (analytic volumes and roof areas), tiles, tileset, pickable ids, atomic export."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from geodata.build import build_district, grid_for_bbox
from geodata.crs import LocalFrame
from geodata.district import Buildings, DistrictFeatures, LandCover, Roads, Trees, empty_points
from geodata.sample import build_sample_district
from geodata.scene import SceneExportError, district_meshes, export_tiles, origin_z_m, terrain_layer
from geodata.scene_geometry import building_soup, road_soup, sample_terrain, tree_soup, water_soup
from geodata.scene_glb import MeshLayer, glb_bytes, read_glb

TERRAIN_M = 120.0


def _toy_district():
    """Five buildings on flat ground at 120 m: gabled, hipped, pyramidal, flat, and an L-shaped gabled one."""
    fps = (
        box(10, 10, 30, 20),  # 20 x 10 gabled
        box(50, 10, 80, 22),  # 30 x 12 hipped
        box(100, 10, 112, 22),  # 12 x 12 pyramidal
        box(10, 50, 40, 70),  # flat
        Polygon([(60, 50), (90, 50), (90, 60), (70, 60), (70, 80), (60, 80)]),  # L, general path
    )
    n = len(fps)
    b = Buildings(
        building_id=np.array([11, 12, 13, 14, 15], np.int64), footprints=fps, base_m=np.zeros(n, np.float32),
        height_m=np.array([10, 12, 15, 9, 10], np.float32), eave_height_m=np.array([6, 6, 6, 9, 6], np.float32),
        roof_shape=np.array(["gabled", "hipped", "pyramidal", "flat", "gabled"], dtype=object),
        use=np.array(["residential", "residential", "church", "industrial", "residential"], dtype=object),
        storeys=np.array([2, 2, 1, 2, 2], np.int16), dwellings=np.ones(n, np.int32), residents=np.zeros(n, np.int32),
        residents_by_age=np.zeros((n, 17), np.int32), source_id=np.array([f"t:{i}" for i in range(n)], dtype=object),
        height_source=np.full(n, "test", dtype=object),
    )
    road = np.array([[0.0, 35.0], [150.0, 35.0]])
    roads = Roads(np.array([[0.0, 35.0], [150.0, 35.0]]), np.array([-1, -1]), np.array([0], np.int32),
                  np.array([1], np.int32), np.array([150.0]), np.array(["residential"], dtype=object),
                  np.array([2], np.int16), np.array([30.0], np.float32), np.array([0], np.int8),
                  np.array(["Teststraße"], dtype=object), np.array(["t:r"], dtype=object), (road,))
    trees = Trees(np.array([[45.0, 45.0]]), np.array([12.0], np.float32), np.array([6.0], np.float32),
                  np.array(["Tilia cordata"], dtype=object), np.array(["t:t"], dtype=object))
    feats = DistrictFeatures(frame=LocalFrame(25832, 690000.0, 5670000.0), bbox_local_m=(0, 0, 150, 100),
                             buildings=b, roads=roads, trees=trees, stops=empty_points("stops"),
                             pois=empty_points("pois"),
                             landcover=LandCover((), np.zeros(0, np.uint8), np.zeros(0, dtype=object)),
                             water_lines=(np.array([[0.0, 90.0], [150.0, 90.0]]),), water_line_width_m=(6.0,))
    grid = grid_for_bbox((0, 0, 150, 100), 1.0)
    return build_district(feats, name="toy", grid=grid, terrain_m=np.full(grid.shape, TERRAIN_M, np.float32))


@pytest.fixture(scope="module")
def toy():
    return _toy_district()


def _volume_and_roof_area(tri: np.ndarray, base: float) -> tuple[float, float]:
    """Signed volume closed by the floor plane z = base (divergence theorem) and the roof's plan area."""
    o = np.array([0.0, 0.0, base])
    v0, v1, v2 = tri[:, 0] - o, tri[:, 1] - o, tri[:, 2] - o
    vol = float(np.einsum("ij,ij->i", v0, np.cross(v1, v2)).sum() / 6.0)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return vol, float(n[:, 2][n[:, 2] > 1e-9].sum() / 2.0)


def test_roof_shapes_have_the_analytic_volume_and_cover_the_footprint(toy):
    soup = building_soup(toy)
    tri = soup.tri.astype(np.float64)
    base = TERRAIN_M
    expected = {
        11: 20 * 10 * 6 + 0.5 * 10 * 4 * 20,  # gabled: box + prism
        12: 30 * 12 * 6 + 6 * 12 * (3 * 30 - 12) / 6,  # hipped (45° hips in plan): rise*W*(3L-W)/6
        13: 12 * 12 * 6 + 12 * 12 * 9 / 3,  # pyramid
        14: 30 * 20 * 9,
        15: 500 * 8.0,  # L-shape: flat at the mean of eave and ridge
    }
    areas = {11: 200.0, 12: 360.0, 13: 144.0, 14: 600.0, 15: 500.0}
    for bid, vol in expected.items():
        sel = soup.owner == bid
        v, a = _volume_and_roof_area(tri[sel], base)
        assert v == pytest.approx(vol, rel=1e-5), bid
        assert a == pytest.approx(areas[bid], rel=1e-5), bid
        assert tri[sel][..., 2].max() == pytest.approx(base + toy.buildings.height_m[toy.buildings.index_of(bid)]
                                                       if bid != 15 else base + 8.0)


def test_no_face_points_down_and_walls_face_out(toy):
    soup = building_soup(toy)
    tri = soup.tri.astype(np.float64)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (n[:, 2] > -1e-9).all()
    walls = (np.abs(n[:, 2]) < 1e-9) & (soup.owner != 15)  # the convex ones: every wall faces away from the centre
    cent = tri.mean(axis=1)
    out = np.einsum("ij,ij->i", n[walls, :2], cent[walls, :2] - soup.anchor_xy[walls])
    assert walls.sum() >= 4 * 4 * 2 and (out > 0).all()


def test_roads_water_trees(toy):
    r = road_soup(toy)
    assert len(r) > 0 and np.allclose(r.tri[..., 2], TERRAIN_M + 0.3, atol=1e-3)
    xs = r.tri[..., 1]
    assert xs.min() == pytest.approx(35 - 3.25, abs=1e-3) and xs.max() == pytest.approx(35 + 3.25, abs=1e-3)
    w = water_soup(toy)
    assert len(w) > 0 and (w.owner == -1).all()
    t = tree_soup(toy)
    assert len(t) == 12 + 6  # crown bipyramid + trunk prism
    assert t.tri[..., 2].max() == pytest.approx(TERRAIN_M + 12.0, abs=1e-4)
    assert sample_terrain(toy, np.array([3.3]), np.array([7.7]))[0] == pytest.approx(TERRAIN_M)


def test_glb_roundtrip_and_pickable_ids(toy):
    from geodata.scene import soup_layer

    layer = soup_layer("buildings", building_soup(toy), origin_z_m(toy), ids=True)
    gltf, layers = read_glb(glb_bytes([layer]))
    assert gltf["asset"]["version"] == "2.0"
    (back,) = layers
    np.testing.assert_array_equal(back.positions, layer.positions)
    ids = back.attributes["_BUILDING_ID"]
    assert set(np.unique(ids).astype(int)) == {11, 12, 13, 14, 15} == set(back.extras["building_ids"])
    acc = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    assert acc["max"][1] == pytest.approx(TERRAIN_M + 15.0 - origin_z_m(toy))
    with pytest.raises(ValueError):
        read_glb(b"glTF" + b"\x00" * 30)
    with pytest.raises(ValueError, match="_"):
        glb_bytes([MeshLayer("x", layer.positions, layer.normals, layer.colors, attributes={"ID": ids})])


@pytest.fixture(scope="module")
def small_sample():
    return build_sample_district(size_km=1.0, seed=0, cell_m=4.0)


def test_export_tiles_tileset_and_axes(small_sample, tmp_path):
    d = small_sample
    ts = export_tiles(d, tmp_path / "tiles", tile_m=500.0)
    on_disk = json.loads((tmp_path / "tiles" / "tileset.json").read_text())
    assert on_disk == ts
    assert ts["format"] == 1 and ts["epsg"] == 25832 and ts["tile_m"] == 500.0
    assert ts["origin_utm_m"] == [d.frame.origin_e_m, d.frame.origin_n_m]
    assert ts["origin_z_m"] == np.floor(d.terrain_m.min()) and ts["bbox_local_m"] == [0.0, 0.0, 1000.0, 1000.0]
    assert sorted(t["name"] for t in ts["tiles"]) == ["t_0_0.glb", "t_0_1.glb", "t_1_0.glb", "t_1_1.glb"]
    seen: list[int] = []
    z0 = ts["origin_z_m"]
    b = d.buildings
    for t in ts["tiles"]:
        data = (tmp_path / "tiles" / t["name"]).read_bytes()
        assert len(data) == t["bytes"]
        _, layers = read_glb(data)
        assert [ly.name for ly in layers] == t["layers"] and t["layers"][0] == "terrain"
        w, s, e, n = t["bbox_local_m"]
        ter = layers[0]
        # terrain corners: gltf x = east, z = -north, y = elevation - origin_z
        corner = np.argmin(ter.positions[:, 0] - ter.positions[:, 2])
        assert ter.positions[corner, 0] == pytest.approx(w) and ter.positions[corner, 2] == pytest.approx(-s)
        h = sample_terrain(d, np.array([w]), np.array([s]))[0]
        assert ter.positions[corner, 1] == pytest.approx(h - z0, abs=1e-3)
        bl = [ly for ly in layers if ly.name == "buildings"]
        if not bl:
            continue
        ids = bl[0].attributes["_BUILDING_ID"].astype(np.int64)
        assert set(np.unique(ids)) == set(bl[0].extras["building_ids"])
        seen += bl[0].extras["building_ids"]
        k = b.index_of(int(ids[0]))
        mine = ids == ids[0]
        fx0, fy0, fx1, fy1 = b.footprints[k].bounds
        p = bl[0].positions[mine]
        assert p[:, 0].min() == pytest.approx(fx0, abs=1e-3) and p[:, 0].max() == pytest.approx(fx1, abs=1e-3)
        assert -p[:, 2].max() == pytest.approx(fy0, abs=1e-3) and -p[:, 2].min() == pytest.approx(fy1, abs=1e-3)
        assert p[:, 1].max() == pytest.approx(b.base_m[k] + b.height_m[k] - z0, abs=1e-3)
        assert t["min_z_m"] <= p[:, 1].min() and p[:, 1].max() <= t["max_z_m"]
    assert sorted(seen) == sorted(b.building_id.tolist())  # every building in exactly one tile


def test_export_is_atomic_and_refuses_foreign_folders(small_sample, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(SceneExportError, match="nicht leer"):
        export_tiles(small_sample, foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    with pytest.raises(SceneExportError, match="Kachelgröße"):
        export_tiles(small_sample, tmp_path / "t", tile_m=float("nan"))
    assert not (tmp_path / "t").exists()
    out = tmp_path / "again"
    export_tiles(small_sample, out, tile_m=1000.0)
    export_tiles(small_sample, out, tile_m=500.0)  # an older tileset is replaced
    assert len(json.loads((out / "tileset.json").read_text())["tiles"]) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "mine"]  # no temporary folders left


def test_trimesh_meshes_and_terrain_lod(small_sample):
    meshes = district_meshes(small_sample, terrain_step_m=20.0)
    assert set(meshes) == {"terrain", "water", "roads", "buildings", "trees"}
    b = meshes["buildings"]
    assert b.visual.vertex_colors.shape == (b.vertices.shape[0], 4)
    assert set(np.unique(b.metadata["building_id"]).astype(int)) == set(small_sample.buildings.building_id)
    coarse = terrain_layer(small_sample, (0, 0, 500, 500), 0.0, 50.0)
    fine = terrain_layer(small_sample, (0, 0, 500, 500), 0.0, 5.0)
    assert coarse.positions.shape[0] == 11 * 11 and fine.positions.shape[0] == 101 * 101
    np.testing.assert_allclose(np.linalg.norm(fine.normals, axis=1), 1.0, atol=1e-5)


def test_desktop_viewer_reads_the_tiles_back(small_sample, tmp_path):
    from viewer.desktop.scene_objects import layers_from_tiles, oblique_camera_pose, sun_direction

    export_tiles(small_sample, tmp_path / "tiles")
    layers = layers_from_tiles(tmp_path / "tiles")
    assert {ly.name for ly in layers} == {"terrain", "water", "roads", "buildings", "trees"}
    n_b = sum(ly.positions.shape[0] for ly in layers if ly.name == "buildings")
    assert n_b == 3 * len(building_soup(small_sample))
    # the afternoon sun of a summer day in Naumburg stands in the south-west, about 50° high
    sun, az, el = sun_direction(15.0)
    assert 215 < az < 250 and 45 < el < 58 and sun[1] > 0 and sun[0] < 0 and sun[2] > 0
    pos, target = oblique_camera_pose(np.array([0, 0, -1000.0]), np.array([1000.0, 80, 0]), azimuth_deg=180)
    assert pos[2] > target[2] and pos[1] > target[1]  # from the south (gltf +z) and above
