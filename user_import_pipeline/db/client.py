"""The one way to the database: every connection, statement, COPY and transaction of the
project passes through here, and no driver error leaves it unclassified (db/errors.py).

Statements are named, never written inline: ``session.execute("read_import_job", params)``
runs ``sql/read_import_job.sql``, its ``{placeholders}`` filled with quoted identifiers.
Results are read in full inside the call, so a caller never meets the driver afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any

import psycopg
from psycopg import pq

from user_import_pipeline.checkpoints import Point, reach
from user_import_pipeline.db.errors import LeaseLost, TerminalDatabaseError, classify
from user_import_pipeline.db.sqlfiles import statement

Params = Mapping[str, object]
# A connection that fails for one of these reasons fails the same way when tried again.
_REFUSED_CONNECTIONS = ("does not exist", "authentication failed", "no pg_hba.conf entry")


@dataclass(frozen=True)
class Result:
    """What a statement returned: the affected or returned row count and the rows."""

    rowcount: int
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def one(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        row = self.one()
        return None if row is None else row[0]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def dict(self) -> dict[str, Any] | None:
        rows = self.dicts()
        return rows[0] if rows else None


class Database:
    """Where sessions come from: one database, reached with one DSN (kept here only)."""

    def __init__(self, dsn: str, *, connect_timeout: int | None = None) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout

    def __repr__(self) -> str:  # never show the DSN: it may hold a password
        return "Database(...)"

    @contextmanager
    def session(self, application_name: str | None = None) -> Iterator[Session]:
        """An autocommit session, closed on exit; ``application_name`` names it in
        ``pg_stat_activity`` (how a run's connections are found, lifecycle/lease.py)."""
        options: dict[str, Any] = {"autocommit": True}
        if application_name is not None:
            options["application_name"] = application_name
        if self._connect_timeout is not None:
            options["connect_timeout"] = self._connect_timeout
        try:
            reach(Point("connect", application_name or ""))
            conn = psycopg.connect(self._dsn, **options)
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError) and any(
                reason in str(exc) for reason in _REFUSED_CONNECTIONS
            ):
                raise TerminalDatabaseError(f"{type(exc).__name__}: {str(exc).strip()}") from exc
            raise classify(exc) from exc
        try:
            yield Session(conn)
        finally:
            conn.close()


class Session:
    """One connection. Every call raises only classified errors: TransientDatabaseError,
    TerminalDatabaseError, or LeaseLost once ``lose_lease`` was called (from any thread)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._lease_lost = threading.Event()

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def closed(self) -> bool:
        return self._conn.closed

    def execute(self, name: str, params: Params | None = None, /, **identifiers: str) -> Result:
        """Run ``sql/<name>.sql`` with ``params``; the identifiers fill its placeholders."""
        with self._classified():
            reach(Point("statement", name, self.in_transaction))
            with self._conn.cursor() as cursor:
                cursor.execute(statement(name, **identifiers), params)
                description = cursor.description or ()
                rows = cursor.fetchall() if description else []
                columns = tuple(column.name for column in description)
                return Result(cursor.rowcount, columns, rows)

    def run_script(self, script: Traversable) -> None:
        """Run a file of several statements without parameters (a migration)."""
        with self._classified():
            reach(Point("statement", script.name, self.in_transaction))
            self._conn.execute(script.read_bytes())

    @contextmanager
    def copy(self, name: str, **identifiers: str) -> Iterator[Callable[[Sequence[object]], None]]:
        """``COPY ... FROM STDIN`` of ``sql/<name>.sql``; yields the function that writes a row."""
        with self._copying(name, identifiers) as copy:
            yield copy.write_row

    @contextmanager
    def copy_text(self, name: str, **identifiers: str) -> Iterator[Callable[[str], None]]:
        """``COPY ... FROM STDIN`` fed with data already in COPY's text format; yields the
        function that writes a piece of it."""
        with self._copying(name, identifiers) as copy:
            yield copy.write

    @contextmanager
    def _copying(self, name: str, identifiers: Mapping[str, str]) -> Iterator[psycopg.Copy]:
        with self._classified():
            reach(Point("copy", name, self.in_transaction))
            with (
                self._conn.cursor() as cursor,
                cursor.copy(statement(name, **identifiers)) as copy,
            ):
                yield copy

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit when the block ends, roll back when it raises."""
        with self._classified(), self._conn.transaction():
            yield
            reach(Point("commit", "", True))

    def lose_lease(self) -> None:
        """Called by the lease (from its own thread) when the job is no longer ours: the
        statement running now is cancelled, and this call and every later one raise
        LeaseLost."""
        self._lease_lost.set()
        with suppress(psycopg.Error):  # nothing running, or the connection already gone
            self._conn.cancel_safe()

    @contextmanager
    def _classified(self) -> Iterator[None]:
        if self._lease_lost.is_set():
            raise LeaseLost("the import job was taken over by another run")
        try:
            yield
        except psycopg.Error as exc:
            raise classify(exc, lease_lost=self._lease_lost.is_set()) from exc
