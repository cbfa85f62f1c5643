"""Schema migrations, applied in the order of their numbers (db/migrate.py)."""
