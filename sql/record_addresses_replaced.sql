UPDATE import_jobs
SET phase = 'addresses_replaced', updated_at = now()
WHERE id = %(job_id)s AND lease_owner = %(owner)s AND status = 'running'
  AND phase = 'users_merged'
