"""The simulation service: one worker thread runs the real engines (heat, traffic, access) on a small
sample district; debounce, supersede, version-stamped frames, the result cache in storage."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import protocol as p
from geodata.interventions import Tree
from server.engines import available_engines
from server.service import SimulationService
from server.storage import Storage


@pytest.fixture(scope="module")
def district():
    from geodata.sample import build_sample_district

    return build_sample_district(size_km=0.5, seed=0, cell_m=5.0)


def _free_spots(district, n: int) -> list[tuple[float, float]]:
    """Cell centres away from buildings (a tree must not stand on a roof), in a fixed order."""
    from scipy import ndimage

    free = ~ndimage.binary_dilation(district.building_index >= 0, iterations=2)
    rows, cols = np.nonzero(free[10:-10, 10:-10])
    idx = np.linspace(0, len(rows) - 1, n).astype(int)
    x, y = district.grid.rowcol_to_xy(rows[idx] + 10, cols[idx] + 10)
    return [(float(a), float(b)) for a, b in zip(x, y)]


class Sink:
    def __init__(self) -> None:
        self.msgs: list[tuple[str, object]] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, sid: str, msg: object) -> None:
        with self.lock:
            self.msgs.append((sid, msg))
            self.threads.add(threading.current_thread().name)

    def of(self, cls: type) -> list:
        with self.lock:
            return [m for _, m in self.msgs if isinstance(m[1] if isinstance(m, tuple) else m, cls)]


def _wait_idle(svc: SimulationService, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not svc.idle():
        assert time.monotonic() < deadline, "service did not finish"
        time.sleep(0.02)


def test_engines_are_composed_in_dependency_order() -> None:
    names = available_engines()
    assert names[0] == "costs"
    order = [n for n in ("traffic", "heat", "access") if n in names]
    assert [n for n in names if n != "costs"] == order


def test_all_engines_in_one_worker_process_with_versioned_frames(tmp_path: Path, district) -> None:
    engines = [e for e in available_engines() if e in ("costs", "traffic", "heat", "access")]
    if "heat" not in engines:
        pytest.skip("heat engine not present")
    sink = Sink()
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    svc = SimulationService(st, sink, engines=engines, debounce_s=0.0)
    svc.start()
    try:
        base = svc.request("s", 0, district, [], (15,), wait=True)
        trees = [Tree(id=f"t{i}", xy_local_m=xy, height_m=15.0, crown_diameter_m=10.0)
                 for i, xy in enumerate(_free_spots(district, 12))]
        res = svc.request("s", 1, district, trees, (15,), wait=True)
    finally:
        svc.stop()
    assert sink.threads == {"simulation"}  # one coordinating thread publishes everything
    assert svc.use_process  # the engines ran in the worker process that owns Taichi
    assert base.kpis()["heat"]["utci_mean_c"] > res.kpis()["heat"]["utci_mean_c"]  # shade cools
    fields = [f[1] if isinstance(f, tuple) else f for f in sink.of(p.FieldFrame)]
    assert {f.scenario_version for f in fields} == {0, 1}
    assert {f.layer for f in fields} >= {"utci_c", "air_temp_c"}
    utci = p.decode_array([f for f in fields if f.layer == "utci_c" and f.scenario_version == 1][-1].values)
    assert utci.shape == (district.grid.rows, district.grid.cols) and 15.0 < float(utci[~(utci != utci)].mean()) < 60.0
    kinds = {type(m).__name__ for _, m in sink.msgs if not isinstance(m, tuple)}
    for name, frame in (("traffic", "EdgeFrame"), ("access", "AccessFrame")):
        if name in engines:
            assert frame in kinds
    for _, m in sink.msgs:
        m = m[1] if isinstance(m, tuple) else m
        assert m.scenario_version in (0, 1)
    # results were stored: a new service finds them without computing
    svc2 = SimulationService(st, Sink(), engines=engines)
    again = svc2.cached("s", 1)
    assert again is not None and again.kpis()["heat"]["utci_mean_c"] == pytest.approx(res.kpis()["heat"]["utci_mean_c"])
    assert svc2.jobs_run == 0
    st.dispose()


def test_edits_are_debounced(tmp_path: Path, district) -> None:
    sink = Sink()
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    svc = SimulationService(st, sink, engines=["costs"], debounce_s=0.3)
    svc.start()
    try:
        for v in range(1, 9):  # a burst of edits
            svc.request("s", v, district, [Tree(id=f"t{i}", xy_local_m=(80.0, 80.0)) for i in range(v)])
            time.sleep(0.01)
        _wait_idle(svc)
    finally:
        svc.stop()
    assert svc.jobs_run == 1
    kpis = sink.of(p.KpiFrame)
    assert [k.scenario_version for k in kpis] == [8] and kpis[0].values["interventions"] == 8.0
    st.dispose()


def test_a_newer_version_supersedes_running_work(tmp_path: Path, district) -> None:
    engines = [e for e in available_engines() if e != "access"]
    if len(engines) < 3:
        pytest.skip("needs traffic and heat engines")
    started = threading.Event()

    class Watch(Sink):
        def __call__(self, sid, msg):
            super().__call__(sid, msg)
            if isinstance(msg, p.Progress) and msg.scenario_version == 1 and msg.stage == "traffic":
                started.set()

    sink = Watch()
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    svc = SimulationService(st, sink, engines=engines, debounce_s=0.0)
    svc.start()
    try:
        a, b = _free_spots(district, 2)
        svc.request("s", 1, district, [Tree(id="a", xy_local_m=a)])
        assert started.wait(120)
        svc.request("s", 2, district, [Tree(id="a", xy_local_m=a), Tree(id="b", xy_local_m=b)])
        _wait_idle(svc)
    finally:
        svc.stop()
    assert svc.jobs_cancelled == 1
    heat_versions = {(f[1] if isinstance(f, tuple) else f).scenario_version for f in sink.of(p.FieldFrame)}
    assert heat_versions == {2}  # the stale version never reached the slow engine
    assert svc.cached("s", 1) is None and svc.cached("s", 2) is not None
    st.dispose()


def test_a_dead_worker_process_is_replaced(tmp_path: Path, district) -> None:
    import os
    import signal

    from server.worker import WorkerFailed

    if "traffic" not in available_engines():
        pytest.skip("needs the traffic engine")
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    svc = SimulationService(st, Sink(), engines=["costs", "traffic"], debounce_s=0.0)
    svc.start()
    try:
        assert svc.request("s", 1, district, [], wait=True) is not None
        os.kill(svc._process.proc.pid, signal.SIGKILL)
        svc._process.proc.join(10)
        try:
            res = svc.request("s", 2, district, [], wait=True)
        except WorkerFailed:  # the job that was running when it died may fail; the next one runs
            res = svc.request("s", 3, district, [], wait=True)
        assert res is not None and "traffic" in res.kpis()
    finally:
        svc.stop()
        st.dispose()
