-- The tables the merge plans against whose statistics miss more rows written since their
-- last ANALYZE than autovacuum's default rule allows (50 rows + 10% of the table). Where
-- autovacuum is off or has not come round yet - a re-import right after a large import -
-- the planner would take a million users for the few of its last estimate and choose
-- hash joins that spill in many batches.
SELECT s.relname
FROM pg_stat_user_tables AS s
JOIN pg_class AS c ON c.oid = s.relid
WHERE s.relid IN ('users'::regclass, 'addresses'::regclass)
  AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
ORDER BY s.relname
