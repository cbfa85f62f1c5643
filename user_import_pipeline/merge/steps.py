"""Running the SQL files of a merge phase in order, timing each for the run's metadata and
telling the run's progress which step it is at."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from user_import_pipeline.db.client import Result, Session
from user_import_pipeline.lifecycle.lease import Progress


class StepRunner:
    """Executes named SQL files on one session and remembers the seconds of each; with a
    progress, reports each step as ``<activity>: <step>`` and ``n`` of ``total`` done."""

    def __init__(
        self,
        session: Session,
        identifiers: Mapping[str, str],
        progress: Progress | None = None,
        total: int | None = None,
    ) -> None:
        self._session = session
        self._identifiers = dict(identifiers)
        self._progress = progress
        self._activity = progress.activity if progress else None
        self._total = total
        self._done = 0
        self.seconds: dict[str, float] = {}

    def run(self, name: str, params: Mapping[str, object] | None = None) -> Result:
        if self._progress is not None:
            self._progress.activity = f"{self._activity}: {name}"
            self._progress.steps_done, self._progress.steps_total = self._done, self._total
        with self.timed(name):
            result = self._session.execute(name, params, **self._identifiers)
        self._done += 1
        return result

    def finished(self) -> None:
        """The phase ran all its steps: says so to the progress, and checks the count the
        caller announced (a progress bar that ends at 11 of 13 would mislead)."""
        assert self._total is None or self._done == self._total, (self._done, self._total)
        if self._progress is not None:
            self._progress.steps_done = self._done

    def build(self, name: str, table: str, params: Mapping[str, object] | None = None) -> Result:
        """Runs step ``name``, which creates the temp table ``table``, then ANALYZEs it: a new
        table has no statistics, and the joins of the next steps would be planned blind (at
        1M users, 154M rows guessed for a join of 33k, and every address target sorted)."""
        result = self.run(name, params)
        self._session.execute("analyze_table", table=table)
        return result

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Times the block as step ``name`` (steps inside it are timed on their own too)."""
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
