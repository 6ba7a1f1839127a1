"""The live loop: an edit reruns only the engines downstream of what it touches (the others are
re-stamped), incremental results equal a full recompute, field frames carry only the changed cells, and
every client converges to the same field whether it got every frame, missed some or joined late."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import numpy as np
import pytest

import protocol as p
from geodata.interventions import NewStop, RoadClosure, Tree
from server.engines import available_engines, field_frames
from server.hub import Connection, Outgoing, unwrap
from server.roles import User
from server.service import SimulationService
from server.storage import Storage
from server.worker import WorkerProcess

ENGINES = ["costs", "traffic", "heat", "access"]


@pytest.fixture(scope="module")
def district():
    from geodata.sample import build_sample_district

    return build_sample_district(size_km=0.5, seed=0, cell_m=5.0)


def _free_xy(district, k: int) -> tuple[float, float]:
    from scipy import ndimage

    free = ~ndimage.binary_dilation(district.building_index >= 0, iterations=3)
    rows, cols = np.nonzero(free[15:-15, 15:-15])
    i = (k * 7919) % len(rows)
    x, y = district.grid.rowcol_to_xy(rows[i] + 15, cols[i] + 15)
    return float(x), float(y)


EVENTS: dict[tuple[str, int], list] = {}  # (scenario, version) -> the job's events in order, as (kind, what)


def _run(worker: WorkerProcess, district, version: int, interventions: list, scenario: str = "s") -> dict:
    """One live job in the worker process (as the service runs it); each engine's output by name."""
    outs: dict = {}
    events = EVENTS.setdefault((scenario, version), [])

    def emit(ev: tuple) -> None:
        events.append((ev[0], ev[1]) if ev[0] == "engine" else ev)
        if ev[0] == "engine":
            outs[ev[1]] = ev[2]

    worker.run(scenario, version, district, interventions, (15,), emit, engines=tuple(ENGINES), timeout_s=600.0)
    return outs


def _full_frames(out) -> dict[str, p.FieldFrame]:
    return {(f[1] if isinstance(f, tuple) else f).layer: (f[1] if isinstance(f, tuple) else f)
            for f in out.frames if isinstance(f[1] if isinstance(f, tuple) else f, p.FieldFrame)}


@pytest.fixture(scope="module")
def worker():
    if not set(ENGINES) <= set(available_engines()):
        pytest.skip("needs every engine")
    w = WorkerProcess(ENGINES, "cpu")
    yield w
    w.stop()


@pytest.fixture(scope="module")
def incremental(district, worker):
    """One scenario through four versions: baseline, a tree, a road closure, a new stop."""
    runner = worker
    outs = [_run(runner, district, 1, [])]
    edge = int(np.argmax(outs[0]["traffic"].edges["flow_veh_h"]))  # the busiest road
    lists = [[], [Tree(id="t1", xy_local_m=_free_xy(district, 1))]]
    lists.append(lists[1] + [RoadClosure(id="r1", edge_index=edge)])
    lists.append(lists[2] + [NewStop(id="s1", xy_local_m=_free_xy(district, 2))])
    outs += [_run(runner, district, v + 1, ivs) for v, ivs in enumerate(lists) if v > 0]
    return lists, outs


def test_an_edit_reruns_only_the_engines_downstream_of_it(incremental) -> None:
    _, outs = incremental
    ran = [{n for n, o in out.items() if o.computed_version == v + 1} for v, out in enumerate(outs)]
    assert ran[0] == set(ENGINES)
    assert ran[1] == {"costs", "heat", "access"}  # a tree: heat, then access through UTCI; never traffic
    assert ran[2] == {"costs", "traffic", "heat", "access"}  # a closure: traffic, heat by waste heat, access
    assert ran[3] == {"costs", "access"}  # a stop: access alone
    for v, out in enumerate(outs):  # every frame names the version it is valid for, re-stamped or not
        for o in out.values():
            for f in o.frames:
                for g in (f if isinstance(f, tuple) else (f,)):
                    assert g.scenario_version == v + 1
    assert outs[1]["traffic"].computed_version == 1 and outs[3]["heat"].computed_version == 3


