-- Only an unfinished job, and only by its lease owner (or, unclaimed, by anyone): a run that
-- lost the job must not fail it after another run finished it.
UPDATE import_jobs
SET status = 'failed',
    error_message = %(error_message)s,
    finished_at = now(),
    lease_owner = NULL,
    lease_expires_at = NULL,
    updated_at = now()
WHERE id = %(job_id)s
  AND status IN ('queued', 'running')
  AND (lease_owner = %(owner)s OR lease_owner IS NULL)
