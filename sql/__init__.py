"""The SQL of the import, one statement per file; shipped in the wheel as
``user_import_pipeline.sql`` and read with ``importlib.resources`` (db/sqlfiles.py)."""
