-- The users of address_targets whose staged list differs from the stored one, compared
-- position by position on the five fields (CONTRACT §3.5); an identical list is left alone.
CREATE TEMP TABLE changed_address_lists ON COMMIT DROP AS
SELECT DISTINCT coalesce(staged.user_id, stored.user_id) AS user_id
FROM (
    SELECT t.user_id, s.position, s.street, s.city, s.state, s.zip_code, s.country
    FROM address_targets AS t
    JOIN {stg_addresses} AS s USING (row_index)
) AS staged
FULL JOIN (
    SELECT a.user_id, a.position, a.street, a.city, a.state, a.zip_code, a.country
    FROM address_targets AS t
    JOIN addresses AS a USING (user_id)
) AS stored ON stored.user_id = staged.user_id AND stored.position = staged.position
WHERE (staged.street, staged.city, staged.state, staged.zip_code, staged.country)
      IS DISTINCT FROM
      (stored.street, stored.city, stored.state, stored.zip_code, stored.country)
