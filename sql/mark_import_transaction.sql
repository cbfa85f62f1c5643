-- Every transaction of an import starts with this; the settings last until it ends.
-- 1. The triggers of migration 0008 leave the fingerprints it writes alone.
-- 2. No JIT compilation. An import's statements are joins over whole tables, which
--    PostgreSQL estimates far above jit_above_cost, and compiling them took longer than it
--    saved: at 1M users, 0.9 s of plan_merge's 4.1 s was JIT.
-- 3. Index lookups priced as the cached reads they are (random_page_cost at most 1.1) and
--    no merge joins. A re-import merges its changed rows against whole tables: by default
--    PostgreSQL hashed all of users to find 100,000 of them, and with cheaper lookups alone
--    it read a whole index in order for a merge join (users by lower(email): 1.8 s against
--    0.4 s of lookups). With both, a 10%-changed merge of 1M users took 5.4 s, not 6.3 s,
--    and a merge of a whole 1M-row file 19.1 s, not 21.9 s: hash joins stay where they pay.
SELECT set_config('user_import.fingerprints', 'kept', true),
       set_config('jit', 'off', true),
       set_config('random_page_cost',
                  least(current_setting('random_page_cost')::float8, 1.1)::text, true),
       set_config('enable_mergejoin', 'off', true)
