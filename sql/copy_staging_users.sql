COPY {stg_users} (row_index, error_code, error_message, external_id, external_uuid, name,
                  email, phone_number, has_addresses, addresses, raw, raw_truncated,
                  fingerprint)
FROM STDIN
