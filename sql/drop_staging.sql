DROP TABLE IF EXISTS {stg_users}, {stg_addresses}, {address_changes}, {stg_proven}
