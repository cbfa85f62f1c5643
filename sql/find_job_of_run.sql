-- The import job a Dagster run worked on last (its claim records the run on the job).
SELECT id
FROM import_jobs
WHERE dagster_run_id = %(run_id)s
ORDER BY created_at DESC
LIMIT 1
