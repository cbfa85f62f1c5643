UPDATE import_jobs
SET phase = CASE WHEN phase = 'users_staged' THEN 'addresses_staged' ELSE phase END,
    staged_addresses = %(staged_addresses)s,
    updated_at = now()
WHERE id = %(job_id)s AND lease_owner = %(owner)s AND status = 'running'
