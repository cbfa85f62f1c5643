"""A run's hold on its import job: a heartbeat connection of its own, from before its claim
to its end, and the lease it renews.

Two facts tell another run whether this one is alive:

- the lease (``import_jobs.lease_expires_at``), extended every two seconds (every third of
  its length, if shorter) while the run works, also during long statements, since the
  heartbeat has its own connection; the same beat writes the streaming progress;
- the heartbeat connection itself, idle between beats and named after the run
  (``heartbeat_name``): the moment the run's process dies, its backend ends and the
  connection disappears from ``pg_stat_activity``, long before the lease would expire.

If a beat finds the job no longer ours (another run took it over), the worker session's
statement is cancelled and every later call of that session raises LeaseLost; every phase
also re-checks ownership in its final UPDATE, so a run that lost its lease never commits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from user_import_pipeline.db.client import Database, Session
from user_import_pipeline.db.errors import DatabaseError, LeaseLost

# PostgreSQL keeps 63 bytes of an application_name.
_NAME_BYTES = 63


def worker_name(run_id: str) -> str:
    """The application_name of the connections a run works on."""
    return f"user-import {run_id}"[:_NAME_BYTES]


def heartbeat_name(run_id: str) -> str:
    """The application_name of a run's heartbeat connection: alive while it is open."""
    return f"user-import lease {run_id}"[:_NAME_BYTES]


# What a user waiting for the job is told the run is doing, by the phase it works towards.
ACTIVITIES = {
    "users_staged": "staging users",
    "addresses_staged": "staging addresses",
    "users_merged": "merging users",
    "addresses_replaced": "replacing addresses",
    "succeeded": "finishing",
}
# A first import into empty tables writes its users while it reads them (merge/bulk_load.py).
WRITING_USERS = "writing users"
# The activities whose progress is the file's bytes read.
READING_FILE = frozenset({ACTIVITIES["users_staged"], WRITING_USERS})


@dataclass
class Progress:
    """What the run is doing, written to the job row with each heartbeat: the file's bytes
    and rows while it streams, the step of the phase and how many of its steps are done."""

    bytes_processed: int | None = None
    bytes_total: int | None = None
    rows_processed: int | None = None
    activity: str | None = None
    steps_done: int | None = None
    steps_total: int | None = None


class Heartbeat:
    """The liveness of one run and the lease of the job it holds (once it holds one)."""

    def __init__(self, database: Database, run_id: str, lease_seconds: int) -> None:
        self.run_id = run_id
        self.lease_seconds = lease_seconds
        self.job_id: str | None = None
        self._database = database
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._worker: Session | None = None
        self._progress = Progress()
        self._connection = ExitStack()
        self._session: Session | None = None
        self._thread: threading.Thread | None = None

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def start(self) -> None:
        """Open the heartbeat connection (before the claim, so that the run is seen alive
        from the moment it may own a job) and start beating."""
        self._session = self._open()
        # Often enough for a live progress bar, and at least three beats per lease.
        interval = max(min(self.lease_seconds / 3, 2.0), 0.2)
        self._thread = threading.Thread(
            target=self._beat, args=(interval,), name=f"heartbeat-{self.run_id}", daemon=True
        )
        self._thread.start()

    def hold(self, job_id: str) -> None:
        """From now on, renew the lease of ``job_id`` (claimed by this run)."""
        self.job_id = job_id

    @contextmanager
    def working(self, worker: Session, activity: str) -> Iterator[Progress]:
        """Watch ``worker`` while the block runs on it: its statement is cancelled if the job
        is lost. Yields the progress the beats write, starting with ``activity``. Raises
        LeaseLost if the job was lost."""
        with self._lock:
            self._worker = worker
            self._progress = Progress(activity=activity)
            progress = self._progress
        try:
            yield progress
        finally:
            with self._lock:
                self._worker = None
        if self.lost:
            raise LeaseLost(f"import job {self.job_id} was taken over by another run")

    def stop(self) -> None:
        """Stop beating and close the heartbeat connection: the run is seen dead from now."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._connection.close()

    def _open(self) -> Session:
        self._connection.close()
        self._connection = ExitStack()
        return self._connection.enter_context(
            self._database.session(application_name=heartbeat_name(self.run_id))
        )

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            if self.job_id is None:
                continue
            try:
                if self._session is None or self._session.closed:
                    self._session = self._open()
                still_ours = self._extend(self._session)
            except DatabaseError:
                self._session = None  # the database is away: a new connection next beat
                continue
            if not still_ours:
                if not self._finished_by_us(self._session):
                    self._lose()
                return

    def _extend(self, session: Session) -> bool:
        with self._lock:
            progress = self._progress
        extended = session.execute(
            "extend_lease",
            {
                "job_id": self.job_id,
                "owner": self.run_id,
                "lease_seconds": self.lease_seconds,
                "bytes_processed": progress.bytes_processed,
                "bytes_total": progress.bytes_total,
                "rows_processed": progress.rows_processed,
                "activity": progress.activity,
                "steps_done": progress.steps_done,
                "steps_total": progress.steps_total,
            },
        )
        return extended.rowcount == 1

    def _finished_by_us(self, session: Session) -> bool:
        """True when the job is no longer running because this run finished it."""
        try:
            job = session.execute("read_import_job", {"job_id": self.job_id}).dict()
        except DatabaseError:
            return False
        return (
            job is not None
            and job["dagster_run_id"] == self.run_id
            and (job["status"] != "running")
        )

    def _lose(self) -> None:
        self._lost.set()
        with self._lock:
            if self._worker is not None:
                self._worker.lose_lease()
