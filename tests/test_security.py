"""An anonymous visitor cannot become a kiosk, change what is not theirs, or exhaust the server: kiosk
devices paired by token and owning their sandboxes, departments owning their drafts, token expiry and
revocation (REST and ``twin token``), budgets (429/413), the body limit, signed visitor ids for votes and
rate limits, and secret files created 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from server_support import auth, make_app

import protocol as p
from geodata.interventions import Tree
from server.roles import Budgets
from server.storage import Storage, utc_in

TREE = {"kind": "tree", "id": "t1", "xy_local_m": [80.0, 80.0]}


@pytest.fixture
def world(tmp_path: Path):
    budgets = Budgets(sandboxes_per_kiosk=2, public_interventions_per_scenario=3)
    app, tokens = make_app(tmp_path, budgets=budgets)
    with TestClient(app) as c:
        h = auth(tokens["planner"])
        sid = c.post("/api/scenarios", json={"name": "Amtlich", "district": "tiny"}, headers=h).json()["scenario_id"]
        c.tokens = tokens  # type: ignore[attr-defined]
        yield c, app.state.twin, sid


def _kiosk(c, name: str = "Rathaus", days: int = 30) -> dict[str, str]:
    r = c.post("/api/tokens", json={"role": "kiosk", "name": name, "days": days}, headers=auth(c.tokens["admin"]))
    assert r.status_code == 201, r.text
    return auth(r.json()["token"])


def test_the_kiosk_header_makes_nobody_a_kiosk(world) -> None:
    c, twin, sid = world
    n = len(twin.storage.list_scenarios())
    r = c.post(f"/api/scenarios/{sid}/sandbox", headers={"X-Landtwin-Role": "kiosk"})
    assert r.status_code == 403 and r.json()["message_de"] and r.json()["message_en"]
    assert len(twin.storage.list_scenarios()) == n  # no sandbox, no simulation
    with c.websocket_connect(f"/ws/scenarios/{sid}") as ws:
        ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, role="kiosk")))
        welcome = p.decode_server(ws.receive_bytes())
    assert welcome.user.role == "citizen" and not welcome.can_edit


def test_a_paired_kiosk_owns_its_sandbox(world) -> None:
    c, twin, sid = world
    k1, k2 = _kiosk(c, "Rathaus"), _kiosk(c, "Bibliothek")
    sb = c.post(f"/api/scenarios/{sid}/sandbox", headers=k1).json()
    assert sb["kind"] == "sandbox" and sb["parent_id"] == sid
    assert c.post(f"/api/scenarios/{sid}/sandbox", headers=k1).json()["scenario_id"] == sb["scenario_id"]  # its open one
    url = f"/api/scenarios/{sb['scenario_id']}/interventions"
    assert c.post(url, json={"intervention": TREE}, headers=k1).status_code == 201
    r = c.post(url, json={"intervention": {**TREE, "id": "t2"}}, headers=k2)  # another kiosk
    assert r.status_code == 403 and "own" in r.json()["message_en"]
    assert c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": TREE}, headers=k1).status_code == 403
    with c.websocket_connect(f"/ws/scenarios/{sb['scenario_id']}") as ws:  # the same over the socket
        ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, role="kiosk", token=k2["Authorization"][7:])))
        assert not p.decode_server(ws.receive_bytes()).can_edit
        ws.send_bytes(p.encode(p.AddIntervention(7, Tree(id="w", xy_local_m=(80.0, 80.0)))))
        while not isinstance(got := p.decode_server(ws.receive_bytes()), p.EditRejected):
            assert not isinstance(got, p.EditApplied)
    assert got.code == "forbidden"
    assert [e["intervention"]["id"] for e in c.get(f"/api/scenarios/{sb['scenario_id']}").json()["interventions"]] == ["t1"]
    new = c.post(f"/api/scenarios/{sid}/sandbox?fresh=true", headers=k1).json()  # a clean copy replaces it
    assert new["scenario_id"] != sb["scenario_id"] and new["interventions"] == []
    assert c.get(f"/api/scenarios/{sb['scenario_id']}").status_code == 404
    assert twin.storage.count_sandboxes() == 1


def test_a_kiosk_has_a_bounded_number_of_sandboxes_and_interventions(world) -> None:
    c, twin, sid = world
    h = auth(c.tokens["planner"])
    k = _kiosk(c)
    other = [c.post("/api/scenarios", json={"name": f"S{i}", "district": "tiny"}, headers=h).json()["scenario_id"]
             for i in range(2)]
    sb = c.post(f"/api/scenarios/{sid}/sandbox", headers=k).json()["scenario_id"]
    assert c.post(f"/api/scenarios/{other[0]}/sandbox", headers=k).status_code == 201
    r = c.post(f"/api/scenarios/{other[1]}/sandbox", headers=k)
    assert r.status_code == 429 and r.json()["error"] == "limit" and r.json()["message_de"]
    url = f"/api/scenarios/{sb}/interventions"
    codes = [c.post(url, json={"intervention": {**TREE, "id": f"t{i}"}}, headers=k).status_code for i in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    housing = {"kind": "housing", "id": "h", "polygon_local_m": [[70, 70], [90, 70], [90, 90], [70, 90]],
               "dwellings": 2000, "persons_per_dwelling": 3.0}
    c.delete(f"{url}/t0?base_revision=1", headers=k)
    r = c.post(url, json={"intervention": housing}, headers=k)
    assert r.status_code == 413 and r.json()["error"] == "too_large" and "persons" in r.json()["message_en"]
    park = {"kind": "park", "id": "p", "polygon_local_m": [[1, 1], [199, 1], [199, 199], [1, 199]]}
    r = c.post(url, json={"intervention": park}, headers=k)
    assert r.status_code == 413 and "Area" in r.json()["message_en"]
    r = c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": {**housing, "dwellings": 9000, "persons_per_dwelling": 8.0}},
               headers=h)
    assert r.status_code == 413  # planners have a (larger) bound too


def test_sandboxes_expire_with_their_results(world) -> None:
    c, twin, sid = world
    k = _kiosk(c)
    sb = c.post(f"/api/scenarios/{sid}/sandbox", headers=k).json()["scenario_id"]
    c.post(f"/api/scenarios/{sb}/interventions", json={"intervention": TREE}, headers=k)
    twin.results(sb)
    assert twin.storage.count_edits(sb) >= 1 and twin.storage.result_hours(sb, 1)
    assert twin.remove_expired() == []
    assert twin.remove_expired(now=utc_in(5 * 3600.0)) == [sb]
    assert twin.storage.get_scenario(sb) is None and twin.storage.count_edits(sb) == 0
    assert twin.storage.result_hours(sb, 1) == []
    assert c.get(f"/api/scenarios/{sb}").status_code == 404
    assert c.get(f"/api/scenarios/{sid}").status_code == 200  # the parent stays


def test_planners_edit_only_their_own_departments_drafts(world) -> None:
    c, twin, sid = world
    mine = c.post(f"/api/scenarios/{sid}/fork", json={"name": "Umwelt-Entwurf"}, headers=auth(c.tokens["planner"])).json()
    url = f"/api/scenarios/{mine['scenario_id']}/interventions"
    r = c.post(url, json={"intervention": TREE}, headers=auth(c.tokens["planner2"]))  # Verkehr
    assert r.status_code == 403 and "department" in r.json()["message_en"]
    assert c.post(url, json={"intervention": TREE}, headers=auth(c.tokens["planner"])).status_code == 201
    assert c.post(url, json={"intervention": {**TREE, "id": "t9"}}, headers=auth(c.tokens["admin"])).status_code == 201


def test_tokens_expire_and_can_be_revoked(world) -> None:
    c, twin, sid = world
    admin = auth(c.tokens["admin"])
    r = c.post("/api/tokens", json={"role": "planner", "department": "Soziales", "days": 1}, headers=admin).json()
    h = auth(r["token"])
    assert r["expires_utc"] > utc_in(23 * 3600) and c.post(f"/api/scenarios/{sid}/fork", json={"name": "x"}, headers=h).status_code == 201
    listed = {t["user_id"]: t for t in c.get("/api/tokens", headers=admin).json()}
    assert listed[r["user_id"]]["role"] == "planner" and "token" not in listed[r["user_id"]]
    assert c.get("/api/tokens", headers=h).status_code == 403
    assert c.delete(f"/api/tokens/{r['user_id']}", headers=h).status_code == 403
    with c.websocket_connect(f"/ws/scenarios/{sid}") as ws:  # a session open when the token is revoked
        ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, role="planner", token=r["token"])))
        assert p.decode_server(ws.receive_bytes()).can_edit
        assert c.delete(f"/api/tokens/{r['user_id']}", headers=admin).json()["revoked_utc"]
        ws.send_bytes(p.encode(p.AddIntervention(1, Tree(id="late", xy_local_m=(80.0, 80.0)))))
        while not isinstance(got := p.decode_server(ws.receive_bytes()), p.ErrorMessage):
            assert not isinstance(got, p.EditApplied)
    assert got.code == "unauthorised" and "late" not in {e["intervention"]["id"] for e in c.get(f"/api/scenarios/{sid}").json()["interventions"]}
    r2 = c.post(f"/api/scenarios/{sid}/fork", json={"name": "x"}, headers=h)
    assert r2.status_code == 401 and r2.json()["message_de"]
    assert c.delete(f"/api/tokens/{r['user_id']}", headers=admin).status_code == 404
    with c.websocket_connect(f"/ws/scenarios/{sid}") as ws:
        ws.send_bytes(p.encode(p.Hello(protocol=p.PROTOCOL_VERSION, role="planner", token=r["token"])))
        assert isinstance(p.decode_server(ws.receive_bytes()), p.ErrorMessage)
    # an expired token is refused like an unknown one
    twin.storage.add_token("old-token", role="planner", department="Umwelt", expires_utc=utc_in(-1.0))
    assert c.post(f"/api/scenarios/{sid}/fork", json={"name": "x"}, headers=auth("old-token")).status_code == 401


def test_the_token_command_issues_lists_and_revokes(tmp_path: Path, capsys) -> None:
    from cli.main import main

    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    out = tmp_path / "kiosk-token.txt"
    assert main(["--data-dir", str(tmp_path), "token", "issue", "--role", "kiosk", "--name", "Rathaus", "--days", "7",
                 "--out", str(out), "--db", db]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    token = out.read_text().strip()
    st = Storage(db)
    info = st.lookup_token(token)
    assert info is not None and info["role"] == "kiosk"
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path), "token", "list", "--json", "--db", db]) == 0
    assert token not in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path), "token", "revoke", info["user_id"], "--db", db]) == 0
    assert st.lookup_token(token) is None
    for bad in (["token", "revoke", info["user_id"]], ["token", "revoke", "../x"], ["token", "issue", "--role", "planner", "--days", "0"]):
        assert main(["--data-dir", str(tmp_path), *bad, "--db", db]) == 2
        err = capsys.readouterr().err
        assert "/" in err and "Traceback" not in err
    st.dispose()


def test_a_two_mib_body_is_refused_before_any_route(world) -> None:
    c, twin, sid = world
    n = twin.storage.count_edits()
    big = b'{"intervention": {"kind": "tree", "id": "big", "xy_local_m": [80, 80], "label": "' + b"x" * (2 << 20) + b'"}}'
    r = c.post(f"/api/scenarios/{sid}/interventions", content=big, headers={**auth(c.tokens["planner"]), "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large" and r.json()["message_de"]

    def chunks():  # no Content-Length: counted while read
        for _ in range(32):
            yield b"x" * (64 << 10)

    r = c.post(f"/api/scenarios/{sid}/comments", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert twin.storage.count_edits() == n
    small = c.post(f"/api/scenarios/{sid}/comments", json={"scenario_version": 0, "xyz_local_m": [1, 1, 1], "text": "ok"})
    assert small.status_code == 201


def test_one_vote_per_visitor_whatever_key_it_sends(world) -> None:
    c, twin, sid = world
    cid = c.post(f"/api/scenarios/{sid}/comments", json={"scenario_version": 0, "xyz_local_m": [1, 1, 1], "text": "Bank"}).json()["comment_id"]
    for i in range(6):
        r = c.post(f"/api/comments/{cid}/vote", json={"value": 1, "voter_key": f"made-up-key-{i}"})
    assert r.status_code == 200 and r.json()["votes"] == 1
    c.cookies.clear()
    forged = "forged.0123456789abcdef0123456789abcdef"
    r = c.post(f"/api/comments/{cid}/vote", json={"value": 1}, headers={"Cookie": f"landtwin_visitor={forged}"})
    assert r.json()["votes"] == 2 and r.cookies["landtwin_visitor"] != forged  # a forged id makes a new visitor
    # new visitor ids from one address are rate limited: cookie-less clients cannot vote without limit
    codes = []
    for _ in range(60):
        c.cookies.clear()
        codes.append(c.post(f"/api/comments/{cid}/vote", json={"value": 1}).status_code)
    assert 429 in codes and codes.count(200) <= 31
    assert c.get(f"/api/scenarios/{sid}/comments").json()[0]["votes"] == 2 + codes.count(200)


def test_rate_limits_count_per_visitor_behind_one_address(world) -> None:
    c, twin, sid = world
    body = {"scenario_version": 0, "xyz_local_m": [1, 1, 1], "text": "spam"}
    first = [c.post(f"/api/scenarios/{sid}/comments", json=body).status_code for _ in range(15)]
    assert 429 in first
    spammer = dict(c.cookies)
    c.cookies.clear()  # another visitor behind the same router still gets in
    assert c.post(f"/api/scenarios/{sid}/comments", json=body).status_code == 201
    c.cookies.update(spammer)
    assert c.post(f"/api/scenarios/{sid}/comments", json=body).status_code == 429


def test_secret_files_are_private_from_the_first_byte(tmp_path: Path) -> None:
    from cli.serve import _bootstrap
    from server.storage import write_secret

    old = os.umask(0o022)
    try:
        app, _ = make_app(tmp_path)
        _bootstrap(app, "tiny")
        with TestClient(app) as c:
            c.post(f"/api/scenarios/{app.state.twin.storage.list_scenarios()[0].scenario_id}/comments",
                   json={"scenario_version": 0, "xyz_local_m": [1, 1, 1], "text": "x"})
        for name in ("admin-token.txt", "twin.sqlite", "twin.sqlite-wal", "visitor-secret"):
            f = tmp_path / name
            if name.endswith("-wal") and not f.exists():
                continue
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, name
        token = (tmp_path / "admin-token.txt").read_text().strip()
        assert app.state.twin.storage.lookup_token(token)["role"] == "admin"
        app.state.twin.close()
        # the writer never leaves a readable or half-written file, even when the target exists
        target = tmp_path / "t.txt"
        target.write_text("old")
        write_secret(target, "new\n")
        assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
        assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    finally:
        os.umask(old)


def test_the_body_limit_holds_on_a_real_server(tmp_path: Path) -> None:
    from server_support import start_server_process

    proc, port = start_server_process(tmp_path)
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/api/scenarios/x/comments", content=b"x" * (2 << 20),
                       headers={"content-type": "application/json"}, timeout=20)
        assert r.status_code == 413
    finally:
        proc.kill()
        proc.wait(timeout=20)
