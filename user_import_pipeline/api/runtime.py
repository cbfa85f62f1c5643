"""What every endpoint needs: the app's settings and a database connection per request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from user_import_pipeline.db.connection import connect

T = TypeVar("T")

# A request should not hang on a database that does not answer.
CONNECT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class ApiSettings:
    dsn: str
    base_dir: Path
    dagster_url: str


def settings_of(request: Request) -> ApiSettings:
    return request.app.state.settings


async def with_connection(request: Request, work: Callable[[psycopg.Connection], T]) -> T:
    """Run ``work`` on a fresh connection in a worker thread (psycopg here is blocking)."""
    dsn = settings_of(request).dsn

    def run() -> T:
        with connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            return work(conn)

    return await run_in_threadpool(run)
