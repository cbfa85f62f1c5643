-- A run re-executed from failure or retried by Dagster keeps its root run id: it resumes
-- the job its first run created instead of starting a second import of the same file.
SELECT id
FROM import_jobs
WHERE dagster_root_run_id = %(root_run_id)s AND status <> 'succeeded'
ORDER BY created_at DESC
LIMIT 1
