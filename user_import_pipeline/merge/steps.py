"""Running the SQL files of a merge phase in order, timing each for the run's metadata."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg

from user_import_pipeline.db.sqlfiles import statement


class StepRunner:
    """Executes named SQL files on one connection and remembers seconds and rows of each."""

    def __init__(self, conn: psycopg.Connection, identifiers: Mapping[str, str]) -> None:
        self._conn = conn
        self._identifiers = dict(identifiers)
        self.seconds: dict[str, float] = {}
        self.rows: dict[str, int] = {}

    def run(self, name: str, params: Mapping[str, object] | None = None) -> psycopg.Cursor:
        with self.timed(name):
            cursor = self._conn.execute(statement(name, **self._identifiers), params)
        self.rows[name] = cursor.rowcount
        return cursor

    def build(
        self, name: str, table: str, params: Mapping[str, object] | None = None
    ) -> psycopg.Cursor:
        """Runs step ``name``, which creates the temp table ``table``, then ANALYZEs it: a new
        table has no statistics, and the joins of the next steps would be planned blind (at
        1M users, 154M rows guessed for a join of 33k, and every address target sorted)."""
        cursor = self.run(name, params)
        self._conn.execute(statement("analyze_table", table=table))
        return cursor

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Times the block as step ``name`` (steps inside it are timed on their own too)."""
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
