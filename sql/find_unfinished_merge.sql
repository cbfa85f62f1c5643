-- Another import between its user merge and its address replacement, still alive: ours
-- waits, so that its two halves are not interleaved with ours.
SELECT id
FROM import_jobs
WHERE phase = 'users_merged' AND status = 'running' AND id <> %(job_id)s
  AND lease_expires_at > now()
LIMIT 1
