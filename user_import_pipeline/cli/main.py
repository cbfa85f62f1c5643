"""The ``user-import`` command line."""

import click

from user_import_pipeline.cli.api_cmd import api
from user_import_pipeline.cli.dagster_cmd import dagster, dg
from user_import_pipeline.cli.db_cmd import db, migrate
from user_import_pipeline.cli.errors_cmd import errors
from user_import_pipeline.cli.generate_cmd import generate
from user_import_pipeline.cli.run_cmd import run
from user_import_pipeline.cli.submit_cmd import status, submit


@click.group()
def cli() -> None:
    """Import users and addresses from JSON files into PostgreSQL."""


for command in (migrate, db, generate, run, submit, status, errors, api, dg, dagster):
    cli.add_command(command)
