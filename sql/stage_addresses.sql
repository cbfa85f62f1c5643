-- Addresses were validated and trimmed while the users were staged; here each list is
-- spread into one row per address, numbered from 0 in file order.
INSERT INTO {stg_addresses} (row_index, position, street, city, state, zip_code, country)
SELECT u.row_index,
       a.ordinality - 1,
       a.address ->> 'street',
       a.address ->> 'city',
       a.address ->> 'state',
       a.address ->> 'zip_code',
       a.address ->> 'country'
FROM {stg_users} AS u
CROSS JOIN LATERAL jsonb_array_elements(u.addresses) WITH ORDINALITY AS a (address, ordinality)
WHERE u.error_code IS NULL AND u.addresses IS NOT NULL
