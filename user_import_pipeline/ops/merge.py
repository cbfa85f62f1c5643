"""``merge_users`` and ``replace_addresses``: staged rows into the real tables, once."""

from collections.abc import Callable
from typing import TypeVar

import dagster as dg
import psycopg

from user_import_pipeline.db.connection import PostgresResource
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.merge.merge_users import merge_users as merge_user_rows
from user_import_pipeline.merge.replace_addresses import (
    replace_addresses as replace_address_lists,
)
from user_import_pipeline.ops.guard import working_on
from user_import_pipeline.ops.stage import restage
from user_import_pipeline.settings import ImportSettings
from user_import_pipeline.staging.tables import StagingLost

T = TypeVar("T")


@dg.op(out=dg.Out(jobs.Ticket))
def merge_users(
    context: dg.OpExecutionContext,
    ticket: jobs.Ticket,
    postgres: PostgresResource,
    import_settings: ImportSettings,
) -> jobs.Ticket:
    """Upsert users by external id with email fallback; only changed users are written."""
    with working_on(context, postgres, import_settings, ticket) as (ticket, conn):
        merged = _with_staging(
            context,
            conn,
            ticket,
            import_settings,
            lambda: merge_user_rows(conn, ticket, on_wait=context.log.info),
        )
    context.log.info(
        f"users: {merged.imported} new, {merged.updated} updated, {merged.unchanged} unchanged"
        + (" (recorded by an earlier attempt)" if merged.already_done else "")
    )
    context.add_output_metadata(
        {
            "imported": merged.imported,
            "updated": merged.updated,
            "unchanged": merged.unchanged,
            "already_done": merged.already_done,
            **{f"seconds_{step}": seconds for step, seconds in merged.seconds.items()},
        }
    )
    return ticket


@dg.op(out=dg.Out(jobs.Ticket))
def replace_addresses(
    context: dg.OpExecutionContext,
    ticket: jobs.Ticket,
    postgres: PostgresResource,
    import_settings: ImportSettings,
) -> jobs.Ticket:
    """Replace the address lists that changed, for the users this import applied."""
    with working_on(context, postgres, import_settings, ticket) as (ticket, conn):
        replaced = _with_staging(
            context, conn, ticket, import_settings, lambda: replace_address_lists(conn, ticket)
        )
    context.log.info(
        f"addresses: {replaced.users} lists replaced with {replaced.addresses} addresses"
    )
    context.add_output_metadata(
        {
            "lists_replaced": replaced.users,
            "addresses_written": replaced.addresses,
            "already_done": replaced.already_done,
            **{f"seconds_{step}": seconds for step, seconds in replaced.seconds.items()},
        }
    )
    return ticket


def _with_staging(
    context: dg.OpExecutionContext,
    conn: psycopg.Connection,
    ticket: jobs.Ticket,
    import_settings: ImportSettings,
    work: Callable[[], T],
) -> T:
    """Run a merge phase under the lease; restage once if a crash emptied the staging."""
    for attempt in range(2):
        try:
            with ticket.lease.kept(conn):
                return work()
        except StagingLost:
            if attempt:
                raise
            restage(context, conn, ticket, import_settings)
    raise AssertionError("unreachable")
