-- The rows of the batch whose user - found by external id, or by email for a row without
-- one (CONTRACT §3.2) - has the row's fingerprint would change nothing: they are proved.
-- A user already proved by an earlier row of the file is not proved again; that row is
-- staged, and at the end so is the earlier one (restage_shared_proven). Returns the rows
-- not proved, usually far fewer.
WITH proved AS (
    INSERT INTO {stg_proven} (user_id, row_index, fingerprint, external_uuid, has_addresses,
                              has_external_id)
    SELECT u.id, b.row_index, b.fingerprint, b.external_uuid, b.has_addresses, true
    FROM compare_batch AS b
    JOIN users AS u ON u.external_id = b.external_id AND u.fingerprint = b.fingerprint
    UNION ALL
    SELECT u.id, b.row_index, b.fingerprint, b.external_uuid, b.has_addresses, false
    FROM compare_batch AS b
    JOIN users AS u ON lower(u.email) = lower(b.email) AND u.fingerprint = b.fingerprint
    WHERE b.external_id IS NULL
    ON CONFLICT (user_id) DO NOTHING
    RETURNING row_index
)
SELECT b.row_index
FROM compare_batch AS b
WHERE NOT EXISTS (SELECT FROM proved AS p WHERE p.row_index = b.row_index)
