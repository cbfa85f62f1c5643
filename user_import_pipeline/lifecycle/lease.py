"""A running import's hold on its ``import_jobs`` row, kept alive from a background thread.

The lease is extended every two seconds (every third of its length, if shorter) on a
connection of its own, so it keeps beating while the worker's connection sits in a long
COPY or merge statement. The same beat writes the streaming progress. If the row is no
longer ours (another run took the job over after our lease expired), the worker's
statement is cancelled and the worker raises ``LeaseLost``; every phase also re-checks
ownership in its final UPDATE, so a run that lost its lease can never commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from user_import_pipeline.db.sqlfiles import statement


def application_name(owner: str) -> str:
    """The application_name of every worker connection of the run ``owner``."""
    return f"user-import {owner}"[:63]  # PostgreSQL keeps 63 bytes


class LeaseLost(Exception):
    """Another run owns the job now; this run must stop touching it."""


@dataclass
class Progress:
    """Streaming progress, written to the job row with each heartbeat."""

    bytes_processed: int | None = None
    bytes_total: int | None = None
    rows_processed: int | None = None


@dataclass(frozen=True)
class Lease:
    dsn: str
    job_id: str
    owner: str
    seconds: int

    def extend(self, conn: psycopg.Connection, progress: Progress | None = None) -> bool:
        """Push the expiry forward; False when the job is no longer ours."""
        progress = progress or Progress()
        cursor = conn.execute(
            statement("extend_lease"),
            {
                "job_id": self.job_id,
                "owner": self.owner,
                "lease_seconds": self.seconds,
                "bytes_processed": progress.bytes_processed,
                "bytes_total": progress.bytes_total,
                "rows_processed": progress.rows_processed,
            },
        )
        return cursor.rowcount == 1

    @contextmanager
    def kept(self, worker: psycopg.Connection) -> Iterator[Progress]:
        """Keep the lease alive while the block runs on ``worker``; yields the progress."""
        progress = Progress()
        stop = threading.Event()
        lost = threading.Event()
        beat = threading.Thread(
            target=self._beat,
            args=(worker, progress, stop, lost),
            name=f"lease-{self.job_id}",
            daemon=True,
        )
        beat.start()
        try:
            yield progress
        except psycopg.errors.QueryCanceled as exc:
            if lost.is_set():
                raise LeaseLost(f"job {self.job_id} was taken over by another run") from exc
            raise
        finally:
            stop.set()
            beat.join()
        if lost.is_set():
            raise LeaseLost(f"job {self.job_id} was taken over by another run")

    def _beat(
        self,
        worker: psycopg.Connection,
        progress: Progress,
        stop: threading.Event,
        lost: threading.Event,
    ) -> None:
        # Often enough for a live progress bar, and at least three beats per lease.
        interval = max(min(self.seconds / 3, 2.0), 0.2)
        conn: psycopg.Connection | None = None
        try:
            while not stop.wait(interval):
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
                    still_ours = self.extend(conn, progress)
                except psycopg.Error:
                    continue  # the database is away: try again next beat, with a new connection
                if not still_ours:
                    lost.set()
                    worker.cancel_safe()
                    return
        finally:
            if conn is not None:
                conn.close()
