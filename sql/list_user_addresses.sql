SELECT street, city, state, zip_code, country
FROM addresses
WHERE user_id = %(user_id)s
ORDER BY position
