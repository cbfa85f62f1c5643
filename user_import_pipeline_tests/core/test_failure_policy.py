"""Every kind of database failure at every kind of call site of every step of an import, and
what the core makes of it (core/service.py):

- transient (a lost connection): the step says Retry and the job is as before it; done again,
  the step completes and the import ends exactly like an uninterrupted one;
- terminal (the database refuses the work): the step says Failed, the job is failed with the
  error in its message, its staging dropped, the data as before the step;
- lease lost (another run takes the job over at that moment): the step says Stopped, and
  this run writes nothing more - the job stays as the other run left it.

A fault is injected at a checkpoint (user_import_pipeline/checkpoints.py), inside the database
client's call: the driver error raised there is the one the driver raises when a connection
breaks or a statement is refused. Each site is the first call of its kind in the step: a new
connection (the worker's, or the heartbeat's), a statement outside a transaction (a read or
DDL in autocommit), a statement in a transaction, a COPY, a commit - and in ``finish`` the
statement right after the job was marked succeeded.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from user_import_pipeline import checkpoints
from user_import_pipeline.core.outcomes import Done, Failed, Outcome, Retry, RunInfo, Stopped
from user_import_pipeline.core.service import ImportService
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import SOURCE, data, job_state, staging_tables

pytestmark = pytest.mark.faults

STEPS = ("claim", "stage_users", "stage_addresses", "merge_users", "replace_addresses", "finish")
# The sites each step has (the test fails if one is never reached: the table cannot go stale).
SITES: dict[str, tuple[str, ...]] = {
    "claim": ("lease_connect", "connect", "statement", "commit"),
    "stage_users": ("connect", "autocommit", "statement", "copy", "commit"),
    "stage_addresses": ("connect", "autocommit", "statement", "commit"),
    "merge_users": ("connect", "statement", "commit"),
    "replace_addresses": ("connect", "statement", "commit"),
    "finish": ("connect", "statement", "after_succeed", "commit"),
}
# Another run can take the job over only where this run does not hold the job's row lock.
LEASE_LOST_SITES = ("connect", "autocommit", "statement", "copy")
# Fields of the job row that a step's failure must leave as they were (the heartbeat moves the
# lease and progress fields on its own).
WATCHED = ("status", "phase", "attempts", "lease_owner", "error_message", "imported_count",
           "updated_count", "unchanged_count", "skipped_count", "failed_count")  # fmt: skip
INJECTED = "injected by the test"


def site_of(point: checkpoints.Point) -> str | None:
    """Which kind of call site a checkpoint is, or None for a point that is not a call."""
    if point.kind == "connect":
        return "lease_connect" if point.name.startswith("user-import lease ") else "connect"
    if point.kind == "statement":
        if point.name == "drop_staging" and point.in_transaction:
            return "after_succeed"  # only finish drops the staging inside a transaction
        return "statement" if point.in_transaction else "autocommit"
    if point.kind in ("copy", "commit"):
        return point.kind
    return None


def call(service: ImportService, step: str, run: RunInfo, job_id: str | None) -> Outcome[Any]:
    if step == "claim":
        return service.claim(run, source_path=SOURCE)
    assert job_id is not None
    method: Callable[[str, RunInfo], Outcome[Any]] = getattr(service, step)
    return method(job_id, run)


class Injector:
    """A checkpoint listener that acts once, at the first ``site`` reached by the step: in
    this thread or a writer thread of the step's, not in the run's heartbeat."""

    def __init__(self, site: str, act: Callable[[], None]) -> None:
        self.site = site
        self.act = act
        self.fired = False

    def __call__(self, point: checkpoints.Point) -> None:
        if self.fired or threading.current_thread().name.startswith("heartbeat-"):
            return
        if site_of(point) == self.site:
            self.fired = True
            self.act()


def steal(importer: Importer) -> Callable[[], None]:
    """Another run takes the job over now (as a claim would after this run's lease ran out)."""

    def act() -> None:
        with psycopg.connect(importer.dsn, autocommit=True) as thief:
            thief.execute("SET lock_timeout = '5s'")
            thief.execute("UPDATE import_jobs SET lease_owner = 'another-run'")

    return act


def raise_error(error: psycopg.Error) -> Callable[[], None]:
    def act() -> None:
        raise error

    return act


def job_row(importer: Importer) -> dict[str, Any] | None:
    rows = importer.query("SELECT * FROM import_jobs")
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def watched(job: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if job is None else {key: job[key] for key in WATCHED}


CASES = [
    pytest.param(step, site, error, id=f"{error}-{step}-{site}")
    for step in STEPS
    for site in SITES[step]
    for error in ("transient", "terminal", "lease_lost")
    if error != "lease_lost" or (step != "claim" and site in LEASE_LOST_SITES)
]


@pytest.mark.parametrize(("step", "site", "error"), CASES)
def test_a_database_failure_ends_in_the_outcome_its_kind_calls_for(
    seeded: Importer, reference: dict[str, Any], step: str, site: str, error: str
) -> None:
    acts = {
        "transient": raise_error(
            psycopg.OperationalError(f"server closed the connection ({INJECTED})")
        ),
        "terminal": raise_error(psycopg.errors.DiskFull(f"could not extend file ({INJECTED})")),
        "lease_lost": steal(seeded),
    }
    injector = Injector(site, acts[error])
    run = RunInfo.first(str(uuid.uuid4()))
    service = seeded.service()
    job_id: str | None = None
    try:
        for current in STEPS:
            if current != step:
                outcome = call(service, current, run, job_id)
                assert isinstance(outcome, Done), (current, outcome)
                job_id = job_id or outcome.value.job_id
                continue
            before = (watched(job_row(seeded)), data(seeded))
            with checkpoints.listening(injector):
                outcome = call(service, current, run, job_id)
            assert injector.fired, f"{site} was never reached in {step}"
            if error == "transient":
                assert isinstance(outcome, Retry), outcome
                assert INJECTED in outcome.message
                assert (watched(job_row(seeded)), data(seeded)) == before
                outcome = call(service, current, replace(run, retry_number=1), job_id)
                assert isinstance(outcome, Done), outcome
                job_id = job_id or outcome.value.job_id
                continue
            if error == "terminal":
                assert isinstance(outcome, Failed), outcome
                assert INJECTED in outcome.message
                job = job_row(seeded)
                if job is not None:  # a claim that failed before it committed left none
                    assert job["status"] == "failed" and INJECTED in job["error_message"]
                    assert job["lease_owner"] is None
                    assert staging_tables(seeded, job["id"]) == []
                assert data(seeded) == before[1]
                return
            assert isinstance(outcome, Stopped), outcome
            job = job_row(seeded)
            assert job is not None and job["lease_owner"] == "another-run"
            assert watched(job) == {**(before[0] or {}), "lease_owner": "another-run"}
            assert data(seeded) == before[1]
            return
    finally:
        service.close()
    assert job_id is not None
    assert job_state(seeded, job_id) == reference
    job = job_row(seeded)
    assert job is not None and job["attempts"] == 1


def test_a_failing_heartbeat_connection_does_not_disturb_the_import(
    seeded: Importer, reference: dict[str, Any]
) -> None:
    """The heartbeat's beats fail for a while (its connection is broken): it connects anew
    at the next beat and the import goes on unharmed."""
    seeded.lease_seconds = 1  # a beat every third of a second
    failures: list[str] = []

    def break_beats(point: checkpoints.Point) -> None:
        if point.kind == "statement" and point.name == "extend_lease" and len(failures) < 3:
            failures.append(point.name)
            raise psycopg.OperationalError(f"server closed the connection ({INJECTED})")

    def slow_merge(point: checkpoints.Point) -> None:
        if point.kind == "statement" and point.name == "plan_merge":
            threading.Event().wait(2)  # long enough for several beats to fail

    with checkpoints.listening(break_beats), checkpoints.listening(slow_merge):
        outcome = seeded.run(SOURCE)

    assert outcome.succeeded, outcome.message
    assert len(failures) == 3
    assert outcome.job is not None
    assert job_state(seeded, outcome.job["id"]) == reference
