-- What the run page shows of a job's failed rows, in one statement: how many there are of
-- each code (most frequent first) and the first rows in file order. Superseded duplicates
-- are skipped, not errors, so the counts add up to failed_count.
SELECT
    (SELECT coalesce(json_agg(json_build_object('code', code, 'rows', rows)
                              ORDER BY rows DESC, code), '[]')
     FROM (SELECT code, count(*) AS rows
           FROM import_job_errors
           WHERE job_id = %(job_id)s AND NOT superseded
           GROUP BY code) AS by_code) AS by_code,
    (SELECT coalesce(json_agg(first_rows ORDER BY row_index), '[]')
     FROM (SELECT row_index, code, message, raw, raw_truncated
           FROM import_job_errors
           WHERE job_id = %(job_id)s AND NOT superseded
           ORDER BY row_index
           LIMIT %(limit)s) AS first_rows) AS first_rows
