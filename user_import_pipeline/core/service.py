"""The import, start to end, without Dagster: claim → stage users → stage addresses →
merge users → replace addresses → finish.

``ImportService`` owns the rules of a run: which job it works on (a new one, the one of its
root run, or one whose run died), skipping phases an earlier attempt committed, restaging
what a database crash emptied, keeping the lease alive from the claim to the end, and the
failure policy - each step returns an outcome (core/outcomes.py) instead of raising:

- a transient database error is ``Retry`` (up to ``TRANSIENT_RETRIES`` times per step),
  then ``Failed``;
- a lost lease or a refused claim is ``Stopped``: another run owns the job, nothing is
  touched;
- anything else (a file error, a statement the database refuses) is ``Failed``: the job is
  marked failed with the message and its staging is dropped, so no job is left running.

A Dagster op calls one step; ``run`` calls them all in order, retrying in place.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from user_import_pipeline.checkpoints import Point, reach
from user_import_pipeline.core.alerts import Webhook
from user_import_pipeline.core.outcomes import Done, Failed, Outcome, Retry, RunInfo, Stopped
from user_import_pipeline.db.client import Database, Session
from user_import_pipeline.db.errors import DatabaseError, LeaseLost, TransientDatabaseError
from user_import_pipeline.ingest import location
from user_import_pipeline.ingest.garbage import fewer_collections
from user_import_pipeline.ingest.source import is_utf8, printable
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.lifecycle.lease import ACTIVITIES, Heartbeat, Progress, worker_name
from user_import_pipeline.merge.bulk_load import load_into_empty_tables
from user_import_pipeline.merge.merge_users import MergedUsers, merge_users
from user_import_pipeline.merge.replace_addresses import ReplacedAddresses, replace_addresses
from user_import_pipeline.settings import ImportSettings
from user_import_pipeline.staging.compare import stage_compared
from user_import_pipeline.staging.stage_addresses import stage_addresses
from user_import_pipeline.staging.stage_users import ProgressCallback, StagedUsers, stage_users
from user_import_pipeline.staging.tables import StagingLost, StagingTables

T = TypeVar("T")
TRANSIENT_RETRIES = 3
Step = Callable[[Session, jobs.HeldJob, Progress], T]


@dataclass(frozen=True)
class StagedAddresses:
    addresses: int
    already_done: bool = False
    restaged_users: bool = False


@dataclass
class _Run:
    """A run this process works for: its heartbeat, and the job it holds once claimed."""

    heartbeat: Heartbeat
    job: jobs.HeldJob | None = None


class Log(Protocol):
    """Where the core says what a caller should know (a Python logger, Dagster's run log)."""

    def warning(self, msg: str) -> Any: ...


LOST_STAGING = "staged rows of import {} were lost (database restart?); restaging from the file"


class ImportService:
    """Imports files into one database (see the module docstring)."""

    def __init__(
        self,
        database: Database,
        settings: ImportSettings,
        log: Log | None = None,
        alerts: Webhook | None = None,
    ) -> None:
        self._database = database
        self._settings = settings
        self._log: Log = log or logging.getLogger(__name__)
        self._alerts = alerts
        self._runs: dict[str, _Run] = {}

    # --- the steps of an import, in order -------------------------------------------------

    def claim(
        self,
        run: RunInfo,
        *,
        source_path: str | None = None,
        job_id: str | None = None,
        dry_run: bool = False,
    ) -> Outcome[jobs.Claim]:
        """Take the job for this run (see ``jobs.claim``) and check that its file can be
        read; from here on the run's heartbeat keeps the job's lease. A new job for
        ``source_path`` is a dry run when ``dry_run``; a job named by id keeps its own."""
        if job_id is not None:
            try:
                job_id = str(uuid.UUID(job_id))
            except ValueError:
                return Stopped(f"job_id {job_id!r} is not a UUID")
        if source_path is not None and not is_utf8(source_path):
            return self._refuse_unstorable(run, source_path)
        return self._policy(run, job_id, lambda: self._claim(run, job_id, source_path, dry_run))

    def job_of(self, run: RunInfo) -> Outcome[str]:
        """The job this run works on: the one it claimed in this process, or - in a process
        that starts in the middle of the run, as a re-execution from failure in another
        container does - the unfinished job of its root run, which the next step claims."""
        current = self._runs.get(run.run_id)
        if current is not None and current.job is not None:
            return Done(current.job.job_id)

        def find() -> str:
            with self._database.session() as session:
                found = session.execute(
                    "find_unfinished_job_of_run", {"root_run_id": run.root_run_id}
                ).scalar()
            if found is None:
                raise jobs.ClaimRefused(f"run {run.run_id} has no unfinished import job")
            return str(found)

        return self._policy(run, None, find)

    def stage_users(
        self, job_id: str, run: RunInfo, on_progress: ProgressCallback | None = None
    ) -> Outcome[StagedUsers]:
        """Stream the file through validation into the job's UNLOGGED staging (COPY), in one
        transaction; nothing when an earlier attempt staged it and it is still there."""

        def step(session: Session, job: jobs.HeldJob, progress: Progress) -> StagedUsers:
            row = jobs.read_job(session, job_id)
            tables = StagingTables.of(job_id)
            if jobs.reached(row["phase"], "addresses_replaced"):  # nothing left to stage for
                return StagedUsers(0, 0, 0, 0, already_done=True)
            if jobs.reached(row["phase"], "users_staged"):
                if tables.intact(session, row, False):
                    return StagedUsers(0, 0, 0, 0, already_done=True)
                self._log.warning(LOST_STAGING.format(job_id))
            elif not job.dry_run:
                # Into empty tables, written while read; else the rows proved unchanged
                # while read are left out of staging; else (rarely) every row is staged.
                for stage in (load_into_empty_tables, stage_compared):
                    staged = self._staged(stage, session, job, progress, on_progress)
                    if staged is not None:
                        return staged
            return self._stage_users(session, job, progress, on_progress)

        with fewer_collections():
            return self._step(job_id, run, "users_staged", step)

    def stage_addresses(self, job_id: str, run: RunInfo) -> Outcome[StagedAddresses]:
        """Spread the staged address lists into one staging row per address."""

        def step(session: Session, job: jobs.HeldJob, progress: Progress) -> StagedAddresses:
            row = jobs.read_job(session, job_id)
            tables = StagingTables.of(job_id)
            if jobs.reached(row["phase"], "addresses_replaced") or (
                jobs.reached(row["phase"], "addresses_staged") and tables.intact(session, row)
            ):
                return StagedAddresses(row["staged_addresses"], already_done=True)
            restage = not tables.intact(session, row, addresses=False)
            if restage:
                self._log.warning(LOST_STAGING.format(job_id))
                self._stage_users(session, job, progress)
            return StagedAddresses(stage_addresses(session, job), restaged_users=restage)

        return self._step(job_id, run, "addresses_staged", step)

    def merge_users(
        self, job_id: str, run: RunInfo, on_wait: Callable[[str], None] | None = None
    ) -> Outcome[MergedUsers]:
        """Upsert users by external id with email fallback; only changed users are written."""
        return self._step(
            job_id,
            run,
            "users_merged",
            lambda session, job, progress: self._with_staging(
                session, job, progress, lambda: merge_users(session, job, progress, on_wait)
            ),
        )

    def replace_addresses(self, job_id: str, run: RunInfo) -> Outcome[ReplacedAddresses]:
        """Replace the address lists that changed, for the users this import applied."""
        return self._step(
            job_id,
            run,
            "addresses_replaced",
            lambda session, job, progress: self._with_staging(
                session, job, progress, lambda: replace_addresses(session, job, progress)
            ),
        )

    def finish(self, job_id: str, run: RunInfo) -> Outcome[dict[str, Any]]:
        """Mark the job succeeded and drop its staging; the finished job's row."""
        outcome = self._step(
            job_id,
            run,
            "succeeded",
            lambda session, job, progress: jobs.succeed(session, job_id, job.owner),
        )
        if isinstance(outcome, Done):
            self._release(run.run_id)
            if self._alerts is not None:
                self._alerts.check_bad_rows(
                    outcome.value, run.run_id, self._settings.bad_row_threshold
                )
        return outcome

    def run(
        self,
        run: RunInfo | None = None,
        *,
        source_path: str | None = None,
        job_id: str | None = None,
        dry_run: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> Outcome[dict[str, Any]]:
        """The whole import in this thread, each step retried in place while it says
        ``Retry``; ``Done`` holds the finished job's row."""
        run = run or RunInfo.first(str(uuid.uuid4()))
        try:
            claimed = self._retrying(
                run,
                lambda r: self.claim(r, source_path=source_path, job_id=job_id, dry_run=dry_run),
            )
            if not isinstance(claimed, Done):
                return claimed
            held = claimed.value.job_id
            steps: list[Callable[[RunInfo], Outcome[Any]]] = [
                lambda r: self.stage_users(held, r, on_progress),
                lambda r: self.stage_addresses(held, r),
                lambda r: self.merge_users(held, r),
                lambda r: self.replace_addresses(held, r),
            ]
            for step in steps:
                outcome = self._retrying(run, step)
                if not isinstance(outcome, Done):
                    return outcome
            return self._retrying(run, lambda r: self.finish(held, r))
        finally:
            self._release(run.run_id)

    def row_counts(self) -> dict[str, int]:
        """How many rows ``users`` and ``addresses`` hold now."""
        with self._database.session() as session:
            return {
                table: int(session.execute("count_rows", table=table).scalar())
                for table in ("users", "addresses")
            }

    def latest_import(self) -> dict[str, Any] | None:
        """The last import that wrote users and addresses (succeeded, not a dry run)."""
        with self._database.session() as session:
            return session.execute("find_latest_import").dict()

    def close(self) -> None:
        """Stop the heartbeats of every run this process still works for."""
        for run_id in list(self._runs):
            self._release(run_id)

    # --- the rules of a run ---------------------------------------------------------------

    def _claim(
        self, run: RunInfo, job_id: str | None, source_path: str | None, dry_run: bool = False
    ) -> jobs.Claim:
        current = self._runs.get(run.run_id)
        if current is None:
            heartbeat = Heartbeat(self._database, run.run_id, self._settings.lease_seconds)
            heartbeat.start()
            current = self._runs[run.run_id] = _Run(heartbeat)
        if source_path is not None:
            source_path = location.stored_path(source_path, self._settings.base_dir)
        with self._session(run) as session:
            claim = jobs.claim(
                session,
                job_id=job_id,
                source_path=source_path,
                run_id=run.run_id,
                root_run_id=run.root_run_id,
                lease_seconds=self._settings.lease_seconds,
                dry_run=dry_run,
            )
        current.job = jobs.HeldJob(claim.job_id, run.run_id, claim.source_path, claim.dry_run)
        current.heartbeat.hold(claim.job_id)
        location.resolve(claim.source_path, self._settings.base_dir)
        reach(Point("phase", "claimed"))
        return claim

    def _held(self, job_id: str, run: RunInfo) -> _Run:
        """This run's hold on ``job_id``: the one it claimed, or - for a run that never
        held it here (a re-execution of a run that failed) - a claim made now."""
        current = self._runs.get(run.run_id)
        if current is None or current.job is None:
            self._claim(run, job_id, None)
            current = self._runs[run.run_id]
        assert current.job is not None
        if current.job.job_id != job_id:
            raise jobs.ClaimRefused(
                f"run {run.run_id} works on import job {current.job.job_id}, not {job_id}"
            )
        if current.heartbeat.lost:
            raise LeaseLost(f"import job {job_id} was taken over by another run")
        return current

    def _step(self, job_id: str, run: RunInfo, phase: str, step: Step[T]) -> Outcome[T]:
        """Run ``step`` on a worker session watched by the run's heartbeat, under the failure
        policy; ``phase`` is the checkpoint reached once it has committed."""

        def work() -> T:
            current = self._held(job_id, run)
            assert current.job is not None
            with (
                self._session(run) as session,
                current.heartbeat.working(session, ACTIVITIES[phase]) as progress,
            ):
                done = step(session, current.job, progress)
            reach(Point("phase", phase))
            return done

        return self._policy(run, job_id, work)

    def _policy(self, run: RunInfo, job_id: str | None, work: Callable[[], T]) -> Outcome[T]:
        """The failure policy of the module docstring around one step."""
        try:
            return Done(work())
        except jobs.AttemptsUsedUp as exc:  # the claim marked the job failed
            self._release(run.run_id)
            self._alert_failure(run, exc.job_id, str(exc))
            return Failed(str(exc), exc)
        except (LeaseLost, jobs.ClaimRefused) as exc:
            self._release(run.run_id)
            return Stopped(str(exc))
        except TransientDatabaseError as exc:
            if run.retry_number < TRANSIENT_RETRIES:
                return Retry(
                    f"database interrupted the work, retrying: {exc}",
                    wait_seconds=1 + 2 * run.retry_number,
                    max_retries=TRANSIENT_RETRIES,
                )
            return self._fail(
                run, job_id, f"database unavailable after {TRANSIENT_RETRIES} retries: {exc}", exc
            )
        except Exception as exc:  # a file error, a refused statement, or a bug: fail the job
            return self._fail(run, job_id, str(exc) or type(exc).__name__, exc)

    def _fail(self, run: RunInfo, job_id: str | None, message: str, cause: BaseException) -> Failed:
        current = self._runs.get(run.run_id)
        job_id = job_id or (current.job.job_id if current and current.job else None)
        if job_id is not None:
            try:
                with self._session(run) as session:
                    failed = jobs.fail(session, job_id, run.run_id, message)
            except DatabaseError as exc:
                # The database itself is away: the job's lease runs out and the next run of
                # the file, or the reaper, takes it over.
                self._log.warning(f"import job {job_id} could not be marked failed: {exc}")
            else:
                if failed:
                    self._alert_failure(run, job_id, message)
        self._release(run.run_id)
        return Failed(message, cause)

    def _alert_failure(self, run: RunInfo, job_id: str, message: str) -> None:
        if self._alerts is None:
            return
        try:
            with self._session(run) as session:
                job = jobs.read_job(session, job_id)
        except DatabaseError as exc:
            self._log.warning(f"no alert for import job {job_id}: {exc}")
            return
        self._alerts.failed(job, run.run_id, message)

    def _refuse_unstorable(self, run: RunInfo, source_path: str) -> Outcome[jobs.Claim]:
        """A file name that is not UTF-8 cannot be stored as text: the import is recorded
        as failed under a printable form of the name."""
        shown = printable(source_path)
        message = f"{shown!r}: the file name is not valid UTF-8"

        def record() -> None:
            with self._session(run) as session:
                jobs.record_refused(session, shown, message, run.run_id, run.root_run_id)

        recorded = self._policy(run, None, record)
        return recorded if isinstance(recorded, Retry) else Failed(message)

    def _stage_users(
        self,
        session: Session,
        job: jobs.HeldJob,
        progress: Progress,
        on_progress: ProgressCallback | None = None,
    ) -> StagedUsers:
        return self._staged(stage_users, session, job, progress, on_progress)

    def _staged(
        self,
        stage: Callable[..., T],
        session: Session,
        job: jobs.HeldJob,
        progress: Progress,
        on_progress: ProgressCallback | None,
    ) -> T:
        """``stage`` (a way of staging the file's users) called on the job's file."""
        found = location.resolve(job.source_path, self._settings.base_dir)
        return stage(
            session,
            job,
            found,
            progress,
            report_every=self._settings.chunk_size,
            on_progress=on_progress,
        )

    def _with_staging(
        self, session: Session, job: jobs.HeldJob, progress: Progress, merge: Callable[[], T]
    ) -> T:
        """Run a merge phase; restage once if a database crash emptied the staging."""
        try:
            return merge()
        except StagingLost:
            self._log.warning(LOST_STAGING.format(job.job_id))
        self._stage_users(session, job, progress)
        stage_addresses(session, job)
        return merge()

    def _session(self, run: RunInfo) -> AbstractContextManager[Session]:
        return self._database.session(application_name=worker_name(run.run_id))

    def _retrying(self, run: RunInfo, call: Callable[[RunInfo], Outcome[T]]) -> Outcome[T]:
        """``call`` again after each ``Retry``, with the retry number counted up."""
        retry_number = 0
        while True:
            outcome = call(replace(run, retry_number=retry_number))
            if not isinstance(outcome, Retry):
                return outcome
            self._log.warning(
                f"{outcome.message} (retry {retry_number + 1} in {outcome.wait_seconds:.0f} s)"
            )
            time.sleep(outcome.wait_seconds)
            retry_number += 1

    def _release(self, run_id: str) -> None:
        current = self._runs.pop(run_id, None)
        if current is not None:
            current.heartbeat.stop()
