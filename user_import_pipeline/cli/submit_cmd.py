"""``user-import submit PATH [--wait]`` and ``user-import status JOB_ID``."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from typing import Any

import click

from user_import_pipeline import environment, settings
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.errors import TerminalDatabaseError, TransientDatabaseError
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline.ingest.source import InvalidSourceError
from user_import_pipeline.launch import queue_import
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.views import ERRORS_SHOWN, job_json, parse_uuid, read_job_report

POLL_SECONDS = 0.5
FINISHED = ("succeeded", "failed")


@click.command()
@click.argument("path")
@click.option("--wait", is_flag=True, help="Show progress and exit with the import's outcome.")
@click.option(
    "--dagster-url",
    default=settings.dagster_webserver_url,
    show_default="$DAGSTER_WEBSERVER_URL or http://127.0.0.1:3000",
    help="The Dagster webserver that launches the run.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read, validate and plan the file; record the counts and row errors it would "
    "produce, writing no user or address.",
)
def submit(path: str, wait: bool, dagster_url: str, dry_run: bool) -> None:
    """Queue an import of PATH (relative to IMPORT_BASE_DIR) through the running Dagster.

    Prints the job id. If Dagster cannot be reached the job stays queued and the
    import_jobs_reaper sensor launches it later. With --wait: a progress bar on stderr,
    the job's summary as JSON on the last stdout line, exit 0 only when it succeeded.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    database = Database(environment.prepare())
    migrate(database)
    try:
        job_id = queue_import(database, path, settings.base_dir(), dagster_url, dry_run)
    except InvalidSourceError as exc:
        raise click.BadParameter(str(exc), param_hint="PATH") from exc
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dagster-url") from exc
    click.echo(job_id)
    if not wait:
        return
    job = _wait_for(database, job_id)
    click.echo(json.dumps(jobs.summary(job)))
    sys.exit(0 if job["status"] == "succeeded" else 1)


@click.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job as the HTTP API does.")
def status(job_id: str, as_json: bool) -> None:
    """Show import job JOB_ID: status, phase, counts, attempts, times and its first row
    errors. Exit 2 when there is no such job."""
    canonical = parse_uuid(job_id)
    if canonical is None:
        click.echo(f"error: {job_id!r} is not a job id (a UUID)", err=True)
        sys.exit(2)
    # Read-only: no migration. A database without the schema says so.
    database = Database(environment.prepare())
    try:
        with database.session() as session:
            report = read_job_report(session, canonical)
    except TerminalDatabaseError as exc:
        if "UndefinedTable" not in str(exc):
            raise
        click.echo(
            "error: the database has no import jobs table; run `user-import migrate`", err=True
        )
        sys.exit(2)
    if report is None:
        click.echo(f"error: no import job {canonical}", err=True)
        sys.exit(2)
    click.echo(json.dumps(job_json(report)) if as_json else _describe(report))


def _describe(job: dict[str, Any]) -> str:
    total = "?" if job["progress_total"] is None else job["progress_total"]
    counts = "  ".join(
        f"{name} {job[f'{name}_count']}"
        for name in ("imported", "updated", "unchanged", "skipped", "failed")
    )
    lines = [
        f"job        {job['id']}",
        f"source     {job['source_path']}",
        f"status     {job['status']} (phase {job['phase']})",
        f"attempts   {job['attempts']} of {job['max_attempts']}",
        f"rows       {job['progress_processed']} of {total}; "
        f"bytes {job['bytes_processed']} of {job['bytes_total'] or '?'}",
        f"counts     {counts}",
        f"error      {job['error_message'] or '-'}",
        *(f"{name:<10} {_time(job[f'{name}_at'])}" for name in ("created", "started", "finished")),
        f"dagster    run {job['dagster_run_id'] or '-'}",
    ]
    errors = job["errors"]
    if errors:
        lines.append(f"row errors (first {ERRORS_SHOWN}; {job['failed_count']} in all):")
        lines += [f"  row {e['row_index']}  {e['code']}  {e['message']}" for e in errors]
    else:
        lines.append("row errors: none")
    return "\n".join(lines)


def _time(moment: Any) -> str:
    return "-" if moment is None else moment.isoformat(sep=" ", timespec="seconds")


def _wait_for(database: Database, job_id: str) -> dict[str, Any]:
    """Poll the job until it finishes, drawing its progress (bytes read) on stderr."""
    with contextlib.ExitStack() as stack:
        bar = None
        shown = 0
        last_state = None
        while True:
            try:
                with database.session() as session:
                    job = jobs.read_job(session, job_id)
            except TransientDatabaseError as exc:
                click.echo(f"database unavailable, retrying: {exc}", err=True)
                time.sleep(POLL_SECONDS * 4)
                continue
            state = (job["status"], job["phase"])
            if bar is None and job["bytes_total"]:
                bar = stack.enter_context(
                    click.progressbar(length=job["bytes_total"], label="reading", file=sys.stderr)
                )
            elif bar is None and state != last_state:
                click.echo(f"job {job_id}: {job['status']}", err=True)
            if bar is not None:
                bar.label = job["status"] if job["status"] in FINISHED else job["phase"]
                done = min(job["bytes_processed"] or 0, job["bytes_total"] or 0)
                bar.update(max(done - shown, 0))
                shown = max(done, shown)
            last_state = state
            if job["status"] in FINISHED:
                return job
            time.sleep(POLL_SECONDS)
