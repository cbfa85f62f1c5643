-- Merges of different imports take turns (SPEC §3.7): no deadlocks, no unique violations,
-- and the result is that of some serial order. Released at commit or rollback.
SELECT pg_advisory_xact_lock(7340581002114)
