"""An import job and a user as the HTTP API and ``user-import status`` show them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from user_import_pipeline import row_errors
from user_import_pipeline.db.client import Session

# Row errors shown with a job; the rest stay in import_job_errors.
ERRORS_SHOWN = 20

# Ids are accepted in the canonical 8-4-4-4-12 form only (any case), so nothing that is
# not a UUID ever reaches SQL.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def parse_uuid(text: str) -> str | None:
    """The lowercase UUID, or None when ``text`` is not one."""
    return text.lower() if _UUID.fullmatch(text) else None


def read_job_report(session: Session, job_id: str) -> dict[str, Any] | None:
    """The job's row with its first ``ERRORS_SHOWN`` row errors under ``errors``."""
    job = session.execute("read_import_job_report", {"job_id": job_id}).dict()
    if job is None:
        return None
    return {**job, "errors": row_errors.page(session, job_id, limit=ERRORS_SHOWN).rows}


def read_user(session: Session, user_id: str) -> dict[str, Any] | None:
    """The user's row with its addresses in order under ``addresses``."""
    user = session.execute("read_user", {"user_id": user_id}).dict()
    if user is None:
        return None
    addresses = session.execute("list_user_addresses", {"user_id": user_id}).dicts()
    return {**user, "addresses": addresses}


def job_json(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(report["id"]),
        "source_path": report["source_path"],
        "status": report["status"],
        "dry_run": report["dry_run"],
        "progress": {"processed": report["progress_processed"], "total": report["progress_total"]},
        "counts": {
            "imported": report["imported_count"],
            "updated": report["updated_count"],
            "unchanged": report["unchanged_count"],
            "skipped": report["skipped_count"],
            "failed": report["failed_count"],
        },
        "attempts": report["attempts"],
        "error_message": report["error_message"],
        "bytes_total": report["bytes_total"],
        "bytes_processed": report["bytes_processed"],
        "created_at": rfc3339(report["created_at"]),
        "started_at": rfc3339(report["started_at"]),
        "finished_at": rfc3339(report["finished_at"]),
        "errors": [
            {"row_index": e["row_index"], "code": e["code"], "message": e["message"]}
            for e in report["errors"]
        ],
    }


def user_json(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(user["id"]),
        "external_id": user["external_id"],
        "name": user["name"],
        "email": user["email"],
        "phone_number": user["phone_number"],
        "created_at": rfc3339(user["created_at"]),
        "updated_at": rfc3339(user["updated_at"]),
        "addresses": [dict(address) for address in user["addresses"]],
    }


def rfc3339(moment: datetime | None) -> str | None:
    """UTC with ``Z`` and trailing zeros of the fraction dropped, as Go's time.Time marshals."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"
