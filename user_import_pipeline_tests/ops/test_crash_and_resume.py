"""Crashes, lost staging, lost leases and retries of ``import_users`` (SPEC §4, §6, §8).

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
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from user_import_pipeline.db.errors import TransientDatabaseError
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.merge.steps import StepRunner
from user_import_pipeline.ops import guard
from user_import_pipeline.ops import merge as merge_ops
from user_import_pipeline_tests import crashing
from user_import_pipeline_tests.importing import Importer, Outcome

SOURCE = "users.json"
SEEDED_AT = datetime(2020, 1, 1, tzinfo=UTC)
CHILD_LEASE_SECONDS = 1


def _address(street: str) -> dict[str, str]:
    return {
        "street": street,
        "city": "Springfield",
        "state": "IL",
        "zip_code": "62701",
        "country": "US",
    }


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


# The database before the import: (id, external_id, name, email, phone, address streets).
SEED = [
    (_uuid(1), "ext-1", "Ann", "ann@example.com", "1", ["a1", "a2"]),
    (_uuid(2), None, "Bob", "bob@example.com", None, ["b1"]),
    (_uuid(3), "ext-3", "Cat", "cat@example.com", "3", ["c1"]),
    (_uuid(4), "ext-4", "Dan", "dan@example.com", None, ["d1"]),
    (_uuid(5), "ext-5", "Eve", "eve@example.com", None, []),
    (_uuid(6), None, "Fay", "fay@example.com", None, ["f1", "f2"]),
    *[(_uuid(100 + n), f"bulk-{n}", f"Bulk {n}", f"bulk{n}@example.com", None, [f"k{n}"])
      for n in range(20)],
]  # fmt: skip

# The file: every kind of outcome of SPEC §3/§4, so a resume that counts or applies
# anything twice, or forgets anything, shows up in the counts, the errors or the data.
USERS: list[Any] = [
    {"id": "ext-1", "name": "Ann B", "email": "ann@example.com",  # row changed: updated
     "phone_number": "1", "addresses": [_address("a1"), _address("a2")]},
    {"name": "Bob", "email": "BOB@example.com",  # email case + addresses changed: updated
     "addresses": [_address("b1"), _address("b2")]},
    {"id": "ext-3", "name": "Cat", "email": "cat@example.com", "phone_number": "3",
     "addresses": [_address("c1")]},  # identical: unchanged
    {"id": "ext-4", "name": "Dan", "email": "dan@example.com"},  # no addresses key: unchanged
    {"id": "ext-6", "name": "Eve 2", "email": "eve@example.com"},  # email_conflict
    {"name": "Bad", "email": "not-an-email"},  # invalid_email
    {"name": "Gus", "email": "gus@example.com",  # new, with addresses
     "addresses": [_address("g1"), _address("g2")]},
    {"id": _uuid(7), "name": "Hank", "email": "hank@example.com"},  # new, id = UUID
    {"id": "ext-9", "name": "Ivy", "email": "ivy@example.com"},  # superseded by the next
    {"id": "ext-9", "name": "Ivy", "email": "ivy@example.com", "addresses": [_address("i1")]},
    {"name": "Fay", "email": "fay@example.com", "addresses": []},  # list emptied: updated
    42,  # not_an_object
    {"name": "Jo", "email": "jo@example.com", "addresses": [{"street": "x"}]},  # invalid_address
    *[{"id": f"bulk-{n}", "name": f"Bulk {n}", "email": f"bulk{n}@example.com",
       "addresses": [_address(f"k{n}" if n % 2 else f"k{n}-moved")]} for n in range(20)],
    *[{"name": f"New {n}", "email": f"new{n}@example.com", "addresses": [_address(f"n{n}")]}
      for n in range(20)],
]  # fmt: skip
CHANGED_USERS = [{**USERS[0], "name": "Ann C"}, *USERS[1:]]  # same size, other bytes


# --- state and reference ---------------------------------------------------------------


def seed(importer: Importer) -> None:
    importer.reset()
    with psycopg.connect(importer.dsn) as conn:
        for user_id, external_id, name, email, phone, streets in SEED:
            conn.execute(
                "INSERT INTO users (id, external_id, name, email, phone_number, created_at,"
                " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (user_id, external_id, name, email, phone, SEEDED_AT, SEEDED_AT),
            )
            for position, street in enumerate(streets):
                a = _address(street)
                conn.execute(
                    "INSERT INTO addresses (user_id, position, street, city, state, zip_code,"
                    " country, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (user_id, position, *a.values(), SEEDED_AT, SEEDED_AT),
                )


def data(importer: Importer) -> dict[str, Any]:
    """Users and addresses, with generated ids and timestamps reduced to what they say."""
    addresses: dict[Any, list[tuple[Any, ...]]] = {}
    for a in importer.query("SELECT * FROM addresses ORDER BY user_id, position"):
        kept = "kept" if a["created_at"] == SEEDED_AT else "written"
        addresses.setdefault(a["user_id"], []).append(
            (a["position"], a["street"], a["city"], a["state"], a["zip_code"], a["country"], kept)
        )
    users = {}
    for u in importer.query("SELECT * FROM users"):
        known = u["created_at"] == SEEDED_AT or str(u["id"]) == u["external_id"]
        users[u["email"].lower()] = {
            "id": str(u["id"]) if known else "generated",
            **{key: u[key] for key in ("external_id", "name", "email", "phone_number")},
            "rewritten": u["updated_at"] != SEEDED_AT,
            "addresses": addresses.get(u["id"], []),
        }
    return users


def job_state(importer: Importer, job_id: str) -> dict[str, Any]:
    """What an import leaves behind, except which attempt and run did it."""
    job = importer.query("SELECT * FROM import_jobs WHERE id = %s", (job_id,))[0]
    fields = ("source_path", "status", "phase", "progress_total", "bytes_total",
              "bytes_processed", "source_sha256", "staged_users", "staged_addresses",
              "error_message", "max_attempts", *jobs.COUNT_FIELDS)  # fmt: skip
    errors = importer.query(
        "SELECT row_index, code, message, superseded, phase FROM import_job_errors"
        " WHERE job_id = %s ORDER BY row_index",
        (job_id,),
    )
    return {
        "job": {key: job[key] for key in fields},
        "finished": job["finished_at"] is not None,
        "lease_owner": job["lease_owner"],
        "errors": errors,
        "staging_tables": staging_tables(importer, job_id),
        "data": data(importer),
    }


def staging_tables(importer: Importer, job_id: str) -> list[str]:
    suffix = str(job_id).replace("-", "")
    rows = importer.query(
        "SELECT tablename FROM pg_tables WHERE tablename IN (%s, %s) ORDER BY 1",
        (f"stg_users_{suffix}", f"stg_addresses_{suffix}"),
    )
    return [row["tablename"] for row in rows]


def the_job(importer: Importer) -> dict[str, Any]:
    rows = importer.query("SELECT * FROM import_jobs")
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture(scope="module")
def reference(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted import of USERS into the SEED state."""
    importer = Importer(dsn=dsn, base_dir=tmp_path_factory.mktemp("reference"))
    seed(importer)
    outcome = importer.run(importer.write(SOURCE, USERS))
    assert outcome.result.success and outcome.job is not None
    state = job_state(importer, outcome.job["id"])
    c = state["job"]
    # The file really exercises every count (and so can catch one counted twice).
    assert (c["imported_count"], c["updated_count"], c["unchanged_count"]) == (23, 13, 12)
    assert (c["skipped_count"], c["failed_count"]) == (5, 4)
    assert state["staging_tables"] == []
    return state


