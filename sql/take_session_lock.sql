-- Held until released or the session ends (the key: db/locks.py).
SELECT pg_advisory_lock(%(key)s)