def test_incremental_results_equal_a_full_recompute(incremental, district, worker) -> None:
    lists, outs = incremental
    for v in (1, 3):  # after a tree (traffic re-stamped) and after a stop (traffic and heat re-stamped)
        fresh = _run(worker, district, v + 1, lists[v], scenario=f"fresh{v}")  # new engines, nothing to reuse
        inc = outs[v]
        for name in ENGINES:
            for k, val in fresh[name].kpis.items():
                assert inc[name].kpis[k] == pytest.approx(val, rel=1e-4, abs=1e-3), (v, name, k)
        a, b = _full_frames(inc["heat"]), _full_frames(fresh["heat"])
        for layer in b:
            fa, fb = p.decode_array(a[layer].values), p.decode_array(b[layer].values)
            assert np.nanmax(np.abs(fa - fb)) <= 0.02, layer  # quantisation steps of 0.01 K
        np.testing.assert_allclose(inc["traffic"].edges["flow_veh_h"], fresh["traffic"].edges["flow_veh_h"], rtol=1e-3, atol=0.5)


def test_a_tree_sends_only_its_changed_cells(incremental) -> None:
    _, outs = incremental
    pair = next(f for f in outs[1]["heat"].frames if isinstance(f, tuple) and f[1].layer == "utci_c")
    part, full = pair
    assert not part.full and part.base_version == 1
    assert len(p.encode(part)) < 0.25 * len(p.encode(full))
    restamped = next(f for f in outs[3]["heat"].frames if isinstance(f, tuple) and f[1].layer == "utci_c")
    assert restamped[0].cells is not None and restamped[0].values.shape == [0]  # nothing changed: no cells
    assert restamped[0].base_version == 3
    # access after a tree: only the buildings whose walking times changed, on top of the baseline's frame
    apart, afull = next(f for f in outs[1]["access"].frames if isinstance(f, tuple))
    assert isinstance(afull, p.AccessFrame) and apart.base_version == 1 and apart.buildings is not None
    assert len(p.encode(apart)) < 0.25 * len(p.encode(afull))
    base = next(f for f in outs[0]["access"].frames if isinstance(f, p.AccessFrame))
    merged = p.apply_access_frame(base, p.decode_server(p.encode(apart)))
    assert merged is not None
    for name in ("building_time_min", "building_time_by_category_min", "building_class"):
        np.testing.assert_array_equal(p.decode_array(getattr(merged, name)), p.decode_array(getattr(afull, name)))


def test_the_shown_utci_goes_out_ahead_of_the_heat_output(incremental) -> None:
    """The UTCI of the key figures' hour and the instantaneous key figures are published before the heat
    engine's output (and before its building cooling); the output repeats the same frame, the hub sends it once."""
    _, outs = incremental
    events = EVENTS[("s", 2)]
    heat_at = events.index(("engine", "heat"))
    early = [(i, ev[1]) for i, ev in enumerate(events) if ev[0] == "progress" and not isinstance(ev[1], p.Progress)]
    assert early and all(i < heat_at for i, _ in early)
    pair = next(m for _, m in early if isinstance(m, tuple))
    assert pair[1].layer == "utci_c" and pair[1].hour == 15 and pair[1].scenario_version == 2
    same = next(f for f in outs[1]["heat"].frames if isinstance(f, tuple) and f[1].layer == "utci_c")
    assert p.encode(same[0]) == p.encode(pair[0])
    np.testing.assert_array_equal(p.decode_array(same[1].values), p.decode_array(pair[1].values))  # (compressed after)
    kpi = next(m for _, m in early if isinstance(m, p.KpiFrame))
    final = outs[1]["heat"].kpis
    assert kpi.engine == "heat" and kpi.values["utci_mean_c"] == pytest.approx(final["utci_mean_c"])
    assert "cooling_demand_kwh_day" in final and "cooling_demand_kwh_day" not in kpi.values  # the day's cooling after
    for name in ("tropical_night_residents",):  # person counts are published figures here too
        if kpi.values.get(name) is not None:
            assert kpi.values[name] % 5 == 0
    # the hub: a field published ahead and again with the output reaches each connection once
    from server.hub import Hub

    hub = Hub()
    conn = Connection("c", User("citizen"), "s", layers=frozenset({"heat"}), hour=15)
    other = Connection("o", User("citizen"), "s", layers=frozenset({"heat"}), hour=16)
    hub.rooms["s"] = {"c": conn, "o": other}
    hub.publish("s", pair)
    first = unwrap(conn, conn.outbox._keyed.pop(conn.outbox._order.popleft()))
    assert first.msg.scenario_version == 2 and len(conn.outbox) == 0
    hub.publish("s", same)
    assert len(conn.outbox) == 0 and len(other.outbox) == 0  # once (and never to a client of another hour)
    hub.publish("s", (same[0], msgspec.structs.replace(same[1], scenario_version=3)))  # a newer version: sent
    assert len(conn.outbox) == 1
    other.hour = 15
    hub.send_frame(other, same[1])  # a subscription's frame, then the same field published: once
    hub.publish("s", same)
    assert len(other.outbox) == 1
    # a client that re-subscribes (it lost the field) after the early frame went out gets it again, complete
    late = Connection("l", User("citizen"), "s", layers=frozenset({"heat"}), hour=15, sent_versions={"field:utci_c": 1})
    hub.rooms["s"]["l"] = late
    hub.publish("s", pair)
    assert not unwrap(late, late.outbox._keyed.pop(late.outbox._order.popleft())).msg.full  # on top of version 1
    late.sent_versions.clear()  # what a Subscribe does
    hub.publish("s", same)
    again = unwrap(late, late.outbox._keyed.pop(late.outbox._order.popleft()))
    assert again.msg.full and again.msg.scenario_version == 2


