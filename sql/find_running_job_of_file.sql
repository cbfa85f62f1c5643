-- The latest import of the file that a run started and did not finish: a new run of the
-- file takes it over (or is refused, while its run is alive) rather than start another. A
-- dry run and an import are different jobs.
SELECT id
FROM import_jobs
WHERE source_path = %(source_path)s AND status = 'running' AND dry_run = %(dry_run)s
ORDER BY created_at DESC
LIMIT 1
