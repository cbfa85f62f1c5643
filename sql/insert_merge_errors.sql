-- A rejected row keeps a raw JSON made from its staged values, as the file's text is gone by
-- now: "id" (its external id), name, email and phone_number when set, and addresses, as a
-- list of objects, when the row had the key; cut after raw_limit characters like the raw
-- of a row that failed validation (ingest/raw.py). Only the rejected rows are looked up.
INSERT INTO import_job_errors (job_id, row_index, code, message, superseded, phase, raw,
                               raw_truncated)
SELECT %(job_id)s, p.row_index, p.code, p.message, p.superseded, 'merge',
       left(r.raw, %(raw_limit)s), length(r.raw) > %(raw_limit)s
FROM merge_plan AS p
JOIN {stg_users} AS u ON u.row_index = p.row_index
CROSS JOIN LATERAL (
    SELECT json_strip_nulls(json_build_object(
        'id', u.external_id,
        'name', u.name,
        'email', u.email,
        'phone_number', u.phone_number,
        'addresses', CASE WHEN u.has_addresses THEN coalesce(
            (SELECT json_agg(json_build_object('street', a.address ->> 0,
                                               'city', a.address ->> 1,
                                               'state', a.address ->> 2,
                                               'zip_code', a.address ->> 3,
                                               'country', a.address ->> 4)
                             ORDER BY a.ordinality)
             FROM jsonb_array_elements(u.addresses) WITH ORDINALITY AS a (address, ordinality)),
            '[]') END
    ))::text AS raw
) AS r
WHERE p.code IS NOT NULL
