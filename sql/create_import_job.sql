INSERT INTO import_jobs (source_path, dagster_root_run_id, dry_run)
VALUES (%(source_path)s, %(root_run_id)s, %(dry_run)s)
RETURNING id
