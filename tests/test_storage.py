"""Storage and scenario rules over a real database (SQLite here; tests/test_postgres.py reruns these
tests against a real PostgreSQL server by overriding ``storage_url``)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from server_support import tiny_district

import protocol as p
from geodata.interventions import InterventionError, Tree
from server.districts import DistrictCatalog
from server.roles import Denied, User
from server.scenario import EditRefused, ScenarioModel
from server.scenarios import ScenarioManager
from server.storage import SCHEMA_VERSION, EditRecord, Storage, VersionTaken, now_utc

PLANNER = User(role="planner", department="Umwelt", name="Anna", user_id="u1")
PLANNER2 = User(role="planner", department="Verkehr", name="Ben", user_id="u2")
CITIZEN = User(role="citizen")


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'twin.sqlite'}"


@pytest.fixture
def storage(storage_url: str):
    s = Storage(storage_url)
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def district():
    return tiny_district()


@pytest.fixture
def manager(storage: Storage, district, tmp_path: Path) -> ScenarioManager:
    cat = DistrictCatalog(tmp_path)
    cat.register(district)
    return ScenarioManager(storage, cat)


def _rec(sid: str, version: int, object_id: str = "t1") -> EditRecord:
    return EditRecord(sid, version, "add", "edit", object_id, 1, {"kind": "tree", "id": object_id}, None,
                      "planner", "Umwelt", "Anna", "u1", "s", version, now_utc())


def test_migrations_run_once_and_are_idempotent(storage_url: str) -> None:
    a = Storage(storage_url)
    assert a.schema_version() == SCHEMA_VERSION
    a.dispose()
    b = Storage(storage_url)
    with b.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM schema_version")).scalar() == SCHEMA_VERSION
    b.dispose()


def test_sqlite_runs_in_wal_mode_with_full_sync(storage: Storage) -> None:
    if not storage.is_sqlite:
        pytest.skip("SQLite only")
    with storage.engine.connect() as c:
        assert c.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(sa.text("PRAGMA synchronous")).scalar() == 2  # FULL
    assert storage.integrity_ok()


def test_edit_log_is_append_only_and_versioned(storage: Storage) -> None:
    row = storage.create_scenario(name="A", district="tiny", kind="official")
    for v in (1, 2, 3):
        storage.append_edit(_rec(row.scenario_id, v, f"t{v}"))
    with pytest.raises(VersionTaken):
        storage.append_edit(_rec(row.scenario_id, 3, "again"))  # a second writer for version 3
    with pytest.raises(VersionTaken):
        storage.append_edit(_rec(row.scenario_id, 5, "gap"))
    recs = storage.load_edits(row.scenario_id)
    assert [r.version for r in recs] == [1, 2, 3]
    assert recs[0].payload == {"kind": "tree", "id": "t1"}
    assert storage.get_scenario(row.scenario_id).head_version == 3
    assert [r.version for r in storage.load_edits(row.scenario_id, after_version=2)] == [3]


def test_concurrent_writers_never_share_a_version(storage: Storage) -> None:
    row = storage.create_scenario(name="A", district="tiny", kind="official")
    won: list[int] = []

    def writer(k: int) -> None:
        for v in range(1, 11):
            try:
                storage.append_edit(_rec(row.scenario_id, v, f"w{k}v{v}"))
                won.append(v)
            except VersionTaken:
                pass

    ts = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(won) == list(range(1, 11))
    assert [r.version for r in storage.load_edits(row.scenario_id)] == list(range(1, 11))


def test_manager_edits_replay_identically_from_storage(manager: ScenarioManager, storage: Storage) -> None:
    m = manager.create(PLANNER, name="Grüne Mitte", district="tiny")
    sid = m.scenario_id
    manager.edit(PLANNER, "s1", sid, p.AddIntervention(1, Tree(id="t1", xy_local_m=(80, 80))))
    manager.edit(PLANNER2, "s2", sid, p.AddIntervention(2, Tree(id="t2", xy_local_m=(90, 80))))
    manager.edit(PLANNER, "s1", sid, p.UpdateIntervention(3, Tree(id="t1", xy_local_m=(85, 80)), base_revision=1))
    manager.edit(PLANNER2, "s2", sid, p.RemoveIntervention(4, "t2", base_revision=1))
    replayed = ScenarioModel.replay(storage.get_scenario(sid), storage.load_edits(sid))
    live = manager.model(sid)
    assert replayed.version == live.version == 4
    assert replayed.objects == live.objects
    assert [o.xy_local_m for o in replayed.interventions()] == [(85.0, 80.0)]


def test_stale_revision_is_rejected_with_current_state(manager: ScenarioManager) -> None:
    sid = manager.create(PLANNER, name="A", district="tiny").scenario_id
    manager.edit(PLANNER, "s1", sid, p.AddIntervention(1, Tree(id="t1", xy_local_m=(80, 80))))
    manager.edit(PLANNER, "s1", sid, p.UpdateIntervention(2, Tree(id="t1", height_m=20, xy_local_m=(80, 80)), 1))
    with pytest.raises(EditRefused) as exc:
        manager.edit(PLANNER2, "s2", sid, p.UpdateIntervention(3, Tree(id="t1", height_m=5, xy_local_m=(80, 80)), 1))
    assert exc.value.code == "conflict" and exc.value.current.revision == 2
    assert exc.value.current.intervention.height_m == 20
    assert "geändert" in exc.value.de and "changed" in exc.value.en
    assert manager.model(sid).version == 2


def test_undo_and_redo_are_per_user(manager: ScenarioManager, storage: Storage) -> None:
    sid = manager.create(PLANNER, name="A", district="tiny").scenario_id
    manager.edit(PLANNER, "s1", sid, p.AddIntervention(1, Tree(id="a", xy_local_m=(80, 80))))
    manager.edit(PLANNER2, "s2", sid, p.AddIntervention(1, Tree(id="b", xy_local_m=(90, 90))))
    manager.edit(PLANNER, "s1", sid, p.Undo(2))  # removes a, not b
    assert set(manager.model(sid).objects) == {"b"}
    manager.edit(PLANNER, "s1", sid, p.Redo(3))
    assert set(manager.model(sid).objects) == {"a", "b"}
    manager.edit(PLANNER2, "s2", sid, p.Undo(2))
    assert set(manager.model(sid).objects) == {"a"}
    with pytest.raises(EditRefused) as exc:
        manager.edit(PLANNER2, "s2", sid, p.Undo(3))
    assert exc.value.code == "nothing_to_undo"
    # the undo stacks survive a restart (replay of the log)
    again = ScenarioModel.replay(storage.get_scenario(sid), storage.load_edits(sid))
    assert again.plan_redo(manager_author := __import__("server.scenario", fromlist=["Author"]).Author(
        "planner", "Verkehr", "Ben", "u2", "s9"), 5).op == "add"
    assert manager_author.user_id == "u2"


def test_undo_after_someone_else_changed_the_object_is_refused(manager: ScenarioManager) -> None:
    sid = manager.create(PLANNER, name="A", district="tiny").scenario_id
    manager.edit(PLANNER, "s1", sid, p.AddIntervention(1, Tree(id="a", xy_local_m=(80, 80))))
    manager.edit(PLANNER2, "s2", sid, p.UpdateIntervention(1, Tree(id="a", xy_local_m=(70, 80)), 1))
    with pytest.raises(EditRefused) as exc:
        manager.edit(PLANNER, "s1", sid, p.Undo(2))
    assert exc.value.code == "conflict"


def test_bad_edits_change_nothing(manager: ScenarioManager, storage: Storage) -> None:
    sid = manager.create(PLANNER, name="A", district="tiny").scenario_id
    with pytest.raises(InterventionError):
        manager.edit(PLANNER, "s", sid, p.AddIntervention(1, Tree(id="out", xy_local_m=(5000, 10))))
    with pytest.raises(Denied):
        manager.edit(CITIZEN, "s", sid, p.AddIntervention(1, Tree(id="t", xy_local_m=(50, 10))))
    assert storage.count_edits(sid) == 0 and manager.model(sid).version == 0


def test_fork_archive_and_sandbox_reset(manager: ScenarioManager) -> None:
    base = manager.create(PLANNER, name="A", district="tiny")
    manager.edit(PLANNER, "s", base.scenario_id, p.AddIntervention(1, Tree(id="a", xy_local_m=(80, 80))))
    fork = manager.fork(PLANNER2, base.scenario_id, name="B")
    assert fork.row.parent_id == base.scenario_id and list(fork.objects) == ["a"]
    kiosk = User(role="kiosk")
    sandbox = manager.fork(kiosk, base.scenario_id, name="Kiosk", kind="sandbox")
    manager.edit(kiosk, "k", sandbox.scenario_id, p.AddIntervention(1, Tree(id="k1", xy_local_m=(60, 60))))
    with pytest.raises(Denied):
        manager.edit(kiosk, "k", base.scenario_id, p.AddIntervention(1, Tree(id="k2", xy_local_m=(60, 60))))
    assert set(manager.model(sandbox.scenario_id).objects) == {"a", "k1"}
    manager.reset_to_parent(sandbox.scenario_id)
    assert set(manager.model(sandbox.scenario_id).objects) == {"a"}
    manager.update_meta(PLANNER, base.scenario_id, status="archived")
    with pytest.raises(Denied):
        manager.edit(PLANNER, "s", base.scenario_id, p.AddIntervention(2, Tree(id="b", xy_local_m=(80, 80))))
    with pytest.raises(Denied):
        manager.update_meta(PLANNER2, base.scenario_id, name="not mine")


def test_comments_votes_and_moderation(storage: Storage) -> None:
    sid = storage.create_scenario(name="A", district="tiny", kind="official").scenario_id
    c = storage.add_comment(scenario_id=sid, scenario_version=3, xyz_local_m=(1.0, 2.0, 3.0), kind="idea",
                            text="Mehr Schatten am Markt", author_name="")
    storage.vote(c.comment_id, "browser-a", 1)
    storage.vote(c.comment_id, "browser-a", 1)  # one vote per key
    storage.vote(c.comment_id, "browser-b", 1)
    assert storage.get_comment(c.comment_id).votes == 2
    storage.vote(c.comment_id, "browser-b", 0)
    assert storage.get_comment(c.comment_id).votes == 1
    storage.moderate_comment(c.comment_id, hidden=True, answer="Danke, ist geplant")
    assert storage.list_comments(sid) == []
    got = storage.list_comments(sid, include_hidden=True)[0]
    assert got.hidden and got.answer == "Danke, ist geplant" and got.xyz_local_m == (1.0, 2.0, 3.0)
    with storage.engine.connect() as conn:
        cols = {col["name"] for t in ("comments", "votes") for col in sa.inspect(conn).get_columns(t)}
    assert not any("ip" == c or "addr" in c for c in cols)


def test_tokens_are_stored_hashed(storage: Storage) -> None:
    uid = storage.add_token("secret-1", role="planner", department="Soziales", name="Cara")
    assert storage.lookup_token("secret-1") == {"role": "planner", "department": "Soziales", "name": "Cara", "user_id": uid}
    assert storage.lookup_token("secret-2") is None
    with storage.engine.connect() as conn:
        assert "secret-1" not in str(conn.execute(sa.text("SELECT * FROM tokens")).fetchall())


def test_result_cache_by_version(storage: Storage) -> None:
    sid = storage.create_scenario(name="A", district="tiny", kind="official").scenario_id
    assert storage.get_result(sid, 1, "heat") is None
    storage.put_result(sid, 1, "heat", b"\x01\x02")
    storage.put_result(sid, 1, "heat", b"\x03")
    assert storage.get_result(sid, 1, "heat") == b"\x03"
    assert storage.get_result(sid, 2, "heat") is None
