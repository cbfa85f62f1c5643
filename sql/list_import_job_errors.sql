-- The job's row errors in file order; superseded duplicates are skipped, not errors.
SELECT row_index, code, message
FROM import_job_errors
WHERE job_id = %(job_id)s AND NOT superseded
ORDER BY row_index
LIMIT %(limit)s
