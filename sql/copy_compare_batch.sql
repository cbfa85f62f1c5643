COPY compare_batch (row_index, external_id, email, fingerprint, external_uuid,
                   has_addresses)
FROM STDIN
