UPDATE import_jobs
SET status = 'failed',
    error_message = %(error_message)s,
    finished_at = now(),
    lease_owner = NULL,
    lease_expires_at = NULL,
    updated_at = now()
WHERE id = %(job_id)s AND status = 'running' AND lease_expires_at < now()
