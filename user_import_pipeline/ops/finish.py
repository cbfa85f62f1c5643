"""``finish_import``: mark the job succeeded, drop its staging, show the final counts."""

import dagster as dg

from user_import_pipeline.db.connection import PostgresResource
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.ops.guard import working_on
from user_import_pipeline.settings import ImportSettings
from user_import_pipeline.staging.tables import StagingTables


@dg.op
def finish_import(
    context: dg.OpExecutionContext,
    ticket: jobs.Ticket,
    postgres: PostgresResource,
    import_settings: ImportSettings,
) -> dict:
    """The job's final row: status, counts and timing."""
    with working_on(context, postgres, import_settings, ticket) as (ticket, conn):
        jobs.succeed(conn, ticket)
        StagingTables.of(ticket.job_id).drop(conn)
        job = jobs.read_job(conn, ticket.job_id)
    summary = jobs.summary(job)
    context.log.info(
        "import succeeded: "
        + ", ".join(f"{key} {value}" for key, value in summary.items() if key.endswith("count"))
    )
    context.add_output_metadata({key: value for key, value in summary.items() if value is not None})
    return summary
