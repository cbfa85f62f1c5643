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
from user_import_pipeline.cli.reading import job_id_argument, no_such_job, read_only_session
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.errors import TransientDatabaseError
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline.ingest.source import InvalidSourceError
from user_import_pipeline.launch import queue_import
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.lifecycle.lease import READING_FILE
from user_import_pipeline.views import ERRORS_SHOWN, job_json, read_job_report

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
    canonical = job_id_argument(job_id)
    with read_only_session() as session:
        report = read_job_report(session, canonical)
    if report is None:
        no_such_job(canonical)
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
    """Poll the job until it finishes, showing on stderr each phase by name as it starts,
    with its own progress: the file's bytes while users stream in, the steps of the others
    (the step running now in the label)."""
    with contextlib.ExitStack() as phase:
        shown: tuple[str, str] | None = None
        bar: Any = None
        while True:
            try:
                with database.session() as session:
                    job = jobs.read_job(session, job_id)
            except TransientDatabaseError as exc:
                click.echo(f"database unavailable, retrying: {exc}", err=True)
                time.sleep(POLL_SECONDS * 4)
                continue
            if job["status"] in FINISHED:
                phase.close()
                click.echo(f"job {job_id}: {job['status']}", err=True)
                return job
            activity = job["activity"] or job["status"]
            name, _, step = activity.partition(": ")
            done, total = _progress_of(job, name)
            if shown is None or shown[0] != name:
                phase.close()
                bar = phase.enter_context(
                    click.progressbar(length=total or 1, label=name, file=sys.stderr)
                )
            if bar is not None and total:
                bar.label = f"{name} ({step})" if step else name
                bar.length = total
                bar.update(max(done - bar.pos, 0))
            shown = (name, step)
            time.sleep(POLL_SECONDS)


def _progress_of(job: dict[str, Any], activity: str) -> tuple[int, int]:
    """How far the phase ``activity`` is: bytes while users stream in, else its steps."""
    if activity in READING_FILE:
        return job["bytes_processed"] or 0, job["bytes_total"] or 0
    return job["activity_done"] or 0, job["activity_total"] or 0
