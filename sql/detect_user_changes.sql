UPDATE merge_plan AS p
SET row_changed = (u.name, u.email, u.phone_number, u.external_id)
    IS DISTINCT FROM (p.name, p.email, p.phone_number, coalesce(u.external_id, p.external_id))
FROM users AS u
WHERE u.id = p.user_id AND p.code IS NULL AND NOT p.is_new
