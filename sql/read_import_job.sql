SELECT id, source_path, status, phase, progress_processed, progress_total, imported_count,
       updated_count, unchanged_count, skipped_count, failed_count, attempts, max_attempts,
       error_message, bytes_total, bytes_processed, dagster_run_id, source_sha256,
       staged_users, proven_users, staged_addresses, address_changes, address_changes_owner,
       started_at,
       finished_at, dry_run, activity, activity_done, activity_total
FROM import_jobs
WHERE id = %(job_id)s
