"""``user-import submit`` and ``user-import status`` run as a user runs them: separate
processes on this module's database. Dagster is either unreachable or a stand-in that
records the GraphQL request (the real webserver + daemon are covered end to end elsewhere)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from user_import_pipeline import checkpoints
from user_import_pipeline.runs import FILE_TAG, JOB_TAG
from user_import_pipeline_tests.importing import Importer

CLI = str(Path(sys.executable).with_name("user-import"))
UNREACHABLE_DAGSTER = "http://127.0.0.1:1"


@pytest.fixture
def env(dsn: str, importer: Importer) -> dict[str, str]:
    """The CLI's environment: this module's database, the importer's base directory."""
    environment = {
        **os.environ,
        "DATABASE_URL": dsn,
        # Set, so that the CLI does not create a Dagster database nobody drops.
        "DAGSTER_PG_URL": "postgresql+psycopg2://unused@127.0.0.1:1/unused",
        "IMPORT_BASE_DIR": str(importer.base_dir),
        "DAGSTER_WEBSERVER_URL": UNREACHABLE_DAGSTER,
    }
    return environment


def _run(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _job(dsn: str, job_id: str) -> tuple | None:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT source_path, status FROM import_jobs WHERE id = %s", (job_id,)
        ).fetchone()


def _job_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM import_jobs").fetchone()
        assert row is not None
        return row[0]


USERS_WITH_ERRORS = [
    {"name": "Ann", "email": "ann@example.com"},
    {"name": "Bad", "email": "not-an-email"},
    {"name": "Bob", "email": "bob@example.com"},
    {"email": "nameless@example.com"},
]


# --- status ----------------------------------------------------------------------------------


def test_status_shows_the_job_its_counts_and_row_errors(
    importer: Importer, env: dict[str, str]
) -> None:
    outcome = importer.import_users(USERS_WITH_ERRORS)
    assert outcome.job is not None
    job_id = str(outcome.job["id"])

    shown = _run(["status", job_id], env)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"job        {job_id}" in out
    assert "status     succeeded (phase addresses_replaced)" in out
    assert "attempts   1 of 3" in out
    assert "rows       4 of 4" in out
    assert "counts     imported 2  updated 0  unchanged 0  skipped 2  failed 2" in out
    assert "error      -" in out
    assert re.search(r"^finished   \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out, re.MULTILINE)
    assert "row 1  invalid_email" in out
    assert "row 3  missing_field" in out


def test_status_json_is_the_api_representation(importer: Importer, env: dict[str, str]) -> None:
    outcome = importer.import_users(USERS_WITH_ERRORS)
    assert outcome.job is not None
    job_id = str(outcome.job["id"])
    shown = _run(["status", "--json", job_id.upper()], env)
    assert shown.returncode == 0, shown.stderr
    job = json.loads(shown.stdout)
    assert job["id"] == job_id
    assert job["counts"] == {"imported": 2, "updated": 0, "unchanged": 0, "skipped": 2, "failed": 2}
    assert [(e["row_index"], e["code"]) for e in job["errors"]] == [
        (1, "invalid_email"),
        (3, "missing_field"),
    ]


def test_status_of_a_failed_import_shows_its_error(importer: Importer, env: dict[str, str]) -> None:
    (importer.base_dir / "bad.json").write_text('[{"name": "x"')
    outcome = importer.run("bad.json")
    assert outcome.job is not None
    job_id = str(outcome.job["id"])
    shown = _run(["status", job_id], env)
    assert shown.returncode == 0, shown.stderr
    assert "status     failed" in shown.stdout
    assert "truncated" in shown.stdout
    assert "row errors: none" in shown.stdout


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        pytest.param(str(uuid.uuid4()), "no import job", id="unknown"),
        pytest.param("' OR 1=1 --", "is not a job id", id="sql-injection"),
        pytest.param("12345", "is not a job id", id="number"),
    ],
)
def test_status_of_an_unknown_or_invalid_id_exits_2(
    env: dict[str, str], job_id: str, message: str
) -> None:
    shown = _run(["status", job_id], env)
    assert shown.returncode == 2
    assert message in shown.stderr
    assert "Traceback" not in shown.stderr
    assert shown.stdout == ""


# --- submit ----------------------------------------------------------------------------------


def test_submit_with_dagster_unreachable_queues_the_job_and_prints_its_id(
    importer: Importer, env: dict[str, str], dsn: str
) -> None:
    importer.write("sub/users.json", [])
    submitted = _run(["submit", "./sub/../sub/users.json"], env)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert str(uuid.UUID(job_id)) == job_id
    assert _job(dsn, job_id) == ("sub/users.json", "queued")
    assert "stays queued" in submitted.stderr
    assert "Connection refused" in submitted.stderr


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("missing.json", "No such file", id="missing-file"),
        pytest.param("../outside.json", "outside the import base directory", id="dot-dot"),
        pytest.param("users.csv", "only .json, .jsonl and .ndjson files", id="wrong-extension"),
    ],
)
def test_submit_of_a_refused_path_exits_2_and_queues_nothing(
    env: dict[str, str], dsn: str, path: str, message: str
) -> None:
    before = _job_count(dsn)
    submitted = _run(["submit", path], env)
    assert submitted.returncode == 2
    assert message in submitted.stderr
    assert _job_count(dsn) == before


