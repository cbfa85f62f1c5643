-- Every transaction of an import starts with this; both settings last until it ends.
-- 1. The triggers of migration 0008 leave the fingerprints it writes alone.
-- 2. No JIT compilation. An import's statements are joins over whole tables, which
--    PostgreSQL estimates far above jit_above_cost, and compiling them took longer than it
--    saved: at 1M users, 0.9 s of plan_merge's 4.1 s was JIT (docs/DECISIONS.md).
SELECT set_config('user_import.fingerprints', 'kept', true), set_config('jit', 'off', true)
