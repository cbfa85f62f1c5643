-- Merges of different imports take turns (CONTRACT §3.7): no deadlocks, no unique
-- violations, and the result is that of some serial order. Released at commit or rollback.
-- The key is named in db/locks.py.
SELECT pg_advisory_xact_lock(%(key)s)
