"""``user-import dg ...`` and ``user-import dagster ...``: Dagster's own CLIs (``dg``, and
the older ``dagster``) with this project's environment prepared."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from user_import_pipeline import environment, settings
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline.sensors.incoming_files import incoming_folder

PASS_THROUGH = {"ignore_unknown_options": True, "allow_interspersed_args": False}


@click.command(context_settings=PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dg(args: tuple[str, ...]) -> None:
    """Run Dagster's `dg ARGS` (e.g. `dev`, `dev --port 3001`, `check defs`, `launch --job
    import_users --config-json ...`) with DATABASE_URL, DAGSTER_PG_URL and DAGSTER_HOME set
    (starting the embedded PostgreSQL when DATABASE_URL is unset)."""
    _exec_prepared("dg", args)


@click.command(context_settings=PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dagster(args: tuple[str, ...]) -> None:
    """Run `dagster ARGS` (e.g. `job launch ...`) with the environment `dg` gets."""
    _exec_prepared("dagster", args)


def _exec_prepared(name: str, args: tuple[str, ...]) -> None:
    migrate(Database(environment.prepare()))
    base = settings.base_dir()
    if isinstance(base, Path):  # an S3 prefix has no folders to make
        incoming_folder(base)
    if sys.prefix != sys.base_prefix:  # dg warns unless it runs in the activated venv
        os.environ.setdefault("VIRTUAL_ENV", sys.prefix)
    # The program of this interpreter's environment, whether or not it is on PATH.
    beside = Path(sys.executable).with_name(name)
    program = str(beside) if beside.exists() else name
    os.execvp(program, [program, *args])
