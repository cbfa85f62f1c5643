-- The narrow records of one batch of rows that may be proved unchanged (staging/compare.py).
CREATE TEMP TABLE compare_batch (
    row_index     bigint NOT NULL,
    external_id   text NOT NULL,
    fingerprint   bigint NOT NULL,
    external_uuid uuid,
    has_addresses boolean NOT NULL
) ON COMMIT DROP
