-- Another import of the same file that a live run is working on.
SELECT id
FROM import_jobs
WHERE source_path = %(source_path)s AND id <> %(job_id)s
  AND status = 'running' AND lease_expires_at > now()
LIMIT 1