# --- running and crashing ----------------------------------------------------------------


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """A persistent Dagster instance (runs can be re-executed), shared with child runs;
    one per module, since opening one costs seconds."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def seeded(importer: Importer) -> Importer:
    seed(importer)
    importer.write(SOURCE, USERS)
    return importer


@pytest.fixture
def children() -> Iterator[list[crashing.Child]]:
    started: list[crashing.Child] = []
    yield started
    for child in started:
        child.stop()


def start_child(
    importer: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    at: str,
    *,
    action: str = "kill",
    lease_seconds: int = CHILD_LEASE_SECONDS,
) -> crashing.Child:
    child = crashing.start(
        {"source_path": SOURCE},
        dsn=importer.dsn,
        base_dir=importer.base_dir,
        lease_seconds=lease_seconds,
        instance_dir=instance.root_directory,
        at=at,
        action=action,
    )
    children.append(child)
    return child


def crash(
    importer: Importer, instance: dg.DagsterInstance, children: list[crashing.Child], at: str
) -> dict[str, Any]:
    """Run the import in a child that dies at ``at``; returns its job, lease expired."""
    child = start_child(importer, instance, children, at)
    assert child.wait() == -signal.SIGKILL, child.output()
    job = the_job(importer)
    assert job["status"] == "running" and job["attempts"] == 1, job
    wait_for_lease_expiry(importer, job["id"])
    return job


def wait_for_lease_expiry(importer: Importer, job_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while importer.query(
        "SELECT 1 FROM import_jobs WHERE id = %s AND lease_expires_at > now()", (job_id,)
    ):
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.1)


def resume(importer: Importer, job_id: str, instance: dg.DagsterInstance) -> Outcome:
    return importer.run(job_id=str(job_id), instance=instance)


def assert_like_reference(
    importer: Importer, outcome: Outcome, reference: dict[str, Any], attempts: int = 2
) -> None:
    assert outcome.result.success, failure_messages(outcome.result)
    assert outcome.job is not None
    assert job_state(importer, outcome.job["id"]) == reference
    assert outcome.job["attempts"] == attempts


def failure_messages(result: dg.ExecuteInProcessResult | dg.ExecutionResult) -> list[str]:
    return [
        f"{event.step_key}: {event.step_failure_data.error.message}"  # type: ignore[union-attr]
        for event in result.all_events
        if event.is_step_failure
    ]


def staged(importer: Importer, job_id: str) -> dict[str, int]:
    """Rows in the job's staging tables: {"users": n, "addresses": n}."""
    counts = {}
    for table in staging_tables(importer, job_id):
        query = sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))
        counts[table.split("_")[1]] = importer.query(query)[0]["n"]
    return counts


