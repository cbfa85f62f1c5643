INSERT INTO users (id, external_id, name, email, phone_number)
SELECT user_id, external_id, name, email, phone_number
FROM merge_plan
WHERE code IS NULL AND is_new
ORDER BY user_id
