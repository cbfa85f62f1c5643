"""Spread the staged users' address lists into the job's ``stg_addresses`` table."""

from __future__ import annotations

import psycopg

from user_import_pipeline.db.connection import transaction
from user_import_pipeline.db.sqlfiles import statement
from user_import_pipeline.lifecycle.jobs import Ticket, require_ours
from user_import_pipeline.staging.tables import StagingTables


def stage_addresses(conn: psycopg.Connection, ticket: Ticket) -> int:
    """Stage the addresses of every valid staged user; returns how many were staged."""
    tables = StagingTables.of(ticket.job_id)
    with transaction(conn):
        conn.execute(statement("recreate_staging_addresses", **tables.names))
        staged = conn.execute(statement("stage_addresses", **tables.names)).rowcount
        conn.execute(statement("analyze_table", table=tables.addresses))
        recorded = conn.execute(
            statement("record_addresses_staged"),
            {"job_id": ticket.job_id, "owner": ticket.lease.owner, "staged_addresses": staged},
        )
        require_ours(recorded, ticket)
    return staged