def lose_staging(importer: Importer, job_id: str, kinds: list[str]) -> None:
    """What crash recovery does to the job's UNLOGGED staging tables."""
    suffix = str(job_id).replace("-", "")
    tables = [sql.Identifier(f"stg_{kind}_{suffix}") for kind in kinds]
    with psycopg.connect(importer.dsn) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(tables)))


# --- a crash after each phase, and inside the merge transactions --------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("at", "phase_left"),
    [
        pytest.param("users_staged", "users_staged", id="after-users_staged"),
        pytest.param("addresses_staged", "addresses_staged", id="after-addresses_staged"),
        pytest.param("users_merged", "users_merged", id="after-users_merged"),
        pytest.param("addresses_replaced", "addresses_replaced", id="after-addresses_replaced"),
        pytest.param("step:insert_new_users", "addresses_staged", id="inside-user-merge"),
        pytest.param("step:insert_changed_addresses", "users_merged", id="inside-replace"),
    ],
)
def test_killed_run_is_resumed_from_its_phase_exactly_once(
    seeded, instance, children, reference, at, phase_left
):
    before = data(seeded)
    job = crash(seeded, instance, children, at)

    assert job["phase"] == phase_left
    after_crash = data(seeded)
    if phase_left in ("users_staged", "addresses_staged"):
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
def test_second_run_is_refused_while_the_lease_is_live(seeded, instance, children, reference):
    holder = start_child(
        seeded, instance, children, "users_merged", action="hold", lease_seconds=60
    )
    holder.wait_reached()
    job = the_job(seeded)
    watched = ("status", "phase", "attempts", "lease_owner", "dagster_run_id", "error_message",
               *jobs.COUNT_FIELDS)  # fmt: skip
    data_before = data(seeded)

    refused = resume(seeded, job["id"], instance)

    assert not refused.result.success
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


