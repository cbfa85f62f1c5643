DELETE FROM addresses
WHERE user_id IN (SELECT user_id FROM {address_changes})
