"""The address lists the user merge found changed, handed over to replace_addresses: applied
as saved by the attempt that merged, found again from durable facts by any other attempt or
when the saved ones were lost (an UNLOGGED table, emptied by crash recovery)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql

from user_import_pipeline.core.outcomes import Done, Outcome, RunInfo
from user_import_pipeline.core.service import ImportService
from user_import_pipeline.staging.tables import StagingTables
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import address, run, user

T = TypeVar("T")

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


def done(outcome: Outcome[T]) -> T:
    assert isinstance(outcome, Done), outcome
    return outcome.value


FIRST = RunInfo.first("run-1")


def merged(importer: Importer) -> tuple[ImportService, str]:
    """The core and the job of an import of FILE run up to its user merge by FIRST."""
    source_path = importer.write("handover.json", FILE)
    service = importer.service()
    job_id = done(service.claim(FIRST, source_path=source_path)).job_id
    done(service.stage_users(job_id, FIRST))
    done(service.stage_addresses(job_id, FIRST))
    done(service.merge_users(job_id, FIRST))
    return service, job_id


def same(importer: Importer, service: ImportService, job_id: str) -> tuple[ImportService, RunInfo]:
    return service, FIRST


def lose_saved_changes(
    importer: Importer, service: ImportService, job_id: str
) -> tuple[ImportService, RunInfo]:
    table = StagingTables.of(job_id).address_changes
    with psycopg.connect(importer.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
    return service, FIRST


def taken_over(
    importer: Importer, service: ImportService, job_id: str
) -> tuple[ImportService, RunInfo]:
    """The first run ends (its heartbeat closes) and another run takes the job over."""
    service.close()
    second = RunInfo.first("run-2")
    other = importer.service()
    assert done(other.claim(second, job_id=job_id)).took_over == FIRST.run_id
    return other, second


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
    before_replace: Callable[[Importer, ImportService, str], tuple[ImportService, RunInfo]],
    compared_again: bool,
) -> None:
    run(importer, STORED)
    kept_rows = kept_address_rows(importer)
    service, job_id = merged(importer)
    service, replacer = before_replace(importer, service, job_id)
    try:
        replaced = done(service.replace_addresses(job_id, replacer))
    finally:
        service.close()
    [job] = importer.query("SELECT * FROM import_jobs WHERE id = %s", (job_id,))

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
