-- Each import stages into its own UNLOGGED copy of a template (migration 0003): concurrent
-- imports never see each other's rows, get their own statistics and are dropped whole.
CREATE UNLOGGED TABLE {table} (LIKE {template} INCLUDING ALL)
