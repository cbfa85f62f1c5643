-- What is left of a run whose job is taken over, found by the application_name each of its
-- connections carries: a dead run's backend may still be running its last statement, and
-- a frozen run keeps its transaction and its locks on the job's staging. End them rather
-- than wait for them.
SELECT count(pg_terminate_backend(pid))
FROM pg_stat_activity
WHERE datname = current_database()
  AND application_name = ANY(%(application_names)s)
  AND pid <> pg_backend_pid()
