INSERT INTO addresses (user_id, position, street, city, state, zip_code, country)
SELECT c.user_id, s.position, s.street, s.city, s.state, s.zip_code, s.country
FROM {address_changes} AS c
JOIN {stg_addresses} AS s USING (row_index)
ORDER BY c.user_id, s.position