def test_claim_skips_a_job_row_another_claim_has_locked(importer, instance):
    with psycopg.connect(importer.dsn) as conn:
        job_id = conn.execute(
            "INSERT INTO import_jobs (source_path) VALUES (%s) RETURNING id", (SOURCE,)
        ).fetchone()[0]
    importer.write(SOURCE, USERS)
    with psycopg.connect(importer.dsn) as locker:
        # A claim that waited for the lock instead of skipping would wait for this test
        # forever; the server ends the lock holder after a while instead.
        locker.execute("SET idle_in_transaction_session_timeout = '10s'")
        locker.execute("SELECT 1 FROM import_jobs WHERE id = %s FOR UPDATE", (job_id,))
        refused = resume(importer, job_id, instance)
    assert not refused.result.success
    assert any("another run holds it" in m for m in failure_messages(refused.result))
    job = the_job(importer)
    assert (job["status"], job["attempts"], job["lease_owner"]) == ("queued", 0, None)
    assert data(importer) == {}


@pytest.mark.slow
def test_job_out_of_attempts_is_refused_and_failed(seeded, instance, children):
    job = crash(seeded, instance, children, "users_merged")
    with psycopg.connect(seeded.dsn) as conn:
        conn.execute("UPDATE import_jobs SET max_attempts = attempts WHERE id = %s", (job["id"],))
    data_after_crash = data(seeded)

    refused = resume(seeded, job["id"], instance)

    assert not refused.result.success
    message = f"import job {job['id']} has used all 1 attempts"
    assert any(message in m for m in failure_messages(refused.result))
    now = the_job(seeded)
    assert now["attempts"] == 1 and now["phase"] == "users_merged"
    # SPEC §6: retried until max_attempts, then failed - not left running forever.
    assert (now["status"], now["error_message"], now["lease_owner"]) == ("failed", message, None)
    assert staging_tables(seeded, job["id"]) == []
    assert data(seeded) == data_after_crash

    # A job that failed on its last attempt keeps its own error message.
    again = resume(seeded, job["id"], instance)
    assert not again.result.success
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
def test_lost_staging_is_restaged_from_the_file(seeded, instance, children, reference, at, lost):
    job = crash(seeded, instance, children, at)
    lose_staging(seeded, job["id"], lost)

    outcome = resume(seeded, job["id"], instance)

    assert_like_reference(seeded, outcome, reference)
    restaged = [
        event
        for event in outcome.result.all_events
        if event.is_successful_output
        and event.step_key == "stage_users"
        and "rows_processed" in event.event_specific_data.metadata  # type: ignore[union-attr]
    ]
    assert restaged, "the users must have been staged again from the file"


# --- the file changed between the crash and the resume ---------------------------------------


@pytest.mark.slow
def test_changed_file_is_not_restaged_after_staging_was_lost(seeded, instance, children):
    job = crash(seeded, instance, children, "users_merged")
    seeded.write(SOURCE, CHANGED_USERS)
    lose_staging(seeded, job["id"], ["users", "addresses"])
    data_after_crash = data(seeded)
    counts_after_crash = {key: job[key] for key in jobs.COUNT_FIELDS}

    outcome = resume(seeded, job["id"], instance)

    assert not outcome.result.success
    assert any("the file changed since it was first staged" in m
               for m in failure_messages(outcome.result))  # fmt: skip
    now = the_job(seeded)
    assert now["status"] == "failed" and now["phase"] == "users_merged"
    assert f"{SOURCE}: the file changed since it was first staged" in now["error_message"]
    assert {key: now[key] for key in jobs.COUNT_FIELDS} == counts_after_crash
    assert data(seeded) == data_after_crash, "nothing more may be merged"
    assert staging_tables(seeded, job["id"]) == []


@pytest.mark.slow
def test_changed_file_does_not_matter_while_staging_survives(seeded, instance, children, reference):
    """The import goes on with the bytes it staged before the crash: finishing them keeps
    the import whole (its users are merged already), and they are what it was started on."""
    job = crash(seeded, instance, children, "users_merged")
    seeded.write(SOURCE, CHANGED_USERS)

    outcome = resume(seeded, job["id"], instance)

    assert_like_reference(seeded, outcome, reference)


