-- Restaging after a later phase (staging lost in a crash) must not move the phase back.
-- ``loaded``: users a first import into empty tables wrote straight away (merge/bulk_load.py);
-- ``proven_users``: rows a re-import proved unchanged without staging (staging/compare.py).
UPDATE import_jobs
SET phase = CASE WHEN phase = 'pending' THEN 'users_staged' ELSE phase END,
    staged_users = %(staged_users)s,
    proven_users = %(proven_users)s,
    imported_count = imported_count + %(loaded)s,
    progress_processed = %(rows_processed)s,
    progress_total = %(rows_processed)s,
    bytes_processed = %(bytes_total)s,
    bytes_total = %(bytes_total)s,
    source_sha256 = %(source_sha256)s,
    updated_at = now()
WHERE id = %(job_id)s AND lease_owner = %(owner)s AND status = 'running'
