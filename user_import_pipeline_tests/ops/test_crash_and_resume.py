"""Crashes, lost staging, lost leases and retries of ``import_users`` (CONTRACT §4, §6.5, §8).

Faults are real: a crash is a child run that SIGKILLs itself right after a phase committed
(or in the middle of a merge transaction, see ``user_import_pipeline_tests.crashing``); lost
staging is what PostgreSQL crash recovery does to UNLOGGED tables (TRUNCATE); a transient
database error is the worker's backend terminated by ``pg_terminate_backend``.

Every resumed import must end exactly like the reference: an uninterrupted import of the
same file into the same starting state - same counts, same row errors, same users and
addresses, and nothing rewritten that the reference did not rewrite.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import dagster as dg
import psycopg
import pytest

from user_import_pipeline import checkpoints
from user_import_pipeline.db.errors import TransientDatabaseError
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline_tests import crashing
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import (
    CHANGED_USERS,
    SOURCE,
    USERS,
    assert_like_reference,
    crash,
    data,
    failure_messages,
    job_state,
    lose_staging,
    resume,
    staged,
    staging_tables,
    start_child,
    the_job,
    wait_for_lease_expiry,
)

pytestmark = pytest.mark.faults

# --- a crash after each phase, and inside the merge transactions --------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("at", "phase_left"),
    [
        pytest.param("streaming", "pending", id="while-streaming-users"),
        pytest.param("users_staged", "users_staged", id="after-users_staged"),
        pytest.param("addresses_staged", "addresses_staged", id="after-addresses_staged"),
        pytest.param("users_merged", "users_merged", id="after-users_merged"),
        pytest.param("addresses_replaced", "addresses_replaced", id="after-addresses_replaced"),
        pytest.param("step:insert_new_users", "addresses_staged", id="inside-user-merge"),
        pytest.param("step:insert_changed_addresses", "users_merged", id="inside-replace"),
    ],
)
def test_killed_run_is_resumed_from_its_phase_exactly_once(
    seeded: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    reference: dict[str, Any],
    at: str,
    phase_left: str,
) -> None:
    before = data(seeded)
    job = crash(seeded, instance, children, at)

    assert job["phase"] == phase_left
    after_crash = data(seeded)
    if phase_left in ("pending", "users_staged", "addresses_staged"):
        assert after_crash == before, "nothing may be merged before the merge committed"
    if phase_left == "users_merged":
        # Users merged, addresses not yet replaced: the most delicate point to resume from.
        assert after_crash["ann@example.com"]["name"] == "Ann B"
        assert after_crash["gus@example.com"]["addresses"] == []
        assert after_crash["fay@example.com"]["addresses"] == before["fay@example.com"]["addresses"]
    if phase_left == "addresses_replaced":
        assert after_crash == reference["data"]

    outcome = resume(seeded, job["id"], instance)
    assert_like_reference(seeded, outcome, reference)


# --- a second run while the lease is live; a job out of attempts ----------------------------


@pytest.mark.slow
def test_second_run_is_refused_while_the_lease_is_live(
    seeded: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    reference: dict[str, Any],
) -> None:
    holder = start_child(
        seeded, instance, children, "users_merged", action="hold", lease_seconds=60
    )
    holder.wait_reached()
    job = the_job(seeded)
    watched = ("status", "phase", "attempts", "lease_owner", "dagster_run_id", "error_message",
               *jobs.COUNT_FIELDS)  # fmt: skip
    data_before = data(seeded)

    refused = resume(seeded, job["id"], instance)

    assert not refused.succeeded
    assert any(
        f"is being worked on by run {job['lease_owner']}" in message
        for message in failure_messages(refused.result)
    ), failure_messages(refused.result)
    assert refused.job is None, "the refused run must not have taken the job"
    now = the_job(seeded)
    assert {key: now[key] for key in watched} == {key: job[key] for key in watched}
    assert data(seeded) == data_before
    assert staged(seeded, job["id"]) == {
        "users": job["staged_users"],
        "addresses": job["staged_addresses"],
    }

    holder.release()
    assert holder.wait() == 0, holder.output()
    assert job_state(seeded, job["id"]) == reference
    assert the_job(seeded)["attempts"] == 1


def test_claim_skips_a_job_row_another_claim_has_locked(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    with psycopg.connect(importer.dsn) as conn:
        row = conn.execute(
            "INSERT INTO import_jobs (source_path) VALUES (%s) RETURNING id", (SOURCE,)
        ).fetchone()
    assert row is not None
    job_id = row[0]
    importer.write(SOURCE, USERS)
    with psycopg.connect(importer.dsn) as locker:
        # A claim that waited for the lock instead of skipping would wait for this test
        # forever; the server ends the lock holder after a while instead.
        locker.execute("SET idle_in_transaction_session_timeout = '10s'")
        locker.execute("SELECT 1 FROM import_jobs WHERE id = %s FOR UPDATE", (job_id,))
        refused = resume(importer, job_id, instance)
    assert not refused.succeeded
    assert any("another run holds it" in m for m in failure_messages(refused.result))
    job = the_job(importer)
    assert (job["status"], job["attempts"], job["lease_owner"]) == ("queued", 0, None)
    assert data(importer) == {}


@pytest.mark.slow
def test_job_out_of_attempts_is_refused_and_failed(
    seeded: Importer, instance: dg.DagsterInstance, children: list[crashing.Child]
) -> None:
    job = crash(seeded, instance, children, "users_merged")
    with psycopg.connect(seeded.dsn) as conn:
        conn.execute("UPDATE import_jobs SET max_attempts = attempts WHERE id = %s", (job["id"],))
    data_after_crash = data(seeded)

    refused = resume(seeded, job["id"], instance)

    assert not refused.succeeded
    message = f"import job {job['id']} has used all 1 attempts"
    assert any(message in m for m in failure_messages(refused.result))
    now = the_job(seeded)
    assert now["attempts"] == 1 and now["phase"] == "users_merged"
    # CONTRACT §6.5: retried until max_attempts, then failed - not left running forever.
    assert (now["status"], now["error_message"], now["lease_owner"]) == ("failed", message, None)
    assert staging_tables(seeded, job["id"]) == []
    assert data(seeded) == data_after_crash

    # A job that failed on its last attempt keeps its own error message.
    again = resume(seeded, job["id"], instance)
    assert not again.succeeded
    assert the_job(seeded)["error_message"] == message


# --- staging lost in a PostgreSQL crash ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("at", "lost"),
    [
        pytest.param("addresses_staged", ["users"], id="users-lost-after-addresses_staged"),
        pytest.param("users_merged", ["users", "addresses"], id="all-lost-after-users_merged"),
    ],
)
def test_lost_staging_is_restaged_from_the_file(
    seeded: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    reference: dict[str, Any],
    at: str,
    lost: list[str],
) -> None:
    job = crash(seeded, instance, children, at)
    lose_staging(seeded, job["id"], lost)

    outcome = resume(seeded, job["id"], instance)

    assert_like_reference(seeded, outcome, reference)
    staged_users = [
        event.event_specific_data.metadata  # type: ignore[union-attr]
        for event in outcome.result.all_events
        if event.is_successful_output and event.step_key == "stage_users"
    ]
    assert [m["already_done"].value for m in staged_users] == [False], (
        "the users must have been staged again from the file"
    )


# --- the file changed between the crash and the resume ---------------------------------------


@pytest.mark.slow
def test_changed_file_is_not_restaged_after_staging_was_lost(
    seeded: Importer, instance: dg.DagsterInstance, children: list[crashing.Child]
) -> None:
    job = crash(seeded, instance, children, "users_merged")
    seeded.write(SOURCE, CHANGED_USERS)
    lose_staging(seeded, job["id"], ["users", "addresses"])
    data_after_crash = data(seeded)
    counts_after_crash = {key: job[key] for key in jobs.COUNT_FIELDS}

    outcome = resume(seeded, job["id"], instance)

    assert not outcome.succeeded
    assert any("the file changed since it was first staged" in m
               for m in failure_messages(outcome.result))  # fmt: skip
    now = the_job(seeded)
    assert now["status"] == "failed" and now["phase"] == "users_merged"
    assert f"{SOURCE}: the file changed since it was first staged" in now["error_message"]
    assert {key: now[key] for key in jobs.COUNT_FIELDS} == counts_after_crash
    assert data(seeded) == data_after_crash, "nothing more may be merged"
    assert staging_tables(seeded, job["id"]) == []


@pytest.mark.slow
def test_changed_file_does_not_matter_while_staging_survives(
    seeded: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    reference: dict[str, Any],
) -> None:
    """The import goes on with the bytes it staged before the crash: finishing them keeps
    the import whole (its users are merged already), and they are what it was started on."""
    job = crash(seeded, instance, children, "users_merged")
    seeded.write(SOURCE, CHANGED_USERS)

    outcome = resume(seeded, job["id"], instance)

    assert_like_reference(seeded, outcome, reference)


# --- transient database errors: the op is retried, nothing counted twice ----------------------


def terminate_worker_backends(dsn: str) -> int:
    """pg_terminate_backend on every worker connection of an import (not the heartbeat's)."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE 'user-import %'"
            " AND application_name NOT LIKE 'user-import lease %'"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    ("op", "point"),
    [
        pytest.param("stage_users", "streaming", id="stage_users-mid-copy"),
        pytest.param("merge_users", "step:insert_new_users", id="merge_users-mid-transaction"),
        pytest.param(
            "replace_addresses",
            "step:insert_changed_addresses",
            id="replace_addresses-mid-transaction",
        ),
    ],
)
def test_worker_connection_killed_mid_statement_is_retried(
    seeded: Importer,
    instance: dg.DagsterInstance,
    reference: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    op: str,
    point: str,
) -> None:
    """The worker's backend is terminated between two statements of the op's transaction
    (for staging: between two COPY chunks), so the next one meets a dead connection: a
    transient error."""
    terminated: list[int] = []

    def terminate_once() -> None:
        if not terminated:
            terminated.append(terminate_worker_backends(seeded.dsn))

    seeded.chunk_size = 10
    with checkpoints.listening(crashing.hook(point, terminate_once)):
        outcome = seeded.run_dagster(SOURCE, instance=instance)

    assert terminated == [1], terminated
    retried = [e for e in outcome.result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert [e.step_key for e in retried] == [op]
    assert_like_reference(seeded, outcome, reference, attempts=1)


def test_transient_error_after_the_merge_committed_does_not_count_twice(
    seeded: Importer, instance: dg.DagsterInstance, reference: dict[str, Any]
) -> None:
    raised: list[bool] = []

    def lose_connection() -> None:
        if not raised:
            raised.append(True)
            raise TransientDatabaseError("OperationalError: server closed the connection")

    with checkpoints.listening(crashing.hook("users_merged", lose_connection)):
        outcome = seeded.run_dagster(SOURCE, instance=instance)

    assert raised
    merge_outputs = [
        e.event_specific_data.metadata  # type: ignore[union-attr]
        for e in outcome.result.all_events
        if e.is_successful_output and e.step_key == "merge_users"
    ]
    assert [m["already_done"].value for m in merge_outputs] == [True]
    assert_like_reference(seeded, outcome, reference, attempts=1)


# --- Dagster re-execution ------------------------------------------------------------------


@pytest.fixture
def job_env(seeded: Importer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the code location's resources read (as in a deployed run)."""
    monkeypatch.setenv("DATABASE_URL", seeded.dsn)
    monkeypatch.setenv("IMPORT_BASE_DIR", str(seeded.base_dir))
    monkeypatch.setenv("IMPORT_JOB_LEASE_SECONDS", "60")


def execute(instance: dg.DagsterInstance, **kwargs: Any) -> dg.ExecutionResult:
    return dg.execute_job(dg.reconstructable(crashing.import_job), instance, **kwargs)


@pytest.mark.parametrize("from_failure", [True, False], ids=["from-failure", "all-steps"])
def test_reexecution_resumes_the_job_of_its_root_run(
    seeded: Importer,
    instance: dg.DagsterInstance,
    reference: dict[str, Any],
    job_env: None,
    from_failure: bool,
) -> None:
    """Replace_addresses meets a database outage longer than its retries: the job fails
    (users merged, addresses not). Re-executing the run - from the failure, which skips
    claim_import, or all of it - claims the same job again under the new run (attempt 2)
    and finishes it exactly like an uninterrupted import."""

    def database_away() -> None:
        raise TransientDatabaseError("OperationalError: connection refused")

    with checkpoints.listening(crashing.hook("step:delete_changed_addresses", database_away)):
        config = {"ops": {"claim_import": {"config": {"source_path": SOURCE}}}}
        first = execute(instance, run_config=config)

    assert not first.success
    job = the_job(seeded)
    assert (job["status"], job["phase"]) == ("failed", "users_merged")
    assert job["error_message"].startswith("database unavailable after 3 retries")

    options = (
        dg.ReexecutionOptions.from_failure(first.run_id, instance)
        if from_failure
        else dg.ReexecutionOptions(first.run_id)
    )
    again = execute(instance, reexecution_options=options)
    assert again.success, failure_messages(again)
    rerun = instance.get_run_by_id(again.run_id)
    assert rerun is not None and rerun.root_run_id == first.run_id
    finished = the_job(seeded)
    assert finished["id"] == job["id"]
    assert finished["dagster_run_id"] == again.run_id
    assert finished["attempts"] == 2
    assert job_state(seeded, job["id"]) == reference


@pytest.mark.slow
def test_reexecution_from_failure_of_a_killed_run_finishes_the_import(
    seeded: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    reference: dict[str, Any],
    job_env: None,
) -> None:
    """What Dagster's run retries do after a run worker died (its run marked failed)."""
    job = crash(seeded, instance, children, "users_merged")
    killed = instance.get_run_by_id(job["dagster_run_id"])
    assert killed is not None
    instance.report_run_failed(killed)

    retry = execute(
        instance, reexecution_options=dg.ReexecutionOptions.from_failure(killed.run_id, instance)
    )

    assert retry.success, failure_messages(retry)
    assert job_state(seeded, job["id"]) == reference


# --- a run that lost its lease can never commit ---------------------------------------------


@pytest.mark.slow
def test_run_that_lost_its_lease_cannot_commit(
    seeded: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    reference: dict[str, Any],
) -> None:
    """A run frozen past its lease (a long GC pause, a stopped VM) is taken over; when it
    wakes up it must stop without writing anything."""
    zombie = start_child(seeded, instance, children, "users_staged", action="hold", lease_seconds=1)
    zombie.wait_reached()
    os.kill(zombie.process.pid, signal.SIGSTOP)
    try:
        job = the_job(seeded)
        wait_for_lease_expiry(seeded, job["id"])
        takeover = resume(seeded, job["id"], instance)
        assert_like_reference(seeded, takeover, reference)
        finished = the_job(seeded)
    finally:
        os.kill(zombie.process.pid, signal.SIGCONT)
    zombie.release()

    assert zombie.wait() == 1, zombie.output()
    log = zombie.log()
    assert "no longer held by this run" in log or "was taken over by another run" in log, log
    assert the_job(seeded) == finished
    assert job_state(seeded, job["id"]) == reference
