"""The address lists the user merge found changed, handed over to replace_addresses: applied
as saved by the attempt that merged, found again from durable facts by any other attempt or
when the saved ones were lost (an UNLOGGED table, emptied by crash recovery)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.lifecycle.lease import Progress
from user_import_pipeline.merge.merge_users import merge_users
from user_import_pipeline.merge.replace_addresses import replace_addresses
from user_import_pipeline.staging.stage_addresses import stage_addresses
from user_import_pipeline.staging.stage_users import stage_users
from user_import_pipeline.staging.tables import StagingTables
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import address, run, user

A, B, C = address("1 A St"), address("2 B St"), address("3 C St")
STORED = [
    user("kept@example.com", addresses=[A]),
    user("changed@example.com", addresses=[A, B]),
    user("emptied@example.com", addresses=[C]),
]
FILE = [
    user("kept@example.com", addresses=[A]),
    user("changed@example.com", addresses=[B, A]),
    user("emptied@example.com", addresses=[]),
    user("new@example.com", addresses=[C, B]),
    user("new-without@example.com", addresses=[]),
]
EXPECTED = {
    "kept@example.com": [A],
    "changed@example.com": [B, A],
    "emptied@example.com": [],
    "new@example.com": [C, B],
    "new-without@example.com": [],
}


def kept_address_rows(importer: Importer) -> list[dict[str, Any]]:
    return importer.query(
        "SELECT a.id, a.xmin::text FROM addresses AS a JOIN users AS u ON u.id = a.user_id"
        " WHERE u.email = 'kept@example.com'"
    )


def merged(importer: Importer) -> tuple[psycopg.Connection, jobs.Ticket]:
    """A connection and the ticket of an import of FILE run up to its user merge."""
    source_path = importer.write("handover.json", FILE)
    conn = psycopg.connect(importer.dsn, autocommit=True)
    ticket = jobs.claim(
        conn,
        dsn=importer.dsn,
        job_id=None,
        source_path=source_path,
        run_id="run-1",
        root_run_id="run-1",
        lease_seconds=60,
    )
    stage_users(conn, ticket, importer.base_dir / source_path, Progress(), report_every=100)
    stage_addresses(conn, ticket)
    merge_users(conn, ticket)
    return conn, ticket


def lose_saved_changes(conn: psycopg.Connection, ticket: jobs.Ticket) -> jobs.Ticket:
    table = StagingTables.of(ticket.job_id).address_changes
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
    return ticket


def taken_over(conn: psycopg.Connection, ticket: jobs.Ticket) -> jobs.Ticket:
    """The job as another run sees it after taking over the lease (a retry)."""
    conn.execute("UPDATE import_jobs SET lease_owner = 'run-2' WHERE id = %s", (ticket.job_id,))
    return dataclasses.replace(ticket, lease=dataclasses.replace(ticket.lease, owner="run-2"))


def same(conn: psycopg.Connection, ticket: jobs.Ticket) -> jobs.Ticket:
    return ticket


@pytest.mark.parametrize(
    ("before_replace", "compared_again"),
    [
        pytest.param(same, False, id="same-attempt-applies-the-saved-changes"),
        pytest.param(lose_saved_changes, True, id="saved-changes-lost-compared-again"),
        pytest.param(taken_over, True, id="another-attempt-compares-again"),
    ],
)
def test_replace_applies_exactly_the_changed_lists(
    importer: Importer,
    before_replace: Callable[[psycopg.Connection, jobs.Ticket], jobs.Ticket],
    compared_again: bool,
) -> None:
    run(importer, STORED)
    kept_rows = kept_address_rows(importer)
    conn, ticket = merged(importer)
    with conn:
        ticket = before_replace(conn, ticket)
        replaced = replace_addresses(conn, ticket)
        job = jobs.read_job(conn, ticket.job_id)

    assert ("changed_address_lists" in replaced.seconds) is compared_again
    assert (replaced.users, replaced.addresses) == (3, 4)
    assert job["phase"] == "addresses_replaced"
    assert (job["imported_count"], job["updated_count"], job["unchanged_count"]) == (2, 2, 1)
    stored: dict[str, Any] = {
        email: [
            {key: a[key] for key in ("street", "city", "state", "zip_code", "country")}
            for a in found["addresses"]
        ]
        for email, found in importer.users().items()
    }
    assert stored == EXPECTED
    assert kept_address_rows(importer) == kept_rows  # an identical list is not rewritten
