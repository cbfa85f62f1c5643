-- The users proved unchanged while staging that still have the fingerprint they were proved
-- with; run holding the merge turn, so no other import changes them until this one ends.
SELECT count(*)
FROM {stg_proven} AS p
JOIN users AS u ON u.id = p.user_id AND u.fingerprint = p.fingerprint
