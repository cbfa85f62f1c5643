"""Imports from S3 through a real deployment (webserver + daemon, runs through the queue) that
shares no disk with the files: IMPORT_BASE_DIR is an ``s3://`` prefix of a real S3 API on
127.0.0.1, the processes get the ``AWS_*`` variables, and they work in a folder that holds
no import file (no local base directory exists at all). A run passes only its job id from
op to op; the file is read from the object store, streamed.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg.rows import dict_row

from user_import_pipeline.ingest.s3 import S3Prefix
from user_import_pipeline.ingest.source import EXTENSIONS
from user_import_pipeline_tests.overlapping import overlapping_users
from user_import_pipeline_tests.s3_server import S3Server
from user_import_pipeline_tests.stack import BIN, Stack, dagster_stack, users_json, wait_until

pytestmark = pytest.mark.slow

SENSOR = "incoming_files_sensor"
SUCCESS = dg.DagsterRunStatus.SUCCESS
BIG = 100_000
OVERLAPPING_FILES = 10
OVERLAPPING_USERS = 60


@pytest.fixture(scope="module")
def objects(s3: S3Server) -> S3Prefix:
    return s3.new_prefix("imports/")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working directory of every process of the deployment: empty."""
    return tmp_path_factory.mktemp("workdir")


@pytest.fixture(scope="module")
def stack(
    server_url: str,
    s3: S3Server,
    objects: S3Prefix,
    workdir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    with dagster_stack(
        server_url,
        tmp_path_factory.mktemp("s3_stack"),
        import_base_dir=str(objects),
        extra_env=s3.env,
        workdir=workdir,
    ) as running:
        yield running


def succeeded_job(stack: Stack, run_id: str, users: int) -> dict[str, Any]:
    """The run succeeded, and its job imported ``users`` new users and nothing else."""
    assert stack.run(run_id).status == SUCCESS, stack.failure_messages(run_id)
    job = stack.job_of_run(run_id)
    assert job is not None, f"run {run_id} has no import_jobs row"
    assert job["status"] == "succeeded", job["error_message"]
    counts = (job["imported_count"], job["updated_count"], job["unchanged_count"])
    assert counts == (users, 0, 0)
    assert (job["skipped_count"], job["failed_count"]) == (0, 0)
    return job


def test_a_100000_user_gz_object_is_imported_through_the_queue(
    stack: Stack, s3: S3Server, objects: S3Prefix
) -> None:
    data = gzip.compress(users_json(BIG, seed=11, tag="s3-big"), mtime=0)
    s3.put(objects, "big.json.gz", data)

    run_id = stack.submit("big.json.gz")
    stack.wait_for_runs([run_id], timeout=600)

    job = succeeded_job(stack, run_id, BIG)
    assert (job["bytes_total"], job["bytes_processed"]) == (len(data), len(data))
    assert job["progress_processed"] == BIG
    assert stack.users_tagged("s3-big") == BIG


def test_the_sensor_imports_each_version_of_an_object_once(
    stack: Stack, s3: S3Server, objects: S3Prefix
) -> None:
    def runs_of(name: str) -> list[dg.DagsterRun]:
        return stack.runs(**{"dagster/sensor_name": SENSOR}, import_file=f"incoming/{name}")

    # An upload still in progress: not an object yet, so never launched while it lasts.
    partial_key = f"{objects.prefix}incoming/partial.json"
    upload = s3.client.create_multipart_upload(Bucket=objects.bucket, Key=partial_key)
    part = s3.client.upload_part(
        Bucket=objects.bucket,
        Key=partial_key,
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=users_json(50, seed=21, tag="s3-partial"),
    )
    dropped = users_json(200, seed=22, tag="s3-drop")
    s3.put(objects, "incoming/drop.json", dropped)

    [first] = wait_until(lambda: runs_of("drop.json"), timeout=90, what="a run of drop.json")
    stack.wait_for_runs([first.run_id])
    succeeded_job(stack, first.run_id, 200)

    # The same object again (the same bytes uploaded once more), and ticks after: no run.
    s3.put(objects, "incoming/drop.json", dropped)
    stack.wait_for_ticks(SENSOR, 3, after=time.time())
    assert [run.run_id for run in runs_of("drop.json")] == [first.run_id]
    assert runs_of("partial.json") == []

    # Replaced by other content: exactly one more run.
    s3.put(objects, "incoming/drop.json", users_json(250, seed=23, tag="s3-drop-v2"))
    second = wait_until(
        lambda: [run for run in runs_of("drop.json") if run.run_id != first.run_id],
        timeout=90,
        what="a run of the replaced drop.json",
    )
    stack.wait_for_runs([run.run_id for run in second])
    stack.wait_for_ticks(SENSOR, 2, after=stack.created_at(second[0].run_id))
    assert len(runs_of("drop.json")) == 2
    succeeded_job(stack, second[0].run_id, 250)

    # The upload completes: now an object, imported once.
    s3.client.complete_multipart_upload(
        Bucket=objects.bucket,
        Key=partial_key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    [partial] = wait_until(
        lambda: runs_of("partial.json"), timeout=90, what="a run of the completed upload"
    )
    stack.wait_for_runs([partial.run_id])
    succeeded_job(stack, partial.run_id, 50)


def stored_users(stack: Stack) -> dict[str, dict[str, Any]]:
    """Every user of the deployment's database whose email is user<n>@example.com, by
    email, with its address list in order."""
    with psycopg.connect(stack.dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT u.email, u.name, u.phone_number,
                      coalesce(json_agg(json_build_object('street', a.street, 'city', a.city,
                          'state', a.state, 'zip_code', a.zip_code, 'country', a.country)
                          ORDER BY a.position) FILTER (WHERE a.id IS NOT NULL), '[]') AS addresses
               FROM users u LEFT JOIN addresses a ON a.user_id = u.id
               WHERE u.email LIKE 'user%@example.com'
               GROUP BY u.id"""
        ).fetchall()
    return {row["email"]: row for row in rows}


def test_ten_imports_from_s3_at_once_need_no_shared_disk_and_end_as_some_serial_order(
    stack: Stack, s3: S3Server, objects: S3Prefix, workdir: Path
) -> None:
    names = [f"overlap-{index}.json" for index in range(OVERLAPPING_FILES)]
    for index, name in enumerate(names):
        s3.put(
            objects,
            name,
            json.dumps(overlapping_users(index, OVERLAPPING_USERS, vary_email_case=False)).encode(),
        )

    with ThreadPoolExecutor(max_workers=OVERLAPPING_FILES) as pool:
        list(pool.map(stack.submit, names))

    # Judged by the jobs: a run whose launch failed (StartRun timing out on a busy machine)
    # is retried by Dagster, and that run imports the file.
    def all_finished() -> bool:
        jobs = stack.import_jobs(*names)
        runs = stack.instance.get_runs(filters=dg.RunsFilter(tags={"import_file": names}))
        return (
            len(jobs) == len(names)
            and all(job["finished_at"] for job in jobs)
            and all(run.is_finished for run in runs)
        )

    wait_until(all_finished, timeout=600, what="ten imports from S3", interval=1)
    jobs = stack.import_jobs(*names)
    for job in jobs:
        assert job["status"] == "succeeded", (job["source_path"], job["error_message"])
        assert job["imported_count"] + job["updated_count"] == OVERLAPPING_USERS, job
        assert job["skipped_count"] == 0, job
    # One import ran first and created every user; each later one changed every user.
    assert sorted(job["imported_count"] for job in jobs) == [0] * 9 + [OVERLAPPING_USERS]

    # In a serial order the last import wins for every user: all values from one file.
    stored = stored_users(stack)
    assert len(stored) == OVERLAPPING_USERS
    last = {user["name"].rsplit(" ", 1)[1] for user in stored.values()}
    assert len(last) == 1, last
    for user in overlapping_users(int(last.pop()), OVERLAPPING_USERS, vary_email_case=False):
        got = stored[user["email"]]
        assert (got["name"], got["phone_number"]) == (user["name"], user["phone_number"])
        assert got["addresses"] == user["addresses"]

    # Nothing reached a local disk: no base directory, no import file where the runs work.
    assert not stack.base_dir.exists()
    assert [path for path in workdir.rglob("*") if path.name.endswith(EXTENSIONS)] == []


def test_user_import_submit_takes_an_s3_url(
    stack: Stack, s3: S3Server, objects: S3Prefix, workdir: Path
) -> None:
    s3.put(objects, "submitted.json", users_json(300, seed=31, tag="s3-submitted"))
    url = f"{objects}submitted.json"
    done = subprocess.run(
        [str(BIN / "user-import"), "submit", url, "--wait", "--dagster-url", stack.url],
        cwd=workdir,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["status"], summary["imported_count"]) == ("succeeded", 300), summary
    [job] = stack.import_jobs(url)
    assert str(job["id"]) == summary["job_id"]
