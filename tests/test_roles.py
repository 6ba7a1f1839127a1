"""Roles, table-driven: a citizen's attempt to change an official scenario is refused on every REST route
and every websocket message type, and changes nothing; naming the kiosk role (a header, a hello) makes
nobody a kiosk: that takes a device token an admin issued."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_support import auth, make_app

import protocol as p
from geodata.interventions import Tree
from server.roles import RateLimiter, User, may_edit, may_manage
from server.storage import ScenarioRow

TREE = {"kind": "tree", "id": "t1", "xy_local_m": [80.0, 80.0]}

# every state-changing REST route: (method, path, body) and whether anonymous users may use it
ROUTES = {
    ("POST", "/api/tokens"): ({"role": "planner", "department": "x"}, "refused"),
    ("DELETE", "/api/tokens/{user_id}"): (None, "refused"),
    ("POST", "/api/scenarios"): ({"name": "n", "district": "tiny"}, "refused"),
    ("POST", "/api/scenarios/{scenario_id}/fork"): ({"name": "n"}, "refused"),
    ("PATCH", "/api/scenarios/{scenario_id}"): ({"name": "n", "status": "archived"}, "refused"),
    ("POST", "/api/scenarios/{scenario_id}/sandbox"): (None, "refused"),
    ("POST", "/api/scenarios/{scenario_id}/interventions"): ({"intervention": {**TREE, "id": "t2"}}, "refused"),
    ("PUT", "/api/scenarios/{scenario_id}/interventions/{object_id}"): ({"intervention": {**TREE, "height_m": 3.0}, "base_revision": 1}, "refused"),
    ("DELETE", "/api/scenarios/{scenario_id}/interventions/{object_id}"): (None, "refused"),
    ("POST", "/api/scenarios/{scenario_id}/undo"): (None, "refused"),
    ("POST", "/api/scenarios/{scenario_id}/redo"): (None, "refused"),
    ("POST", "/api/scenarios/{scenario_id}/comments"): ({"scenario_version": 1, "xyz_local_m": [1, 1, 1], "text": "hi"}, "participation"),
    ("POST", "/api/comments/{comment_id}/vote"): ({"value": 1, "voter_key": "browser-key-1"}, "participation"),
    ("PATCH", "/api/comments/{comment_id}"): ({"hidden": True}, "refused"),
    ("POST", "/api/layers"): (None, "refused"),
    ("POST", "/api/layers/{layer_id}/versions"): (None, "refused"),
    ("PATCH", "/api/layers/{layer_id}"): ({"visibility": "public"}, "refused"),
    ("POST", "/api/regions/{region}/forecast"): ({"to": 2030, "interventions": []}, "stateless"),  # computes, stores nothing
    ("POST", "/api/regions/{name}/evaluate"): ({"interventions": []}, "stateless"),  # computes, stores nothing
    ("POST", "/api/regions/{name}/scenarios"): ({"name": "n"}, "refused"),
    ("POST", "/api/regions/{name}/proposals/accept"): ({"scenario_id": "abc", "budget": 1}, "refused"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app, tokens = make_app(Path(tmp_path_factory.mktemp("roles")))
    with TestClient(app) as c:
        h = auth(tokens["planner"])
        sid = c.post("/api/scenarios", json={"name": "Amtlich", "district": "tiny"}, headers=h).json()["scenario_id"]
        c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": TREE}, headers=h)
        cid = c.post(f"/api/scenarios/{sid}/comments", json={"scenario_version": 1, "xyz_local_m": [1, 1, 1], "text": "x"}).json()["comment_id"]
        c.cookies.clear()
        yield c, app.state.twin, sid, cid


def _snapshot(twin, sid: str) -> tuple:
    st = twin.storage
    with st.engine.connect() as conn:
        import sqlalchemy as sa

        tokens = conn.execute(sa.text("SELECT count(*) FROM tokens")).scalar()
    return (twin.manager.model(sid).version, st.count_edits(), len(st.list_scenarios()), tokens,
            [(c.comment_id, c.hidden, c.answer) for c in st.list_comments(sid, include_hidden=True)],
            st.get_scenario(sid).name, st.get_scenario(sid).status)


def test_the_table_covers_every_state_changing_route(world) -> None:
    c, twin, sid, cid = world
    spec = c.get("/api/openapi.json").json()
    app_routes = {
        (m.upper(), path) for path, ops in spec["paths"].items() for m in ops if m.upper() in ("POST", "PUT", "PATCH", "DELETE")
    }
    assert app_routes == set(ROUTES), app_routes ^ set(ROUTES)


@pytest.mark.parametrize("role", ["citizen", "kiosk"])
@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_anonymous_roles_cannot_change_official_scenarios(world, role: str, route: tuple[str, str]) -> None:
    """``kiosk`` here is a client that only names the role (the old header): it is a citizen."""
    c, twin, sid, cid = world
    body, rule = ROUTES[route]
    method, path = route
    url = path.format(scenario_id=sid, object_id="t1", comment_id=cid, user_id="abc", layer_id="x1", region="nowhere", name="nowhere")
    if method == "DELETE":
        url += "?base_revision=1"
    before = _snapshot(twin, sid)
    r = c.request(method, url, json=body, headers={"X-Landtwin-Role": role})
    if rule == "stateless":
        assert r.status_code < 500, r.text
        assert _snapshot(twin, sid) == before
        return
    if rule == "participation":
        assert r.status_code in (200, 201), r.text
        assert _snapshot(twin, sid)[:1] == before[:1]  # the official scenario is untouched
        return
    assert r.status_code in (401, 403), r.text
    err = r.json()
    assert err["message_de"] and err["message_en"]
    assert _snapshot(twin, sid) == before


@pytest.mark.parametrize("role", ["citizen", "kiosk"])
@pytest.mark.parametrize("msg", [
    p.AddIntervention(1, Tree(id="w1", xy_local_m=(80.0, 80.0))),
    p.UpdateIntervention(2, Tree(id="t1", xy_local_m=(80.0, 80.0), height_m=3.0), base_revision=1),
    p.RemoveIntervention(3, "t1", base_revision=1),
    p.Undo(4),
    p.Redo(5),
], ids=lambda m: m.__struct_config__.tag)
def test_anonymous_roles_cannot_edit_over_the_websocket(world, role: str, msg) -> None:
    c, twin, sid, cid = world
    assert type(msg) in p.EDIT_MESSAGES
    before = _snapshot(twin, sid)
    with c.websocket_connect(f"/ws/scenarios/{sid}") as ws:
        ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, role=role)))
        welcome = p.decode_server(ws.receive_bytes())
        assert isinstance(welcome, p.Welcome) and not welcome.can_edit and welcome.user.role == "citizen"
        ws.send_bytes(p.encode(msg))
        while True:
            got = p.decode_server(ws.receive_bytes())
            if isinstance(got, p.EditRejected):
                break
            assert not isinstance(got, p.EditApplied)
    assert got.request_id == msg.request_id and got.code == "forbidden"
    assert got.message_de and got.message_en
    assert _snapshot(twin, sid) == before


def test_every_edit_message_type_is_in_the_table() -> None:
    assert {m.__name__ for m in p.EDIT_MESSAGES} == {"AddIntervention", "UpdateIntervention", "RemoveIntervention", "Undo", "Redo"}


def test_permission_matrix() -> None:
    def row(kind: str, status: str = "active", by: str = "Umwelt", owner: str = "k1") -> ScenarioRow:
        return ScenarioRow("s", "n", "d", kind, status, "", 0, "", by, owner)

    admin, planner, citizen, kiosk = User("admin"), User("planner", "Umwelt"), User("citizen"), User("kiosk", user_id="k1")
    other_planner, other_kiosk = User("planner", "Verkehr", user_id="p2"), User("kiosk", user_id="k2")
    table = {
        ("official", "active"): {admin: True, planner: True, citizen: False, kiosk: False, other_planner: True},
        ("draft", "active"): {admin: True, planner: True, citizen: False, kiosk: False, other_planner: False},
        ("sandbox", "active"): {admin: True, planner: False, citizen: False, kiosk: True, other_kiosk: False},
        ("official", "archived"): {admin: False, planner: False, citizen: False, kiosk: False},
    }
    for (kind, status), expect in table.items():
        for user, ok in expect.items():
            assert may_edit(user, row(kind, status)) is ok, (kind, status, user.role, user.user_id)
    assert may_manage(planner, row("official")) and not may_manage(User("planner", "Verkehr"), row("official"))
    assert not may_manage(citizen, row("official")) and may_manage(admin, row("official", by="x"))


def test_rate_limiter_bounds_anonymous_bursts() -> None:
    rl = RateLimiter(rate_per_s=1.0, burst=5)
    allowed = sum(rl.allow("k") for _ in range(50))
    assert allowed == 5
    assert rl.allow("other")


def test_anonymous_comments_are_rate_limited(world) -> None:
    c, twin, sid, cid = world
    codes = [c.post(f"/api/scenarios/{sid}/comments", json={"scenario_version": 1, "xyz_local_m": [1, 1, 1], "text": "spam"}).status_code
             for _ in range(30)]
    assert 201 in codes and 429 in codes
    assert codes.index(429) <= 12
