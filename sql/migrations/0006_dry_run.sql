-- A dry run reads, validates and plans a file like an import and records the counts and
-- row errors it would produce, without writing users or addresses.
ALTER TABLE import_jobs
    ADD COLUMN dry_run boolean NOT NULL DEFAULT false;
