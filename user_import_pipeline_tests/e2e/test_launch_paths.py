"""Every launch path of CONTRACT §6.2 against a real webserver and daemon, and the run queue.

Each test drives the deployment as a user does (GraphQL, a file dropped in ``incoming/``,
the ``dagster`` and ``user-import`` commands) and checks both sides: the Dagster run and
the ``import_jobs`` row it worked on. Files written by ``Stack.write_users`` hold users
that no other file of the module has, so every one of them counts as ``imported``.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from user_import_pipeline import launch
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.locks import AdvisoryLock
from user_import_pipeline.db.sqlfiles import statement
from user_import_pipeline_tests.stack import (
    BIN,
    REPO,
    Stack,
    dagster_stack,
    free_port,
    users_json,
    wait_until,
)

pytestmark = pytest.mark.slow

SENSOR = "incoming_files_sensor"
REAPER = "import_jobs_reaper"
SUCCESS = dg.DagsterRunStatus.SUCCESS
# A run worker takes 3-5 s to start on this 2-CPU machine, much longer when ten start
# together; that alone keeps a run in the queue's slot for seconds, so small files do.
BURST_USERS = 500


def assert_imported(stack: Stack, run_id: str, users: int) -> dict[str, Any]:
    """The run succeeded and its import_jobs row says every user was imported."""
    run = stack.run(run_id)
    assert run.status == SUCCESS, stack.failure_messages(run_id)
    job = stack.job_of_run(run_id)
    assert job is not None, f"run {run_id} has no import_jobs row"
    assert job["status"] == "succeeded", job["error_message"]
    assert job["progress_processed"] == users
    assert job["imported_count"] == users
    assert (job["updated_count"], job["unchanged_count"]) == (0, 0)
    assert (job["skipped_count"], job["failed_count"]) == (0, 0)
    return job


def submit_all(stack: Stack, source_paths: list[str]) -> list[str]:
    """Submit one import per file through GraphQL, all at once (one thread each)."""
    with ThreadPoolExecutor(max_workers=len(source_paths)) as pool:
        return list(pool.map(stack.submit, source_paths))


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment (an interval ending frees its slot first)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    open_now = most = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    return most


def test_graphql_submission_imports_the_file(stack: Stack) -> None:
    stack.write_users("u.json", 300, seed=1)
    run_id = stack.client().submit_job_execution(
        "import_users",
        run_config={"ops": {"claim_import": {"config": {"source_path": "u.json"}}}},
        tags={"import_file": "u.json"},
    )
    stack.wait_for_runs([run_id], timeout=120)
    assert_imported(stack, run_id, 300)
    assert stack.users_tagged("u.json") == 300
    # The Runs list shows the counts, as tags of the run.
    tags = stack.graphql(
        "query($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } } } }",
        {"id": run_id},
    )["runOrError"]["tags"]
    assert {"key": "import/imported", "value": "300"} in tags


RUN_EVENTS = """
  query($id: ID!) {
    logsForRun(runId: $id, limit: 1000) {
      ... on EventConnection {
        events {
          __typename
          ... on MaterializationEvent { assetKey { path } metadataEntries { label } }
          ... on ExecutionStepOutputEvent { stepKey metadataEntries { label __typename } }
          ... on AssetCheckEvaluationEvent { evaluation { checkName success severity } }
        }
      }
    }
  }"""


def test_the_run_page_shows_bad_rows_the_tables_and_their_check(stack: Stack) -> None:
    """What the UI shows of an import, read through GraphQL: the failed rows by code and
    the first of them as tables of finish_import, a materialization of each table, and
    the bad-row check warning (2 bad rows of 4 is far above 5%)."""
    users = [
        {"name": "Ann", "email": "ann.page@example.com"},
        {"name": "No email"},
        {"name": "Bob", "email": "bob.page@example.com"},
        {"name": "Bad", "email": "not-an-email"},
    ]
    (stack.base_dir / "page.json").write_text(json.dumps(users))
    run_id = stack.submit("page.json")
    stack.wait_for_runs([run_id], timeout=120)
    events = stack.graphql(RUN_EVENTS, {"id": run_id})["logsForRun"]["events"]

    [finish] = [e for e in events if e.get("stepKey") == "finish_import"
                and e["__typename"] == "ExecutionStepOutputEvent"]  # fmt: skip
    tables = {
        m["label"] for m in finish["metadataEntries"] if m["__typename"] == "TableMetadataEntry"
    }
    assert {"failed_rows_by_code", "first_failed_rows"} <= tables, finish
    materialized = {
        tuple(e["assetKey"]["path"]) for e in events if e["__typename"] == "MaterializationEvent"
    }
    assert materialized == {("users",), ("addresses",)}
    [check] = [e["evaluation"] for e in events if e["__typename"] == "AssetCheckEvaluationEvent"]
    assert check == {"checkName": "bad_row_rate", "success": False, "severity": "WARN"}


def test_the_launchpad_asks_for_the_file_and_refuses_a_launch_without_one(stack: Stack) -> None:
    """The Launchpad shows where the file goes (the config of claim_import, with its
    description), and a launch without a file is refused with one line, no run made."""
    selector = {
        "repositoryLocationName": "user_import_pipeline",
        "repositoryName": "__repository__",
        "pipelineName": "import_users",
    }
    query = """
      query($selector: PipelineSelector!, $config: RunConfigData!) {
        runConfigSchemaOrError(selector: $selector) {
          ... on RunConfigSchema {
            isRunConfigValid(runConfigData: $config) {
              __typename
              ... on RunConfigValidationInvalid { errors { message } }
            }
          }
        }
      }"""
    schema = stack.graphql(query, {"selector": selector, "config": {}})
    verdict = schema["runConfigSchemaOrError"]["isRunConfigValid"]
    assert verdict["__typename"] == "RunConfigValidationInvalid"
    [error] = verdict["errors"]
    assert "source_path" in error["message"] and "\n" not in error["message"]
    runs_before = len(stack.runs())
    launched = stack.graphql(
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename } }""",
        {"p": {"selector": {**selector, "jobName": "import_users"}, "runConfigData": {}}},
    )
    assert launched["launchRun"]["__typename"] == "RunConfigValidationInvalid"
    assert len(stack.runs()) == runs_before


