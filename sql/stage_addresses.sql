-- Addresses were validated and trimmed while the users were staged; here each list is
-- spread into one row per address, numbered from 0 in file order. Each address is an array
-- [street, city, state, zip_code, country] (staging/stage_users.py).
INSERT INTO {stg_addresses} (row_index, position, street, city, state, zip_code, country)
SELECT u.row_index,
       a.ordinality - 1,
       a.address ->> 0,
       a.address ->> 1,
       a.address ->> 2,
       a.address ->> 3,
       a.address ->> 4
FROM {stg_users} AS u
CROSS JOIN LATERAL jsonb_array_elements(u.addresses) WITH ORDINALITY AS a (address, ordinality)
WHERE u.error_code IS NULL AND u.addresses IS NOT NULL
