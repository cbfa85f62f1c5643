UPDATE import_jobs
SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
    heartbeat_at = now(),
    bytes_processed = coalesce(%(bytes_processed)s, bytes_processed),
    bytes_total = coalesce(%(bytes_total)s, bytes_total),
    progress_processed = coalesce(%(rows_processed)s, progress_processed),
    activity = coalesce(%(activity)s, activity),
    activity_done = coalesce(%(steps_done)s, activity_done),
    activity_total = coalesce(%(steps_total)s, activity_total),
    updated_at = now()
WHERE id = %(job_id)s AND lease_owner = %(owner)s AND status = 'running'
