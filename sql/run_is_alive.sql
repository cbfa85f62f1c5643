-- A run is alive while its heartbeat connection is open: an idle connection's backend ends
-- the moment its process dies (lifecycle/lease.py).
SELECT EXISTS (
    SELECT FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = %(heartbeat)s
)
