COPY compare_batch (row_index, external_id, fingerprint, external_uuid, has_addresses)
FROM STDIN
