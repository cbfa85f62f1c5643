SELECT id, external_id, name, email, phone_number, created_at, updated_at
FROM users
WHERE id = %(user_id)s
