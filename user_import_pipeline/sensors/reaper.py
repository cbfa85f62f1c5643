"""``import_jobs_reaper``: give every import job that no run is working on a new run.

That is a job queued while Dagster was down (the HTTP API records the job first, then
asks Dagster), or a running job whose lease expired because its run died. Each gets a run
until it has used ``max_attempts``; then it is marked failed with the reason.

A run can die without Dagster noticing (its code server died with it: the run stays
STARTED until its maximum runtime) and would hold the file's place in the run queue. The
expired lease says it is dead, so the reaper reports that run failed (and not to be
retried by Dagster) and gives the job a run of its own in the same tick.
"""

from __future__ import annotations

import dagster as dg

from user_import_pipeline.db.client import Session
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.resources import ImportSettingsResource, PostgresResource
from user_import_pipeline.runs import ACTIVE_STATUSES, has_active_run, run_config, run_tags
from user_import_pipeline.staging.tables import StagingTables

MAX_RETRIES_TAG = "dagster/max_retries"
# A queued job normally gets its run at once; wait this long before treating it as orphaned.
QUEUED_GRACE_SECONDS = 10


@dg.sensor(
    job=import_users,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs import jobs left queued or abandoned by a dead run; fails them after "
    "max_attempts",
)
def import_jobs_reaper(
    context: dg.SensorEvaluationContext,
    postgres: PostgresResource,
    import_settings: ImportSettingsResource,
) -> dg.SensorResult | dg.SkipReason:
    requests = []
    with postgres.database().session() as session:
        orphans = session.execute(
            "find_orphaned_import_jobs", {"grace_seconds": QUEUED_GRACE_SECONDS}
        ).rows
        for job_id, status, attempts, max_attempts, source_path, owner in orphans:
            job_id = str(job_id)
            if owner:
                _fail_if_stuck(context, owner, job_id)
            if has_active_run(context.instance, job_id, source_path):
                continue
            if attempts >= max_attempts:
                message = _abandon(session, job_id, attempts, owner)
                context.log.info(f"import job {job_id} failed after {attempts} attempts")
                alerts = import_settings.alerts()
                if alerts is not None and message is not None:
                    alerts.failed(jobs.read_job(session, job_id), owner or "", message)
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{job_id}:{attempts}",
                    run_config=run_config(source_path, job_id),
                    tags=run_tags(source_path, job_id),
                )
            )
            context.log.info(f"import job {job_id} ({status}) gets a new run")
    if not requests:
        return dg.SkipReason("every import job is being worked on or finished")
    return dg.SensorResult(run_requests=requests)


def _fail_if_stuck(context: dg.SensorEvaluationContext, run_id: str, job_id: str) -> None:
    """Report the lease owner's run failed if Dagster still has it active."""
    run = context.instance.get_run_by_id(run_id)
    if run is None or run.status not in ACTIVE_STATUSES:
        return
    # The reaper's own run takes the job over; a retry of this run would only be refused.
    context.instance.add_run_tags(run_id, {MAX_RETRIES_TAG: "0"})
    message = f"stopped renewing its lease on import job {job_id}: its process is gone"
    context.instance.report_run_failed(run, message)
    context.log.info(f"run {run_id} {message}; reported failed")


def _abandon(session: Session, job_id: str, attempts: int, owner: str | None) -> str | None:
    """Fail the job; its message, or None when another run got to it first."""
    message = (
        f"gave up after {attempts} attempts: the last run ({owner}) stopped renewing its lease"
    )
    with session.transaction():
        abandoned = session.execute(
            "abandon_import_job", {"job_id": job_id, "error_message": message}
        )
        StagingTables.of(job_id).drop(session)
    return message if abandoned.rowcount == 1 else None
