"""The merge refreshes stale planner statistics of ``users`` and ``addresses`` itself, so a
re-import right after a large import - or on a server without autovacuum - is planned for
the rows the tables hold (merge/merge_users.py, sql/stale_statistics.sql)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline_tests.conftest import create_database, drop_database
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import address, assert_counts, user

USERS = [user(f"u{i}@example.com", addresses=[address(f"{i} Main St")]) for i in range(300)]


@pytest.fixture
def quiet_importer(server_url: str, tmp_path: Path) -> Iterator[Importer]:
    """A database of its own with autovacuum off on the two tables, so that only the
    import's own ANALYZE can set their statistics."""
    dsn = create_database(server_url)
    migrate(Database(dsn))
    importer = Importer(dsn=dsn, base_dir=tmp_path)
    with psycopg.connect(dsn) as conn:
        for table in ("users", "addresses"):
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    yield importer
    drop_database(server_url, dsn)


def analyzed(importer: Importer) -> dict[str, object]:
    rows = importer.query(
        "SELECT relname, last_analyze FROM pg_stat_user_tables "
        "WHERE relname IN ('users', 'addresses')"
    )
    return {row["relname"]: row["last_analyze"] for row in rows}


def wait_for_counted_writes(importer: Importer, rows: int) -> None:
    """Backends report their writes to the statistics system within about a second."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = importer.query(
            "SELECT min(n_mod_since_analyze) AS rows FROM pg_stat_user_tables "
            "WHERE relname IN ('users', 'addresses')"
        )
        if found[0]["rows"] >= rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {rows} writes counted after 20 s")


def test_a_reimport_after_a_large_import_analyzes_first(quiet_importer: Importer) -> None:
    assert_counts(quiet_importer.import_users(USERS), imported=300)
    # The first merge found empty, freshly analyzed-or-never tables with nothing written.
    assert analyzed(quiet_importer) == {"users": None, "addresses": None}
    wait_for_counted_writes(quiet_importer, 300)

    outcome = quiet_importer.import_users(USERS)
    assert_counts(outcome, unchanged=300)
    after = analyzed(quiet_importer)
    assert after["users"] is not None and after["addresses"] is not None

    # Nothing written since: the next merge leaves the statistics as they are.
    assert_counts(quiet_importer.import_users(USERS), unchanged=300)
    assert analyzed(quiet_importer) == after
