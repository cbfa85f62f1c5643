"""The HTTP API of the Go service this project replaces (CONTRACT §6.4): queue an import, read a
job, read a user, health check; and what it adds: a job's failed rows, Prometheus metrics.
``create_app`` in ``app.py`` builds it."""
