UPDATE merge_plan AS p
SET addresses_changed = true
FROM address_targets AS t
JOIN changed_address_lists AS c USING (user_id)
WHERE t.row_index = p.row_index
