-- The connections a run that lost its job still has open (found by the application_name
-- every worker connection carries). A frozen run keeps its transaction and its locks on
-- the job's staging tables; the run taking the job over ends them instead of waiting.
SELECT count(pg_terminate_backend(pid))
FROM pg_stat_activity
WHERE application_name = %(application_name)s
  AND pid <> pg_backend_pid()
