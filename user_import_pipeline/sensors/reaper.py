"""``import_jobs_reaper``: give every import job that no run is working on a new run.

That is a job queued while Dagster was down (the HTTP API records the job first, then
asks Dagster), or a running job whose lease expired because its run died. Each gets a run
until it has used ``max_attempts``; then it is marked failed with the reason.
"""

from __future__ import annotations

import dagster as dg
import psycopg

from user_import_pipeline.db.connection import PostgresResource, transaction
from user_import_pipeline.db.sqlfiles import statement
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.sensors.run_requests import has_active_run, run_config, run_tags
from user_import_pipeline.staging.tables import StagingTables

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
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult | dg.SkipReason:
    requests = []
    with postgres.connect() as conn:
        orphans = conn.execute(
            statement("find_orphaned_import_jobs"), {"grace_seconds": QUEUED_GRACE_SECONDS}
        ).fetchall()
        for job_id, status, attempts, max_attempts, source_path, owner in orphans:
            job_id = str(job_id)
            if has_active_run(context.instance, job_id):
                continue
            if attempts >= max_attempts:
                _abandon(conn, job_id, attempts, owner)
                context.log.info(f"import job {job_id} failed after {attempts} attempts")
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{job_id}:{attempts}",
                    run_config=run_config(job_id=job_id),
                    tags=run_tags(source_path, job_id),
                )
            )
            context.log.info(f"import job {job_id} ({status}) gets a new run")
    if not requests:
        return dg.SkipReason("every import job is being worked on or finished")
    return dg.SensorResult(run_requests=requests)


def _abandon(conn: psycopg.Connection, job_id: str, attempts: int, owner: str | None) -> None:
    message = (
        f"gave up after {attempts} attempts: the last run ({owner}) stopped renewing its lease"
    )
    with transaction(conn):
        conn.execute(statement("abandon_import_job"), {"job_id": job_id, "error_message": message})
        StagingTables.of(job_id).drop(conn)
