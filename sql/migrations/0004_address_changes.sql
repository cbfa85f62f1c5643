-- What a user merge found out about address lists, for the address replacement after it
-- (merge/replace_addresses.py): how many lists it saved as changed in the job's UNLOGGED
-- table, and which lease owner did, so that only the same attempt trusts that table.
ALTER TABLE import_jobs
    ADD COLUMN address_changes       bigint,
    ADD COLUMN address_changes_owner text;
