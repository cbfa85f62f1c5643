-- Two surviving rows can still reach the same user (one by external id, one by the email
-- that user has now; or two spellings of one UUID): as with any duplicate, the later wins.
-- Grouped by hashing rather than a window over every row: collisions are rare, and only
-- the rows of a user reached more than once are joined back.
UPDATE merge_plan AS p
SET code = 'duplicate_in_file',
    message = 'reaches the same user as row ' || t.winner
FROM (
    SELECT user_id, max(row_index) AS winner
    FROM merge_plan
    WHERE code IS NULL
    GROUP BY user_id
    HAVING count(*) > 1
) AS t
WHERE p.user_id = t.user_id AND p.code IS NULL AND p.row_index <> t.winner
