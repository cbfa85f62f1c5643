-- A new user's list is a change when it has any address: there is nothing to compare with.
INSERT INTO {address_changes} (row_index, user_id)
SELECT p.row_index, p.user_id
FROM merge_plan AS p
WHERE p.code IS NULL AND p.is_new AND p.has_addresses
  AND EXISTS (SELECT FROM {stg_addresses} AS s WHERE s.row_index = p.row_index)
