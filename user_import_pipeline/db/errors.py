"""The three kinds of failure a database call can end in, and how driver errors are sorted.

- ``TransientDatabaseError``: the database was unavailable or interrupted the work (a lost
  connection, a restart, a deadlock); the same work, tried again, may succeed.
- ``TerminalDatabaseError``: the database refused the work; trying again fails the same way.
- ``LeaseLost``: another run has taken the import job over; this run must stop and touch
  nothing more. The client raises it for any error of a connection whose lease was lost
  (the lease cancels that connection's statement) and the job's own updates raise it when
  they no longer match the job.
"""

from __future__ import annotations

import psycopg

# SQLSTATE codes (besides class 08, connection exceptions) that a retry can get past.
_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",  # admin_shutdown (pg_terminate_backend, fast shutdown)
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, recovering)
    "53300",  # too_many_connections
}


class DatabaseError(Exception):
    """A classified database failure; the message names the driver error, ``sqlstate``
    its SQLSTATE when the server sent one."""

    sqlstate: str | None = None


class TransientDatabaseError(DatabaseError):
    """The database was unavailable or interrupted the work; retrying may succeed."""


class TerminalDatabaseError(DatabaseError):
    """The database rejected the work; retrying the same work fails the same way."""


class LeaseLost(DatabaseError):
    """Another run owns the import job now; this run must stop touching it."""


def is_transient(exc: psycopg.Error) -> bool:
    """True for connection losses and the SQLSTATEs a retry can get past."""
    sqlstate = exc.sqlstate
    if sqlstate is None:
        # A broken or refused connection carries no SQLSTATE; nor do the driver's own
        # errors about its state (an interface or programming error), which are terminal.
        return isinstance(exc, psycopg.OperationalError)
    return sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES


def classify(exc: psycopg.Error, *, lease_lost: bool = False) -> DatabaseError:
    """The classified error to raise (``from exc``) for a driver error."""
    detail = f"{type(exc).__name__}: {str(exc).strip()}"
    if lease_lost:
        return LeaseLost(f"the import job was taken over by another run ({detail})")
    kind = TransientDatabaseError if is_transient(exc) else TerminalDatabaseError
    error = kind(detail)
    error.sqlstate = exc.sqlstate
    return error
