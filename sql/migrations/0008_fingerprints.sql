-- A re-import proves most rows unchanged from a narrow record instead of staging and
-- comparing them in full (staging/compare.py). What it compares with is a fingerprint of the
-- file row each user was last written from - its fields and its address list - kept on the
-- user. It is only worth trusting while nothing but an import wrote the user or its
-- addresses, so every other write sets it to NULL, and a NULL fingerprint proves nothing.
--
-- Imports mark their transactions with the setting user_import.fingerprints = 'kept'
-- (sql/mark_import_transaction.sql); the triggers below leave those writes alone. The mark keeps
-- honest mistakes from being trusted, not a writer who sets it on purpose.
ALTER TABLE users ADD COLUMN fingerprint bigint;

CREATE FUNCTION users_forget_fingerprint() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.fingerprint := NULL;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_written_outside_imports
BEFORE INSERT OR UPDATE ON users
FOR EACH ROW
WHEN (current_setting('user_import.fingerprints', true) IS DISTINCT FROM 'kept')
EXECUTE FUNCTION users_forget_fingerprint();

CREATE FUNCTION addresses_forget_fingerprint() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE users SET fingerprint = NULL WHERE fingerprint IS NOT NULL;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE users SET fingerprint = NULL WHERE id = OLD.user_id AND fingerprint IS NOT NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE users SET fingerprint = NULL WHERE id = NEW.user_id AND fingerprint IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER addresses_written_outside_imports
AFTER INSERT OR UPDATE OR DELETE ON addresses
FOR EACH ROW
WHEN (current_setting('user_import.fingerprints', true) IS DISTINCT FROM 'kept')
EXECUTE FUNCTION addresses_forget_fingerprint();

CREATE TRIGGER addresses_truncated_outside_imports
AFTER TRUNCATE ON addresses
FOR EACH STATEMENT
EXECUTE FUNCTION addresses_forget_fingerprint();

-- A user's stored address list as staging holds a row's list: a JSON array of
-- [street, city, state, zip_code, country] arrays, in position order ('[]' for none). For
-- the rows that go back to staging rebuilt from their user (restage_shared_proven.sql,
-- restage_colliding_loaded_rows.sql).
CREATE FUNCTION staged_address_list(user_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_array(a.street, a.city, a.state, a.zip_code,
                                                a.country)
                              ORDER BY a.position),
                    '[]')
    FROM addresses AS a
    WHERE a.user_id = staged_address_list.user_id
$$;

-- The fingerprint of each staged row, written to its user when the row is applied.
ALTER TABLE stg_users ADD COLUMN fingerprint bigint;

-- Template of the rows a re-import proved unchanged (one per user): never staged in full,
-- counted unchanged by the merge once it has checked, holding the merge turn, that each
-- user still has the fingerprint the row was proved with.
CREATE UNLOGGED TABLE stg_proven (
    user_id       uuid PRIMARY KEY,
    row_index     bigint NOT NULL,
    fingerprint   bigint NOT NULL,
    external_uuid uuid,
    has_addresses boolean NOT NULL,
    has_external_id boolean NOT NULL  -- else found by email
);

ALTER TABLE import_jobs ADD COLUMN proven_users bigint NOT NULL DEFAULT 0;
