"""The database schema and its migrations (a versioned schema table; each step runs once, in order).

Portable types only, so that the same schema runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

__all__ = ["metadata", "scenarios", "edits", "tokens", "comments", "votes", "results", "hour_results", "MIGRATIONS", "SCHEMA_VERSION"]

metadata = sa.MetaData()

scenarios = sa.Table(
    "scenarios", metadata,
    sa.Column("scenario_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("district", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("parent_id", sa.String(32), nullable=False, default=""),
    sa.Column("head_version", sa.Integer, nullable=False, default=0),
    sa.Column("created_utc", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False, default=""),
    sa.Column("owner_id", sa.String(32), nullable=False, default=""),  # the kiosk device of a sandbox
    sa.Column("expires_utc", sa.String(32), nullable=False, default=""),  # sandboxes: removed after this
)

edits = sa.Table(
    "edits", metadata,
    sa.Column("edit_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.scenario_id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("op", sa.String(16), nullable=False),
    sa.Column("cause", sa.String(16), nullable=False),
    sa.Column("object_id", sa.String(64), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("payload", sa.Text, nullable=True),
    sa.Column("prev_payload", sa.Text, nullable=True),
    sa.Column("author_role", sa.String(16), nullable=False),
    sa.Column("author_department", sa.String(200), nullable=False),
    sa.Column("author_name", sa.String(200), nullable=False),
    sa.Column("author_id", sa.String(200), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("request_id", sa.BigInteger, nullable=False),
    sa.Column("created_utc", sa.String(32), nullable=False),
    sa.UniqueConstraint("scenario_id", "version", name="uq_edits_scenario_version"),
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("department", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False, unique=True),
    sa.Column("created_utc", sa.String(32), nullable=False),
    sa.Column("expires_utc", sa.String(32), nullable=False, default=""),  # "" = never
    sa.Column("revoked_utc", sa.String(32), nullable=False, default=""),  # "" = valid
)

comments = sa.Table(
    "comments", metadata,
    sa.Column("comment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.scenario_id"), nullable=False),
    sa.Column("scenario_version", sa.Integer, nullable=False),
    sa.Column("x_m", sa.Float, nullable=False),
    sa.Column("y_m", sa.Float, nullable=False),
    sa.Column("z_m", sa.Float, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author_name", sa.String(60), nullable=False),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("created_utc", sa.String(32), nullable=False),
)

votes = sa.Table(
    "votes", metadata,
    sa.Column("comment_id", sa.Integer, sa.ForeignKey("comments.comment_id"), primary_key=True),
    sa.Column("voter_hash", sa.String(64), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)

results = sa.Table(
    "results", metadata,
    sa.Column("scenario_id", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("engine", sa.String(16), primary_key=True),
    sa.Column("blob", sa.LargeBinary, nullable=False),
    sa.Column("created_utc", sa.String(32), nullable=False),
)

# results at a set of hours (heat fields depend on the hours; "15" or "3,15"), one row per engine
hour_results = sa.Table(
    "hour_results", metadata,
    sa.Column("scenario_id", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("hours", sa.String(80), primary_key=True),
    sa.Column("engine", sa.String(16), primary_key=True),
    sa.Column("blob", sa.LargeBinary, nullable=False),
    sa.Column("created_utc", sa.String(32), nullable=False),
)

_ADDED_IN_V3 = {"tokens": ("expires_utc", "revoked_utc"), "scenarios": ("owner_id", "expires_utc")}


def _v1(conn: sa.Connection) -> None:
    """Initial schema (a fresh database gets today's columns; later steps add only what is missing)."""
    metadata.create_all(conn, tables=[scenarios, edits, tokens, comments, votes, results])


def _v2(conn: sa.Connection) -> None:
    """Index for listing a scenario's comments."""
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_comments_scenario ON comments (scenario_id)"))


def _v3(conn: sa.Connection) -> None:
    """Token expiry and revocation; the owner (kiosk device) and expiry of sandboxes; results keyed by
    the hours they were computed for (a result at other hours never replaces the shown one)."""
    inspector = sa.inspect(conn)
    for table, columns in _ADDED_IN_V3.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for column in columns:
            if column not in have:
                conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(32) NOT NULL DEFAULT ''"))
    metadata.create_all(conn, tables=[hour_results])


MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {1: _v1, 2: _v2, 3: _v3}
SCHEMA_VERSION = max(MIGRATIONS)
