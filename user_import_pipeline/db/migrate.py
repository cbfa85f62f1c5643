"""Ordered, recorded, idempotent schema migrations from ``sql/migrations``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from user_import_pipeline.db.client import Database, Session
from user_import_pipeline.db.locks import AdvisoryLock
from user_import_pipeline.db.sqlfiles import sql_root

# Checksums of earlier versions of a migration file whose changes since were to its comments
# only: a database that applied such a version is up to date, and its record is updated.
_COMMENT_ONLY_CHANGES = {
    "0002_import_jobs": {"d2fc8efcfa47e51833cd5f944b74c8876786119daf7f42a8899a4e6e404a825d"},
    "0008_fingerprints": {"8168b454ff697b48d7c772544b60c81c849bb4d99108bf4462f4e320389142fd"},
}


def migrations_folder() -> Traversable:
    return sql_root().joinpath("migrations")


@dataclass(frozen=True)
class Migration:
    version: str
    file: Traversable

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.file.read_bytes()).hexdigest()


def available(folder: Traversable | None = None) -> list[Migration]:
    """Migration files ordered by their numeric prefix (``0001_name.sql``)."""
    files = (folder or migrations_folder()).iterdir()
    found = [f for f in files if f.name[:1].isdigit() and f.name.endswith(".sql")]
    return [Migration(f.name.removesuffix(".sql"), f) for f in sorted(found, key=_name)]


def _name(file: Traversable) -> str:
    return file.name


def migrate(database: Database, folder: Traversable | None = None) -> list[str]:
    """Apply pending migrations, each in its own transaction; returns the versions applied.

    A session advisory lock makes concurrent callers take turns: the second one finds
    everything applied and does nothing. A changed file that was already applied is an
    error, since the database no longer matches the repository.
    """
    applied_now = []
    lock = {"key": int(AdvisoryLock.MIGRATIONS)}
    with database.session() as session:
        session.execute("take_session_lock", lock)
        try:
            session.execute("create_schema_migrations")
            done = dict(session.execute("list_applied_migrations").rows)
            for migration in available(folder):
                if migration.version in done:
                    _check_unchanged(session, migration, done[migration.version])
                    continue
                _apply(session, migration)
                applied_now.append(migration.version)
        finally:
            session.execute("release_session_lock", lock)
    return applied_now


def pending(database: Database) -> list[str]:
    """The versions not applied yet, without applying anything (read-only)."""
    with database.session() as session:
        if not session.execute("table_exists", {"table": "schema_migrations"}).scalar():
            return [migration.version for migration in available()]
        done = dict(session.execute("list_applied_migrations").rows)
    return [migration.version for migration in available() if migration.version not in done]


def _check_unchanged(session: Session, migration: Migration, recorded: str) -> None:
    if recorded == migration.checksum:
        return
    if recorded not in _COMMENT_ONLY_CHANGES.get(migration.version, set()):
        raise RuntimeError(f"migration {migration.version} changed after it was applied")
    session.execute(
        "update_migration_checksum",
        {"version": migration.version, "checksum": migration.checksum},
    )


def _apply(session: Session, migration: Migration) -> None:
    with session.transaction():
        session.run_script(migration.file)
        session.execute(
            "record_migration", {"version": migration.version, "checksum": migration.checksum}
        )
