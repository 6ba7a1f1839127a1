"""What an anonymous visitor can read and what it costs: results keyed by hours (an export at another
hour never changes the shown KPIs and costs one hour's computation), anonymous exports from stored
results only, bounded live hours, waiters that follow superseding jobs, a worker that is stopped,
restarted and reported, person counts 1-4 in no anonymous response, hidden comments never re-sent."""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
import time
from pathlib import Path

import msgspec
import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_support import auth, make_app, tiny_district

import protocol as p
from geodata.interventions import Tree
from models.privacy import MIN_COUNT, ROUND_TO, check_published, is_count_key
from server.engines import available_engines
from server.hub import Connection, aggregate_people
from server.roles import User
from server.service import SimulationService
from server.storage import Storage
from server.worker import WorkerFailed

pytestmark = pytest.mark.timeout(300)  # sockets read without a time limit of their own

TREES = [{"kind": "tree", "id": f"t{i}", "xy_local_m": xy, "height_m": 15, "crown_diameter_m": 10}
         for i, xy in enumerate(([70, 70], [80, 70], [90, 70]))]


class Sink:
    def __init__(self) -> None:
        self.msgs: list[object] = []
        self.lock = threading.Lock()

    def __call__(self, sid: str, msg: object) -> None:
        with self.lock:
            self.msgs.append(msg)

    def of(self, cls: type) -> list:
        with self.lock:
            return [m for m in self.msgs if isinstance(m, cls)]


def _need(*engines: str) -> None:
    missing = set(engines) - set(available_engines())
    if missing:
        pytest.skip(f"engines not present: {sorted(missing)}")


