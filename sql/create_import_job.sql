INSERT INTO import_jobs (source_path, dagster_root_run_id)
VALUES (%(source_path)s, %(root_run_id)s)
RETURNING id
