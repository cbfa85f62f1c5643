-- The rows of the batch whose user, found by external id, has the row's fingerprint: the
-- row would change nothing. A user already proved by an earlier row of the file is not
-- proved again; that row is staged, and at the end so is the earlier one
-- (restage_shared_proven).
INSERT INTO {stg_proven} (user_id, row_index, fingerprint, external_uuid, has_addresses)
SELECT u.id, b.row_index, b.fingerprint, b.external_uuid, b.has_addresses
FROM compare_batch AS b
JOIN users AS u ON u.external_id = b.external_id AND u.fingerprint = b.fingerprint
ON CONFLICT (user_id) DO NOTHING
RETURNING row_index