def test_a_dropped_file_is_imported_once_and_once_more_when_changed(stack: Stack) -> None:
    sensor_runs = {"dagster/sensor_name": SENSOR}
    stack.write_users("incoming/drop.json", 200, seed=2)

    def runs_of(name: str) -> list[dg.DagsterRun]:
        return stack.runs(**sensor_runs, import_file=f"incoming/{name}")

    [first] = wait_until(
        lambda: runs_of("drop.json"),
        timeout=90,
        what="a sensor run for incoming/drop.json",
    )
    stack.wait_for_runs([first.run_id])
    assert_imported(stack, first.run_id, 200)

    # A file arriving slowly must not be taken while incomplete.
    slow_users = 3000
    slow_file = stack.base_dir / "incoming" / "slow.json"
    _write_slowly(stack, slow_file, users_json(slow_users, 3, "slow"))
    # drop.json stayed where it was for three more ticks after its run: still one run.
    stack.wait_for_ticks(SENSOR, 3, after=stack.created_at(first.run_id))
    assert [run.run_id for run in runs_of("drop.json")] == [first.run_id]

    [slow] = wait_until(
        lambda: runs_of("slow.json"), timeout=90, what="a sensor run for incoming/slow.json"
    )
    stack.wait_for_runs([slow.run_id])
    assert_imported(stack, slow.run_id, slow_users)

    # Rewritten with other users: exactly one more run.
    stack.write_users("incoming/drop.json", 250, seed=4, tag="drop-v2")
    second = wait_until(
        lambda: [run for run in runs_of("drop.json") if run.run_id != first.run_id],
        timeout=90,
        what="a second sensor run for the changed incoming/drop.json",
    )
    stack.wait_for_runs([run.run_id for run in second])
    stack.wait_for_ticks(SENSOR, 2, after=stack.created_at(second[0].run_id))
    assert len(runs_of("drop.json")) == 2
    assert len(runs_of("slow.json")) == 1
    assert_imported(stack, second[0].run_id, 250)
    statuses = [run.status for run in stack.runs(**sensor_runs)]
    assert statuses == [SUCCESS] * 3, "no sensor run failed"


