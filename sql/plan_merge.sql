-- One row per valid staged row, with the duplicates within the file decided (SPEC §3.1):
-- the last row of an identity wins; among those winners, the last row of an email wins.
CREATE TEMP TABLE merge_plan ON COMMIT DROP AS
SELECT s.row_index,
       s.external_id,
       s.external_uuid,
       s.name,
       s.email,
       s.email_lower,
       s.phone_number,
       s.has_addresses,
       NULL::uuid AS user_id,
       false AS is_new,
       false AS row_changed,
       false AS addresses_changed,
       CASE WHEN s.row_index <> s.identity_winner OR s.row_index <> s.email_winner
            THEN 'duplicate_in_file' END AS code,
       CASE WHEN s.row_index <> s.identity_winner
            THEN 'superseded by row ' || s.identity_winner || ', which has the same identity'
            WHEN s.row_index <> s.email_winner
            THEN 'email is also used by row ' || s.email_winner || ', which has another identity'
       END AS message,
       s.row_index <> s.identity_winner AS superseded
FROM (
    SELECT w.*,
           max(w.row_index) FILTER (WHERE w.row_index = w.identity_winner)
               OVER (PARTITION BY w.email_lower) AS email_winner
    FROM (
        -- An external id and an email are identities of different kinds, even when equal.
        SELECT u.*,
               max(u.row_index) OVER (PARTITION BY u.external_id IS NULL, u.identity)
                   AS identity_winner
        FROM {stg_users} AS u
        WHERE u.error_code IS NULL
    ) AS w
) AS s
