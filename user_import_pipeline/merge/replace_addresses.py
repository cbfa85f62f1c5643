"""Replace the address lists of the applied users whose list changed (SPEC §3.5).

Rows whose ``addresses`` key was absent are not touched. The targets are rebuilt from
durable facts - the staged rows that got no error are the applied ones, and each applied
user now carries its row's email - so this phase also works after a crash that happened
between the user merge and here. An identical list is not rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from user_import_pipeline.db.connection import transaction
from user_import_pipeline.db.sqlfiles import statement
from user_import_pipeline.lifecycle.jobs import Ticket, reached, read_job, require_ours
from user_import_pipeline.merge.steps import StepRunner
from user_import_pipeline.staging.tables import StagingTables


@dataclass(frozen=True)
class ReplacedAddresses:
    users: int
    addresses: int
    already_done: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


def replace_addresses(conn: psycopg.Connection, ticket: Ticket) -> ReplacedAddresses:
    """Replace this import's changed address lists once; a repeat does nothing."""
    with transaction(conn):
        conn.execute(statement("take_merge_lock"))
        job = read_job(conn, ticket.job_id)
        if reached(job["phase"], "addresses_replaced"):
            return ReplacedAddresses(0, 0, already_done=True)
        tables = StagingTables.of(ticket.job_id)
        tables.require_intact(conn, job)
        params = {"job_id": ticket.job_id, "owner": ticket.lease.owner}
        steps = StepRunner(conn, tables.names)
        steps.run("address_targets_of_applied_rows", params)
        conn.execute(statement("analyze_table", table="address_targets"))
        changed = steps.run("changed_address_lists").rowcount
        steps.run("delete_changed_addresses")
        inserted = steps.run("insert_changed_addresses").rowcount
        require_ours(steps.run("record_addresses_replaced", params), ticket)
    return ReplacedAddresses(changed, inserted, seconds=steps.seconds)