def test_an_export_at_another_hour_leaves_the_shown_kpis_and_costs_one_hour(tmp_path: Path) -> None:
    _need("traffic", "heat")
    app, tokens = make_app(tmp_path, engines=["costs", "traffic", "heat"])
    h = auth(tokens["planner"])
    with TestClient(app) as c:
        twin = app.state.twin
        sid = c.post("/api/scenarios", json={"name": "Amtlich", "district": "tiny"}, headers=h).json()["scenario_id"]
        for t in TREES:
            c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": t}, headers=h)
        shown = c.get(f"/api/scenarios/{sid}/results/kpis", headers=h).json()
        assert shown["kpis"]["heat"]["kpi_hour"] == 15.0
        # an anonymous visitor cannot make the server compute another hour
        n_jobs = len(twin.service.executed)
        r = c.get(f"/api/scenarios/{sid}/exports/fields/utci_c.tif?hour=3")
        assert r.status_code == 503 and r.json()["error"] == "not_ready" and r.json()["message_de"]
        assert len(twin.service.executed) == n_jobs
        # a planner's export computes hour 3 alone, with only the engines heat needs, and publishes nothing
        frames_before = len(twin.hub.rooms)
        r = c.get(f"/api/scenarios/{sid}/exports/fields/utci_c.tif?hour=3", headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "image/tiff"
        new = twin.service.executed[n_jobs:]
        assert new == [(sid, 3, (3,), False, ("traffic", "heat"))], new
        assert len(twin.hub.rooms) == frames_before
        # what everyone sees is still 15:00, and equal to what it was
        after = c.get(f"/api/scenarios/{sid}/results/kpis").json()
        assert after["kpis"]["heat"]["kpi_hour"] == 15.0
        assert after["kpis"]["heat"]["utci_mean_c"] == pytest.approx(shown["kpis"]["heat"]["utci_mean_c"])
        assert twin.service.cached(sid, 3).hours == (15,)
        # the stored export now serves anonymous visitors without computing
        n_jobs = len(twin.service.executed)
        assert c.get(f"/api/scenarios/{sid}/exports/fields/utci_c.tif?hour=3").status_code == 200
        assert len(twin.service.executed) == n_jobs


def test_live_jobs_compute_a_bounded_number_of_hours(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    twin = app.state.twin
    room = {}
    for hour in range(24):  # 24 planners' sockets on 24 different hours
        for k in range(1 + (hour == 9)):
            conn = Connection(session_id=f"s{hour}_{k}", user=User("planner", "Umwelt", user_id=f"p{hour}"), scenario_id="x")
            conn.layers, conn.hour = frozenset({"heat"}), hour
            room[conn.session_id] = conn
    twin.hub.rooms["x"] = room
    hours = twin.hours_for("x")
    assert 15 in hours and 9 in hours and len(hours) <= 4
    for k in range(10):  # anonymous sockets never add hours to every edit's work
        conn = Connection(session_id=f"a{k}", user=User("citizen"), scenario_id="x")
        conn.layers, conn.hour = frozenset({"heat"}), 3
        room[conn.session_id] = conn
    assert twin.hours_for("x") == hours
    twin.hub.rooms["x"] = {k: c for k, c in room.items() if c.user.is_anonymous}
    assert twin.hours_for("x") == (15,)
    twin.close()


def test_a_superseded_waiter_returns_with_the_newer_results(tmp_path: Path) -> None:
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    svc = SimulationService(st, Sink(), engines=["costs"], debounce_s=0.0)
    district = tiny_district()
    got: list = []

    def waiter() -> None:
        t0 = time.monotonic()
        try:
            got.append(svc.request("s", 1, district, [], wait=True, timeout=300.0))
        except Exception as exc:  # noqa: BLE001 - reported below
            got.append(exc)
        got.append(time.monotonic() - t0)

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)  # the waited job is queued (the service is not running yet)
    svc.request("s", 2, district, [Tree(id="a", xy_local_m=(80.0, 80.0))])  # a newer edit supersedes it
    svc.start()
    th.join(20)
    svc.stop()
    st.dispose()
    assert not th.is_alive(), "the waiter hangs"
    res, took = got
    assert not isinstance(res, Exception), res
    assert res.version == 2 and took < 10.0


def test_a_job_past_its_time_limit_is_stopped_reported_and_the_worker_restarted(tmp_path: Path) -> None:
    _need("traffic")
    sink = Sink()
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    svc = SimulationService(st, sink, engines=["costs", "traffic"], debounce_s=0.0, job_timeout_s=0.3)
    svc.start()
    district = tiny_district()
    try:
        t0 = time.monotonic()
        with pytest.raises(WorkerFailed):
            svc.request("s", 1, district, [], wait=True, timeout=60.0)  # process start and compile take longer
        assert time.monotonic() - t0 < 30.0
        errors = sink.of(p.ErrorMessage)
        assert [(e.code, e.scenario_version) for e in errors] == [("simulation_failed", 1)]
        assert errors[0].message_de and errors[0].message_en
        assert svc.worker_restarts >= 1 and svc._process is not None and svc._process.proc.is_alive()
        svc.job_timeout_s = 120.0
        res = svc.request("s", 2, district, [], wait=True, timeout=120.0)
        assert res is not None and "traffic" in res.kpis()
    finally:
        svc.stop()
        st.dispose()


def test_a_worker_that_dies_mid_job_is_restarted_and_the_job_retried(tmp_path: Path) -> None:
    _need("traffic")
    killed = threading.Event()

    class Killer(Sink):
        def __call__(self, sid, msg):
            super().__call__(sid, msg)
            if isinstance(msg, p.Progress) and msg.stage == "traffic" and not killed.is_set():
                killed.set()
                os.kill(svc._process.proc.pid, signal.SIGKILL)

    sink = Killer()
    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    svc = SimulationService(st, sink, engines=["costs", "traffic"], debounce_s=0.0)
    svc.start()
    try:
        res = svc.request("s", 1, tiny_district(), [], wait=True, timeout=120.0)
    finally:
        svc.stop()
        st.dispose()
    assert killed.is_set() and res is not None and "traffic" in res.kpis()
    assert svc.worker_restarts >= 1 and not sink.of(p.ErrorMessage)


def test_aggregated_people_are_published_counts_on_cells() -> None:
    rng = np.random.default_rng(3)
    xy = np.concatenate([rng.uniform(0, 200, (57, 2)), np.full((3, 2), 420.0), np.full((12, 2), 610.0)]).astype(np.float32)
    frame = p.AgentFrame(4, "people", 54000.0, p.encode_array(xy))
    agg = aggregate_people(frame, 50.0)
    assert agg.aggregated == 50.0 and agg.scenario_version == 4
    pts = p.decode_array(agg.xy_local_m).reshape(-1, 2)
    cells, n_pts = np.unique(np.floor(pts / 50.0).astype(int), axis=0, return_counts=True)
    true_cells, n_true = np.unique(np.floor(xy / 50.0).astype(int), axis=0, return_counts=True)
    truth = {tuple(c): int(n) for c, n in zip(true_cells, n_true)}
    for cell, n in zip(cells, n_pts):
        assert truth[tuple(cell)] >= MIN_COUNT  # no cell of 1-4 persons appears
        assert abs(n * ROUND_TO - truth[tuple(cell)]) <= ROUND_TO / 2  # one point per 5 persons, rounded
    assert (8, 8) not in {tuple(c) for c in cells}  # the 3 persons at (420, 420)
    assert not any(np.isclose(pts, v, atol=1e-3).all(axis=1).any() for v in xy[:5])  # no individual's position


def _small_counts_in_frame(msg) -> list[str]:
    if isinstance(msg, p.KpiFrame):
        return check_published(msg.values, f"kpis:{msg.engine}")
    if isinstance(msg, p.AccessFrame):
        bad = []
        for a in msg.deficits:
            if 0 < a.persons < MIN_COUNT:
                bad.append(f"deficit {a.area_id}")
            bad += [f"deficit {a.area_id} {k}" for k, v in a.deficit_persons.items() if 0 < v < MIN_COUNT]
        return bad
    return []


def test_no_count_of_one_to_four_reaches_an_anonymous_client(tmp_path: Path) -> None:
    engines = available_engines()
    _need("traffic", "heat", "access")
    app, tokens = make_app(tmp_path, engines=engines)
    h = auth(tokens["planner"])
    with TestClient(app) as c:
        twin = app.state.twin
        a = c.post("/api/scenarios", json={"name": "A", "district": "tiny"}, headers=h).json()["scenario_id"]
        b = c.post(f"/api/scenarios/{a}/fork", json={"name": "B"}, headers=h).json()["scenario_id"]
        c.post(f"/api/scenarios/{b}/interventions", json={"intervention": {
            "kind": "housing", "id": "h", "polygon_local_m": [[70, 140], [110, 140], [110, 180], [70, 180]],
            "dwellings": 2, "persons_per_dwelling": 1.5}}, headers=h)
        raw = twin.results(b)  # the engines' own figures, published at the boundary
        frames: list = []
        with c.websocket_connect(f"/ws/scenarios/{b}") as ws:
            ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION)))
            p.decode_server(ws.receive_bytes())
            ws.send_bytes(p.encode(p.Subscribe(layers=["heat", "traffic", "access", "agents"], hour=15)))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and {"access", "heat"} - {f.engine for f in frames if isinstance(f, p.KpiFrame)}:
                frames.append(p.decode_server(ws.receive_bytes()))
        kinds = {type(f).__name__ for f in frames}
        assert {"KpiFrame", "AccessFrame"} <= kinds, kinds
        bad = [x for f in frames for x in _small_counts_in_frame(f)]
        people = [f for f in frames if isinstance(f, p.AgentFrame) and f.kind == "people"]
        assert people and all(f.aggregated > 0 for f in people)
        # REST: KPIs, CSV, comparison
        kpis = c.get(f"/api/scenarios/{b}/results/kpis").json()
        bad += check_published(kpis)
        compare = c.get(f"/api/scenarios/{a}/compare/{b}").json()
        bad += check_published(compare["a"]) + check_published(compare["b"])
        for row in csv.DictReader(io.StringIO(c.get(f"/api/scenarios/{b}/exports/kpis.csv").text)):
            if is_count_key(row["kpi"]) and row["value"] and 0 < float(row["value"]) < MIN_COUNT:
                bad.append(f"csv {row['kpi']}")
        assert not bad, bad
        counts = {k: v for eng in raw.kpis().values() for k, v in eng.items() if is_count_key(k)}
        assert counts and all(v is None or v == 0 or (v >= MIN_COUNT and v % ROUND_TO == 0) for v in counts.values()), counts
        assert any(v is None for v in counts.values())  # the tiny district has groups of 1-4: suppressed
        # a planner still sees individuals' positions for planning, never anonymous clients
        with c.websocket_connect(f"/ws/scenarios/{b}") as ws:
            ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, role="planner", token=tokens["planner"])))
            p.decode_server(ws.receive_bytes())
            ws.send_bytes(p.encode(p.Subscribe(layers=["agents"], hour=15)))
            deadline = time.monotonic() + 30
            mine = []
            while time.monotonic() < deadline and not mine and people:
                f = p.decode_server(ws.receive_bytes())
                if isinstance(f, p.AgentFrame) and f.kind == "people":
                    mine.append(f)
            assert all(f.aggregated == 0 for f in mine)


