DELETE FROM import_job_errors
WHERE job_id = %(job_id)s AND phase = 'stage'
