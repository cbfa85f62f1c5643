"""What an op does when its work fails: retry, stop, or fail the import job cleanly."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import dagster as dg
import psycopg

from user_import_pipeline.db.connection import PostgresResource
from user_import_pipeline.db.errors import TransientDatabaseError
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.lifecycle.lease import LeaseLost, application_name
from user_import_pipeline.ops.claim_import import ticket_for_this_run
from user_import_pipeline.settings import ImportSettings
from user_import_pipeline.staging.tables import StagingTables

TRANSIENT_RETRIES = 3


@contextmanager
def working_on(
    context: dg.OpExecutionContext,
    postgres: PostgresResource,
    import_settings: ImportSettings,
    ticket: jobs.Ticket,
) -> Iterator[tuple[jobs.Ticket, psycopg.Connection]]:
    """What every op after the claim works in: this run's ticket for the job, a connection,
    and ``guarded`` around the work."""
    ticket = ticket_for_this_run(context, postgres, import_settings, ticket)
    name = application_name(ticket.lease.owner)
    with postgres.connect(application_name=name) as conn, guarded(context, postgres, ticket):
        yield ticket, conn


@contextmanager
def guarded(
    context: dg.OpExecutionContext, postgres: PostgresResource, ticket: jobs.Ticket
) -> Iterator[None]:
    """Transient database errors retry the op; a lost lease stops the run without touching
    the job; anything else (a file error, a terminal database error) fails the job with
    its message and drops its staging, so no job is left ``running`` by a failed run."""
    try:
        yield
    except LeaseLost as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    except TransientDatabaseError as exc:
        if context.retry_number < TRANSIENT_RETRIES:
            context.log.warning(f"database interrupted the work, retrying: {exc}")
            raise dg.RetryRequested(
                max_retries=TRANSIENT_RETRIES, seconds_to_wait=1 + 2 * context.retry_number
            ) from exc
        message = f"database unavailable after {TRANSIENT_RETRIES} retries: {exc}"
        _fail_job(postgres, ticket, message)
        raise dg.Failure(description=message, allow_retries=False) from exc
    except Exception as exc:
        message = str(exc) or type(exc).__name__
        _fail_job(postgres, ticket, message)
        raise dg.Failure(description=message, allow_retries=False) from exc


def _fail_job(postgres: PostgresResource, ticket: jobs.Ticket, message: str) -> None:
    # Best effort: when the database itself is gone, the expiring lease hands the job on.
    with suppress(Exception), postgres.connect() as conn:
        # The staging of a job another run took over is that run's now.
        if jobs.fail(conn, ticket, message):
            StagingTables.of(ticket.job_id).drop(conn)
