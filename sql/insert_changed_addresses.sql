INSERT INTO addresses (user_id, position, street, city, state, zip_code, country)
SELECT t.user_id, s.position, s.street, s.city, s.state, s.zip_code, s.country
FROM changed_address_lists AS c
JOIN address_targets AS t USING (user_id)
JOIN {stg_addresses} AS s USING (row_index)
ORDER BY t.user_id, s.position
