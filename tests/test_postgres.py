"""The storage tests again, against a real PostgreSQL server started here (Debian's postgresql package:
initdb and pg_ctl in a temporary folder). Skipped with the reason when the binaries are absent."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from server_support import free_port
from test_storage import *  # noqa: F403 - the same tests, with storage_url overridden below
from test_storage import test_concurrent_writers_never_share_a_version  # noqa: F401

pytestmark = pytest.mark.postgres


def _bindir() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return Path(d)
    return None


def _as_db_user(cmd: list[str], user: str | None) -> list[str]:
    # PostgreSQL refuses to run as root; then its own system account runs it
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@pytest.fixture(scope="module")
def postgres_server():
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' account to run the server")
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to switch to the 'postgres' account")
        user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="landtwin-pg-"))
    data = root / "data"
    if user:
        shutil.chown(root, user)
    port = free_port()
    subprocess.run(_as_db_user([str(bindir / "initdb"), "-D", str(data), "-U", "twin", "--auth=trust", "-E", "UTF8",
                                "--no-sync"], user), check=True, capture_output=True, timeout=120)
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on"
    subprocess.run(_as_db_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w",
                                "-t", "60", "start"], user), check=True, capture_output=True, timeout=120)
    try:
        url = f"postgresql+psycopg://twin@127.0.0.1:{port}/postgres"
        import sqlalchemy as sa

        eng = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + 30
        while True:
            try:
                with eng.connect() as c:
                    c.execute(sa.text("SELECT 1"))
                break
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        eng.dispose()
        yield {"port": port, "eng_url": url}
    finally:
        subprocess.run(_as_db_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], user),
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


_counter = iter(range(10**6))


@pytest.fixture
def storage_url(postgres_server) -> str:
    """A fresh database per test on the running server."""
    import sqlalchemy as sa

    name = f"t{os.getpid()}_{next(_counter)}"
    eng = sa.create_engine(postgres_server["eng_url"], isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    eng.dispose()
    return f"postgresql+psycopg://twin@127.0.0.1:{postgres_server['port']}/{name}"


def test_the_app_runs_on_postgres(storage_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from server_support import auth, make_app

    app, tokens = make_app(tmp_path, db_url=storage_url.replace("postgresql+psycopg://", "postgresql://"))
    with TestClient(app) as c:
        assert app.state.twin.storage.engine.dialect.name == "postgresql"
        sid = c.post("/api/scenarios", json={"name": "PG", "district": "tiny"}, headers=auth(tokens["planner"])).json()["scenario_id"]
        r = c.post(f"/api/scenarios/{sid}/interventions", json={"intervention": {"kind": "tree", "id": "t", "xy_local_m": [80, 80]}},
                   headers=auth(tokens["planner"]))
        assert r.status_code == 201
        assert c.get(f"/api/scenarios/{sid}").json()["version"] == 1
