-- Claims of one file take turns until their transaction ends, so two runs started at once
-- for a file never both create a job for it (the key: db/locks.py, seeded by the path).
SELECT pg_advisory_xact_lock(hashtextextended(%(source_path)s, %(key)s))
