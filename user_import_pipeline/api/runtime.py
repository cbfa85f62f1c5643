"""What every endpoint needs: the app's settings and a database session per request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from user_import_pipeline.db.client import Database, Session
from user_import_pipeline.ingest.location import Base

T = TypeVar("T")


@dataclass(frozen=True)
class ApiSettings:
    database: Database
    base_dir: Base
    dagster_url: str


def settings_of(request: Request) -> ApiSettings:
    return request.app.state.settings


async def with_session(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` on a fresh session in a worker thread (the client here is blocking)."""
    database = settings_of(request).database

    def run() -> T:
        with database.session() as session:
            return work(session)

    return await run_in_threadpool(run)