# --- transient database errors: the op is retried, nothing counted twice ----------------------


def test_worker_connection_killed_inside_the_merge_is_retried(
    seeded, instance, reference, monkeypatch
):
    original = StepRunner.run
    terminated: list[int] = []

    def run(self: StepRunner, name: str, params: Any = None) -> Any:
        if name == "insert_new_users" and not terminated:
            pid = self._conn.info.backend_pid
            with psycopg.connect(seeded.dsn, autocommit=True) as admin:
                assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()
            terminated.append(pid)
        return original(self, name, params)

    monkeypatch.setattr(StepRunner, "run", run)
    outcome = seeded.run(SOURCE, instance=instance)

    assert terminated
    retried = [e for e in outcome.result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert [e.step_key for e in retried] == ["merge_users"]
    assert_like_reference(seeded, outcome, reference, attempts=1)


def test_transient_error_after_the_merge_committed_does_not_count_twice(
    seeded, instance, reference, monkeypatch
):
    original = merge_ops.merge_user_rows
    raised: list[bool] = []

    def merge_then_lose_connection(*args: Any, **kwargs: Any) -> Any:
        merged = original(*args, **kwargs)
        if not raised:
            raised.append(True)
            raise TransientDatabaseError("OperationalError: server closed the connection")
        return merged

    monkeypatch.setattr(merge_ops, "merge_user_rows", merge_then_lose_connection)
    outcome = seeded.run(SOURCE, instance=instance)

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
    seeded, instance, reference, job_env, monkeypatch, from_failure
):
    """Replace_addresses meets a database outage longer than its retries: the job fails
    (users merged, addresses not). Re-executing the run - from the failure, which skips
    claim_import, or all of it - claims the same job again under the new run (attempt 2)
    and finishes it exactly like an uninterrupted import."""

    def database_away(*args: Any, **kwargs: Any) -> Any:
        raise TransientDatabaseError("OperationalError: connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(guard, "TRANSIENT_RETRIES", 1)
        patch.setattr(merge_ops, "replace_address_lists", database_away)
        config = {"ops": {"claim_import": {"config": {"source_path": SOURCE}}}}
        first = execute(instance, run_config=config)

    assert not first.success
    job = the_job(seeded)
    assert (job["status"], job["phase"]) == ("failed", "users_merged")
    assert job["error_message"].startswith("database unavailable after 1 retries")

    options = (
        dg.ReexecutionOptions.from_failure(first.run_id, instance)
        if from_failure
        else dg.ReexecutionOptions(first.run_id)
    )
    again = execute(instance, reexecution_options=options)
    assert again.success, failure_messages(again)
    assert instance.get_run_by_id(again.run_id).root_run_id == first.run_id
    finished = the_job(seeded)
    assert finished["id"] == job["id"]
    assert finished["dagster_run_id"] == again.run_id
    assert finished["attempts"] == 2
    assert job_state(seeded, job["id"]) == reference


@pytest.mark.slow
def test_reexecution_from_failure_of_a_killed_run_finishes_the_import(
    seeded, instance, children, reference, job_env
):
    """What Dagster's run retries do after a run worker died (its run marked failed)."""
    job = crash(seeded, instance, children, "users_merged")
    killed = instance.get_run_by_id(job["dagster_run_id"])
    instance.report_run_failed(killed)

    retry = execute(
        instance, reexecution_options=dg.ReexecutionOptions.from_failure(killed.run_id, instance)
    )

    assert retry.success, failure_messages(retry)
    assert job_state(seeded, job["id"]) == reference


# --- a run that lost its lease can never commit ---------------------------------------------


@pytest.mark.slow
def test_run_that_lost_its_lease_cannot_commit(seeded, instance, children, reference):
    """A run frozen past its lease (a long GC pause, a stopped VM) is taken over; when it
    wakes up it must stop without writing anything."""
    zombie = start_child(seeded, instance, children, "users_staged", action="hold")
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
