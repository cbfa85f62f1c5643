"""The ``import_jobs`` row of an import: created, claimed, read, failed, finished."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from user_import_pipeline.db.connection import transaction
from user_import_pipeline.db.sqlfiles import statement
from user_import_pipeline.lifecycle.lease import Lease, LeaseLost, application_name
from user_import_pipeline.staging.tables import StagingTables

# The phases in the order an import goes through them (import_jobs.phase).
PHASES = ("pending", "users_staged", "addresses_staged", "users_merged", "addresses_replaced")
COUNT_FIELDS = (
    "progress_processed",
    "imported_count",
    "updated_count",
    "unchanged_count",
    "skipped_count",
    "failed_count",
)


class ClaimRefused(Exception):
    """The job cannot be worked on by this run (finished, leased elsewhere, out of attempts)."""


class AttemptsUsedUp(ClaimRefused):
    """The job has had all its attempts; it ends ``failed`` (SPEC §6)."""


@dataclass(frozen=True)
class Ticket:
    """What the ops of one run pass along: which job, and the lease that makes it theirs."""

    job_id: str
    source_path: str
    lease: Lease


def reached(phase: str, target: str) -> bool:
    """True when ``phase`` is ``target`` or later."""
    return PHASES.index(phase) >= PHASES.index(target)


def read_job(conn: psycopg.Connection, job_id: str) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(statement("read_import_job"), {"job_id": job_id}).fetchone()
    if row is None:
        raise ClaimRefused(f"import job {job_id} does not exist")
    return row


def create_job(conn: psycopg.Connection, source_path: str, root_run_id: str | None) -> str:
    row = conn.execute(
        statement("create_import_job"), {"source_path": source_path, "root_run_id": root_run_id}
    ).fetchone()
    assert row is not None
    return str(row[0])


def record_refused(
    conn: psycopg.Connection, source_path: str, message: str, run_id: str, root_run_id: str
) -> str:
    """A failed job for an import refused before it could be claimed (its path unusable)."""
    row = conn.execute(
        statement("record_refused_import"),
        {
            "source_path": source_path,
            "error_message": message,
            "run_id": run_id,
            "root_run_id": root_run_id,
        },
    ).fetchone()
    assert row is not None
    return str(row[0])


def claim(
    conn: psycopg.Connection,
    *,
    dsn: str,
    job_id: str | None,
    source_path: str | None,
    run_id: str,
    root_run_id: str,
    lease_seconds: int,
    run_is_finished: Callable[[str], bool] = lambda run_id: False,
) -> Ticket:
    """Take the job for this run: an existing one by id, the unfinished one of this run's
    root run (a retry or re-execution), or a new one for ``source_path``.

    The row is locked with SKIP LOCKED, so two runs racing for one job never both get it.
    Refused: a live lease held by another run (unless ``run_is_finished`` says that run
    has ended), a file another live import is working on, and a job out of attempts
    (which is marked failed then, if its last run died without saying so).
    """
    if source_path is not None:
        source_path = os.path.normpath(source_path)
    with transaction(conn):
        if job_id is None:
            found = conn.execute(
                statement("find_unfinished_job_of_run"), {"root_run_id": root_run_id}
            ).fetchone()
            if found is not None:
                job_id = str(found[0])
            elif source_path is None:
                raise ClaimRefused("give source_path or job_id")
            else:
                job_id = create_job(conn, source_path, root_run_id)
        with conn.cursor(row_factory=dict_row) as cursor:
            job = cursor.execute(statement("lock_import_job"), {"job_id": job_id}).fetchone()
        if job is None:
            raise ClaimRefused(f"import job {job_id} does not exist or another run holds it")
        used_up: AttemptsUsedUp | None = None
        try:
            _check_claimable(job, run_id, source_path, run_is_finished)
        except AttemptsUsedUp as exc:
            used_up = exc
            if job["status"] in ("queued", "running"):
                # Its last run died (the lease has expired): the job ends failed, not running
                # forever. A job that already failed keeps its own message.
                params = {"job_id": job_id, "owner": job["lease_owner"], "error_message": str(exc)}
                conn.execute(statement("fail_import_job"), params)
                StagingTables.of(str(job_id)).drop(conn)
        else:
            busy = conn.execute(
                statement("find_live_job_for_file"),
                {"source_path": job["source_path"], "job_id": job_id},
            ).fetchone()
            if busy is not None:
                raise ClaimRefused(f"{job['source_path']} is being imported by job {busy[0]}")
            if job["lease_owner"] not in (None, run_id):
                conn.execute(
                    statement("terminate_backends_of_run"),
                    {"application_name": application_name(job["lease_owner"])},
                )
            conn.execute(
                statement("start_import_attempt"),
                {
                    "job_id": job_id,
                    "owner": run_id,
                    "run_id": run_id,
                    "root_run_id": root_run_id,
                    "lease_seconds": lease_seconds,
                },
            )
    if used_up is not None:
        raise used_up
    return Ticket(str(job_id), job["source_path"], Lease(dsn, str(job_id), run_id, lease_seconds))


def _check_claimable(
    job: dict[str, Any],
    run_id: str,
    source_path: str | None,
    run_is_finished: Callable[[str], bool],
) -> None:
    if source_path is not None and source_path != job["source_path"]:
        raise ClaimRefused(
            f"import job {job['id']} imports {job['source_path']!r}, not {source_path!r}"
        )
    if job["status"] == "succeeded":
        raise ClaimRefused(f"import job {job['id']} has already succeeded")
    owner = job["lease_owner"]
    if job["lease_live"] and owner != run_id and not run_is_finished(owner):
        raise ClaimRefused(f"import job {job['id']} is being worked on by run {owner}")
    if job["attempts"] >= job["max_attempts"]:
        raise AttemptsUsedUp(f"import job {job['id']} has used all {job['max_attempts']} attempts")


def fail(conn: psycopg.Connection, ticket: Ticket, message: str) -> bool:
    """Mark the job failed (if it is still ours) with a message saying what and where;
    False when it was not ours to fail (another run took it over, or it finished)."""
    with transaction(conn):
        failed = conn.execute(
            statement("fail_import_job"),
            {"job_id": ticket.job_id, "owner": ticket.lease.owner, "error_message": message},
        )
    return failed.rowcount == 1


def succeed(conn: psycopg.Connection, ticket: Ticket) -> None:
    with transaction(conn):
        done = conn.execute(
            statement("succeed_import_job"), {"job_id": ticket.job_id, "owner": ticket.lease.owner}
        )
        if done.rowcount != 1:
            raise LeaseLost(f"import job {ticket.job_id} is no longer held by this run")


def require_ours(cursor: psycopg.Cursor, ticket: Ticket) -> None:
    """Raise LeaseLost when a phase's final UPDATE of the job row matched nothing."""
    if cursor.rowcount != 1:
        raise LeaseLost(f"import job {ticket.job_id} is no longer held by this run")


def summary(job: dict[str, Any]) -> dict[str, Any]:
    """The job as the CLI and the run's metadata show it: id, status, counts, error."""
    return {
        "job_id": str(job["id"]),
        "status": job["status"],
        **{name: job[name] for name in COUNT_FIELDS},
        "error_message": job["error_message"],
    }