def test_submit_with_a_malformed_dagster_url_exits_2_and_queues_nothing(
    importer: Importer, env: dict[str, str], dsn: str
) -> None:
    importer.write("users.json", [])
    before = _job_count(dsn)
    submitted = _run(["submit", "users.json", "--dagster-url", "localhost:3000"], env)
    assert submitted.returncode == 2
    assert "--dagster-url" in submitted.stderr
    assert _job_count(dsn) == before


class _FakeDagster(BaseHTTPRequestHandler):
    """Answers the two GraphQL requests of ``submit_job_execution`` and records them."""

    requests: list[dict]

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, **request})
        if "repositoriesOrError" in request["query"]:
            node = {
                "name": "__repository__",
                "location": {"name": "user_import_pipeline"},
                "pipelines": [{"name": "import_users"}],
            }
            data: dict[str, object] = {
                "repositoriesOrError": {"__typename": "RepositoryConnection", "nodes": [node]}
            }
        else:
            run = {"__typename": "LaunchRunSuccess", "run": {"runId": "fake-run-1"}}
            data = {"launchPipelineExecution": run}
        body = json.dumps({"data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_dagster() -> Iterator[tuple[str, list[dict]]]:
    requests: list[dict] = []
    handler = type("Handler", (_FakeDagster,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prefix", requests
    finally:
        server.shutdown()
        server.server_close()


def test_submit_asks_dagster_for_an_import_users_run_of_the_job(
    importer: Importer, env: dict[str, str], dsn: str, fake_dagster: tuple[str, list[dict]]
) -> None:
    url, requests = fake_dagster
    importer.write("users.json", [])
    submitted = _run(["submit", "users.json", "--dagster-url", url], env)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert "stays queued" not in submitted.stderr
    assert _job(dsn, job_id) == ("users.json", "queued")
    launch = requests[-1]
    assert launch["path"] == "/prefix/graphql"
    params = launch["variables"]["executionParams"]
    assert params["selector"]["pipelineName"] == "import_users"
    assert params["selector"]["repositoryLocationName"] == "user_import_pipeline"
    assert params["runConfigData"] == {
        "ops": {"claim_import": {"config": {"source_path": "users.json", "job_id": job_id}}}
    }
    tags = {tag["key"]: tag["value"] for tag in params["executionMetadata"]["tags"]}
    assert tags == {FILE_TAG: "users.json", JOB_TAG: job_id}


@pytest.mark.slow
@contextmanager
def submitted_waiting(
    source_path: str, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``user-import submit SOURCE --wait`` started, and the job id it printed; the command
    is killed if it still runs when the block ends."""
    process = subprocess.Popen(
        [CLI, "submit", source_path, "--wait"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        job_id = process.stdout.readline().strip()
        assert job_id, process.stderr.read() if process.stderr else ""
        yield process, job_id
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize(
    ("content", "exit_code", "status"),
    [
        pytest.param(json.dumps(USERS_WITH_ERRORS), 0, "succeeded", id="succeeded"),
        pytest.param('[{"name": "x"', 1, "failed", id="failed"),
    ],
)
def test_submit_wait_follows_the_job_and_exits_with_its_outcome(
    importer: Importer, env: dict[str, str], content: str, exit_code: int, status: str
) -> None:
    """The job is run here, in-process, by id - what the Dagster run would do."""
    (importer.base_dir / "wait.json").write_text(content)
    with submitted_waiting("wait.json", env) as (process, job_id):
        assert process.poll() is None  # still waiting for the queued job
        outcome = importer.run(job_id=job_id)
        assert outcome.job is not None and outcome.job["status"] == status
        out, err = process.communicate(timeout=60)
    assert process.returncode == exit_code, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["job_id"] == job_id
    assert summary["status"] == status
    if status == "succeeded":
        assert summary["imported_count"] == 2 and summary["failed_count"] == 2
    else:
        assert "truncated" in summary["error_message"]


@pytest.mark.parametrize(
    ("tables", "phases"),
    [
        ("holding a user", ("staging users", "merging users", "replacing addresses")),
        ("empty", ("writing users",)),
    ],
)
def test_submit_wait_shows_each_phase_by_name(
    importer: Importer, env: dict[str, str], tables: str, phases: tuple[str, ...]
) -> None:
    """Each phase appears by name while it runs (the import is held a moment in each, so
    that the heartbeat writes what it is doing and the waiting command sees it). A first
    import into empty tables writes its users while it reads them, and merges what is
    left in moments, in the same transaction (merge/bulk_load.py)."""
    users = [{"name": f"U{n}", "email": f"u{n}@example.com"} for n in range(30)]
    importer.write("phases.json", users)
    if tables != "empty":
        importer.query(
            "INSERT INTO users (id, name, email)"
            " VALUES (gen_random_uuid(), 'Old', 'o@example.com') RETURNING id"
        )
    importer.lease_seconds = 1  # a heartbeat every third of a second
    importer.chunk_size = 10

    def linger(point: checkpoints.Point) -> None:
        if point.kind == "progress" or point.name in ("plan_merge", "delete_changed_addresses"):
            time.sleep(1.2)

    with submitted_waiting("phases.json", env) as (process, job_id):
        with checkpoints.listening(linger):
            outcome = importer.run(job_id=job_id)
        assert outcome.succeeded, outcome.message
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    shown = [err.index(phase) for phase in phases if phase in err]
    assert shown == sorted(shown) and len(shown) == len(phases), err
    assert err.index(phases[-1]) < err.index(f"job {job_id}: succeeded")
