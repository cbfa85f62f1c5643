"""The file, starting state and reference of the crash-and-resume tests, and how they crash
a run and resume it (fixtures in ``conftest.py``). See ``test_crash_and_resume.py``."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql

from user_import_pipeline.lifecycle import jobs
from user_import_pipeline_tests import crashing
from user_import_pipeline_tests.importing import DagsterOutcome, Importer
from user_import_pipeline_tests.merge.support import address

SOURCE = "users.json"
SEEDED_AT = datetime(2020, 1, 1, tzinfo=UTC)
# Far longer than any test waits: a crashed child's job is taken over because its heartbeat
# connection is gone, not because its lease ran out.
CHILD_LEASE_SECONDS = 60


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

# The file: every kind of outcome of CONTRACT §3/§4, so a resume that counts or applies
# anything twice, or forgets anything, shows up in the counts, the errors or the data.
USERS: list[Any] = [
    {"id": "ext-1", "name": "Ann B", "email": "ann@example.com",  # row changed: updated
     "phone_number": "1", "addresses": [address("a1"), address("a2")]},
    {"name": "Bob", "email": "BOB@example.com",  # email case + addresses changed: updated
     "addresses": [address("b1"), address("b2")]},
    {"id": "ext-3", "name": "Cat", "email": "cat@example.com", "phone_number": "3",
     "addresses": [address("c1")]},  # identical: unchanged
    {"id": "ext-4", "name": "Dan", "email": "dan@example.com"},  # no addresses key: unchanged
    {"id": "ext-6", "name": "Eve 2", "email": "eve@example.com"},  # email_conflict
    {"name": "Bad", "email": "not-an-email"},  # invalid_email
    {"name": "Gus", "email": "gus@example.com",  # new, with addresses
     "addresses": [address("g1"), address("g2")]},
    {"id": _uuid(7), "name": "Hank", "email": "hank@example.com"},  # new, id = UUID
    {"id": "ext-9", "name": "Ivy", "email": "ivy@example.com"},  # superseded by the next
    {"id": "ext-9", "name": "Ivy", "email": "ivy@example.com", "addresses": [address("i1")]},
    {"name": "Fay", "email": "fay@example.com", "addresses": []},  # list emptied: updated
    42,  # not_an_object
    {"name": "Jo", "email": "jo@example.com", "addresses": [{"street": "x"}]},  # invalid_address
    *[{"id": f"bulk-{n}", "name": f"Bulk {n}", "email": f"bulk{n}@example.com",
       "addresses": [address(f"k{n}" if n % 2 else f"k{n}-moved")]} for n in range(20)],
    *[{"name": f"New {n}", "email": f"new{n}@example.com", "addresses": [address(f"n{n}")]}
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
                a = address(street)
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


def start_child(
    importer: Importer,
    instance: dg.DagsterInstance | None,
    children: list[crashing.Child],
    at: str,
    *,
    action: str = "kill",
    lease_seconds: int = CHILD_LEASE_SECONDS,
) -> crashing.Child:
    """A child import of SOURCE with a hook at ``at``: a Dagster run on ``instance``, or
    ``user-import run`` when it is None."""
    child = crashing.start(
        {"source_path": SOURCE},
        dsn=importer.dsn,
        base_dir=importer.base_dir,
        lease_seconds=lease_seconds,
        instance_dir=None if instance is None else instance.root_directory,
        at=at,
        action=action,
        # Small chunks, so that the file (57 rows) reports progress while streaming.
        env={"IMPORT_CHUNK_SIZE": "10"},
    )
    children.append(child)
    return child


def crash(
    importer: Importer, instance: dg.DagsterInstance, children: list[crashing.Child], at: str
) -> dict[str, Any]:
    """Run the import in a child that dies at ``at``; returns its job, its lease still live."""
    child = start_child(importer, instance, children, at)
    assert child.wait() == -signal.SIGKILL, child.output()
    job = the_job(importer)
    assert job["status"] == "running" and job["attempts"] == 1, job
    assert importer.query(
        "SELECT 1 FROM import_jobs WHERE id = %s AND lease_expires_at > now()", (job["id"],)
    ), "the lease must still be live: the resume may not wait for it"
    return job


def wait_for_lease_expiry(importer: Importer, job_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while importer.query(
        "SELECT 1 FROM import_jobs WHERE id = %s AND lease_expires_at > now()", (job_id,)
    ):
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.1)


def resume(importer: Importer, job_id: str, instance: dg.DagsterInstance) -> DagsterOutcome:
    return importer.run_dagster(SOURCE, job_id=str(job_id), instance=instance)


def assert_like_reference(
    importer: Importer,
    outcome: DagsterOutcome,
    reference: dict[str, Any],
    attempts: int = 2,
) -> None:
    assert outcome.succeeded, failure_messages(outcome.result)
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