def test_a_hidden_comment_is_never_sent_again(tmp_path: Path) -> None:
    app, tokens = make_app(tmp_path)
    h = auth(tokens["planner"])
    secret = "Beleidigender Text 4711"
    with TestClient(app) as c:
        sid = c.post("/api/scenarios", json={"name": "A", "district": "tiny"}, headers=h).json()["scenario_id"]
        cid = c.post(f"/api/scenarios/{sid}/comments", json={"scenario_version": 0, "xyz_local_m": [5, 5, 1],
                                                              "text": secret, "author_name": "X"}).json()["comment_id"]
        with c.websocket_connect(f"/ws/scenarios/{sid}") as ws:
            ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION)))
            p.decode_server(ws.receive_bytes())
            assert c.patch(f"/api/comments/{cid}", json={"hidden": True}, headers=h).status_code == 200
            seen = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                data = ws.receive_bytes()
                seen.append(data)
                msg = p.decode_server(data)
                if isinstance(msg, p.CommentEvent):
                    break
        assert msg.comment.comment_id == cid and msg.comment.hidden and msg.comment.text == ""
        assert not any(secret.encode() in d for d in seen)
        assert c.post(f"/api/comments/{cid}/vote", json={"value": 1}).status_code == 404
        assert secret not in c.get(f"/api/scenarios/{sid}/comments").text
        assert secret not in c.get(f"/api/scenarios/{sid}/exports/comments.geojson").text
        assert secret in msgspec.json.encode(c.get(f"/api/scenarios/{sid}/comments", headers=h).json()).decode()


