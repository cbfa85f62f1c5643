"""Failed rows for the tests of their export (CLI, HTTP API, run page): a file whose import
fails rows in both phases and supersedes one, and jobs with row errors written directly,
for the details of formatting a real file cannot produce (a raw cut at its limit, a missing
raw, rows in the thousands)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from user_import_pipeline_tests.importing import Importer

# Row 0 is superseded by row 1 (skipped, not failed); rows 2, 3, 5 fail validation and
# row 6 fails in the merge (a later row of another identity has its email).
USERS_WITH_BAD_ROWS: list[dict[str, Any]] = [
    {"name": "Old Ann", "email": "ann@example.com"},
    {"name": "Ann", "email": "ann@example.com"},
    {"name": 'Bad, "quoted"\nname', "email": "not-an-email"},
    {"email": "nameless@example.com", "phone_number": "+1 555"},
    {"name": "Bob", "email": "bob@example.com"},
    {"name": "Long", "email": "long@example.com", "phone_number": "9" * 40},
    {"id": "crm-1", "name": "Carl", "email": "carl@example.com"},
    {"id": "crm-2", "name": "Carla", "email": "carl@example.com"},
]
FAILED = {2: "invalid_email", 3: "missing_field", 5: "value_too_long", 6: "duplicate_in_file"}


def import_bad_rows(importer: Importer) -> str:
    """Import ``USERS_WITH_BAD_ROWS``; the job's id."""
    outcome = importer.import_users(USERS_WITH_BAD_ROWS, name="bad.json")
    assert outcome.job is not None and outcome.job["status"] == "succeeded", outcome.message
    assert (outcome.job["skipped_count"], outcome.job["failed_count"]) == (5, 4)
    return str(outcome.job["id"])


def assert_raw_is_the_row(row: dict[str, Any]) -> None:
    """The failed row's raw is the JSON of the file's row at its index, whole."""
    assert row["raw"] is not None, f"row {row['row_index']} has no raw JSON"
    raw = json.loads(row["raw"])
    assert raw["email"] == USERS_WITH_BAD_ROWS[row["row_index"]]["email"]
    assert row["raw_truncated"] is False


def record_job(dsn: str, errors: list[tuple[int, str, str, str | None, bool, bool]]) -> str:
    """A succeeded job with these row errors: (row_index, code, message, raw, raw_truncated,
    superseded), written directly; its id."""
    with psycopg.connect(dsn) as conn:
        created = conn.execute(
            "INSERT INTO import_jobs (source_path, status) VALUES ('x.json', 'succeeded') "
            "RETURNING id::text"
        ).fetchone()
        assert created is not None
        job_id: str = created[0]
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO import_job_errors "
                "(job_id, row_index, code, message, raw, raw_truncated, superseded, phase) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, 'stage')",
                [(job_id, *error) for error in errors],
            )
    return job_id


def many_errors(count: int) -> list[tuple[int, str, str, str | None, bool, bool]]:
    """``count`` failed rows at every other index, with every 7th row superseded between
    them: paging must skip those and lose or repeat nothing."""
    rows: list[tuple[int, str, str, str | None, bool, bool]] = []
    for n in range(count):
        rows.append((2 * n, "invalid_email", f"row {n}", json.dumps({"n": n}), False, False))
        if n % 7 == 0:
            rows.append((2 * n + 1, "duplicate_in_file", "superseded", "{}", False, True))
    return rows
