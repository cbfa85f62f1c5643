"""Connections and transactions: the one place that opens, commits and rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg
from pydantic import Field

from user_import_pipeline.db.errors import classify


@contextmanager
def connect(dsn: str, **kwargs: object) -> Iterator[psycopg.Connection]:
    """An autocommit connection, closed on exit; driver errors come out classified."""
    try:
        conn = psycopg.connect(dsn, autocommit=True, **kwargs)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise classify(exc) from exc
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """Commit when the block ends, roll back when it raises; classify driver errors."""
    try:
        with conn.transaction():
            yield conn
    except psycopg.Error as exc:
        raise classify(exc) from exc


class PostgresResource(dg.ConfigurableResource):
    """The PostgreSQL database that holds users, addresses and import jobs."""

    dsn: str = Field(description="libpq connection URL, e.g. postgresql://user@host:5432/db")

    @contextmanager
    def connect(self, **kwargs: object) -> Iterator[psycopg.Connection]:
        with connect(self.dsn, **kwargs) as conn:
            yield conn
