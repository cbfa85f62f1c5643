"""The run launcher of dagster.yaml (run_launcher.py) under the real daemon and webserver:
run workers forked from the warm server run the import, and a run is terminated from the
UI's side (the webserver, which did not launch it) as Dagster's own launcher does."""

from __future__ import annotations

import json
import os
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


def test_terminating_a_run_from_the_ui_cancels_it(stack: Stack) -> None:
    stack.write_users("terminated.json", 60_000, seed=52)
    run_id = stack.submit("terminated.json")

    def streaming() -> dict | None:
        job = stack.job_of_run(run_id)
        return job if job and (job["progress_processed"] or 0) > 0 else None

    wait_until(streaming, timeout=120, what="the import to stream", interval=0.1)
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
