"""Driver errors sorted into transient (worth retrying) and terminal (fail with a message)."""

from __future__ import annotations

import psycopg

# SQLSTATE classes/codes that a retry of the same work can get past.
_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",  # admin_shutdown (pg_terminate_backend, fast shutdown)
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, recovering)
    "53300",  # too_many_connections
}


class TransientDatabaseError(Exception):
    """The database was unavailable or interrupted the work; retrying may succeed."""


class TerminalDatabaseError(Exception):
    """The database rejected the work; retrying the same work fails the same way."""


def is_transient(exc: BaseException) -> bool:
    """True for connection losses and the SQLSTATEs a retry can get past."""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate is None:
        # A broken or refused connection carries no SQLSTATE.
        return isinstance(exc, psycopg.OperationalError)
    return sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES


def classify(exc: psycopg.Error) -> TransientDatabaseError | TerminalDatabaseError:
    """Wrap a driver error in the class that says what to do about it."""
    kind = TransientDatabaseError if is_transient(exc) else TerminalDatabaseError
    return kind(f"{type(exc).__name__}: {str(exc).strip()}")