def _write_slowly(stack: Stack, path: Path, data: bytes, min_seconds: float = 6) -> None:
    """Append ``data`` to ``path`` a piece a second, for ``min_seconds`` and at least until
    the sensor has ticked once while the file was incomplete."""
    pieces = 60
    size = -(-len(data) // pieces)
    began = time.time()
    with path.open("wb") as out:
        for start in range(0, len(data), size):
            out.write(data[start : start + size])
            out.flush()
            if time.time() - began >= min_seconds and any(
                tick["timestamp"] > began and tick["status"] != "STARTED"
                for tick in stack.sensor_ticks(SENSOR)
            ):
                out.write(data[start + size :])
                return
            time.sleep(1)
    raise AssertionError(f"the sensor did not tick during {pieces} s of writing {path.name}")


def test_dagster_job_launch_queues_and_job_execute_runs_in_process(stack: Stack) -> None:
    stack.write_users("launched.json", 200, seed=5)
    stack.write_users("executed.json", 200, seed=6)
    config = {"ops": {"claim_import": {"config": {"source_path": "executed.json"}}}}
    config_file = stack.root / "executed.yaml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    dagster = str(BIN / "dagster")
    commands = {
        "launch": [
            *(dagster, "job", "launch", "-w", "workspace.yaml", "-j", "import_users"),
            "--config-json",
            json.dumps({"ops": {"claim_import": {"config": {"source_path": "launched.json"}}}}),
            *("--tags", json.dumps({"import_file": "launched.json"})),
        ],
        "execute": [
            *(dagster, "job", "execute", "-m", "user_import_pipeline.definitions"),
            *("-j", "import_users", "-c", str(config_file)),
        ],
    }
    # Both at once: each spends ~10 s loading the code location.
    processes = {
        name: subprocess.Popen(
            command,
            cwd=REPO,
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, command in commands.items()
    }
    for name, process in processes.items():
        output, _ = process.communicate(timeout=240)
        assert process.returncode == 0, f"dagster job {name}:\n{output[-3000:]}"

    [launched] = wait_until(
        lambda: stack.runs(import_file="launched.json"),
        timeout=30,
        what="the run of `dagster job launch`",
    )
    stack.wait_for_runs([launched.run_id])
    assert_imported(stack, launched.run_id, 200)
    kinds = {entry.dagster_event_type for entry in stack.instance.all_logs(launched.run_id)}
    assert dg.DagsterEventType.RUN_ENQUEUED in kinds, "job launch went through the queue"

    [executed_job] = stack.import_jobs("executed.json")
    executed = executed_job["dagster_run_id"]
    assert_imported(stack, executed, 200)
    kinds = {entry.dagster_event_type for entry in stack.instance.all_logs(executed)}
    assert dg.DagsterEventType.RUN_ENQUEUED not in kinds, "job execute runs in process"


def assert_one_import_of(stack: Stack, source_path: str, run_ids: list[str], users: int) -> None:
    """Runs of one file never overlapped, each succeeded or was refused cleanly, and the
    data is as after one import."""
    runs = stack.wait_for_runs(run_ids, timeout=180)
    spans = sorted(stack.run_span(run_id) for run_id in run_ids)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), f"runs overlapped: {spans}"
    records = stack.instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
    times: list[tuple[float, float]] = []
    for record in records:
        assert record.start_time is not None and record.end_time is not None, record
        times.append((record.start_time, record.end_time))
    times.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(times)), f"runs overlapped: {times}"

    for run in runs:
        refused = f"{source_path} is being imported" in stack.failure_messages(run.run_id)
        assert run.status == SUCCESS or refused, stack.failure_messages(run.run_id)
    jobs = stack.import_jobs(source_path)
    print(f"{source_path}: runs {[run.status.value for run in runs]}, spans {spans}")
    assert jobs and all(job["status"] == "succeeded" for job in jobs), jobs
    assert sum(job["imported_count"] for job in jobs) == users
    # A later import, if one ran, found every user unchanged.
    assert all(job["unchanged_count"] in (0, users) for job in jobs)
    assert stack.users_tagged(source_path) == users


