-- A bad row keeps the JSON it came as (at most 4 KiB of it, raw_truncated when cut), so
-- that it can be exported, fixed and imported again. Staging carries it for the rows that
-- fail validation; rows rejected by the merge get theirs from their staged values.
ALTER TABLE import_job_errors
    ADD COLUMN raw           text,
    ADD COLUMN raw_truncated boolean NOT NULL DEFAULT false;

ALTER TABLE stg_users
    ADD COLUMN raw           text,
    ADD COLUMN raw_truncated boolean;
