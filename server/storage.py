"""Durable storage: one data-access layer over SQLite (WAL, the default) or PostgreSQL (by URL).

Tables (schema version in ``schema_version``, upgraded by :data:`MIGRATIONS` at start-up):

- ``scenarios``: id, name, district, kind (official/draft/sandbox), status (active/archived), parent,
  the head version.
- ``edits``: the append-only edit log. One row per accepted change, ``(scenario_id, version)`` unique;
  rows are never updated or deleted. A scenario's state is the replay of its rows
  (:mod:`server.scenario`).
- ``tokens``: sha256 of access tokens of admins, planners (with department) and kiosk devices; each may
  expire and can be revoked.
- ``comments`` and ``votes``: participation; no IP addresses, e-mail only when given for a reply.
  A vote is keyed by a hash of the voter's anonymous browser key, one vote per comment and key.
- ``hour_results``: cached result frames by scenario version, the hours they were computed for, and
  engine (``results``, keyed without the hours, is no longer written).

Secrets stay private: a new SQLite file is created with mode 0600 before SQLite opens it (its WAL
and shared-memory files take the database file's mode), :func:`write_secret` writes token files 0600
from the first byte and renames them into place.

An edit is acknowledged only after :meth:`Storage.append_edit` returned, i.e. after the transaction
committed (SQLite ``synchronous=FULL`` in WAL mode; PostgreSQL's default ``synchronous_commit``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from server.storage_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    comments,
    edits,
    hour_results,
    metadata,
    results,
    scenarios,
    tokens,
    votes,
)

__all__ = ["Storage", "EditRecord", "ScenarioRow", "CommentRow", "StorageError", "VersionTaken", "now_utc",
           "utc_in", "write_secret"]


class StorageError(RuntimeError):
    """The database could not be used (bad URL, unreachable server, newer schema)."""


class VersionTaken(StorageError):
    """Another writer committed this scenario version first (the caller reloads and retries)."""


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_in(seconds: float) -> str:
    """The UTC time ``seconds`` from now in the format of :func:`now_utc` (these sort as text)."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600 from the first byte), atomically:
    a temporary file in the same folder, flushed to disk, then renamed over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _private_sqlite_file(url: sa.engine.URL) -> None:
    """Create a new SQLite database file with mode 0600 before SQLite opens (and creates) it."""
    db = url.database or ""
    if not db or db == ":memory:" or db.startswith("file:"):
        return
    path = Path(db)
    if not path.exists() and path.parent.is_dir():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass


@dataclass(frozen=True)
class EditRecord:
    """One row of the edit log. ``payload``/``prev_payload`` are intervention dicts (or lists of them
    for ``op == "reset"``) as stored; None where there is none."""

    scenario_id: str
    version: int
    op: str  # add, update, remove, reset
    cause: str  # edit, undo, redo, reset, fork
    object_id: str
    revision: int
    payload: Any
    prev_payload: Any
    author_role: str
    author_department: str
    author_name: str
    author_id: str
    session_id: str
    request_id: int
    created_utc: str


@dataclass(frozen=True)
class ScenarioRow:
    scenario_id: str
    name: str
    district: str
    kind: str
    status: str
    parent_id: str
    head_version: int
    created_utc: str
    created_by: str
    owner_id: str = ""  # the kiosk device (token user id) that owns a sandbox
    expires_utc: str = ""  # a sandbox is removed with its results after this time


