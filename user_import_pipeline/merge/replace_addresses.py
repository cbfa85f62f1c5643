"""Replace the address lists of the applied users whose list changed (SPEC §3.5).

Rows whose ``addresses`` key was absent are not touched. The user merge saved the changed
lists it found (``save_address_changes``) and they are applied as they are when the same
attempt, holding the merge turn since, reaches this phase. Otherwise - after a crash, in a
retry - they are found again from durable facts: the staged rows that got no error are the
applied ones, and each applied user now carries its row's email. An identical list is not
rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
        if _saved_by_this_attempt(conn, tables, job, ticket):
            changed = job["address_changes"]
        else:
            steps.build("address_targets_of_applied_rows", "address_targets", params)
            changed = steps.build("changed_address_lists", "changed_address_lists").rowcount
            steps.run("save_address_changes")
        steps.run("delete_changed_addresses")
        inserted = steps.run("insert_changed_addresses").rowcount
        require_ours(steps.run("record_addresses_replaced", params), ticket)
    return ReplacedAddresses(changed, inserted, seconds=steps.seconds)


def _saved_by_this_attempt(
    conn: psycopg.Connection, tables: StagingTables, job: dict[str, Any], ticket: Ticket
) -> bool:
    """True when this attempt's own merge saved the changes and a crash did not empty their
    table. Since that merge this attempt has held the merge turn, so no other import can have
    changed the stored lists they were compared with; another attempt may have lost it."""
    return job["address_changes_owner"] == ticket.lease.owner and tables.address_changes_intact(
        conn, job
    )
