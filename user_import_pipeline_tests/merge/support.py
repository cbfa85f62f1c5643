"""Helpers of the merge semantics tests: build rows, run imports, check counts, look."""

from __future__ import annotations

import itertools
from typing import Any

from user_import_pipeline_tests.importing import Importer, ImportOutcome

_files = itertools.count()


def user(email: str, name: str = "Name", **fields: Any) -> dict[str, Any]:
    """A user object; ``id``, ``phone_number`` and ``addresses`` only when given."""
    return {"name": name, "email": email, **fields}


def address(street: str = "1 Main St", **fields: Any) -> dict[str, Any]:
    return {
        "street": street,
        "city": "Springfield",
        "state": "IL",
        "zip_code": "62701",
        "country": "US",
        **fields,
    }


def run(importer: Importer, users: list[Any]) -> ImportOutcome:
    """Import ``users`` from a new file; the import must succeed and its counts add up."""
    outcome = importer.import_users(users, name=f"file-{next(_files)}.json")
    assert outcome.succeeded, outcome.job
    assert outcome.job is not None
    assert outcome.job["status"] == "succeeded", outcome.job["error_message"]
    check_invariant(outcome)
    assert outcome.counts["progress_processed"] == len(users)
    return outcome


def check_invariant(outcome: ImportOutcome) -> None:
    """CONTRACT §4: processed = imported + updated + unchanged + skipped; failed ⊆ skipped."""
    c = outcome.counts
    parts = c["imported_count"] + c["updated_count"] + c["unchanged_count"] + c["skipped_count"]
    assert c["progress_processed"] == parts, c
    assert 0 <= c["failed_count"] <= c["skipped_count"], c


def assert_counts(
    outcome: ImportOutcome,
    *,
    imported: int = 0,
    updated: int = 0,
    unchanged: int = 0,
    skipped: int = 0,
    failed: int = 0,
) -> None:
    check_invariant(outcome)
    assert outcome.counts == {
        "progress_processed": imported + updated + unchanged + skipped,
        "imported_count": imported,
        "updated_count": updated,
        "unchanged_count": unchanged,
        "skipped_count": skipped,
        "failed_count": failed,
    }


def errors(importer: Importer, outcome: ImportOutcome) -> dict[int, tuple[str, bool]]:
    """The job's row errors: row index → (code, superseded)."""
    assert outcome.job is not None
    rows = importer.query(
        "SELECT row_index, code, superseded FROM import_job_errors WHERE job_id = %s",
        (outcome.job["id"],),
    )
    return {row["row_index"]: (row["code"], row["superseded"]) for row in rows}


def state(importer: Importer) -> dict[str, dict[str, Any]]:
    """Every user by lower(email): the stored values and address list, without timestamps."""
    return {
        key: {
            field: value
            for field, value in row.items()
            if field not in ("created_at", "updated_at")
        }
        for key, row in importer.users().items()
    }


def stored(importer: Importer, email: str) -> dict[str, Any]:
    """One user's stored values (external_id, name, email, phone_number, addresses)."""
    row = state(importer)[email.lower()]
    return {field: row[field] for field in ("external_id", "name", "email", "phone_number")} | {
        "addresses": row["addresses"]
    }


def versions(importer: Importer) -> dict[str, list[tuple[str, str, Any]]]:
    """Row versions: (key, xmin, updated_at) of every user and address row."""
    return {
        "users": [
            (r["id"], r["xmin"], r["updated_at"])
            for r in importer.query(
                "SELECT id::text, xmin::text, updated_at FROM users ORDER BY id"
            )
        ],
        "addresses": [
            (r["id"], r["xmin"], r["updated_at"])
            for r in importer.query(
                "SELECT id::text, xmin::text, updated_at FROM addresses ORDER BY id"
            )
        ],
    }


def user_id(importer: Importer, email: str) -> str:
    rows = importer.query("SELECT id::text FROM users WHERE lower(email) = lower(%s)", (email,))
    assert len(rows) == 1, rows
    return rows[0]["id"]
