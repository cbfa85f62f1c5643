-- Jobs and the rows they recorded, by status, for /metrics. Dry runs are left out: they
-- write nothing, and their counts are what an import would do (CONTRACT §6.7).
SELECT status,
       count(*) AS jobs,
       coalesce(sum(imported_count), 0) AS imported,
       coalesce(sum(updated_count), 0) AS updated,
       coalesce(sum(unchanged_count), 0) AS unchanged,
       coalesce(sum(skipped_count), 0) AS skipped,
       coalesce(sum(failed_count), 0) AS failed
FROM import_jobs
WHERE NOT dry_run
GROUP BY status
