"""A run that dies mid-import under the real daemon: its job is taken over (issue 6).

Two ways to die: the run worker is SIGKILLed - its launcher sees it go and the run
fails, so Dagster's run retry resumes the import - or it freezes (SIGSTOP: a stopped VM, a
long pause), so Dagster keeps the run STARTED and only the expired lease says it is dead:
the reaper must report that run failed and take the job over. Either way the job ends as
one uninterrupted import (every user imported once, attempts 2) within the lease plus one
reaper interval plus the start of a run, and the frozen run, woken afterwards, changes
nothing.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from user_import_pipeline.sensors.reaper import import_jobs_reaper
from user_import_pipeline_tests.stack import Stack, dagster_stack, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.faults]

LEASE_SECONDS = 5
USERS = 60_000  # long enough to be killed mid-import
# A run worker takes 3-5 s to start here, more under load.
RUN_START_SECONDS = 20
assert import_jobs_reaper.minimum_interval_seconds is not None
DEADLINE = LEASE_SECONDS + import_jobs_reaper.minimum_interval_seconds + RUN_START_SECONDS


@pytest.fixture(scope="module")
def stack(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with dagster_stack(
        server_url, tmp_path_factory.mktemp("stack"), lease_seconds=LEASE_SECONDS
    ) as running:
        # Into empty tables the first import writes users while it reads and ends within
        # a second or two; one user already there keeps every import on the staged path,
        # which streams long enough to be stopped in the middle.
        with psycopg.connect(running.dsn) as conn:
            conn.execute(
                "INSERT INTO users (id, name, email)"
                " VALUES (gen_random_uuid(), 'Old', 'old@example.com')"
            )
        yield running


def run_worker_pid(stack: Stack, run_id: str) -> int:
    """The process that runs the run's ops (in-process executor), from its event log."""
    pids = {entry.dagster_event.pid for entry in stack.instance.all_logs(run_id)
            if entry.dagster_event is not None and entry.dagster_event.step_key}  # fmt: skip
    assert len(pids) == 1, pids
    return pids.pop()  # type: ignore[return-value]


def stop_mid_import(stack: Stack, source_path: str, how: signal.Signals) -> tuple[str, int, float]:
    """Submit the import and send its run worker ``how`` once it is streaming; returns the
    job id, the worker's pid and when the signal was sent."""
    run_id = stack.submit(source_path)

    def streaming() -> dict | None:
        job = stack.job_of_run(run_id)
        return job if job and (job["progress_processed"] or 0) > 0 else None

    job = wait_until(streaming, timeout=120, what="the import to stream", interval=0.1)
    worker = run_worker_pid(stack, run_id)
    os.kill(worker, how)
    sent_at = time.time()
    assert stack.job_of_run(run_id)["status"] == "running"  # type: ignore[index]
    return str(job["id"]), worker, sent_at


def wait_for_takeover(stack: Stack, job_id: str, killed_at: float) -> tuple[dict, float]:
    """Wait until the job finished; returns it and how long after the kill a second attempt
    claimed it (polled every 0.2 s)."""
    claimed_at: float | None = None

    def finished() -> dict | None:
        nonlocal claimed_at
        [job] = [j for j in stack.import_jobs(*SOURCES) if str(j["id"]) == job_id]
        if claimed_at is None and job["attempts"] >= 2:
            claimed_at = time.time()
        return job if job["finished_at"] else None

    job = wait_until(
        finished, timeout=DEADLINE + 120, what=f"import job {job_id} to finish", interval=0.2
    )
    assert claimed_at is not None, job
    return job, claimed_at - killed_at


SOURCES = ("killed-worker.json", "frozen-worker.json")


@pytest.mark.parametrize(
    ("source_path", "how"),
    [
        pytest.param(SOURCES[0], signal.SIGKILL, id="worker-killed-run-retried"),
        pytest.param(SOURCES[1], signal.SIGSTOP, id="worker-frozen-reaper"),
    ],
)
def test_a_dead_run_is_taken_over_within_lease_and_one_reaper_interval(
    stack: Stack,
    source_path: str,
    how: signal.Signals,
    record_property: Callable[[str, object], None],
) -> None:
    stack.write_users(source_path, USERS, seed=41)
    job_id, worker, stopped_at = stop_mid_import(stack, source_path, how)
    try:
        job, takeover = wait_for_takeover(stack, job_id, stopped_at)
    finally:
        if how == signal.SIGSTOP:
            os.kill(worker, signal.SIGCONT)

    record_property("takeover_seconds", round(takeover, 1))
    print(f"{source_path}: taken over {takeover:.1f} s after the kill (deadline {DEADLINE} s)")
    assert job["status"] == "succeeded", job["error_message"]
    assert job["attempts"] == 2
    assert (job["imported_count"], job["progress_processed"]) == (USERS, USERS)
    assert (job["updated_count"], job["unchanged_count"], job["failed_count"]) == (0, 0, 0)
    assert stack.users_tagged(source_path) == USERS
    assert takeover <= DEADLINE, f"taken over after {takeover:.1f} s"
    if how == signal.SIGSTOP:
        # Woken up, the frozen run finds its lease taken over and stops without a write.
        wait_until(lambda: not Path(f"/proc/{worker}").exists() or _zombie(worker),
                   timeout=60, what="the woken run worker to end")  # fmt: skip
        [after] = [j for j in stack.import_jobs(source_path) if str(j["id"]) == job_id]
        assert after == job
        assert stack.users_tagged(source_path) == USERS


def _zombie(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
