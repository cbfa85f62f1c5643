"""Every transaction in which an import reads or writes in bulk marks itself an import's
first (sql/mark_import_transaction.sql): the fingerprints it writes are kept, and its
statements are planned without JIT compilation, with index lookups priced as cached reads
and without merge joins."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from user_import_pipeline import checkpoints
from user_import_pipeline.db.sqlfiles import statement
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import address, run, user

ROWS = [
    user(f"t{i}@example.com", f"T {i}", id=f"t{i}", addresses=[address(f"{i} Main St")])
    for i in range(30)
]
CHANGED = [dict(row, name="Renamed") if i % 3 == 0 else row for i, row in enumerate(ROWS)]
# The statements that read or write whole tables, and the COPY that feeds them (the other
# COPYs run in writer threads, inside the transactions seen here).
BULK = {
    "copy_staging_users",
    "restage_shared_proven",
    "stage_addresses",
    "count_still_proven",
    "plan_merge",
    "changed_address_lists",
    "update_changed_users",
    "insert_new_users",
    "delete_changed_addresses",
    "insert_changed_addresses",
    "fingerprint_replaced_lists",
}


def transactions_of(importer: Importer, rows: list[Any]) -> list[list[str]]:
    """The statements and COPYs of each transaction the import's own thread ran, in order
    (the writer threads it starts work inside those transactions)."""
    own = threading.get_ident()
    done: list[list[str]] = []
    current: list[str] = []

    def listener(point: checkpoints.Point) -> None:
        if threading.get_ident() != own:
            return
        if point.kind == "commit" or not point.in_transaction:
            if current:
                done.append(list(current))
            current.clear()
        elif point.kind in ("statement", "copy"):
            current.append(point.name)

    with checkpoints.listening(listener):
        run(importer, rows)
    return done


def test_every_bulk_statement_runs_in_a_marked_transaction(importer: Importer) -> None:
    seen: set[str] = set()
    for rows in (ROWS, ROWS, CHANGED):  # a first import, an identical and a changed one
        for names in transactions_of(importer, rows):
            bulk = [i for i, name in enumerate(names) if name in BULK]
            if bulk:
                assert "mark_import_transaction" in names[: bulk[0]], names
                seen.update(names[i] for i in bulk)
    assert {"plan_merge", "stage_addresses", "restage_shared_proven"} <= seen


def test_the_mark_lasts_until_the_transaction_ends(dsn: str) -> None:
    settings = (
        "SELECT current_setting('user_import.fingerprints', true), current_setting('jit'),"
        " current_setting('random_page_cost'), current_setting('enable_mergejoin')"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET jit = on")
        conn.execute("SET random_page_cost = 4")
        with conn.transaction():
            conn.execute(statement("mark_import_transaction"))
            assert conn.execute(settings).fetchone() == ("kept", "off", "1.1", "off")
        assert conn.execute(settings).fetchone() in {(None, "on", "4", "on"), ("", "on", "4", "on")}
        conn.execute("SET random_page_cost = 1")  # a server tuned cheaper keeps its setting
        with conn.transaction():
            conn.execute(statement("mark_import_transaction"))
            assert conn.execute("SELECT current_setting('random_page_cost')").fetchone() == ("1",)
