-- The import that last wrote users and addresses: the latest succeeded job that was not a
-- dry run.
SELECT id, source_path, status, dry_run, progress_processed, imported_count, updated_count,
       unchanged_count, skipped_count, failed_count
FROM import_jobs
WHERE status = 'succeeded' AND NOT dry_run
ORDER BY finished_at DESC
LIMIT 1
