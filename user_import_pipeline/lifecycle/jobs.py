"""The ``import_jobs`` row of an import: created, claimed, read, failed, finished."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from user_import_pipeline.db.client import Session
from user_import_pipeline.db.errors import LeaseLost
from user_import_pipeline.db.locks import AdvisoryLock
from user_import_pipeline.lifecycle.lease import heartbeat_name, worker_name
from user_import_pipeline.staging.tables import StagingTables

ALIVE_CONFIRM_SECONDS = 1.0
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
    """The job cannot be worked on by this run (finished, owned by a live run, missing)."""


class AttemptsUsedUp(ClaimRefused):
    """The job has had all its attempts; it ends ``failed`` (CONTRACT §6.5)."""

    def __init__(self, job_id: str, max_attempts: int) -> None:
        super().__init__(f"import job {job_id} has used all {max_attempts} attempts")
        self.job_id = job_id


@dataclass(frozen=True)
class Claim:
    """A job this run now holds: which one, of which file, at which phase and attempt."""

    job_id: str
    source_path: str
    phase: str
    attempts: int
    max_attempts: int
    took_over: str | None  # the run whose job this was, when it was taken over from one
    dry_run: bool


@dataclass(frozen=True)
class HeldJob:
    """A job this run holds: what every phase needs to work on it and prove it is ours."""

    job_id: str
    owner: str  # the run id, as import_jobs.lease_owner
    source_path: str
    dry_run: bool = False  # read, validate and plan; write neither users nor addresses


def reached(phase: str, target: str) -> bool:
    """True when ``phase`` is ``target`` or later."""
    return PHASES.index(phase) >= PHASES.index(target)


def read_job(session: Session, job_id: str) -> dict[str, Any]:
    job = session.execute("read_import_job", {"job_id": job_id}).dict()
    if job is None:
        raise ClaimRefused(f"import job {job_id} does not exist")
    return job


def job_of_run(session: Session, run_id: str) -> dict[str, Any] | None:
    """The job the run ``run_id`` worked on last, if it claimed or recorded one."""
    job_id = session.execute("find_job_of_run", {"run_id": run_id}).scalar()
    return None if job_id is None else read_job(session, str(job_id))


def create_job(
    session: Session, source_path: str, root_run_id: str | None, dry_run: bool = False
) -> str:
    created = session.execute(
        "create_import_job",
        {"source_path": source_path, "root_run_id": root_run_id, "dry_run": dry_run},
    )
    return str(created.scalar())


def record_refused(
    session: Session, source_path: str, message: str, run_id: str, root_run_id: str
) -> str:
    """A failed job for an import refused before it could be claimed (its path unusable)."""
    recorded = session.execute(
        "record_refused_import",
        {
            "source_path": source_path,
            "error_message": message,
            "run_id": run_id,
            "root_run_id": root_run_id,
        },
    )
    return str(recorded.scalar())


def claim(
    session: Session,
    *,
    job_id: str | None,
    source_path: str | None,
    run_id: str,
    root_run_id: str,
    lease_seconds: int,
    dry_run: bool = False,
) -> Claim:
    """Take a job for this run: the one named, else the unfinished one of this run's root run
    (a retry or re-execution), else the unfinished one of the file whose run died, else a
    new one for ``source_path`` (a dry run when ``dry_run``; it never takes over an import,
    nor an import a dry run).

    The row is locked with SKIP LOCKED, so two runs racing for one job never both get it.
    A job whose lease is live and whose run is alive (its heartbeat connection is open) is
    refused; any other is taken over at once, ending what is left of its dead run's
    connections. A job out of attempts is marked failed and refused (a new import of the
    file gets a new job instead). The caller's heartbeat must be open already: from the
    commit on, other runs see this one alive. ``source_path`` comes as jobs store it
    (``location.stored_path``).
    """
    with session.transaction():
        named = job_id is not None
        if job_id is None:
            job_id = session.execute(
                "find_unfinished_job_of_run", {"root_run_id": root_run_id}
            ).scalar()
        if job_id is None:
            if source_path is None:
                raise ClaimRefused("give source_path or job_id")
            job_id = _job_for_file(session, source_path, root_run_id, dry_run)
        job = _lock(session, str(job_id))
        if not named and job["source_path"] == source_path and _used_up(job):
            # A new import of the file, not a resume of this worn-out one.
            _fail_used_up(session, job)
            job = _lock(
                session, create_job(session, job["source_path"], root_run_id, job["dry_run"])
            )
        if job["lease_owner"] == run_id and job["status"] == "running":
            # This run's own claim again (its first one's answer was lost): not an attempt.
            return _claimed(job, int(job["attempts"]), None)
        refusal = _refusal(session, job, run_id, source_path)
        if refusal is None:
            return _start_attempt(session, job, run_id, root_run_id, lease_seconds)
        if not isinstance(refusal, AttemptsUsedUp):
            raise refusal
        if job["status"] in ("queued", "running"):
            # Its last run died: the job ends failed, not running forever.
            _fail_used_up(session, job)
    raise refusal


def _job_for_file(session: Session, source_path: str, root_run_id: str, dry_run: bool) -> str:
    """The running job of the file (to take over, or to be refused), else a new one."""
    session.execute("take_claim_lock", {"key": int(AdvisoryLock.CLAIM), "source_path": source_path})
    running = session.execute(
        "find_running_job_of_file", {"source_path": source_path, "dry_run": dry_run}
    ).scalar()
    if running is not None:
        return str(running)
    return create_job(session, source_path, root_run_id, dry_run)


def _lock(session: Session, job_id: str) -> dict[str, Any]:
    job = session.execute("lock_import_job", {"job_id": job_id}).dict()
    if job is None:
        raise ClaimRefused(f"import job {job_id} does not exist or another run holds it")
    return job


def _used_up(job: dict[str, Any]) -> bool:
    return bool(job["attempts"] >= job["max_attempts"])


def _fail_used_up(session: Session, job: dict[str, Any]) -> None:
    message = f"import job {job['id']} has used all {job['max_attempts']} attempts"
    params = {"job_id": job["id"], "owner": job["lease_owner"], "error_message": message}
    session.execute("fail_import_job", params)
    StagingTables.of(str(job["id"])).drop(session)


def _refusal(
    session: Session, job: dict[str, Any], run_id: str, source_path: str | None
) -> ClaimRefused | None:
    if source_path is not None and source_path != job["source_path"]:
        return ClaimRefused(
            f"import job {job['id']} imports {job['source_path']!r}, not {source_path!r}"
        )
    if job["status"] == "succeeded":
        return ClaimRefused(f"import job {job['id']} has already succeeded")
    owner = job["lease_owner"]
    if owner not in (None, run_id) and job["lease_live"] and run_is_alive(session, owner):
        return _busy(job["source_path"], job["id"], owner)
    if _used_up(job):
        return AttemptsUsedUp(str(job["id"]), job["max_attempts"])
    other = session.execute(
        "find_live_job_of_file",
        {
            "source_path": job["source_path"],
            "job_id": job["id"],
            "heartbeat_prefix": heartbeat_name(""),
        },
    ).one()
    return None if other is None else _busy(job["source_path"], other[0], other[1])


def _busy(source_path: str, job_id: object, owner: str) -> ClaimRefused:
    return ClaimRefused(
        f"import job {job_id} of {source_path} is being worked on by run {owner}, which is alive"
    )


def run_is_alive(session: Session, run_id: str) -> bool:
    """True when the run's heartbeat connection is open (lifecycle/lease.py) and stays open
    for ``ALIVE_CONFIRM_SECONDS``: the backend of a process that died a moment ago needs a
    few milliseconds to see its client gone, and a re-run right after a crash must not be
    refused for that."""
    deadline = time.monotonic() + ALIVE_CONFIRM_SECONDS
    while True:
        session.execute("clear_stats_snapshot")
        if not session.execute("run_is_alive", {"heartbeat": heartbeat_name(run_id)}).scalar():
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.05)


def _start_attempt(
    session: Session, job: dict[str, Any], run_id: str, root_run_id: str, lease_seconds: int
) -> Claim:
    owner = job["lease_owner"]
    took_over = owner if owner not in (None, run_id) else None
    if took_over is not None:
        # A frozen or dead run may still hold a transaction and its locks on the job's
        # staging: end it rather than wait for it.
        session.execute(
            "terminate_backends_of_run",
            {"application_names": [worker_name(took_over), heartbeat_name(took_over)]},
        )
    started = session.execute(
        "start_import_attempt",
        {
            "job_id": job["id"],
            "owner": run_id,
            "run_id": run_id,
            "root_run_id": root_run_id,
            "lease_seconds": lease_seconds,
        },
    )
    return _claimed(job, int(started.scalar()), took_over)


def _claimed(job: dict[str, Any], attempts: int, took_over: str | None) -> Claim:
    return Claim(
        job_id=str(job["id"]),
        source_path=job["source_path"],
        phase=job["phase"],
        attempts=attempts,
        max_attempts=job["max_attempts"],
        took_over=took_over,
        dry_run=job["dry_run"],
    )


def fail(session: Session, job_id: str, owner: str, message: str) -> bool:
    """Mark the job failed (if it is still ``owner``'s) and drop its staging; False when it
    was not that run's to fail (another run took it over, or it finished)."""
    with session.transaction():
        failed = session.execute(
            "fail_import_job", {"job_id": job_id, "owner": owner, "error_message": message}
        )
        if failed.rowcount == 1:
            StagingTables.of(job_id).drop(session)
    return failed.rowcount == 1


def succeed(session: Session, job_id: str, owner: str) -> dict[str, Any]:
    """Mark the job succeeded and drop its staging, in one transaction; the finished job.
    Repeated by the same run after its commit was lost in transit, it finds the job done."""
    with session.transaction():
        job = read_job(session, job_id)
        if job["status"] == "succeeded" and job["dagster_run_id"] == owner:
            return job
        done = session.execute("succeed_import_job", {"job_id": job_id, "owner": owner})
        if done.rowcount != 1:
            raise LeaseLost(f"import job {job_id} is no longer held by this run")
        StagingTables.of(job_id).drop(session)
        return read_job(session, job_id)


def require_ours(rowcount: int, job_id: str) -> None:
    """Raise LeaseLost when a phase's final UPDATE of the job row matched nothing."""
    if rowcount != 1:
        raise LeaseLost(f"import job {job_id} is no longer held by this run")


def summary(job: dict[str, Any]) -> dict[str, Any]:
    """The job as the CLI and the run's metadata show it: id, status, counts, error."""
    return {
        "job_id": str(job["id"]),
        "status": job["status"],
        "dry_run": job["dry_run"],
        **{name: job[name] for name in COUNT_FIELDS},
        "error_message": job["error_message"],
    }
