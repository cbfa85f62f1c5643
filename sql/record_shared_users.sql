-- The users that the valid rows of one batch staged in full (row indexes from %(first)s on)
-- find by external id, email or id (for a UUID external id). Looked up by the writer thread
-- while the next batch is read; at the end of the file, a proved row of any of these users
-- is staged too (restage_shared_proven), whichever of the two rows came first.
INSERT INTO shared_users (user_id)
SELECT u.id
FROM {stg_users} AS s
JOIN users AS u ON u.external_id = s.external_id
WHERE s.row_index >= %(first)s AND s.error_code IS NULL
UNION
SELECT u.id
FROM {stg_users} AS s
JOIN users AS u ON lower(u.email) = s.email_lower
WHERE s.row_index >= %(first)s AND s.error_code IS NULL
UNION
SELECT u.id
FROM {stg_users} AS s
JOIN users AS u ON u.id = s.external_uuid
WHERE s.row_index >= %(first)s AND s.error_code IS NULL
