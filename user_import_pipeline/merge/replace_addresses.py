"""Replace the address lists of the applied users whose list changed (CONTRACT §3.5).

Rows whose ``addresses`` key was absent are not touched. The user merge saved the changed
lists it found (``save_address_changes``) and they are applied as they are when the same
attempt, holding the merge turn since, reaches this phase. Otherwise - after a crash, in a
retry - they are found again from durable facts: the staged rows that got no error are the
applied ones, and each applied user now carries its row's email. An identical list is not
rewritten. A user whose list is replaced gets its row's fingerprint here, now that it holds
the whole row (migration 0008).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from user_import_pipeline.db.client import Session
from user_import_pipeline.lifecycle.jobs import HeldJob, reached, read_job, require_ours
from user_import_pipeline.lifecycle.lease import Progress
from user_import_pipeline.merge.merge_users import take_merge_turn
from user_import_pipeline.merge.steps import StepRunner
from user_import_pipeline.staging.tables import StagingTables


@dataclass(frozen=True)
class ReplacedAddresses:
    users: int
    addresses: int
    already_done: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


def replace_addresses(
    session: Session, job: HeldJob, progress: Progress | None = None
) -> ReplacedAddresses:
    """Replace this import's changed address lists once; a repeat does nothing."""
    # As in merge_users: a first import's addresses need no turn to be found replaced.
    if reached(read_job(session, job.job_id)["phase"], "addresses_replaced"):
        return ReplacedAddresses(0, 0, already_done=True)
    with session.transaction():
        take_merge_turn(session)
        return replace_in_turn(session, job, progress)


def replace_in_turn(
    session: Session, job: HeldJob, progress: Progress | None = None
) -> ReplacedAddresses:
    """``replace_addresses`` within a transaction that already holds the merge turn."""
    row = read_job(session, job.job_id)
    if reached(row["phase"], "addresses_replaced"):
        return ReplacedAddresses(0, 0, already_done=True)
    tables = StagingTables.of(job.job_id)
    params = {"job_id": job.job_id, "owner": job.owner}
    session.execute("mark_import_transaction")
    if not job.dry_run:  # a dry run's merge counted the lists; it replaces none
        tables.require_intact(session, row)
    saved = job.dry_run or _saved_by_this_attempt(session, tables, row, job)
    steps = StepRunner(session, tables.names, progress, 1 if job.dry_run else 4 if saved else 7)
    changed = inserted = 0
    if not job.dry_run:
        if saved:
            changed = row["address_changes"]
        else:
            steps.build("address_targets_of_applied_rows", "address_targets", params)
            changed = steps.build("changed_address_lists", "changed_address_lists").rowcount
            session.execute("drop_table", table=tables.address_changes)
            steps.run("save_address_changes")
        steps.run("delete_changed_addresses")
        inserted = steps.run("insert_changed_addresses").rowcount
        steps.run("fingerprint_replaced_lists")
    require_ours(steps.run("record_addresses_replaced", params).rowcount, job.job_id)
    steps.finished()
    return ReplacedAddresses(changed, inserted, seconds=steps.seconds)


def _saved_by_this_attempt(
    session: Session, tables: StagingTables, row: dict[str, Any], job: HeldJob
) -> bool:
    """True when this attempt's own merge saved the changes and a crash did not empty their
    table. Since that merge this attempt has held the merge turn, so no other import can have
    changed the stored lists they were compared with; another attempt may have lost it."""
    return row["address_changes_owner"] == job.owner and tables.address_changes_intact(session, row)
