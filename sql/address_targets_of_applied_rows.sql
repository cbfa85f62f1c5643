-- Rebuilt from durable facts, so it survives a crash between the two merge phases: a
-- valid staged row that got no error in this job was applied, and its user now has its email.
CREATE TEMP TABLE address_targets ON COMMIT DROP AS
SELECT s.row_index, u.id AS user_id
FROM {stg_users} AS s
JOIN users AS u ON lower(u.email) = s.email_lower
WHERE s.error_code IS NULL
  AND s.has_addresses
  AND NOT EXISTS (
      SELECT FROM import_job_errors AS e
      WHERE e.job_id = %(job_id)s AND e.row_index = s.row_index
  )