@dataclass(frozen=True)
class CommentRow:
    comment_id: int
    scenario_id: str
    scenario_version: int
    xyz_local_m: tuple[float, float, float]
    kind: str
    text: str
    author_name: str
    email: str
    hidden: bool
    answer: str
    votes: int
    created_utc: str


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Storage:
    """All database access of the server. Thread-safe (one pooled connection per call)."""

    def __init__(self, url: str) -> None:
        if url.startswith(("postgresql://", "postgres://")):  # the installed driver is psycopg 3
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        self.url = url
        try:
            self.engine = sa.create_engine(url, future=True, pool_pre_ping=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StorageError(f"Ungültige Datenbank-URL {url!r} / invalid database URL: {exc}") from None
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            _private_sqlite_file(self.engine.url)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
        except sa.exc.OperationalError as exc:
            raise StorageError(f"Datenbank nicht erreichbar / database unreachable: {exc.orig}") from None

    # --- schema -------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
            row = conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar()
            current = int(row or 0)
            if current > SCHEMA_VERSION:
                raise StorageError(
                    f"Datenbank hat neueres Schema {current} (> {SCHEMA_VERSION}) / database schema is newer"
                )
            for target in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](conn)
                conn.execute(sa.text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": target})

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar() or 0)

    def integrity_ok(self) -> bool:
        """SQLite ``PRAGMA integrity_check`` (True for other databases)."""
        if not self.is_sqlite:
            return True
        with self.engine.connect() as conn:
            return conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"

    def dispose(self) -> None:
        self.engine.dispose()

    # --- scenarios ----------------------------------------------------------------------------------
    def create_scenario(
        self, *, name: str, district: str, kind: str, parent_id: str = "", created_by: str = "",
        owner_id: str = "", expires_utc: str = "",
    ) -> ScenarioRow:
        sid = uuid.uuid4().hex[:12]
        row = ScenarioRow(sid, name, district, kind, "active", parent_id, 0, now_utc(), created_by, owner_id,
                          expires_utc)
        with self.engine.begin() as conn:
            conn.execute(scenarios.insert().values(
                scenario_id=sid, name=name, district=district, kind=kind, status="active",
                parent_id=parent_id, head_version=0, created_utc=row.created_utc, created_by=created_by,
                owner_id=owner_id, expires_utc=expires_utc,
            ))
        return row

    def count_sandboxes(self, owner_id: str | None = None) -> int:
        """Open (active) sandboxes, of one kiosk device or of all."""
        q = sa.select(sa.func.count()).select_from(scenarios).where(
            scenarios.c.kind == "sandbox", scenarios.c.status == "active")
        if owner_id is not None:
            q = q.where(scenarios.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def find_sandbox(self, owner_id: str, parent_id: str) -> str | None:
        """The open sandbox of this kiosk device on this parent scenario, if any."""
        q = sa.select(scenarios.c.scenario_id).where(
            scenarios.c.kind == "sandbox", scenarios.c.status == "active", scenarios.c.owner_id == owner_id,
            scenarios.c.parent_id == parent_id, scenarios.c.expires_utc > now_utc())
        with self.engine.connect() as conn:
            return conn.execute(q).scalars().first()

    def expired_sandboxes(self, now: str | None = None) -> list[str]:
        """Ids of sandboxes whose expiry time has passed."""
        q = sa.select(scenarios.c.scenario_id).where(
            scenarios.c.kind == "sandbox", scenarios.c.expires_utc != "", scenarios.c.expires_utc <= (now or now_utc()))
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    def delete_scenario(self, scenario_id: str) -> None:
        """Remove a scenario with its edits, results, comments and votes (expired sandboxes only)."""
        with self.engine.begin() as conn:
            cids = sa.select(comments.c.comment_id).where(comments.c.scenario_id == scenario_id)
            conn.execute(votes.delete().where(votes.c.comment_id.in_(cids)))
            conn.execute(comments.delete().where(comments.c.scenario_id == scenario_id))
            conn.execute(hour_results.delete().where(hour_results.c.scenario_id == scenario_id))
            conn.execute(results.delete().where(results.c.scenario_id == scenario_id))
            conn.execute(edits.delete().where(edits.c.scenario_id == scenario_id))
            conn.execute(scenarios.delete().where(scenarios.c.scenario_id == scenario_id))

    def get_scenario(self, scenario_id: str) -> ScenarioRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(scenarios.select().where(scenarios.c.scenario_id == scenario_id)).mappings().first()
        return ScenarioRow(**r) if r else None

    def list_scenarios(self, *, district: str | None = None, include_archived: bool = True) -> list[ScenarioRow]:
        q = scenarios.select().order_by(scenarios.c.created_utc, scenarios.c.scenario_id)
        if district is not None:
            q = q.where(scenarios.c.district == district)
        if not include_archived:
            q = q.where(scenarios.c.status == "active")
        with self.engine.connect() as conn:
            return [ScenarioRow(**r) for r in conn.execute(q).mappings()]

    def update_scenario(self, scenario_id: str, *, name: str | None = None, status: str | None = None) -> None:
        values = {k: v for k, v in (("name", name), ("status", status)) if v is not None}
        if values:
            with self.engine.begin() as conn:
                conn.execute(scenarios.update().where(scenarios.c.scenario_id == scenario_id).values(**values))

    # --- the edit log -------------------------------------------------------------------------------
    def append_edit(self, rec: EditRecord) -> None:
        """Commit one edit as version ``rec.version`` (must be head + 1). Returns once durable.

        Raises VersionTaken when another writer already committed that version.
        """
        with self.engine.begin() as conn:
            res = conn.execute(
                scenarios.update()
                .where(scenarios.c.scenario_id == rec.scenario_id, scenarios.c.head_version == rec.version - 1)
                .values(head_version=rec.version)
            )
            if res.rowcount != 1:
                raise VersionTaken(f"version {rec.version} of {rec.scenario_id} is taken")
            conn.execute(edits.insert().values(
                scenario_id=rec.scenario_id, version=rec.version, op=rec.op, cause=rec.cause,
                object_id=rec.object_id, revision=rec.revision,
                payload=None if rec.payload is None else json.dumps(rec.payload, ensure_ascii=False),
                prev_payload=None if rec.prev_payload is None else json.dumps(rec.prev_payload, ensure_ascii=False),
                author_role=rec.author_role, author_department=rec.author_department,
                author_name=rec.author_name, author_id=rec.author_id, session_id=rec.session_id,
                request_id=rec.request_id, created_utc=rec.created_utc,
            ))

    def load_edits(self, scenario_id: str, *, after_version: int = 0) -> list[EditRecord]:
        q = (
            edits.select()
            .where(edits.c.scenario_id == scenario_id, edits.c.version > after_version)
            .order_by(edits.c.version)
        )
        out = []
        with self.engine.connect() as conn:
            for r in conn.execute(q).mappings():
                d = dict(r)
                d.pop("edit_id", None)
                for k in ("payload", "prev_payload"):
                    d[k] = None if d[k] is None else json.loads(d[k])
                out.append(EditRecord(**d))
        return out

    def count_edits(self, scenario_id: str | None = None) -> int:
        q = sa.select(sa.func.count()).select_from(edits)
        if scenario_id is not None:
            q = q.where(edits.c.scenario_id == scenario_id)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    # --- tokens -------------------------------------------------------------------------------------
    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def add_token(self, token: str, *, role: str, department: str = "", name: str = "", expires_utc: str = "") -> str:
        """Store (the hash of) an access token; returns the user id. ``expires_utc`` "" never expires."""
        user_id = uuid.uuid4().hex[:10]
        with self.engine.begin() as conn:
            conn.execute(tokens.insert().values(
                token_hash=self.hash_token(token), role=role, department=department, name=name,
                user_id=user_id, created_utc=now_utc(), expires_utc=expires_utc, revoked_utc="",
            ))
        return user_id

    def lookup_token(self, token: str) -> dict[str, str] | None:
        """The holder of a valid token (None when unknown, expired or revoked)."""
        with self.engine.connect() as conn:
            r = conn.execute(tokens.select().where(tokens.c.token_hash == self.hash_token(token))).mappings().first()
        if r is None or r["revoked_utc"] or (r["expires_utc"] and r["expires_utc"] <= now_utc()):
            return None
        return {k: r[k] for k in ("role", "department", "name", "user_id")}

    def list_tokens(self) -> list[dict[str, str]]:
        """Every token's holder, role, department, creation, expiry and revocation (never the token)."""
        cols = ("user_id", "role", "department", "name", "created_utc", "expires_utc", "revoked_utc")
        with self.engine.connect() as conn:
            rows = conn.execute(tokens.select().order_by(tokens.c.created_utc)).mappings().all()
        return [{k: r[k] for k in cols} for r in rows]

    def revoke_token(self, user_id: str) -> bool:
        """Revoke the token of ``user_id``; False when there is no such (unrevoked) token."""
        with self.engine.begin() as conn:
            res = conn.execute(tokens.update().where(tokens.c.user_id == user_id, tokens.c.revoked_utc == "")
                               .values(revoked_utc=now_utc()))
        return res.rowcount == 1

    # --- comments and votes -------------------------------------------------------------------------
    def add_comment(
        self, *, scenario_id: str, scenario_version: int, xyz_local_m: tuple[float, float, float],
        kind: str, text: str, author_name: str = "", email: str = "",
    ) -> CommentRow:
        with self.engine.begin() as conn:
            res = conn.execute(comments.insert().values(
                scenario_id=scenario_id, scenario_version=scenario_version, x_m=xyz_local_m[0],
                y_m=xyz_local_m[1], z_m=xyz_local_m[2], kind=kind, text=text, author_name=author_name,
                email=email, hidden=False, answer="", created_utc=now_utc(),
            ))
            cid = int(res.inserted_primary_key[0])
        row = self.get_comment(cid)
        assert row is not None
        return row

    def _comment_query(self) -> sa.Select:
        vote_sum = (
            sa.select(sa.func.coalesce(sa.func.sum(votes.c.value), 0))
            .where(votes.c.comment_id == comments.c.comment_id)
            .scalar_subquery()
        )
        return sa.select(comments, vote_sum.label("votes"))

    @staticmethod
    def _comment_row(r: Any) -> CommentRow:
        return CommentRow(
            int(r["comment_id"]), r["scenario_id"], int(r["scenario_version"]),
            (float(r["x_m"]), float(r["y_m"]), float(r["z_m"])), r["kind"], r["text"], r["author_name"],
            r["email"], bool(r["hidden"]), r["answer"], int(r["votes"]), r["created_utc"],
        )

    def get_comment(self, comment_id: int) -> CommentRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(self._comment_query().where(comments.c.comment_id == comment_id)).mappings().first()
        return None if r is None else self._comment_row(r)

    def list_comments(self, scenario_id: str, *, include_hidden: bool = False) -> list[CommentRow]:
        q = self._comment_query().where(comments.c.scenario_id == scenario_id).order_by(comments.c.comment_id)
        if not include_hidden:
            q = q.where(comments.c.hidden == sa.false())
        with self.engine.connect() as conn:
            return [self._comment_row(r) for r in conn.execute(q).mappings()]

    def moderate_comment(self, comment_id: int, *, hidden: bool | None = None, answer: str | None = None) -> None:
        values: dict[str, Any] = {}
        if hidden is not None:
            values["hidden"] = hidden
        if answer is not None:
            values["answer"] = answer
        if values:
            with self.engine.begin() as conn:
                conn.execute(comments.update().where(comments.c.comment_id == comment_id).values(**values))

    def vote(self, comment_id: int, voter_key: str, value: int) -> None:
        """Set this voter's vote (+1, -1 or 0 to withdraw); the key is stored only as a hash."""
        key = hashlib.sha256(f"vote:{comment_id}:{voter_key}".encode()).hexdigest()
        with self.engine.begin() as conn:
            conn.execute(votes.delete().where(votes.c.comment_id == comment_id, votes.c.voter_hash == key))
            if value:
                conn.execute(votes.insert().values(comment_id=comment_id, voter_hash=key, value=value))

    # --- result cache -------------------------------------------------------------------------------
    @staticmethod
    def hours_key(hours: tuple[int, ...] | list[int]) -> str:
        return ",".join(str(int(h)) for h in sorted(set(hours)))

    def put_result(self, scenario_id: str, version: int, engine: str, blob: bytes, *, hours: tuple[int, ...] = ()) -> None:
        key = (hour_results.c.scenario_id == scenario_id, hour_results.c.version == version,
               hour_results.c.hours == self.hours_key(hours), hour_results.c.engine == engine)
        with self.engine.begin() as conn:
            conn.execute(hour_results.delete().where(*key))
            conn.execute(hour_results.insert().values(
                scenario_id=scenario_id, version=version, hours=self.hours_key(hours), engine=engine, blob=blob,
                created_utc=now_utc(),
            ))

    def delete_results(self, scenario_id: str) -> None:
        """Remove every stored result of a scenario (derived data; its edits stay)."""
        with self.engine.begin() as conn:
            conn.execute(hour_results.delete().where(hour_results.c.scenario_id == scenario_id))

    def get_result(self, scenario_id: str, version: int, engine: str, *, hours: tuple[int, ...] = ()) -> bytes | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(hour_results.c.blob).where(
                hour_results.c.scenario_id == scenario_id, hour_results.c.version == version,
                hour_results.c.hours == self.hours_key(hours), hour_results.c.engine == engine,
            )).scalar()

    def result_hours(self, scenario_id: str, version: int) -> list[tuple[int, ...]]:
        """The hour sets stored for a scenario version (any engine)."""
        with self.engine.connect() as conn:
            keys = conn.execute(sa.select(hour_results.c.hours).distinct().where(
                hour_results.c.scenario_id == scenario_id, hour_results.c.version == version)).scalars().all()
        return [tuple(int(h) for h in k.split(",") if h) for k in keys]


__all__ += ["metadata", "SCHEMA_VERSION"]
