"""``stage_users`` and ``stage_addresses``: the file into the job's staging tables."""

import time

import dagster as dg
import psycopg

from user_import_pipeline.db.connection import PostgresResource
from user_import_pipeline.ingest.source import resolve_source
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.lifecycle.lease import Progress
from user_import_pipeline.ops.guard import working_on
from user_import_pipeline.settings import ImportSettings
from user_import_pipeline.staging.stage_addresses import stage_addresses as stage_address_rows
from user_import_pipeline.staging.stage_users import StagedUsers
from user_import_pipeline.staging.stage_users import stage_users as stage_user_rows
from user_import_pipeline.staging.tables import StagingTables


@dg.op(out=dg.Out(jobs.Ticket))
def stage_users(
    context: dg.OpExecutionContext,
    ticket: jobs.Ticket,
    postgres: PostgresResource,
    import_settings: ImportSettings,
) -> jobs.Ticket:
    """Stream the file through validation into UNLOGGED staging (COPY), in one transaction."""
    with working_on(context, postgres, import_settings, ticket) as (ticket, conn):
        job = jobs.read_job(conn, ticket.job_id)
        tables = StagingTables.of(ticket.job_id)
        if jobs.reached(job["phase"], "users_staged") and tables.intact(conn, job, False):
            context.log.info("users already staged by an earlier attempt")
            context.add_output_metadata({"already_staged": True})
            return ticket
        stage_users_logged(context, conn, ticket, import_settings)
    return ticket


def stage_users_logged(
    context: dg.OpExecutionContext,
    conn: psycopg.Connection,
    ticket: jobs.Ticket,
    import_settings: ImportSettings,
) -> StagedUsers:
    """Stage the users with progress in the run log and counts in the op's metadata."""
    path = resolve_source(ticket.source_path, import_settings.resolved_base_dir())
    reporter = _ProgressLog(context)
    started = time.perf_counter()
    with ticket.lease.kept(conn) as progress:
        staged = stage_user_rows(
            conn,
            ticket,
            path,
            progress,
            report_every=import_settings.resolved_chunk_size(),
            on_progress=reporter,
        )
    seconds = time.perf_counter() - started
    context.log.info(
        f"staged {staged.rows_processed} rows ({staged.row_errors} invalid) "
        f"from {staged.bytes_total} bytes in {seconds:.1f}s"
    )
    context.add_output_metadata(
        {
            "rows_processed": staged.rows_processed,
            "rows_staged": staged.rows_staged,
            "row_errors": staged.row_errors,
            "bytes": staged.bytes_total,
            "seconds": round(seconds, 3),
            "rows_per_second": round(staged.rows_processed / seconds) if seconds else 0,
        }
    )
    return staged


@dg.op(out=dg.Out(jobs.Ticket))
def stage_addresses(
    context: dg.OpExecutionContext,
    ticket: jobs.Ticket,
    postgres: PostgresResource,
    import_settings: ImportSettings,
) -> jobs.Ticket:
    """Spread the staged address lists into one staging row per address."""
    with working_on(context, postgres, import_settings, ticket) as (ticket, conn):
        job = jobs.read_job(conn, ticket.job_id)
        tables = StagingTables.of(ticket.job_id)
        if jobs.reached(job["phase"], "addresses_staged") and tables.intact(conn, job):
            context.add_output_metadata({"already_staged": True})
            return ticket
        if not tables.intact(conn, job, addresses=False):
            context.log.warning("staged users were lost (database restart?); restaging")
            stage_users_logged(context, conn, ticket, import_settings)
        started = time.perf_counter()
        with ticket.lease.kept(conn):
            staged = stage_address_rows(conn, ticket)
        seconds = time.perf_counter() - started
    context.log.info(f"staged {staged} addresses in {seconds:.1f}s")
    context.add_output_metadata({"addresses_staged": staged, "seconds": round(seconds, 3)})
    return ticket


def restage(
    context: dg.OpExecutionContext,
    conn: psycopg.Connection,
    ticket: jobs.Ticket,
    import_settings: ImportSettings,
) -> None:
    """Stage users and addresses again after a crash emptied the UNLOGGED staging."""
    context.log.warning("staged rows were lost (database restart?); restaging from the file")
    stage_users_logged(context, conn, ticket, import_settings)
    with ticket.lease.kept(conn):
        stage_address_rows(conn, ticket)


class _ProgressLog:
    """Logs streaming progress to the run log, at most every few seconds."""

    def __init__(self, context: dg.OpExecutionContext, every_seconds: float = 5.0) -> None:
        self._context = context
        self._every = every_seconds
        self._last = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        percent = 100 * (progress.bytes_processed or 0) / (progress.bytes_total or 1)
        self._context.log.info(f"streamed {progress.rows_processed} rows, {percent:.0f}% of bytes")
