"""The run launcher of dagster.yaml (run_launcher.py) under the real daemon and webserver:
run workers forked from the warm server run the import, a worker that dies has its run
failed at once (not when its lease runs out), and a run is terminated from the UI's side
(the webserver, which did not launch it) as Dagster's own launcher does."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

from user_import_pipeline.run_launcher import WORKER_TAG
from user_import_pipeline_tests.stack import Stack, dagster_stack, wait_until

pytestmark = pytest.mark.slow

TERMINATE = """
  mutation($runId: String!) {
    terminateRun(runId: $runId) {
      __typename
      ... on TerminateRunFailure { message }
      ... on PythonError { message }
    }
  }"""


@pytest.fixture(scope="module")
def stack(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with dagster_stack(server_url, tmp_path_factory.mktemp("stack")) as running:
        # One user already there keeps imports on the staged path, which streams long
        # enough to be terminated in the middle (a first import ends in a second or two).
        with psycopg.connect(running.dsn) as conn:
            conn.execute(
                "INSERT INTO users (id, name, email)"
                " VALUES (gen_random_uuid(), 'Old', 'old@example.com')"
            )
        yield running


def step_pids(stack: Stack, run_id: str) -> set[int | None]:
    """The pids of the processes that ran the run's ops, from its event log."""
    return {entry.dagster_event.pid for entry in stack.instance.all_logs(run_id)
            if entry.dagster_event is not None and entry.dagster_event.step_key}  # fmt: skip


def test_the_run_runs_in_the_worker_the_launcher_forked(stack: Stack) -> None:
    stack.write_users("forked.json", 50, seed=51)
    run_id = stack.submit("forked.json")
    [run] = stack.wait_for_runs([run_id], timeout=120)
    assert run.status == dg.DagsterRunStatus.SUCCESS, stack.failure_messages(run_id)
    job = stack.job_of_run(run_id)
    assert job is not None and job["imported_count"] == 50, job
    worker = json.loads(run.tags[WORKER_TAG])
    assert step_pids(stack, run_id) == {worker["pid"]}


def submit_and_wait_for_streaming(stack: Stack, source_path: str, seed: int) -> str:
    stack.write_users(source_path, 60_000, seed=seed)
    run_id = stack.submit(source_path)

    def streaming() -> dict | None:
        job = stack.job_of_run(run_id)
        return job if job and (job["progress_processed"] or 0) > 0 else None

    wait_until(streaming, timeout=120, what="the import to stream", interval=0.1)
    return run_id


def test_a_killed_worker_has_its_run_failed_at_once(stack: Stack) -> None:
    """Its lease (60 s) is still live, so the reaper cannot be what fails the run: the
    launcher sees its worker exit, as the code server does for the workers it spawns."""
    run_id = submit_and_wait_for_streaming(stack, "killed.json", seed=53)
    pid = json.loads(stack.run(run_id).tags[WORKER_TAG])["pid"]
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(
        lambda: stack.run(run_id).status == dg.DagsterRunStatus.FAILURE,
        timeout=15,
        what=f"run {run_id} to be reported failed",
        interval=0.1,
    )
    assert time.monotonic() - killed_at < 15
    messages = [entry.dagster_event.message or "" for entry in stack.instance.all_logs(run_id)
                if entry.dagster_event is not None]  # fmt: skip
    assert any("was terminated by signal 9" in message for message in messages), messages[-3:]
    # Dagster's run retry then resumes the import (e2e/test_takeover.py checks the rest).
    wait_until(
        lambda: stack.import_jobs("killed.json")[-1]["status"] == "succeeded",
        timeout=180,
        what="the retried run to finish the import",
    )


def test_terminating_a_run_from_the_ui_cancels_it(stack: Stack) -> None:
    run_id = submit_and_wait_for_streaming(stack, "terminated.json", seed=52)
    answer = stack.graphql(TERMINATE, {"runId": run_id})["terminateRun"]
    assert answer["__typename"] == "TerminateRunSuccess", answer
    [run] = stack.wait_for_runs([run_id], timeout=60)
    assert run.status == dg.DagsterRunStatus.CANCELED, stack.failure_messages(run_id)
    job = stack.job_of_run(run_id)
    assert job is not None and job["status"] != "succeeded", job
    pid = json.loads(run.tags[WORKER_TAG])["pid"]

    def worker_gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(worker_gone, timeout=30, what=f"run worker {pid} to exit")
