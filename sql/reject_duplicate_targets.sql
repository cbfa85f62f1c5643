-- Two surviving rows can still reach the same user (one by external id, one by the email
-- that user has now; or two spellings of one UUID): as with any duplicate, the later wins.
UPDATE merge_plan AS p
SET code = 'duplicate_in_file',
    message = 'reaches the same user as row ' || t.winner
FROM (
    SELECT row_index, max(row_index) OVER (PARTITION BY user_id) AS winner
    FROM merge_plan
    WHERE code IS NULL
) AS t
WHERE t.row_index = p.row_index AND t.row_index <> t.winner
