-- Jobs no run is working on: queued for longer than the grace period (created while
-- Dagster was down), or running with a lease nobody renewed (their run died).
SELECT id, status, attempts, max_attempts, source_path, lease_owner
FROM import_jobs
WHERE (status = 'queued' AND created_at < now() - make_interval(secs => %(grace_seconds)s))
   OR (status = 'running' AND lease_expires_at < now())
ORDER BY created_at
LIMIT 100
