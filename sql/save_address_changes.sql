-- The (row, user) pairs of address_targets whose list changed, kept in the job's UNLOGGED
-- table so that replace_addresses can apply them without comparing the lists again.
CREATE UNLOGGED TABLE {address_changes} AS
SELECT t.row_index, t.user_id
FROM address_targets AS t
JOIN changed_address_lists AS c USING (user_id)