@pytest.mark.faults
def test_the_same_file_twice_at_once_runs_one_after_the_other(stack: Stack) -> None:
    stack.write_users("twice.json", 1000, seed=7)
    run_ids = submit_all(stack, ["twice.json", "twice.json"])
    assert_one_import_of(stack, "twice.json", run_ids, 1000)


@pytest.mark.faults
def test_a_dropped_file_launched_from_the_ui_too_is_imported_once(stack: Stack) -> None:
    """The sensor launches the file; the UI (GraphQL, as the launchpad does) at once too."""
    name = "incoming/ui-and-sensor.json"
    stack.write_users(name, 2000, seed=9)
    [sensor_run] = wait_until(
        lambda: stack.runs(**{"dagster/sensor_name": SENSOR}, import_file=name),
        timeout=90,
        what=f"a sensor run for {name}",
        interval=0.1,
    )
    ui_run = stack.submit(name)
    assert_one_import_of(stack, name, [sensor_run.run_id, ui_run], 2000)


@dataclass
class Burst:
    """What a batch of simultaneous imports did in the queue."""

    polled_max: int  # most runs STARTING/STARTED at one poll (every 0.25 s), any run
    event_max: int  # most of the batch's runs between RUN_STARTING and their end at once
    seconds: float
    relaunched: list[str]  # runs whose launch failed, imported by their automatic retry


def run_burst(stack: Stack, count: int, users: int, limit: int, timeout: float = 360) -> Burst:
    """Submit ``count`` imports of different files at once, poll the queue until all have
    finished, and check that each file was imported exactly once.

    The test holds the merge turn until ``limit`` runs are active (and a moment more, for
    a run over the limit to show itself): every run waits for that turn, so the queue must
    fill up to its limit however fast the machine runs a small import."""
    names = [f"burst-{stack.import_workers or 10}-{index:02d}.json" for index in range(count)]
    for index, name in enumerate(names):
        stack.write_users(name, users, seed=100 + index)
    of_batch = dg.RunsFilter(tags={"import_file": names})
    started = time.monotonic()
    polled_max = 0

    def poll() -> int:
        nonlocal polled_max
        active = stack.active_run_count()
        polled_max = max(polled_max, active)
        return active

    with psycopg.connect(stack.dsn) as holder:
        holder.execute(statement("take_merge_lock"), {"key": int(AdvisoryLock.MERGE)})
        run_ids = submit_all(stack, names)
        wait_until(lambda: poll() >= limit, timeout=240, what=f"{limit} runs to be active")
        over = time.monotonic() + 3
        while time.monotonic() < over:
            poll()
            time.sleep(0.25)
        holder.commit()

    def all_done() -> bool:
        poll()
        runs = stack.instance.get_runs(filters=of_batch)
        finished = {job["source_path"] for job in stack.import_jobs(*names) if job["finished_at"]}
        # A run whose launch failed gets a retry run a moment later (run_retries).
        return len(finished) == count and all(run.is_finished for run in runs)

    def progress() -> str:
        runs = stack.instance.get_runs(filters=of_batch)
        return f"{count} imports; runs: {sorted(run.status.value for run in runs)}"

    wait_until(all_done, timeout=timeout, what=progress, interval=0.25)
    seconds = time.monotonic() - started

    for name in names:
        [job] = stack.import_jobs(name)
        assert (job["status"], job["imported_count"]) == ("succeeded", users), job
    relaunched = []
    for run_id in run_ids:
        if stack.run(run_id).status != SUCCESS:
            # Tolerated, and reported: Dagster failed the launch (e.g. StartRun timed out on
            # an overloaded machine) before the run claimed anything; its retry imported.
            assert stack.job_of_run(run_id) is None, stack.failure_messages(run_id)
            assert "dequeuing" in stack.failure_messages(run_id), stack.failure_messages(run_id)
            relaunched.append(run_id)
        else:
            assert_imported(stack, run_id, users)
    runs = stack.instance.get_runs(filters=of_batch)
    event_max = max_overlap([stack.run_span(run.run_id) for run in runs])
    burst = Burst(polled_max, event_max, round(seconds, 1), relaunched)
    print(f"IMPORT_WORKERS={stack.import_workers}: {count} imports at once: {burst}")
    return burst


