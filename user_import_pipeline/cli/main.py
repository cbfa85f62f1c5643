"""The ``user-import`` command line."""

import click

from user_import_pipeline.cli.dagster_cmd import dagster
from user_import_pipeline.cli.db_cmd import db, migrate
from user_import_pipeline.cli.generate_cmd import generate
from user_import_pipeline.cli.run_cmd import run


@click.group()
def cli() -> None:
    """Import users and addresses from JSON files into PostgreSQL."""


for command in (migrate, db, generate, run, dagster):
    cli.add_command(command)
