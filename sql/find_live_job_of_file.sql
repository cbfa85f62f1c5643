-- Another import of the same file that a live run is working on: its lease is live and
-- its run's heartbeat connection is open (lifecycle/lease.py).
SELECT j.id, j.lease_owner
FROM import_jobs AS j
WHERE j.source_path = %(source_path)s AND j.id <> %(job_id)s
  AND j.status = 'running' AND j.lease_expires_at > now()
  AND EXISTS (
      SELECT FROM pg_stat_activity AS a
      WHERE a.datname = current_database()
        AND a.application_name = left(%(heartbeat_prefix)s || j.lease_owner, 63)
  )
LIMIT 1
