DROP TABLE IF EXISTS {stg_addresses};
CREATE UNLOGGED TABLE {stg_addresses} (LIKE stg_addresses INCLUDING ALL)
