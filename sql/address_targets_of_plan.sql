-- Existing users whose row carries an addresses key: their lists may have changed.
CREATE TEMP TABLE address_targets ON COMMIT DROP AS
SELECT row_index, user_id
FROM merge_plan
WHERE code IS NULL AND NOT is_new AND has_addresses
