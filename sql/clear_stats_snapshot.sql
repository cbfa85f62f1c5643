-- Within a transaction pg_stat_activity is read once and kept; this makes the next read
-- see the server as it is now.
SELECT pg_stat_clear_snapshot()
