-- A page of the job's failed rows in file order, after a row index (keyset: the primary key
-- (job_id, row_index) finds the page however deep it is). Superseded duplicates are skipped,
-- not errors (CONTRACT §4), so every page together holds failed_count rows.
SELECT row_index, code, message, raw, raw_truncated
FROM import_job_errors
WHERE job_id = %(job_id)s AND NOT superseded AND row_index > %(after)s
ORDER BY row_index
LIMIT %(limit)s
