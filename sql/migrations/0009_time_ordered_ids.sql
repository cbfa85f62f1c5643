-- New users' ids, when their external id is not a UUID: version 7 UUIDs (RFC 9562), the
-- time in milliseconds first, so that users created together sit together in the primary
-- key and in the addresses' (user_id, position) index (merge/bulk_load.py makes the same
-- ids in Python).
CREATE FUNCTION time_ordered_uuid() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    -- One expression, so that PostgreSQL inlines it: twice gen_random_uuid()'s cost, not four.
    SELECT encode(
        set_byte(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp())
                                                     * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            6,
            112 | floor(random() * 16)::int),  -- version 7 and four random bits
        'hex')::uuid
$$;
