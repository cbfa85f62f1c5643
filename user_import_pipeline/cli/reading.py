"""What the commands that only read a job share (``status``, ``errors``): its id from the
command line and a session that never migrates. Both end the command with exit code 2 when
there is nothing to read."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from user_import_pipeline import environment
from user_import_pipeline.db.client import Database, Session
from user_import_pipeline.db.errors import TerminalDatabaseError
from user_import_pipeline.views import parse_uuid


def job_id_argument(text: str) -> str:
    """The job id as the database has it; exit 2 when ``text`` is not a UUID."""
    canonical = parse_uuid(text)
    if canonical is None:
        click.echo(f"error: {text!r} is not a job id (a UUID)", err=True)
        sys.exit(2)
    return canonical


@contextmanager
def read_only_session() -> Iterator[Session]:
    """A session on the database. Read-only commands do not migrate: on a database without
    the schema they say so and exit 2, leaving it as it was."""
    database = Database(environment.prepare())
    try:
        with database.session() as session:
            yield session
    except TerminalDatabaseError as exc:
        if "UndefinedTable" not in str(exc):
            raise
        click.echo(
            "error: the database has no import jobs table; run `user-import migrate`", err=True
        )
        sys.exit(2)


def no_such_job(job_id: str) -> NoReturn:
    click.echo(f"error: no import job {job_id}", err=True)
    sys.exit(2)
