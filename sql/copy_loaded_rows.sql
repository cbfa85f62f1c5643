COPY loaded_rows (row_index, user_id, external_uuid, has_addresses) FROM STDIN
