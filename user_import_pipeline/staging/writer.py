"""Writing batches of rows from a thread of its own, so that PostgreSQL takes one batch
while the reading thread reads and validates the next: on two cores, reading and writing
overlap instead of adding up."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from user_import_pipeline.db.client import Session

B = TypeVar("B")


class BatchWriter(Generic[B]):
    """Calls ``write`` on each batch put, in order, in a thread of its own. ``write`` has
    the session to itself: the reading thread leaves it alone until ``close`` has returned."""

    def __init__(self, write: Callable[[B], None], name: str) -> None:
        self._write = write
        self._queue: queue.Queue[B | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name)
        self._thread.start()

    def put(self, batch: B) -> None:
        self._raise_error()
        self._queue.put(batch)

    def write_all(self, batches: Iterable[B], after_each: Callable[[], None]) -> None:
        """Puts every batch, calling ``after_each`` once each is handed over, and returns
        when all are written (``close``)."""
        try:
            for batch in batches:
                self.put(batch)
                after_each()
        finally:
            self.close()

    def close(self) -> None:
        """Waits for every batch put to be written; raises what writing one raised."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drained, so that the reading thread never waits on a full queue
            try:
                self._write(batch)
            except BaseException as error:  # handed to the reading thread
                self._error = error


def copy_rows(
    session: Session, statement: str, rows: Sequence[Sequence[object]], **identifiers: str
) -> None:
    """Sends ``rows`` through the copy of the SQL file ``statement``; nothing when none."""
    if rows:
        with session.copy(statement, **identifiers) as write_row:
            for values in rows:
                write_row(values)
