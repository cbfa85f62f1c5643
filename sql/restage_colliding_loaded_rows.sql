-- A user written straight away whose external id, email or id a later row of the file also
-- has goes back to staging as the row it came from, and out of users (its addresses go
-- with it): the merge then judges both rows as it judges any rows of one file, against
-- tables that hold neither (merge/bulk_load.py).
WITH colliding AS (
    SELECT DISTINCT r.row_index, r.user_id, r.external_uuid, r.has_addresses
    FROM loaded_rows AS r
    JOIN users AS u ON u.id = r.user_id
    JOIN {stg_users} AS s
      ON s.error_code IS NULL
     AND (s.external_id = u.external_id
          OR s.email_lower = lower(u.email)
          OR s.external_uuid = u.id)
),
restaged AS (
    INSERT INTO {stg_users} (row_index, external_id, external_uuid, name, email, phone_number,
                             has_addresses, addresses, fingerprint)
    SELECT c.row_index, u.external_id, c.external_uuid, u.name, u.email, u.phone_number,
           c.has_addresses, CASE WHEN c.has_addresses THEN staged_address_list(u.id) END,
           u.fingerprint
    FROM colliding AS c
    JOIN users AS u ON u.id = c.user_id
    RETURNING row_index
)
DELETE FROM users AS u
USING colliding AS c
WHERE u.id = c.user_id AND c.row_index IN (SELECT row_index FROM restaged)
