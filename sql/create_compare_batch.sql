-- The narrow records of one batch of valid rows (staging/compare.py): a row with an external
-- id is looked up by it, a row without one by its email.
CREATE TEMP TABLE compare_batch (
    row_index     bigint NOT NULL,
    external_id   text,
    email         text,
    fingerprint   bigint NOT NULL,
    external_uuid uuid,
    has_addresses boolean NOT NULL
) ON COMMIT DROP
