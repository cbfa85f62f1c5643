-- Only users whose values differ are written: an unchanged user keeps its row version and
-- updated_at. A user found by email or id adopts the row's external id if it had none.
UPDATE users AS u
SET name = p.name,
    email = p.email,
    phone_number = p.phone_number,
    external_id = coalesce(u.external_id, p.external_id),
    updated_at = now()
FROM merge_plan AS p
WHERE u.id = p.user_id AND p.code IS NULL AND p.row_changed