def _field_sequence(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = 30.0 + rng.normal(0, 2, (60, 80)).astype(np.float32)
    seq = [base]
    for k in range(6):  # small local changes, a wide faint one, and no change at all
        f = seq[-1].copy()
        if k == 2:
            f += 0.3
        elif k != 4:
            r, c = rng.integers(5, 50), rng.integers(5, 70)
            f[r:r + 6, c:c + 4] -= 1.5
            if k != 0:  # scattered cells besides the block: a sparse frame (the block alone: its window)
                f[rng.integers(0, 60, 5), rng.integers(0, 80, 5)] += 0.7
        f[0, 0] = np.nan if k == 3 else f[0, 0]
        seq.append(f)
    return seq


def test_every_client_converges_whatever_frames_it_gets() -> None:
    """Clients that get every frame, miss frames (latest-wins) or join late end with the same field,
    equal to the quantised full field of the last version."""
    g = p.GridInfo(rows=60, cols=80, cell_m=2.0, west_m=0.0, south_m=0.0)
    raw = None
    items = []
    kinds = set()
    for v, arr in enumerate(_field_sequence(), start=1):
        frame, raw_new = field_frames(v, "utci_c", "°C", 15, g, arr, (v - 1, raw) if raw is not None else None)
        raw = raw_new
        if isinstance(frame, tuple):
            kinds.add("sparse" if frame[0].cells is not None else "window")
            items.append((Outgoing(frame[0]), Outgoing(frame[1])))
        else:
            kinds.add("full")
            items.append(Outgoing(frame))
    assert {"full", "sparse", "window"} <= kinds
    user = User("citizen")
    clients = {"all": range(len(items)), "misses": [0, 2, 5, 6], "late": [6]}
    finals = {}
    for name, got in clients.items():
        conn = Connection(name, user, "s")
        field = None
        for i in got:
            out = unwrap(conn, items[i])
            msg = p.decode_server(out.data)  # what goes over the wire, decoded as a viewer does
            field = p.apply_field_frame(field, msg)
        finals[name] = field
    from viewer.desktop.client import apply_field

    desktop: dict = {}  # the desktop viewer's client, getting every frame
    for item in items:
        msg = p.decode_server((item[0] if isinstance(item, tuple) and desktop else item[1] if isinstance(item, tuple) else item).data)
        assert apply_field(desktop, msg)
    finals["desktop"] = desktop[("utci_c", 15)].values_c
    want = p.decode_array(p.quantise_u16(_field_sequence()[-1])).reshape(60, 80)
    for name, f in finals.items():
        np.testing.assert_array_equal(f, want, err_msg=name)


def _access_sequence(n: int = 300, seed: int = 1) -> list[p.AccessFrame]:
    """Complete access frames of successive versions: a few buildings change, then most, then none."""
    rng = np.random.default_rng(seed)
    by_cat = rng.uniform(2, 40, (3, n)).astype(np.float32)
    by_cat[:, :3] = np.inf  # unreachable
    cls = rng.integers(0, 7, n).astype(np.uint8)
    out = []
    for v in range(1, 7):
        if v in (2, 3, 6):
            k = rng.choice(n, 12, replace=False)
            by_cat[:, k] += rng.uniform(-1, 1, (3, 12)).astype(np.float32)
        elif v == 4:
            by_cat += 0.5  # most buildings change: a complete frame
        if v == 6:
            cls[5] = (cls[5] + 1) % 7
        minutes = {"scale": 0.1, "offset": 0.0}
        out.append(p.AccessFrame(v, p.quantise_u16(by_cat.min(axis=0), **minutes), p.encode_array(np.arange(4, dtype=np.uint8)),
                                 [p.DeficitArea("65+", (1.0, 2.0), 10 + v, 20.0)], categories=["a", "b", "doctor"],
                                 building_time_by_category_min=p.quantise_u16(by_cat, **minutes),
                                 building_class=p.encode_array(cls)))
    return out


def test_a_tree_sends_traffic_as_unchanged_to_clients_that_hold_it(incremental) -> None:
    """Traffic re-stamped after a tree travels as 'the volumes of version 1 hold' (empty arrays) to a
    client that was sent version 1, complete to one that joins then; the desktop client keeps its
    volumes, and refuses such a frame without them (it asks again)."""
    from viewer.desktop.client import apply_message

    _, outs = incremental
    full1 = next(f for f in outs[0]["traffic"].frames if isinstance(f, p.EdgeFrame))
    pair = next(f for f in outs[1]["traffic"].frames if isinstance(f, tuple) and isinstance(f[1], p.EdgeFrame))
    part, full2 = pair
    assert part.base_version == 1 and part.scenario_version == 2 and part.flow_veh_h.shape == [0]
    assert full2.base_version == -1 and full2.flow_veh_h == full1.flow_veh_h and full2.scenario_version == 2
    assert len(p.encode(part)) < 0.3 * len(p.encode(full2))  # 65 roads here; the sample has ~800
    vehicles = next(f for f in outs[1]["traffic"].frames if isinstance(f, tuple) and isinstance(f[1], p.AgentFrame))
    assert vehicles[0].base_version == 1 and vehicles[0].xy_local_m.shape == [0, 2]
    user = User("citizen")
    stayed, joined = Connection("a", user, "s"), Connection("b", user, "s")
    unwrap(stayed, Outgoing(full1))
    assert p.decode_server(unwrap(stayed, (Outgoing(part), Outgoing(full2))).data).base_version == 1
    assert p.decode_server(unwrap(joined, (Outgoing(part), Outgoing(full2))).data).base_version == -1

    class State:
        counts: dict = {}
        edges: dict = {}
        edges_version = -1
        agents: dict = {}

    st = State()
    assert apply_message(st, p.decode_server(p.encode(full1)))
    flows = st.edges["flow_veh_h"].copy()
    assert apply_message(st, p.decode_server(p.encode(part)))
    assert st.edges_version == 2 and np.array_equal(st.edges["flow_veh_h"], flows) and len(flows) > 0
    fresh = State()
    fresh.edges, fresh.agents = {}, {}
    assert not apply_message(fresh, p.decode_server(p.encode(part)))  # without the base: ask again
    assert not apply_message(fresh, p.decode_server(p.encode(vehicles[0])))


def test_access_clients_converge_whatever_frames_they_get() -> None:
    """Access frames travel as the changed buildings on top of the last version; clients that get every
    frame, miss some or join late (and the desktop client) end with the last complete frame."""
    from server.engines import access_frames

    fulls = _access_sequence()
    items, kinds, base = [], set(), None
    for fr in fulls:
        out = access_frames(fr, base)
        base = (fr.scenario_version, fr)
        if isinstance(out, tuple):
            kinds.add("partial")
            assert len(p.encode(out[0])) < len(p.encode(out[1])) / 3
            items.append((Outgoing(out[0]), Outgoing(out[1])))
        else:
            kinds.add("full")
            items.append(Outgoing(out))
    assert kinds == {"partial", "full"}
    user = User("citizen")
    finals = {}
    for name, got in {"all": range(len(items)), "misses": [0, 2, 5], "late": [5], "gap": [0, 1, 3, 4, 5]}.items():
        conn = Connection(name, user, "s")
        acc = None
        for i in got:
            msg = p.decode_server(unwrap(conn, items[i]).data)
            acc = p.apply_access_frame(acc, msg)
            assert acc is not None, (name, i)
        finals[name] = acc
    from viewer.desktop.client import apply_message

    class State:
        counts: dict = {}
        access = None

    st = State()
    for k, item in enumerate(items):  # the desktop client gets every partial frame it can use
        msg = p.decode_server((item[0] if isinstance(item, tuple) and k > 0 else item[1] if isinstance(item, tuple) else item).data)
        assert apply_message(st, msg)
    finals["desktop"] = st.access
    orphan = p.decode_server(items[5][0].data)  # a partial frame without its base: refused, the client asks again
    assert p.apply_access_frame(None, orphan) is None and p.apply_access_frame(fulls[0], orphan) is None
    want = fulls[-1]
    for name, acc in finals.items():
        assert acc.scenario_version == want.scenario_version and acc.buildings is None, name
        assert [d.persons for d in acc.deficits] == [d.persons for d in want.deficits]
        for a in ("building_time_min", "building_time_by_category_min", "building_class", "stop_quality"):
            np.testing.assert_array_equal(p.decode_array(getattr(acc, a)), p.decode_array(getattr(want, a)), err_msg=f"{name} {a}")


def test_a_far_reaching_change_travels_compressed_and_applies_exactly() -> None:
    """A change over many scattered cells (a closure's waste heat) makes a large partial frame: it
    travels compressed and applies to the same field as the complete frame."""
    g = p.GridInfo(rows=300, cols=400, cell_m=2.0, west_m=0.0, south_m=0.0)
    rng = np.random.default_rng(7)
    a = (30.0 + np.cumsum(rng.normal(0, 0.02, (300, 400)), axis=1)).astype(np.float32)
    b = a.copy()
    b[rng.random((300, 400)) < 0.3] += 0.05  # a third of the cells, scattered
    _, raw = field_frames(1, "utci_c", "°C", 15, g, a, None)
    pair, _ = field_frames(2, "utci_c", "°C", 15, g, b, (1, raw))
    part, full = pair
    assert part.cells is not None and part.values.codec == "zlib" and part.cells.codec == "zlib"
    wire = p.decode_server(p.encode(part))
    assert len(p.encode(part)) < 0.6 * 6 * part.values.shape[0]  # smaller than raw indices and values
    np.testing.assert_array_equal(p.apply_field_frame(p.decode_array(p.quantise_u16(a)), wire), p.decode_array(full.values))


def test_a_sparse_frame_that_does_not_fit_its_window_is_refused() -> None:
    g = p.GridInfo(rows=4, cols=4, cell_m=1.0, west_m=0.0, south_m=0.0)
    bad = p.FieldFrame(2, 1, "utci_c", "°C", 15, False, g, p.Window(0, 0, 2, 2), p.encode_array(np.zeros(2, "<u2")),
                       cells=p.encode_array(np.array([1, 4], "<u4")))
    with pytest.raises(p.ProtocolError):
        p.decode_server(p.encode(bad))
    acc = p.AccessFrame(2, p.encode_array(np.zeros(3, "<u2")), p.encode_array(np.zeros(1, "|u1")), [], base_version=1,
                        buildings=p.encode_array(np.array([0, 7], "<u4")))  # two buildings, three values
    with pytest.raises(p.ProtocolError):
        p.decode_server(p.encode(acc))


def test_a_single_edit_of_a_shown_scenario_does_not_wait_for_the_debounce(tmp_path: Path, district) -> None:
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    svc = SimulationService(st, lambda sid, msg: None, engines=["costs"], debounce_s=60.0)
    svc.start()
    try:
        assert svc.request("s", 1, district, [], wait=True, timeout=30) is not None  # the scenario is shown
        t0 = time.monotonic()
        svc.request("s", 2, district, [Tree(id="t", xy_local_m=(80.0, 80.0))])
        with svc._cond:
            job = svc._pending.get(("s",))
        assert job is None or job.due <= t0 + 1.0  # not 60 s later
        deadline = time.monotonic() + 30
        while svc.cached("s", 2) is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # a burst on a scenario without results waits for the debounce and runs once
        for v in range(1, 4):
            svc.request("q", v, district, [])
        with svc._cond:
            assert svc._pending[("q",)].version == 3 and svc._pending[("q",)].due > time.monotonic() + 30
    finally:
        svc.stop()
        st.dispose()


def test_compiled_kernels_are_kept_in_the_named_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "k.py"
    script.write_text("import sys\nsys.path.insert(0, sys.argv[1])\nfrom sim_kernels.runtime import ensure_init\n"
                      "ensure_init('cpu')\nimport taichi as ti\n\n\n@ti.kernel\ndef f() -> ti.i32:\n    return 3\n\n\n"
                      "print(f())\n")
    cache = tmp_path / "data" / "kernel-cache"
    env = {**__import__("os").environ, "LANDTWIN_KERNEL_CACHE": str(cache)}
    out = subprocess.run([sys.executable, str(script), str(Path(__file__).resolve().parents[1])], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("3"), out.stderr[-2000:]
    assert any(cache.glob("*.tic")), "no compiled kernel in the cache folder"


def _until(pred, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_results_are_stored_after_their_frames_and_a_burst_once(tmp_path: Path, district) -> None:
    """Storing is off the frames' path: live results nobody waits for are written later by a thread, the
    newest version of a burst once; a waited job is stored before its waiter returns; stop() writes what
    is queued (a new service finds it without computing); a dropped scenario leaves nothing stored."""
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    sent: list[tuple[str, object]] = []
    svc = SimulationService(st, lambda sid, msg: sent.append((sid, msg)), engines=["costs"], debounce_s=0.0,
                            store_delay_s=30.0)
    svc.start()
    try:
        assert svc.request("s", 1, district, [], wait=True, timeout=30) is not None
        assert st.result_hours("s", 1) == [(15,)]  # a waiter finds its results stored
        for v in (2, 3, 4):
            svc.request("s", v, district, [Tree(id=f"t{v}", xy_local_m=(80.0 + v, 80.0))])
            _until(lambda v=v: svc.cached("s", v) is not None)
            done = [m for sid, m in sent if isinstance(m, p.Progress) and m.stage == "done" and m.scenario_version == v]
            assert done, "the frames went out before the results were stored"
        assert [st.result_hours("s", v) for v in (2, 3, 4)] == [[], [], []]  # not yet: 30 s later
        assert svc.stores_coalesced == 2  # 3 took 2's place in the queue, 4 took 3's
        stages = [s for sid, v, s, _ in svc.trace if (sid, v) == ("s", 4)]
        assert stages[0] == "start" and "costs:published" in stages and "done" in stages and "stored" not in stages
        # a dropped scenario: its stored and queued results go
        assert svc.request("d", 1, district, [], wait=True, timeout=30) is not None
        svc.request("d", 2, district, [Tree(id="t", xy_local_m=(90.0, 90.0))])
        _until(lambda: svc.cached("d", 2) is not None)
        svc.drop("d")
        assert st.result_hours("d", 1) == []
    finally:
        svc.stop()
    assert st.result_hours("s", 4) == [(15,)] and st.result_hours("s", 2) == st.result_hours("s", 3) == []
    assert st.result_hours("d", 2) == []
    assert ("s", 4, "stored") in [(sid, v, s) for sid, v, s, _ in svc.trace]
    again = SimulationService(st, lambda sid, msg: None, engines=["costs"])
    res = again.cached("s", 4)
    assert res is not None and again.jobs_run == 0 and "costs" in res.outputs
    st.dispose()


def test_a_newer_version_stops_the_heat_engine_after_its_early_frame(district) -> None:
    """The day's building cooling comes after the early UTCI frame; a job cancelled by then stops before it
    (its early frame went out), and the next version's fields equal a full recompute."""
    if "heat" not in available_engines():
        pytest.skip("heat engine not present")
    from server.worker import Cancelled, EngineRunner
    from sim_kernels.runtime import ensure_init

    ensure_init("cpu")
    runner = EngineRunner(["heat"])
    tree = Tree(id="t", xy_local_m=_free_xy(district, 3), height_m=12.0)
    seen: list[tuple] = []
    early = [False]

    def emit(ev: tuple) -> None:
        seen.append(ev)
        if ev[0] == "progress" and not isinstance(ev[1], p.Progress):
            early[0] = True

    runner.run("c", 1, district, [], (15,), lambda: False, lambda ev: None)
    with pytest.raises(Cancelled):
        runner.run("c", 2, district, [tree], (15,), lambda: early[0], emit)
    assert early[0] and not [ev for ev in seen if ev[0] == "engine"]
    assert ("mark", "heat:done") not in [(ev[0], ev[1]) for ev in seen]
    outs: dict = {}
    runner.run("c", 3, district, [tree], (15,), lambda: False, lambda ev: outs.update({ev[1]: ev[2]}) if ev[0] == "engine" else None)
    full: dict = {}
    EngineRunner(["heat"]).run("f", 3, district, [tree], (15,), lambda: False,
                               lambda ev: full.update({ev[1]: ev[2]}) if ev[0] == "engine" else None)
    assert outs["heat"].computed_version == 3
    for layer, (_hours, arr) in full["heat"].fields.items():
        np.testing.assert_allclose(outs["heat"].fields[layer][1], arr, atol=1e-4, err_msg=layer)
    assert outs["heat"].kpis == pytest.approx(full["heat"].kpis)


def test_what_need_not_come_first_waits_for_the_heat_map(district) -> None:
    """In a live job the heat map (and its key figures) goes out before the quick costs output, the
    traffic output that a tree only re-stamps and the heat engine's start; a road closure's traffic
    engine computes, so its progress and volumes go out as they come, before heat starts."""
    if not {"traffic", "heat"} <= set(available_engines()):
        pytest.skip("needs the traffic and heat engines")
    from geodata.interventions import RoadClosure
    from server.worker import EngineRunner
    from sim_kernels.runtime import ensure_init

    ensure_init("cpu")
    runner = EngineRunner(["costs", "traffic", "heat"])
    runner.run("o", 1, district, [], (15,), lambda: False, lambda ev: None)

    def events(version: int, interventions: list) -> list[str]:
        seen: list[str] = []

        def emit(ev: tuple) -> None:
            if ev[0] == "engine":
                seen.append(f"engine:{ev[1]}")
            elif ev[0] == "progress" and isinstance(ev[1], p.Progress):
                seen.append(f"progress:{ev[1].stage}")
            elif ev[0] == "progress":  # a frame ahead of the output (a partial field goes with its complete one)
                seen.append(f"early:{type(ev[1][0] if isinstance(ev[1], tuple) else ev[1]).__name__}")

        runner.run("o", version, district, interventions, (15,), lambda: False, emit)
        return seen

    tree = Tree(id="t", xy_local_m=_free_xy(district, 4), height_m=12.0)
    seen = events(2, [tree])
    first_map = seen.index("early:FieldFrame")
    assert seen[first_map + 1] == "early:KpiFrame"
    for later in ("engine:costs", "engine:traffic", "progress:heat", "engine:heat"):
        assert seen.index(later) > first_map, (later, seen)
    closure = RoadClosure(id="r", edge_index=int(np.argmax(np.asarray(district.roads.lanes))))
    seen = events(3, [tree, closure])
    assert seen.index("progress:traffic") < seen.index("engine:traffic") < seen.index("early:FieldFrame")
    assert seen.index("engine:costs") < seen.index("engine:traffic")
