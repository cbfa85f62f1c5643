"""A job's failed rows (CONTRACT §2.1) with the JSON each came as, page by page in row order:
what ``user-import errors``, ``GET /api/v1/imports/{id}/errors``, the job's first errors
and the run page read. Superseded duplicates are left out, as in ``failed_count`` (§4)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from user_import_pipeline.db.client import Session

# The keys of a failed row: raw is the row's JSON text, cut at 4,096 characters
# (raw_truncated), or None for a row recorded before raw rows were kept.
FIELDS = ("row_index", "code", "message", "raw", "raw_truncated")
# Row indexes start at 0, so every row comes after this one.
BEFORE_FIRST = -1
# Rows read per statement when every row is wanted: at most 4,096 characters of raw each.
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    more: bool  # rows follow the last one of this page

    @property
    def next_after(self) -> int | None:
        """Where the next page starts, or None when this one is the last."""
        return self.rows[-1]["row_index"] if self.more else None


def job_status(session: Session, job_id: str) -> str | None:
    """The job's status, or None when there is no such job."""
    job = session.execute("read_import_job", {"job_id": job_id}).dict()
    return None if job is None else job["status"]


def page(session: Session, job_id: str, *, after: int = BEFORE_FIRST, limit: int) -> Page:
    """The first ``limit`` failed rows after row ``after``, and whether more follow."""
    # One row more than asked says whether another page exists, without a second query.
    rows = session.execute(
        "list_import_job_errors", {"job_id": job_id, "after": after, "limit": limit + 1}
    ).dicts()
    return Page(rows[:limit], more=len(rows) > limit)


def every(session: Session, job_id: str, batch: int = EXPORT_BATCH) -> Iterator[dict[str, Any]]:
    """Every failed row of the job in row order, read ``batch`` rows at a time."""
    after = BEFORE_FIRST
    while True:
        found = page(session, job_id, after=after, limit=batch)
        yield from found.rows
        if found.next_after is None:
            return
        after = found.next_after


def summarize(session: Session, job_id: str, first: int) -> dict[str, Any]:
    """``by_code``: [{code, rows}], most frequent first; ``first_rows``: the first ``first``
    failed rows with every field of ``FIELDS``."""
    summary = session.execute("summarize_import_job_errors", {"job_id": job_id, "limit": first})
    found = summary.dict()
    assert found is not None, "the statement always returns one row"
    return found
