"""``user-import run PATH``: one import in this process, through the Dagster job."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import dagster as dg

from user_import_pipeline import environment, settings
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.runs import run_config


@click.command()
@click.argument("path")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read, validate and plan the file; record the counts and row errors it would "
    "produce, writing no user or address.",
)
def run(path: str, dry_run: bool) -> None:
    """Import PATH (relative to IMPORT_BASE_DIR) now, in this process.

    The run is recorded in the Dagster instance like any other. The last line of stdout
    is one JSON object: job_id, status, the counts and error_message. Exit code 0 only
    when the import succeeded.
    """
    from user_import_pipeline.definitions import defs

    database = Database(environment.prepare())
    migrate(database)
    if settings.dagster_home() is None:
        click.echo("DAGSTER_HOME is unset: this run is not recorded in Dagster", err=True)
        instance = dg.DagsterInstance.ephemeral()
    else:
        instance = dg.DagsterInstance.get()
    result = defs.resolve_job_def("import_users").execute_in_process(
        run_config=run_config(source_path=path, dry_run=dry_run),
        instance=instance,
        raise_on_error=False,
    )
    summary = _summary_of_run(database, result, dry_run)
    click.echo(json.dumps(summary))
    sys.exit(0 if summary["status"] == "succeeded" else 1)


def _summary_of_run(
    database: Database, result: dg.ExecuteInProcessResult, dry_run: bool
) -> dict[str, Any]:
    with database.session() as session:
        job = jobs.job_of_run(session, result.run_id)
    if job is not None:
        return jobs.summary(job)
    # The run failed before it could claim a job (e.g. the job was refused).
    failure = next((e for e in result.all_events if e.is_step_failure), None)
    message = "the run failed"
    if failure is not None:
        data = failure.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            message = data.user_failure_data.description
        elif data.error is not None:
            message = data.error.message
    return {
        "job_id": None,
        "status": "failed",
        "dry_run": dry_run,
        "error_message": message.strip(),
    }
