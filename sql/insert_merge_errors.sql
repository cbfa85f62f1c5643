INSERT INTO import_job_errors (job_id, row_index, code, message, superseded, phase)
SELECT %(job_id)s, row_index, code, message, superseded, 'merge'
FROM merge_plan
WHERE code IS NOT NULL
