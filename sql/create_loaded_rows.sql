-- Which row of the file each user a first import wrote straight away came from.
CREATE TEMP TABLE loaded_rows (
    row_index     bigint PRIMARY KEY,
    user_id       uuid NOT NULL,
    external_uuid uuid,
    has_addresses boolean NOT NULL
) ON COMMIT DROP
