-- The merge lock's shared mode: taken by first imports into empty tables, which may write
-- side by side (merge/bulk_load.py); a usual merge's take_merge_lock waits for all of them.
-- The key is named in db/locks.py.
SELECT pg_advisory_xact_lock_shared(%(key)s)
