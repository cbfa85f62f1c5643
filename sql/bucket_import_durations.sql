-- How long finished imports took (finished_at - started_at), as a cumulative histogram for
-- /metrics: per status and upper bound, the imports that took at most that many seconds,
-- with every finished import's count and the sum of their seconds. Dry runs are left out.
WITH finished AS (
    SELECT status, extract(epoch FROM finished_at - started_at)::float8 AS seconds
    FROM import_jobs
    WHERE status IN ('succeeded', 'failed')
      AND started_at IS NOT NULL AND finished_at IS NOT NULL
      AND NOT dry_run
)
SELECT finished.status,
       bound.le,
       count(*) FILTER (WHERE finished.seconds <= bound.le) AS cumulative,
       count(*) AS count,
       sum(finished.seconds) AS sum
FROM finished CROSS JOIN unnest(%(bounds)s::float8[]) AS bound(le)
GROUP BY finished.status, bound.le
ORDER BY finished.status, bound.le
