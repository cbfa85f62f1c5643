"""Re-imports that prove rows unchanged from their fingerprints instead of staging them
(staging/compare.py, migration 0008): what is proved, what is not, and what happens when a
proved user changes before the merge."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from user_import_pipeline import checkpoints
from user_import_pipeline.settings import DEFAULT_CHUNK_SIZE
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import (
    address,
    assert_counts,
    errors,
    run,
    state,
    user,
    versions,
)

STORED = [
    user(f"u{i}@example.com", f"User {i}", id=f"u{i}", addresses=[address(f"{i} Main St")])
    for i in range(20)
] + [
    user("nolist@example.com", "No List", id="nolist"),
    user("Plain@Example.com", "Plain", addresses=[address("Plain St")]),  # found by email
]
PLAIN = STORED[-1]


def proven(importer: Importer, job: dict[str, Any] | None) -> tuple[int, int]:
    """(rows proved unchanged, rows staged) of a finished job."""
    assert job is not None
    (row,) = importer.query(
        "SELECT proven_users, staged_users FROM import_jobs WHERE id = %s", (job["id"],)
    )
    return row["proven_users"], row["staged_users"]


def fingerprints(importer: Importer) -> dict[str, int | None]:
    rows = importer.query("SELECT external_id, fingerprint FROM users")
    return {row["external_id"]: row["fingerprint"] for row in rows}


def test_identical_reimport_stages_nothing_and_rewrites_nothing(importer: Importer) -> None:
    run(importer, STORED)
    assert None not in fingerprints(importer).values()
    before = versions(importer)
    outcome = run(importer, STORED)
    assert_counts(outcome, unchanged=len(STORED))
    assert proven(importer, outcome.job) == (len(STORED), 0)
    assert versions(importer) == before


def test_only_changed_rows_are_staged(importer: Importer) -> None:
    run(importer, STORED)
    changed = [dict(row) for row in STORED]
    changed[3]["name"] = "Renamed"
    changed[5]["addresses"] = [address("Elsewhere")]
    changed[7] = user("u7@example.com", "User 7", id="u7")  # the list key left out
    outcome = run(importer, changed)
    # Without the key, row 7 leaves the stored list alone: it changes nothing, yet its
    # fingerprint is another one, so it is compared in full.
    assert_counts(outcome, updated=2, unchanged=len(STORED) - 2)
    assert proven(importer, outcome.job) == (len(STORED) - 3, 3)
    assert state(importer)["u3@example.com"]["name"] == "Renamed"
    after = run(importer, changed)
    assert_counts(after, unchanged=len(STORED))
    assert proven(importer, after.job) == (len(STORED) - 1, 1)  # row 7: stored from row 3


UUID = "3F2A8C1E-1111-4222-8333-444455556666"
WITH_UUID = [*STORED, user("uuid@example.com", "Upper", id=UUID)]


def _swap_emails(rows: list[dict[str, Any]], one: int, other: int) -> list[dict[str, Any]]:
    rows = [dict(row) for row in rows]
    rows[one]["email"], rows[other]["email"] = rows[other]["email"], rows[one]["email"]
    return rows


def _with(rows: list[dict[str, Any]], index: int, **fields: Any) -> list[dict[str, Any]]:
    rows = [dict(row) for row in rows]
    rows[index] = {**rows[index], **fields}
    return rows


@pytest.mark.parametrize(
    "second",
    [
        pytest.param([*STORED, STORED[2]], id="same-row-twice"),
        pytest.param([*STORED, user("u2@example.com", id="new")], id="email-of-a-proved-row"),
        pytest.param([*STORED, user("x@example.com", id="u2")], id="external-id-of-a-proved-row"),
        pytest.param([*STORED, user("u2@example.com", "Plain")], id="no-external-id-same-email"),
        pytest.param(_with(STORED, 4, email="u9@example.com"), id="takes-a-proved-email"),
        pytest.param(_swap_emails(STORED, 4, 9), id="two-users-swap-emails"),
        pytest.param([*WITH_UUID, user("low@example.com", id=UUID.lower())], id="uuid-spelling"),
        pytest.param([STORED[2], *STORED], id="earlier-row-of-a-proved-identity"),
        pytest.param([*STORED, PLAIN], id="same-row-without-external-id-twice"),
        pytest.param([*STORED, user("plain@example.com", id="x")], id="adopts-a-proved-user"),
        pytest.param([*STORED, {**PLAIN, "id": "u3"}], id="external-id-of-another-user"),
    ],
)
@pytest.mark.parametrize("batch", [DEFAULT_CHUNK_SIZE, 3], ids=["one-batch", "batches-of-3"])
def test_proving_rows_changes_no_outcome(importer: Importer, second: list[Any], batch: int) -> None:
    # The same two imports, once with the stored fingerprints and once with every one
    # cleared (so that every row is staged and compared in full): the same row errors,
    # counts and tables - fingerprints included - and the first did prove rows. In
    # batches of 3, a proved row and the staged row it shares a key with are proved and
    # staged in different batches, in either order.
    importer.chunk_size = batch
    outcomes = []
    for clear in (False, True):
        importer.reset()
        run(importer, WITH_UUID)
        if clear:
            importer.query("UPDATE users SET fingerprint = 1 RETURNING id")  # cleared
        outcome = run(importer, second)
        users = importer.comparable_users()
        for stored in users.values():  # not written where the rows did not apply
            stored.pop("fingerprint")
        outcomes.append((errors(importer, outcome), outcome.counts, users))
        proved = proven(importer, outcome.job)[0]
        assert proved == 0 if clear else proved > 0
    assert outcomes[0] == outcomes[1]


@pytest.mark.faults
def test_a_proved_user_written_before_the_merge_is_staged_again(importer: Importer) -> None:
    run(importer, STORED)
    first = state(importer)

    def edit_after_staging(point: checkpoints.Point) -> None:
        if point == checkpoints.Point("phase", "users_staged"):
            importer.query("UPDATE users SET name = 'Edited' WHERE external_id = 'u1' RETURNING id")

    with checkpoints.listening(edit_after_staging):
        outcome = run(importer, STORED)
    assert_counts(outcome, updated=1, unchanged=len(STORED) - 1)
    assert state(importer) == first
    assert proven(importer, outcome.job) == (0, len(STORED))  # staged in full instead


@pytest.mark.faults
def test_a_proved_user_written_before_its_row_is_rebuilt_restarts_staging(
    importer: Importer,
) -> None:
    # Row 2 is proved, then repeated by the last row: at the end of staging it must be
    # rebuilt from its user, which plain SQL has just changed. It cannot be, so the file
    # is staged again in full, and the import ends as one of the edited tables would.
    run(importer, STORED)
    first = state(importer)

    def edit_before_rebuilding(point: checkpoints.Point) -> None:
        if point == checkpoints.Point("statement", "restage_shared_proven", True):
            importer.query("UPDATE users SET name = 'Edited' WHERE external_id = 'u2' RETURNING id")

    with checkpoints.listening(edit_before_rebuilding):
        outcome = run(importer, [*STORED, STORED[2]])
    assert errors(importer, outcome) == {2: ("duplicate_in_file", True)}
    assert_counts(outcome, updated=1, unchanged=len(STORED) - 1, skipped=1)
    assert state(importer) == first
    assert proven(importer, outcome.job) == (0, len(STORED) + 1)


@pytest.mark.faults
def test_lost_proved_rows_are_staged_again(importer: Importer) -> None:
    run(importer, STORED)

    def empty_after_staging(point: checkpoints.Point) -> None:
        if point == checkpoints.Point("phase", "users_staged"):
            (job,) = importer.query(
                "SELECT id FROM import_jobs WHERE status = 'running' ORDER BY started_at DESC"
            )
            table = "stg_proven_" + str(job["id"]).replace("-", "")
            importer.query(f"DELETE FROM {table} RETURNING user_id")  # as crash recovery would

    with checkpoints.listening(empty_after_staging):
        outcome = run(importer, STORED)
    assert_counts(outcome, unchanged=len(STORED))


def test_new_users_get_their_fingerprint_with_their_addresses(importer: Importer) -> None:
    # Into tables that hold a user (so not the first-import path): until its list is
    # written, a new user must not carry a fingerprint that says it holds the whole row.
    run(importer, [user("seed@example.com", "Seed", id="seed")])
    seen: dict[str, int | None] = {}

    def look_between_phases(point: checkpoints.Point) -> None:
        if point == checkpoints.Point("phase", "users_merged"):
            seen.update(fingerprints(importer))

    with checkpoints.listening(look_between_phases):
        run(importer, STORED)
    assert seen["u0"] is None
    assert seen["nolist"] is not None  # no list to wait for
    assert None not in fingerprints(importer).values()


def test_writes_outside_imports_clear_the_fingerprint(importer: Importer) -> None:
    run(importer, STORED)
    importer.query("UPDATE users SET fingerprint = 42 WHERE external_id = 'u0' RETURNING id")
    importer.query(
        "DELETE FROM addresses WHERE user_id = (SELECT id FROM users WHERE external_id = 'u1')"
        " RETURNING id"
    )
    importer.query(
        "INSERT INTO addresses (user_id, position, street, city, state, zip_code, country)"
        " SELECT id, 5, 's', 'c', 'st', 'z', 'US' FROM users WHERE external_id = 'u2'"
        " RETURNING id"
    )
    importer.query("DELETE FROM users WHERE external_id = 'u3' RETURNING id")  # cascades
    printed = fingerprints(importer)
    assert sorted(key for key, value in printed.items() if value is None) == ["u0", "u1", "u2"]
    with psycopg.connect(importer.dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE addresses")
    assert set(fingerprints(importer).values()) == {None}
    outcome = run(importer, STORED)
    assert_counts(outcome, imported=1, updated=len(STORED) - 2, unchanged=1)
