UPDATE import_jobs
SET status = 'running',
    attempts = attempts + 1,
    lease_owner = %(owner)s,
    lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
    heartbeat_at = now(),
    started_at = coalesce(started_at, now()),
    finished_at = NULL,
    error_message = NULL,
    dagster_run_id = %(run_id)s,
    dagster_root_run_id = coalesce(dagster_root_run_id, %(root_run_id)s),
    updated_at = now()
WHERE id = %(job_id)s
RETURNING attempts