def test_twelve_imports_at_once_run_at_most_ten_at_a_time(
    stack: Stack, record_property: Callable[[str, object], None]
) -> None:
    # 12, not 15: two more than the limit prove it, and each extra run worker costs
    # seconds of CPU (the file has to stay under ~8 minutes on 2 CPUs).
    burst = run_burst(stack, count=12, users=BURST_USERS, limit=10)
    record_property("concurrency", burst)
    assert burst.polled_max <= 10
    assert burst.event_max == 10


def test_three_workers_run_at_most_three_imports_at_a_time(
    server_url: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    with dagster_stack(server_url, tmp_path, import_workers="3") as stack:
        burst = run_burst(stack, count=5, users=BURST_USERS, limit=3)
    record_property("concurrency", burst)
    assert burst.polled_max <= 3
    assert burst.event_max == 3


def test_user_import_submit_waits_for_the_outcome(stack: Stack) -> None:
    stack.write_users("submitted.json", 400, seed=8)
    done = subprocess.run(
        [
            str(BIN / "user-import"),
            "submit",
            "submitted.json",
            "--wait",
            "--dagster-url",
            stack.url,
        ],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded", summary
    assert summary["imported_count"] == 400
    [job] = stack.import_jobs("submitted.json")
    assert str(job["id"]) == summary["job_id"]
    assert stack.run(job["dagster_run_id"]).status == SUCCESS


@pytest.fixture(scope="module")
def late_stack(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A deployment with IMPORT_WORKERS=50, started after an import of ``offline.json`` was
    queued through ``launch.queue_import`` while no Dagster was running."""

    def queue_while_down(stack: Stack) -> None:
        stack.write_users("offline.json", 300, seed=9)
        nobody = f"http://127.0.0.1:{free_port()}"
        launch.queue_import(Database(stack.dsn), "offline.json", stack.base_dir, nobody)
        [job] = stack.import_jobs("offline.json")
        assert (job["status"], job["dagster_run_id"]) == ("queued", None), job

    root = tmp_path_factory.mktemp("late_stack")
    with dagster_stack(
        server_url, root, import_workers="50", before_start=queue_while_down
    ) as stack:
        yield stack


def test_a_job_queued_while_dagster_is_down_runs_once_it_is_back(late_stack: Stack) -> None:
    def finished() -> dict[str, Any] | None:
        [job] = late_stack.import_jobs("offline.json")
        return job if job["finished_at"] else None

    job = wait_until(finished, timeout=120, what="the job queued while Dagster was down")
    runs = late_stack.runs(import_job_id=str(job["id"]))
    assert [run.tags.get("dagster/sensor_name") for run in runs] == [REAPER]
    late_stack.wait_for_runs([runs[0].run_id])
    assert_imported(late_stack, runs[0].run_id, 300)


def test_import_workers_above_ten_is_clamped_to_ten(
    late_stack: Stack, record_property: Callable[[str, object], None]
) -> None:
    burst = run_burst(late_stack, count=11, users=BURST_USERS, limit=10)
    record_property("concurrency", burst)
    assert burst.polled_max <= 10
    assert burst.event_max == 10


def dagster_sessions(stack: Stack) -> int:
    """Sessions opened so far on the Dagster database (PostgreSQL counts them)."""
    name = psycopg.conninfo.conninfo_to_dict(stack.dagster_dsn)["dbname"]
    with psycopg.connect(stack.server_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_dagster_storage_holds_its_connections(stack: Stack) -> None:
    """dagster.yaml's storage keeps its connections (instance_storage.py): a whole run,
    with the daemon polling meanwhile, opens a handful of sessions on the Dagster database
    instead of one per query (over a hundred with dagster-postgres's own storage)."""
    stack.write_users("pooled.json", 50, seed=41)
    before = dagster_sessions(stack)
    run_id = stack.submit("pooled.json")
    stack.wait_for_runs([run_id], timeout=120)
    opened = dagster_sessions(stack) - before
    assert_imported(stack, run_id, 50)
    assert opened <= 30, opened
