-- Derived from the recorded errors, so repeating a phase can never count a row twice.
UPDATE import_jobs
SET skipped_count = errors.skipped,
    failed_count = errors.failed,
    updated_at = now()
FROM (
    SELECT count(*) AS skipped, count(*) FILTER (WHERE NOT superseded) AS failed
    FROM import_job_errors
    WHERE job_id = %(job_id)s
) AS errors
WHERE id = %(job_id)s
