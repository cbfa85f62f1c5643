-- What a running import is doing right now, written by its heartbeat: the step (e.g.
-- "merging users: plan_merge") and how many of the phase's steps are done, so that a user
-- waiting for it sees each phase move, not only the bytes of the file.
ALTER TABLE import_jobs
    ADD COLUMN activity       text,
    ADD COLUMN activity_done  int,
    ADD COLUMN activity_total int;
