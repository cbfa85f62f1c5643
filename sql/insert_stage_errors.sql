INSERT INTO import_job_errors (job_id, row_index, code, message, phase, raw, raw_truncated)
SELECT %(job_id)s, row_index, error_code, error_message, 'stage', raw, raw_truncated
FROM {stg_users}
WHERE error_code IS NOT NULL
