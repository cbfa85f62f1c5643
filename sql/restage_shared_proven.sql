-- A proved row whose user shares an external id, an email or an id (for a UUID external id)
-- with a valid staged row (shared_users, see record_shared_users.sql) is staged too, so
-- that the merge judges the two together as it judges any rows of one file (CONTRACT
-- §3.1-3.3). It is rebuilt from its user, which holds exactly that row while the
-- fingerprint is the row's (migration 0008). Returns how many were taken out of stg_proven
-- and how many were rebuilt: fewer rebuilt means a user changed since it was proved, and
-- staging starts over (staging/compare.py).
WITH taken_out AS (
    DELETE FROM {stg_proven} AS p
    WHERE p.user_id IN (SELECT user_id FROM shared_users)
    RETURNING p.*
),
restaged AS (
    INSERT INTO {stg_users} (row_index, external_id, external_uuid, name, email, phone_number,
                             has_addresses, addresses, fingerprint)
    SELECT t.row_index, CASE WHEN t.has_external_id THEN u.external_id END, t.external_uuid,
           u.name, u.email, u.phone_number,
           t.has_addresses, CASE WHEN t.has_addresses THEN staged_address_list(u.id) END,
           t.fingerprint
    FROM taken_out AS t
    JOIN users AS u ON u.id = t.user_id AND u.fingerprint = t.fingerprint
    RETURNING row_index
)
SELECT (SELECT count(*) FROM taken_out), (SELECT count(*) FROM restaged)
