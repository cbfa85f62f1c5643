"""``user-import dagster ...``: Dagster's own CLI with this project's environment prepared."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from user_import_pipeline import environment, settings
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline.sensors.incoming_files import incoming_folder


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dagster(args: tuple[str, ...]) -> None:
    """Run `dagster ARGS` (e.g. `dev`, `job launch ...`) with DATABASE_URL, DAGSTER_PG_URL
    and DAGSTER_HOME set (starting the embedded PostgreSQL when DATABASE_URL is unset)."""
    migrate(Database(environment.prepare()))
    incoming_folder(settings.base_dir())
    # The dagster script of this interpreter's environment, whether or not it is on PATH.
    beside = Path(sys.executable).with_name("dagster")
    program = str(beside) if beside.exists() else "dagster"
    os.execvp(program, [program, *args])
