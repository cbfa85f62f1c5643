-- SPEC §3.2-3.3. A row is matched by external id; else, for a UUID external id, by user
-- id (only a user without an external id may be taken); else by email (a row with an
-- external id may only adopt a user without one); else it makes a new user. A matched
-- user may not take an email that another user has now. Conflicts are judged against the
-- users as they were before this merge, so the outcome does not depend on row order.
WITH candidates AS (
    SELECT p.row_index,
           p.external_id,
           by_external_id.id AS external_id_user,
           by_uuid.id AS uuid_user,
           by_uuid.external_id AS uuid_user_external_id,
           -- A user made from a UUID external id has it as its id; another spelling of
           -- that UUID (case, hyphens, braces, urn:) is the same external id, not another.
           -- (chr(123) || chr(125) are the braces, which this file cannot spell.)
           translate(lower(regexp_replace(by_uuid.external_id, '^urn:uuid:', '', 'i')),
                     chr(123) || chr(125) || '-', '')
               = replace(by_uuid.id::text, '-', '') AS uuid_user_has_it,
           by_email.id AS email_user,
           by_email.external_id AS email_user_external_id
    FROM merge_plan AS p
    LEFT JOIN users AS by_external_id ON by_external_id.external_id = p.external_id
    LEFT JOIN users AS by_uuid
        ON by_external_id.id IS NULL AND by_uuid.id = p.external_uuid
    LEFT JOIN users AS by_email ON lower(by_email.email) = p.email_lower
    WHERE p.code IS NULL
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
)
UPDATE merge_plan AS p
SET user_id = CASE WHEN d.matched IS NOT NULL THEN d.matched
                   WHEN NOT (d.id_conflict OR d.adoption_conflict)
                   THEN coalesce(p.external_uuid, gen_random_uuid()) END,
    is_new = d.matched IS NULL AND NOT (d.id_conflict OR d.adoption_conflict),
    code = CASE WHEN d.id_conflict THEN 'id_conflict'
                WHEN d.adoption_conflict THEN 'email_conflict'
                WHEN d.email_user <> d.matched THEN 'email_conflict' END,
    message = CASE WHEN d.id_conflict
                   THEN 'user ' || d.uuid_user || ' already has another external id ('
                        || d.uuid_user_external_id || ')'
                   WHEN d.adoption_conflict
                   THEN 'email belongs to a user with another external id ('
                        || d.email_user_external_id || ')'
                   WHEN d.email_user <> d.matched
                   THEN 'email belongs to another user (' || d.email_user || ')' END
FROM decided AS d
WHERE d.row_index = p.row_index
