-- A new user with addresses gets its fingerprint with them (replace_addresses): until its
-- list is there, the user does not hold all of its row.
INSERT INTO users (id, external_id, name, email, phone_number, fingerprint)
SELECT p.user_id, p.external_id, p.name, p.email, p.phone_number,
       CASE WHEN c.user_id IS NULL THEN p.fingerprint END
FROM merge_plan AS p
LEFT JOIN {address_changes} AS c ON c.row_index = p.row_index
WHERE p.code IS NULL AND p.is_new
ORDER BY p.user_id
