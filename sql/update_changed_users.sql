-- Only users whose values differ are written: an unchanged user keeps its row version and
-- updated_at. A user found by email or id adopts the row's external id if it had none.
-- The fingerprint (migration 0008) becomes the row's, except while the user's address list
-- is still to be replaced (replace_addresses sets it then). An unchanged user without a
-- fingerprint - stored before fingerprints existed, or written by plain SQL - gets its row's,
-- its values and updated_at untouched, so that the next import can prove it unchanged: the
-- one rewrite of a user that did not change.
UPDATE users AS u
SET name = p.name,
    email = p.email,
    phone_number = p.phone_number,
    external_id = coalesce(u.external_id, p.external_id),
    updated_at = CASE WHEN p.row_changed THEN now() ELSE u.updated_at END,
    fingerprint = CASE WHEN NOT p.addresses_changed THEN p.fingerprint END
FROM merge_plan AS p
WHERE u.id = p.user_id AND p.code IS NULL AND NOT p.is_new
  AND (p.row_changed OR (NOT p.addresses_changed AND u.fingerprint IS NULL))
