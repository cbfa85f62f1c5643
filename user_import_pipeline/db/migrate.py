"""Ordered, recorded, idempotent schema migrations from ``sql/migrations``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from user_import_pipeline.db.connection import connect, transaction
from user_import_pipeline.db.sqlfiles import SQL_DIR

MIGRATIONS_DIR = SQL_DIR / "migrations"
# Any fixed 64-bit key; every process that migrates takes the same one.
_MIGRATION_LOCK = 7_340_581_002_113


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migration files ordered by their numeric prefix (``0001_name.sql``)."""
    return [Migration(path.stem, path) for path in sorted(directory.glob("[0-9]*.sql"))]


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction; returns the versions applied.

    A session advisory lock makes concurrent callers take turns: the second one finds
    everything applied and does nothing. A changed file that was already applied is an
    error, since the database no longer matches the repository.
    """
    applied_now = []
    with connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            for migration in available(directory):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise RuntimeError(
                            f"migration {migration.version} changed after it was applied"
                        )
                    continue
                _apply(conn, migration)
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied_now


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    with transaction(conn):
        conn.execute(migration.sql.encode())
        conn.execute(
            "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
            (migration.version, migration.checksum),
        )
