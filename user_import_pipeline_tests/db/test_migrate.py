import threading
from pathlib import Path

import psycopg
import pytest

from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import _COMMENT_ONLY_CHANGES, available, migrate
from user_import_pipeline_tests.conftest import create_database, drop_database

TABLES = {
    "users",
    "addresses",
    "import_jobs",
    "import_job_errors",
    "stg_users",
    "stg_addresses",
    "stg_proven",
    "schema_migrations",
}


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


def _recorded(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        return [version for (version,) in rows]


def test_fresh_database_gets_every_migration_in_order(server_url: str) -> None:
    dsn = create_database(server_url)
    try:
        applied = migrate(Database(dsn))
        assert applied == [m.version for m in available()]
        assert applied == sorted(applied)
        assert _recorded(dsn) == applied
        assert _tables(dsn) == TABLES
    finally:
        drop_database(server_url, dsn)


def test_second_run_is_a_no_op(dsn: str) -> None:
    before = _recorded(dsn)
    assert migrate(Database(dsn)) == []
    assert _recorded(dsn) == before


def test_two_processes_at_once_leave_one_correct_schema(server_url: str) -> None:
    dsn = create_database(server_url)
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            results.append(migrate(Database(dsn)))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        # One caller applied everything, the other found nothing left to do.
        assert sorted(results, key=len) == [[], [m.version for m in available()]]
        assert _tables(dsn) == TABLES
    finally:
        drop_database(server_url, dsn)


def test_changed_applied_migration_is_refused(server_url: str, tmp_path: Path) -> None:
    dsn = create_database(server_url)
    try:
        (tmp_path / "0001_t.sql").write_text("CREATE TABLE t (a int);")
        assert migrate(Database(dsn), tmp_path) == ["0001_t"]
        (tmp_path / "0001_t.sql").write_text("CREATE TABLE t (a bigint);")
        with pytest.raises(RuntimeError, match="0001_t changed"):
            migrate(Database(dsn), tmp_path)
    finally:
        drop_database(server_url, dsn)


@pytest.mark.parametrize(
    ("version", "checksum"),
    [(version, old) for version, olds in _COMMENT_ONLY_CHANGES.items() for old in olds],
)
def test_a_migration_applied_before_a_comment_only_change_is_accepted(
    dsn: str, version: str, checksum: str
) -> None:
    """0002 once cited the contract under another name, 0008 a SQL file since renamed; a
    database that applied such a version is up to date, and its record now holds the
    current checksum."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE schema_migrations SET checksum = %s WHERE version = %s", (checksum, version)
        )
    assert migrate(Database(dsn)) == []
    current = {m.version: m.checksum for m in available()}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    assert dict(rows) == current
