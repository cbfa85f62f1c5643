-- In the merge's own transaction: a repeated merge finds the phase done and counts nothing.
UPDATE import_jobs AS j
SET phase = 'users_merged',
    imported_count = j.imported_count + c.imported,
    updated_count = c.updated,
    -- Rows proved unchanged while staging (staging/compare.py) are unchanged users too.
    unchanged_count = c.unchanged + j.proven_users,
    address_changes = (SELECT count(*) FROM {address_changes}),
    address_changes_owner = %(owner)s,
    updated_at = now()
FROM (
    SELECT count(*) FILTER (WHERE is_new) AS imported,
           count(*) FILTER (WHERE NOT is_new AND (row_changed OR addresses_changed)) AS updated,
           count(*) FILTER (WHERE NOT is_new AND NOT row_changed AND NOT addresses_changed)
               AS unchanged
    FROM merge_plan
    WHERE code IS NULL
) AS c
WHERE j.id = %(job_id)s AND j.lease_owner = %(owner)s AND j.status = 'running'
  AND j.phase = 'addresses_staged'
RETURNING j.imported_count, j.updated_count, j.unchanged_count
