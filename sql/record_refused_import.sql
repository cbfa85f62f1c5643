INSERT INTO import_jobs (source_path, status, error_message, started_at, finished_at,
                         dagster_run_id, dagster_root_run_id)
VALUES (%(source_path)s, 'failed', %(error_message)s, now(), now(), %(run_id)s,
        %(root_run_id)s)
RETURNING id