def test_an_export_stops_when_its_client_goes_away(tmp_path: Path) -> None:
    _need("traffic", "heat")
    from server.service import Superseded

    st = Storage(f"sqlite:///{tmp_path / 'r.sqlite'}")
    sink = Sink()
    svc = SimulationService(st, sink, engines=["costs", "traffic", "heat"], debounce_s=0.0)
    svc.start()
    district = tiny_district()
    cancel = threading.Event()
    got: list = []

    def client() -> None:
        t0 = time.monotonic()
        try:
            got.append(svc.export("s", 1, district, [], 3, "heat", cancel=cancel))
        except Superseded as exc:
            got.append(exc)
        got.append(time.monotonic() - t0)

    try:
        th = threading.Thread(target=client)
        th.start()
        time.sleep(0.3)  # queued or running (the worker process is still starting)
        cancel.set()
        th.join(10)
        assert not th.is_alive() and isinstance(got[0], Superseded) and got[1] < 5.0
        deadline = time.monotonic() + 60
        while not svc.idle():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert svc.stored_export("s", 1, 3, "heat") is None  # nothing was finished for nobody
        assert not sink.msgs  # and nothing published
        res = svc.export("s", 1, district, [], 3, "heat", timeout=120.0)  # asked again, it is computed
        assert res.hours == (3,) and "heat" in res.outputs
    finally:
        svc.stop()
        st.dispose()


