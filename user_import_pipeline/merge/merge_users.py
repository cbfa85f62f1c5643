"""Upsert the staged users into ``users`` in one set-based transaction (SPEC §3).

The algorithm, one SQL file per step, all on the staged rows of one import:

0. ``stale_statistics``: ANALYZE ``users`` and ``addresses`` first when many rows were
   written since their statistics were taken (autovacuum off, or not yet come round).
1. ``plan_merge``, one pass: keep the valid rows; the last row of an identity (external
   id, else lower(email)) wins, then the last row of an email among those winners (the
   losers are ``duplicate_in_file``); find each survivor's user - by external id, by id
   for a UUID external id, by email - or give it a new id, rejecting ``id_conflict`` and
   ``email_conflict``; and note whether a matched user's row differs.
2. ``reject_duplicate_targets``: two rows reaching one user: the later wins.
3. ``changed_address_lists``: decide per matched user whether its address list differs,
   so the counts can say updated or unchanged; ``save_address_changes`` and
   ``add_new_address_lists`` keep those lists and the new users' for replace_addresses.
4. Record the rejected rows, UPDATE only the changed users, INSERT the new ones, and
   record the counts and the phase in the same transaction.

Merges of concurrent imports take turns through an advisory lock, and an import that has
merged its users but not yet replaced their addresses holds the turn until it has, so two
imports are never interleaved: the result is always that of some serial order.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from user_import_pipeline.db.connection import transaction
from user_import_pipeline.db.sqlfiles import statement
from user_import_pipeline.lifecycle.jobs import Ticket, reached, read_job, require_ours
from user_import_pipeline.merge.steps import StepRunner
from user_import_pipeline.staging.tables import StagingTables


@dataclass(frozen=True)
class MergedUsers:
    imported: int
    updated: int
    unchanged: int
    already_done: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


def merge_users(
    conn: psycopg.Connection, ticket: Ticket, on_wait: Callable[[str], None] | None = None
) -> MergedUsers:
    """Merge this import's staged users once; a repeat returns the recorded counts."""
    for attempt in itertools.count():
        with transaction(conn):
            conn.execute(statement("take_merge_lock"))
            other = conn.execute(
                statement("find_unfinished_merge"), {"job_id": ticket.job_id}
            ).fetchone()
            if other is None:
                return _merge_locked(conn, ticket)
        if on_wait is not None:
            on_wait(f"waiting for import {other[0]} to finish replacing its addresses")
        time.sleep(min(5.0, 0.1 * 2**attempt))
    raise AssertionError("unreachable")


def _merge_locked(conn: psycopg.Connection, ticket: Ticket) -> MergedUsers:
    job = read_job(conn, ticket.job_id)
    if reached(job["phase"], "users_merged"):
        return MergedUsers(
            job["imported_count"], job["updated_count"], job["unchanged_count"], True
        )
    tables = StagingTables.of(ticket.job_id)
    tables.require_intact(conn, job)
    params = {"job_id": ticket.job_id, "owner": ticket.lease.owner}
    steps = StepRunner(conn, tables.names)
    with steps.timed("analyze_stale_tables"):
        for (table,) in steps.run("stale_statistics").fetchall():
            conn.execute(statement("analyze_table", table=table))
    steps.build("plan_merge", "merge_plan")
    steps.run("reject_duplicate_targets")
    steps.run("address_targets_of_plan")
    steps.build("changed_address_lists", "changed_address_lists")
    steps.run("mark_address_changes")
    steps.run("save_address_changes")
    steps.run("add_new_address_lists")
    steps.run("insert_merge_errors", params)
    steps.run("merge_users")
    steps.run("insert_new_users")
    recorded = steps.run("record_users_merged", params)
    require_ours(recorded, ticket)
    counts = recorded.fetchone()
    assert counts is not None
    imported, updated, unchanged = counts
    steps.run("update_error_counts", params)
    return MergedUsers(imported, updated, unchanged, seconds=steps.seconds)
