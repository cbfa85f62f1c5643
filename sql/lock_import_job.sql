SELECT id, source_path, status, phase, attempts, max_attempts, lease_owner, dry_run,
       coalesce(lease_expires_at > now(), false) AS lease_live
FROM import_jobs
WHERE id = %(job_id)s
FOR UPDATE SKIP LOCKED
