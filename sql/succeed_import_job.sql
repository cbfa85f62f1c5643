UPDATE import_jobs
SET status = 'succeeded',
    finished_at = now(),
    lease_owner = NULL,
    lease_expires_at = NULL,
    updated_at = now()
WHERE id = %(job_id)s AND lease_owner = %(owner)s AND phase = 'addresses_replaced'
