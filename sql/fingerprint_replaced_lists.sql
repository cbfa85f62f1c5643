-- The users whose list was just replaced now hold all of their row: they get its
-- fingerprint (migration 0008), unless their values are no longer the row's.
UPDATE users AS u
SET fingerprint = s.fingerprint
FROM {address_changes} AS c
JOIN {stg_users} AS s USING (row_index)
WHERE u.id = c.user_id
  AND u.fingerprint IS DISTINCT FROM s.fingerprint
  AND (u.external_id, u.name, u.email, u.phone_number)
      IS NOT DISTINCT FROM (s.external_id, s.name, s.email, s.phone_number)
