-- The whole plan of a user merge in one pass over the staged rows (each later UPDATE of a
-- million-row temp table would rewrite all of it):
--
-- 1. Duplicates within the file (CONTRACT §3.1): the last row of an identity wins; among
--    those winners, the last row of an email wins.
-- 2. Matching (CONTRACT §3.2-3.3): by external id; else, for a UUID external id, by user id
--    (only a user without an external id, or one whose external id is another spelling
--    of that id, may be taken); else by email (a row with an external id may only adopt
--    a user without one); else a new user. A matched user may not take an email that
--    another user has now. Conflicts are judged against the users as they were before
--    this merge, so the outcome does not depend on row order.
-- 3. Whether a matched user's row changes (an adopted external id is a change).
CREATE TEMP TABLE merge_plan ON COMMIT DROP AS
WITH ranked AS (
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
),
-- Each lookup starts from the staged rows, which have statistics: a merge of a few changed
-- rows probes the users' indexes, or hashes those rows, instead of hashing every user (a CTE
-- like ranked has none, and PostgreSQL hashed all of users four times to find 100,000 rows).
-- Found by inner joins, then joined by row: most rows of a file may lack an external id or
-- a UUID, and PostgreSQL 15 puts all of an outer join's NULL keys into one hash batch that
-- it keeps splitting (at 1M users, 100,000 rows without an external id: 35 s, not 0.4 s).
-- Each carries the whole stored user, so that telling a changed row needs no other join.
users_of_external_ids AS (
    SELECT s.row_index, u AS stored
    FROM {stg_users} AS s
    JOIN users AS u ON u.external_id = s.external_id
    WHERE s.error_code IS NULL
),
users_of_uuids AS (
    SELECT s.row_index, u AS stored
    FROM {stg_users} AS s
    JOIN users AS u ON u.id = s.external_uuid
    WHERE s.error_code IS NULL
),
users_of_emails AS (
    SELECT s.row_index, u AS stored
    FROM {stg_users} AS s
    JOIN users AS u ON lower(u.email) = s.email_lower
    WHERE s.error_code IS NULL
),
candidates AS (
    SELECT r.*,
           r.row_index <> r.identity_winner OR r.row_index <> r.email_winner AS duplicate,
           (by_external_id.stored).id AS external_id_user,
           by_external_id.stored AS external_id_stored,
           (by_uuid.stored).id AS uuid_user,
           (by_uuid.stored).external_id AS uuid_user_external_id,
           by_uuid.stored AS uuid_stored,
           -- A user made from a UUID external id has it as its id; another spelling of
           -- that UUID (case, hyphens, braces, urn:) is the same external id, not another.
           -- (chr(123) || chr(125) are the braces, which this file cannot spell.)
           translate(lower(regexp_replace((by_uuid.stored).external_id,
                                          '^urn:uuid:', '', 'i')),
                     chr(123) || chr(125) || '-', '')
               = replace((by_uuid.stored).id::text, '-', '') AS uuid_user_has_it,
           (by_email.stored).id AS email_user,
           (by_email.stored).external_id AS email_user_external_id,
           by_email.stored AS email_stored
    FROM ranked AS r
    LEFT JOIN users_of_external_ids AS by_external_id ON by_external_id.row_index = r.row_index
    LEFT JOIN users_of_uuids AS by_uuid
        ON by_external_id.row_index IS NULL AND by_uuid.row_index = r.row_index
    LEFT JOIN users_of_emails AS by_email ON by_email.row_index = r.row_index
),
decided AS (
    SELECT c.*,
           CASE WHEN c.external_id_user IS NOT NULL THEN c.external_id_user
                WHEN c.uuid_user IS NOT NULL
                THEN CASE WHEN c.uuid_user_external_id IS NULL OR c.uuid_user_has_it
                          THEN c.uuid_user END
                WHEN c.email_user IS NOT NULL
                THEN CASE WHEN c.external_id IS NULL OR c.email_user_external_id IS NULL
                          THEN c.email_user END
           END AS matched,
           c.external_id_user IS NULL AND c.uuid_user_external_id IS NOT NULL
               AND NOT c.uuid_user_has_it AS id_conflict,
           c.external_id_user IS NULL AND c.uuid_user IS NULL
               AND c.external_id IS NOT NULL AND c.email_user_external_id IS NOT NULL
               AS adoption_conflict
    FROM candidates AS c
),
planned AS MATERIALIZED (
    SELECT d.row_index,
           d.external_id,
           d.external_uuid,
           d.name,
           d.email,
           d.email_lower,
           d.phone_number,
           d.has_addresses,
           d.fingerprint,
           CASE WHEN d.duplicate THEN NULL
                WHEN d.matched IS NOT NULL THEN d.matched
                WHEN NOT (d.id_conflict OR d.adoption_conflict)
                THEN coalesce(d.external_uuid, time_ordered_uuid()) END AS user_id,
           NOT d.duplicate AND d.matched IS NULL
               AND NOT (d.id_conflict OR d.adoption_conflict) AS is_new,
           CASE WHEN d.duplicate THEN 'duplicate_in_file'
                WHEN d.id_conflict THEN 'id_conflict'
                WHEN d.adoption_conflict THEN 'email_conflict'
                WHEN d.email_user <> d.matched THEN 'email_conflict' END AS code,
           CASE WHEN d.row_index <> d.identity_winner
                THEN 'superseded by row ' || d.identity_winner || ', which has the same identity'
                WHEN d.row_index <> d.email_winner
                THEN 'email is also used by row ' || d.email_winner
                     || ', which has another identity'
                WHEN d.id_conflict
                THEN 'user ' || d.uuid_user || ' already has another external id ('
                     || d.uuid_user_external_id || ')'
                WHEN d.adoption_conflict
                THEN 'email belongs to a user with another external id ('
                     || d.email_user_external_id || ')'
                WHEN d.email_user <> d.matched
                THEN 'email belongs to another user (' || d.email_user || ')' END AS message,
           d.row_index <> d.identity_winner AS superseded,
           CASE d.matched WHEN d.external_id_user THEN d.external_id_stored
                          WHEN d.uuid_user THEN d.uuid_stored
                          WHEN d.email_user THEN d.email_stored END AS stored
    FROM decided AS d
)
SELECT p.row_index, p.external_id, p.external_uuid, p.name, p.email, p.email_lower,
       p.phone_number, p.has_addresses, p.fingerprint, p.user_id, p.is_new, p.code,
       p.message, p.superseded,
       coalesce(
           p.code IS NULL AND NOT p.is_new
           AND ((p.stored).name, (p.stored).email, (p.stored).phone_number,
                (p.stored).external_id)
               IS DISTINCT FROM
               (p.name, p.email, p.phone_number,
                coalesce((p.stored).external_id, p.external_id)),
           false
       ) AS row_changed,
       false AS addresses_changed
FROM planned AS p
