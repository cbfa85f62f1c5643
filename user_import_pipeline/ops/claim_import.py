"""``claim_import``: the first op of every import run - which file, which job, and the lease."""

import uuid

import dagster as dg
from pydantic import Field

from user_import_pipeline.db.connection import PostgresResource
from user_import_pipeline.ingest.source import ImportFileError, resolve_source
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.sensors.run_requests import run_is_finished, run_tags
from user_import_pipeline.settings import ImportSettings


class ImportConfig(dg.Config):
    """Which file to import. Give source_path for a new import, or job_id to run an
    import_jobs row that is already queued (e.g. one created through the HTTP API)."""

    source_path: str | None = Field(
        default=None,
        description="A .json or .json.gz file, relative to IMPORT_BASE_DIR "
        "(paths leading outside it are refused), e.g. 'incoming/users.json'",
    )
    job_id: str | None = Field(
        default=None, description="UUID of an existing queued import_jobs row to run"
    )


@dg.op(out=dg.Out(jobs.Ticket, description="The claimed import job and this run's lease"))
def claim_import(
    context: dg.OpExecutionContext,
    config: ImportConfig,
    postgres: PostgresResource,
    import_settings: ImportSettings,
) -> jobs.Ticket:
    """Create or take the import_jobs row (SELECT ... FOR UPDATE SKIP LOCKED) and lease it."""
    job_id = config.job_id
    if job_id is not None:
        try:
            job_id = str(uuid.UUID(job_id))
        except ValueError:
            message = f"job_id {config.job_id!r} is not a UUID"
            raise dg.Failure(message, allow_retries=False) from None
    if config.source_path is not None:
        _refuse_unstorable_path(context, postgres, config.source_path)
    ticket = _claim(context, postgres, import_settings, job_id, config.source_path)
    context.add_output_metadata({"job_id": ticket.job_id, "source_path": ticket.source_path})
    return ticket


def _refuse_unstorable_path(
    context: dg.OpExecutionContext, postgres: PostgresResource, source_path: str
) -> None:
    """A file name that is not UTF-8 (a lone surrogate after os.fsdecode) cannot be stored
    as text: record the import as failed under a printable form of the name."""
    try:
        source_path.encode("utf-8")
    except UnicodeEncodeError:
        printable = source_path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        message = f"{printable!r}: the file name is not valid UTF-8"
        with postgres.connect() as conn:
            jobs.record_refused(
                conn, printable, message, context.run_id, context.run.root_run_id or context.run_id
            )
        raise dg.Failure(message, allow_retries=False) from None


def ticket_for_this_run(
    context: dg.OpExecutionContext,
    postgres: PostgresResource,
    import_settings: ImportSettings,
    ticket: jobs.Ticket,
) -> jobs.Ticket:
    """The ticket an op works under: the one it was handed, or - when this run is a
    re-execution that skipped claim_import - the same job claimed anew by this run, so the
    attempt is counted and the lease names the run that actually works."""
    if ticket.lease.owner == context.run_id:
        return ticket
    return _claim(context, postgres, import_settings, ticket.job_id, None)


def _claim(
    context: dg.OpExecutionContext,
    postgres: PostgresResource,
    import_settings: ImportSettings,
    job_id: str | None,
    source_path: str | None,
) -> jobs.Ticket:
    with postgres.connect() as conn:
        try:
            ticket = jobs.claim(
                conn,
                dsn=postgres.dsn,
                job_id=job_id,
                source_path=source_path,
                run_id=context.run_id,
                root_run_id=context.run.root_run_id or context.run_id,
                lease_seconds=import_settings.resolved_lease_seconds(),
                run_is_finished=lambda run_id: run_is_finished(context.instance, run_id),
            )
        except jobs.ClaimRefused as exc:
            raise dg.Failure(str(exc), allow_retries=False) from exc
        try:
            resolve_source(ticket.source_path, import_settings.resolved_base_dir())
        except ImportFileError as exc:
            jobs.fail(conn, ticket, str(exc))
            raise dg.Failure(str(exc), allow_retries=False) from exc
        job = jobs.read_job(conn, ticket.job_id)
    # Tag the run with its job, so the reaper sees the job is taken and Dagster's retry of
    # this run (which inherits the tags) too.
    context.instance.add_run_tags(context.run_id, run_tags(ticket.source_path, ticket.job_id))
    context.log.info(
        f"import {ticket.job_id} of {ticket.source_path}: attempt {job['attempts']} "
        f"of {job['max_attempts']}, resuming from phase {job['phase']}"
    )
    return ticket
