"""Running the SQL files of a merge phase in order, timing each for the run's metadata."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from user_import_pipeline.db.client import Result, Session


class StepRunner:
    """Executes named SQL files on one session and remembers the seconds of each."""

    def __init__(self, session: Session, identifiers: Mapping[str, str]) -> None:
        self._session = session
        self._identifiers = dict(identifiers)
        self.seconds: dict[str, float] = {}

    def run(self, name: str, params: Mapping[str, object] | None = None) -> Result:
        with self.timed(name):
            return self._session.execute(name, params, **self._identifiers)

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
