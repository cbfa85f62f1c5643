"""Upsert the staged users into ``users`` in one set-based transaction (CONTRACT §3).

The algorithm, one SQL file per step, all on the staged rows of one import:

0. ``count_still_proven``: the users a re-import proved unchanged while staging
   (staging/compare.py) must all still have the fingerprint they were proved with, or
   the file is staged again in full (``StagingLost``); then ``stale_statistics``: ANALYZE
   ``users`` and ``addresses`` first when many rows were written since their statistics
   were taken (autovacuum off, or not yet come round).
1. ``plan_merge``, one pass: keep the valid rows; the last row of an identity (external
   id, else lower(email)) wins, then the last row of an email among those winners (the
   losers are ``duplicate_in_file``); find each survivor's user - by external id, by id
   for a UUID external id, by email - or give it a new id, rejecting ``id_conflict`` and
   ``email_conflict``; and note whether a matched user's row differs.
2. ``reject_duplicate_targets``: two rows reaching one user: the later wins.
3. ``changed_address_lists``: decide per matched user whether its address list differs,
   so the counts can say updated or unchanged; ``save_address_changes`` and
   ``add_new_address_lists`` keep those lists and the new users' for replace_addresses.
4. Record the rejected rows (with a raw JSON made from their staged values), UPDATE only
   the changed users (``update_changed_users``), INSERT the new ones - each with its row's
   fingerprint, unless its address list is still to be replaced - and record the counts
   (the proved rows among the unchanged) and the phase in the same transaction. A dry run
   plans and counts the same way and skips the UPDATE and the INSERT.

Merges of concurrent imports take turns through an advisory lock, and an import that has
merged its users but not yet replaced their addresses holds the turn until it has, so two
imports are never interleaved: the result is always that of some serial order.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from user_import_pipeline.db.client import Session
from user_import_pipeline.db.locks import AdvisoryLock
from user_import_pipeline.ingest.raw import RAW_LIMIT
from user_import_pipeline.lifecycle.jobs import HeldJob, reached, read_job, require_ours
from user_import_pipeline.lifecycle.lease import Progress
from user_import_pipeline.merge.steps import StepRunner
from user_import_pipeline.staging.tables import StagingLost, StagingTables


@dataclass(frozen=True)
class MergedUsers:
    imported: int
    updated: int
    unchanged: int
    already_done: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


def take_merge_turn(session: Session) -> None:
    """Wait for the merge lock; held until the current transaction ends."""
    session.execute("take_merge_lock", {"key": int(AdvisoryLock.MERGE)})


def share_merge_turn(session: Session) -> None:
    """Wait for the merge lock in its shared mode, which any number of transactions hold
    at once and ``take_merge_turn`` excludes; held until the current transaction ends."""
    session.execute("share_merge_lock", {"key": int(AdvisoryLock.MERGE)})


# The statements a merge runs: 13, or 11 for a dry run (which writes no user).
STEPS, DRY_RUN_STEPS = 13, 11


def merge_users(
    session: Session,
    job: HeldJob,
    progress: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> MergedUsers:
    """Merge this import's staged users once; a repeat returns the recorded counts."""
    # Looked at before the turn is waited for: a first import merged in the transaction
    # that loaded it, while other first imports may still hold the turn loading theirs.
    if (merged := _merged_already(read_job(session, job.job_id))) is not None:
        return merged
    for attempt in itertools.count():
        with session.transaction():
            take_merge_turn(session)
            other = session.execute("find_unfinished_merge", {"job_id": job.job_id}).scalar()
            if other is None:
                return merge_in_turn(session, job, progress)
        if on_wait is not None:
            on_wait(f"waiting for import {other} to finish replacing its addresses")
        time.sleep(min(5.0, 0.1 * 2**attempt))
    raise AssertionError("unreachable")


def merge_in_turn(session: Session, job: HeldJob, progress: Progress | None) -> MergedUsers:
    """``merge_users`` within a transaction that already holds the merge turn."""
    row = read_job(session, job.job_id)
    if (merged := _merged_already(row)) is not None:
        return merged
    tables = StagingTables.of(job.job_id)
    tables.require_intact(session, row)
    session.execute("mark_import_transaction")
    params = {"job_id": job.job_id, "owner": job.owner}
    steps = StepRunner(session, tables.names, progress, DRY_RUN_STEPS if job.dry_run else STEPS)
    if row["proven_users"]:
        with steps.timed("count_still_proven"):
            still = session.execute("count_still_proven", **tables.names).scalar()
        if still != row["proven_users"]:
            raise StagingLost(
                f"users that import {job.job_id} proved unchanged were written since; restaging"
            )
    with steps.timed("analyze_stale_tables"):
        for (table,) in steps.run("stale_statistics").rows:
            session.execute("analyze_table", table=table)
    steps.build("plan_merge", "merge_plan")
    steps.run("reject_duplicate_targets")
    steps.run("address_targets_of_plan")
    steps.build("changed_address_lists", "changed_address_lists")
    steps.run("mark_address_changes")
    session.execute("drop_table", table=tables.address_changes)
    steps.run("save_address_changes")
    steps.run("add_new_address_lists")
    steps.run("insert_merge_errors", {**params, "raw_limit": RAW_LIMIT})
    if not job.dry_run:
        steps.run("update_changed_users")
        steps.run("insert_new_users")
    recorded = steps.run("record_users_merged", params)
    require_ours(recorded.rowcount, job.job_id)
    counts = recorded.one()
    assert counts is not None
    imported, updated, unchanged = counts
    steps.run("update_error_counts", params)
    steps.finished()
    return MergedUsers(imported, updated, unchanged, seconds=steps.seconds)


def _merged_already(row: dict[str, Any]) -> MergedUsers | None:
    """The recorded counts, when the job's users are merged already."""
    if not reached(row["phase"], "users_merged"):
        return None
    return MergedUsers(row["imported_count"], row["updated_count"], row["unchanged_count"], True)
