"""The heat island as a streamed field layer (``uhi_k``: air temperature minus the rural reference of
the hour) and the buildings' cooling demand the heat adapter hands on per building."""

from __future__ import annotations

import numpy as np
import pytest

import protocol as p
from geodata.interventions import Tree
from server.engines import HEAT_LAYERS, HeatAdapter, available_engines

HOURS = (4, 15)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 5R1C of buildings without volume (models.heat.building_energy)


@pytest.fixture(scope="module")
def district():
    from geodata.sample import build_sample_district

    return build_sample_district(size_km=0.5, seed=0, cell_m=5.0)


@pytest.fixture(scope="module")
def adapter(district):
    if "heat" not in available_engines():
        pytest.skip("heat engine not present")
    from sim_kernels.runtime import ensure_init

    ensure_init("cpu")
    return HeatAdapter(district)


@pytest.fixture(scope="module")
def baseline(adapter):
    return adapter.compute([], 1, HOURS, lambda *_: None, {})


def _full(out, layer: str, hour: int) -> p.FieldFrame:
    for f in out.frames:
        f = f[1] if isinstance(f, tuple) else f
        if isinstance(f, p.FieldFrame) and f.layer == layer and f.hour == hour and f.full:
            return f
    raise AssertionError(f"no full frame of {layer} at {hour}")


def test_uhi_is_streamed_in_kelvin_at_every_hour(baseline) -> None:
    assert "uhi_k" in HEAT_LAYERS
    for h in HOURS:
        f = _full(baseline, "uhi_k", h)
        assert f.unit == "K" and _full(baseline, "air_temp_c", h).unit == "°C"
        assert p.raster_shape(f) == tuple(f.values.shape)  # the air model's coarse raster


def test_uhi_is_the_air_minus_the_rural_reference_of_the_hour(adapter, baseline, district) -> None:
    hours, uhi = baseline.fields["uhi_k"]
    _, air = baseline.fields["air_temp_c"]
    assert hours == HOURS and uhi.shape == (len(HOURS), *district.grid.shape)
    rural = np.asarray(adapter.engine.weather.air_temp_c, float)
    for k, h in enumerate(HOURS):
        np.testing.assert_allclose(uhi[k], air[k] - rural[h], atol=1e-4)  # the definition, cell by cell
        sent = p.field_on_grid(p.decode_array(_full(baseline, "uhi_k", h).values), _full(baseline, "uhi_k", h))
        assert np.nanmax(np.abs(sent - uhi[k])) <= 0.01  # quantised on the wire in small steps
    # the engine's own KPI at the shown hour is the mean of the layer over open ground
    ground = district.building_index < 0
    k15 = HOURS.index(15)
    assert float(uhi[k15][ground].mean()) == pytest.approx(baseline.kpis["uhi_intensity_k"], abs=1e-3)
    # the built-up core is warmer than open land at night (the heat island the layer shows)
    from models.heat.uhi import core_and_open

    core, open_land = core_and_open(district.building_index >= 0, district.grid.cell_m)
    if core.any() and open_land.any():
        night = uhi[HOURS.index(4)]
        assert night[core].mean() > night[open_land].mean()


def test_cooling_demand_per_building_with_its_baseline(adapter, baseline, district) -> None:
    b = baseline.buildings
    n = len(district.buildings.footprints)
    assert b["cooling_kwh_day"].shape == (n,) and b["cooling_kwh_day_baseline"].shape == (n,)
    np.testing.assert_allclose(b["cooling_kwh_day"], b["cooling_kwh_day_baseline"], rtol=1e-5, atol=1e-3)
    assert float(b["cooling_kwh_day"].sum()) == pytest.approx(baseline.kpis["cooling_demand_kwh_day"], rel=1e-4)
    assert not b["cooling_kwh_day"][~b["cooled"]].any()  # uses not cooled need nothing
    # a row of tall trees before the south facade of the building that needs most cooling lowers its demand
    i = int(np.argmax(b["cooling_kwh_day"]))
    fp = district.buildings.footprints[i]
    w, s, e, _ = fp.bounds
    trees = [Tree(id=f"t{k}", xy_local_m=(float(x), float(s - 6.0)), height_m=18.0, crown_diameter_m=10.0)
             for k, x in enumerate(np.arange(w + 4.0, e, 8.0))]
    out = adapter.compute(trees, 2, HOURS, lambda *_: None, {})
    c = out.buildings
    np.testing.assert_allclose(c["cooling_kwh_day_baseline"], b["cooling_kwh_day_baseline"])
    assert c["cooling_kwh_day"][i] < b["cooling_kwh_day"][i]
    assert float(c["cooling_kwh_day"].sum()) == pytest.approx(out.kpis["cooling_demand_kwh_day"], rel=1e-4)
    # the heat island's partial frame of the edit, applied on the baseline's, gives its complete frame
    for h in HOURS:
        pair = next(f for f in out.frames if isinstance(f, tuple) and f[1].layer == "uhi_k" and f[1].hour == h)
        part, full = pair
        assert part.base_version == 1 and part.unit == full.unit == "K"
        grid = p.decode_array(_full(baseline, "uhi_k", h).values).copy()
        vals = p.decode_array(part.values)
        w = part.window
        if part.cells is not None:
            cells = p.decode_array(part.cells).astype(np.int64)
            grid[w.row0 + cells // max(w.cols, 1), w.col0 + cells % max(w.cols, 1)] = vals
        else:
            grid[w.row0:w.row0 + w.rows, w.col0:w.col0 + w.cols] = vals.reshape(w.rows, w.cols)
        np.testing.assert_allclose(grid, p.decode_array(full.values), atol=1e-4)
        np.testing.assert_allclose(p.field_on_grid(p.decode_array(full.values), full), out.fields["uhi_k"][1][HOURS.index(h)],
                                   atol=0.01)