def test_a_rare_hour_is_computed_once_for_that_hour_alone_at_low_priority(tmp_path: Path) -> None:
    _need("traffic", "heat")
    app, tokens = make_app(tmp_path, engines=["costs", "traffic", "heat"])
    h = auth(tokens["planner"])
    with TestClient(app) as c:
        twin = app.state.twin
        sid = c.post("/api/scenarios", json={"name": "Amtlich", "district": "tiny"}, headers=h).json()["scenario_id"]
        c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": TREES[0]}, headers=h)
        shown = c.get(f"/api/scenarios/{sid}/results/kpis", headers=h).json()
        n_jobs = len(twin.service.executed)
        with c.websocket_connect(f"/ws/scenarios/{sid}") as ws:  # an anonymous visitor's hour slider
            ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION)))
            p.decode_server(ws.receive_bytes())
            ws.send_bytes(p.encode(p.Subscribe(layers=["heat"], hour=9)))
            while not isinstance(f := p.decode_server(ws.receive_bytes()), p.FieldFrame) or f.hour != 9:
                pass
        assert f.scenario_version == 1 and f.layer == "utci_c"
        assert twin.service.executed[n_jobs:] == [(sid, 1, (9,), False, ("traffic", "heat"))]
        assert twin.hours_for(sid) == (15,)  # the visitor's hour is not added to every edit's work
        after = c.get(f"/api/scenarios/{sid}/results/kpis", headers=h).json()
        assert after["kpis"]["heat"]["kpi_hour"] == 15.0 and after["kpis"] == shown["kpis"]
        # stored now: the next visitor on that hour (and an anonymous export) costs nothing
        assert c.get(f"/api/scenarios/{sid}/exports/fields/utci_c.tif?hour=9").status_code == 200
        assert len(twin.service.executed) == n_jobs + 1


def test_a_visitor_whose_hour_cannot_be_queued_is_told_so(tmp_path: Path) -> None:
    """With the public queue of hour computations full, a visitor's hour slider gets a clear answer (code
    ``busy``, German and English) instead of an empty hour that never fills."""
    _need("traffic", "heat")
    from server.twin import MAX_PUBLIC_EXPORTS

    app, tokens = make_app(tmp_path, engines=["costs", "traffic", "heat"])
    h = auth(tokens["planner"])
    with TestClient(app) as c:
        twin = app.state.twin
        sid = c.post("/api/scenarios", json={"name": "Amtlich", "district": "tiny"}, headers=h).json()["scenario_id"]
        c.get(f"/api/scenarios/{sid}/results/kpis", headers=h)  # the shown hour computed and kept
        twin.service.stop()  # nothing runs from here on: queued hours stay queued
        m = twin.manager.model(sid)
        for hour in range(5, 5 + MAX_PUBLIC_EXPORTS):  # other visitors' hours, queued (never run: no district needed)
            assert twin.service.export_later(sid, m.version, None, [], hour, "heat", lambda res: None,
                                             max_pending=MAX_PUBLIC_EXPORTS)
        with c.websocket_connect(f"/ws/scenarios/{sid}") as ws:  # an anonymous visitor asks for another hour
            ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION)))
            p.decode_server(ws.receive_bytes())
            ws.send_bytes(p.encode(p.Subscribe(layers=["heat"], hour=9)))
            while not isinstance(msg := p.decode_server(ws.receive_bytes()), p.ErrorMessage):
                assert not (isinstance(msg, p.FieldFrame) and msg.hour == 9)
        assert msg.code == "busy" and "9 Uhr" in msg.message_de and "9:00" in msg.message_en
