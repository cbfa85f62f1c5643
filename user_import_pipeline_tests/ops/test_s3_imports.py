"""Imports from an S3 prefix (IMPORT_BASE_DIR=s3://…) against a real S3 API on 127.0.0.1:
an object imports as a file does, a path outside the prefix is refused, an object replaced
during the import or before a restage fails it cleanly, and an object is streamed, not
downloaded (the memory of the reading process stays bounded)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, TypeVar

import pytest

from user_import_pipeline.core.outcomes import Done, Failed, Outcome, RunInfo
from user_import_pipeline.generate import generate_users
from user_import_pipeline.ingest.s3 import S3Prefix
from user_import_pipeline_tests.importing import Importer, ImportOutcome, pause_staging
from user_import_pipeline_tests.ops.resuming import lose_staging, staging_tables
from user_import_pipeline_tests.s3_server import S3Server

pytestmark = pytest.mark.faults

T = TypeVar("T")
MIB = 1024 * 1024
USERS = [
    {"id": f"ext-{n}", "name": f"User {n}", "email": f"user{n}@example.com"} for n in range(30)
]


def _upload(importer: Importer, s3: S3Server, name: str, data: bytes) -> str:
    assert importer.objects is not None
    s3.put(importer.objects, name, data)
    return name


def _lines(users: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(user) + "\n" for user in users).encode()


def test_an_object_imports_like_a_file_with_its_byte_progress(
    s3_importer: Importer, s3: S3Server
) -> None:
    data = gzip.compress(_lines(USERS), mtime=0)
    source = _upload(s3_importer, s3, "users.jsonl.gz", data)

    first = s3_importer.run(source)
    again = s3_importer.run(source)

    assert first.succeeded, first.message
    assert first.job is not None
    assert (first.job["bytes_total"], first.job["bytes_processed"]) == (len(data), len(data))
    assert first.counts["imported_count"] == len(USERS)
    assert again.succeeded and again.counts["unchanged_count"] == len(USERS)
    assert set(s3_importer.users()) == {user["email"] for user in USERS}


def test_a_full_s3_url_inside_the_prefix_is_imported_under_that_name(
    s3_importer: Importer, s3: S3Server
) -> None:
    source = s3_importer.write("users.json", USERS)
    assert s3_importer.objects is not None
    url = f"{s3_importer.objects}{source}"

    outcome = s3_importer.run_dagster(url)

    assert outcome.succeeded
    assert outcome.job is not None and outcome.job["source_path"] == url
    assert outcome.counts["imported_count"] == len(USERS)


@pytest.mark.parametrize(
    "source_path",
    [
        "../outside.json",
        "BUCKET_URL/outside.json",
        "BUCKET_URL/imports-other/users.json",
        "s3://another-bucket/imports/users.json",
        "sub/../users.json",
    ],
)
def test_a_path_outside_the_prefix_fails_the_import_and_reads_nothing(
    s3_importer: Importer, s3: S3Server, source_path: str
) -> None:
    objects = s3_importer.objects
    assert objects is not None
    root = S3Prefix(objects.bucket, "")
    for key in ("outside.json", "imports-other/users.json", "imports/users.json"):
        s3.put(root, key, json.dumps(USERS).encode())
    source_path = source_path.replace("BUCKET_URL", f"s3://{objects.bucket}")

    outcome = s3_importer.run(source_path)

    assert not outcome.succeeded
    assert outcome.job is not None and outcome.job["status"] == "failed"
    message = outcome.job["error_message"]
    assert "outside the import base directory" in message or "segments are refused" in message
    assert s3_importer.users() == {}


def test_an_object_replaced_during_the_import_fails_it_cleanly(
    s3_importer: Importer, s3: S3Server
) -> None:
    """The import is held at its first progress report (users streaming into staging), the
    object is replaced, and the import goes on: it fails, and nothing is merged."""
    users = [{"name": f"U{n}", "email": f"u{n}@example.com"} for n in range(500)]
    source = s3_importer.write("users.json", users)
    s3_importer.chunk_size = 100
    holding, replaced = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        assert replaced.wait(60), "the object was never replaced"

    result: dict[str, ImportOutcome] = {}
    runner = threading.Thread(target=lambda: result.update(outcome=s3_importer.run(source)))
    with pause_staging(hold):
        runner.start()
        assert holding.wait(60), "the import never streamed"
        s3_importer.write(source, [{**user, "name": "Replaced"} for user in users])
        replaced.set()
        runner.join(120)

    job = result["outcome"].job
    assert job is not None and job["status"] == "failed"
    assert job["error_message"] == "users.json: the file was modified while it was being read"
    assert s3_importer.users() == {}
    assert staging_tables(s3_importer, job["id"]) == []


def _done(outcome: Outcome[T]) -> T:
    assert isinstance(outcome, Done), outcome
    return outcome.value


@pytest.mark.parametrize("replaced", [False, True], ids=["same-object", "replaced-object"])
def test_a_restage_after_lost_staging_refuses_a_replaced_object(
    s3_importer: Importer, replaced: bool
) -> None:
    """Staging lost after the users were merged (a database crash empties UNLOGGED tables)
    makes the resume read the object again; its bytes must be those first staged. (Into
    tables that are not empty: a first import would merge all in its first step.)"""
    s3_importer.query(
        "INSERT INTO users (id, name, email) VALUES (gen_random_uuid(), 'Old', 'old@example.com')"
        " RETURNING id"
    )
    source = s3_importer.write("users.json", USERS)
    service, run = s3_importer.service(), RunInfo.first("run-s3-restage")
    try:
        job_id = _done(service.claim(run, source_path=source)).job_id
        _done(service.stage_users(job_id, run))
        _done(service.stage_addresses(job_id, run))
        _done(service.merge_users(job_id, run))
        if replaced:
            s3_importer.write(source, [{**user, "name": "Other"} for user in USERS])
        lose_staging(s3_importer, job_id, ["users", "addresses"])

        outcome = service.replace_addresses(job_id, run)
    finally:
        service.close()

    job = s3_importer.job_of_run(run.run_id)
    assert job is not None
    if replaced:
        assert isinstance(outcome, Failed)
        assert job["status"] == "failed"
        assert job["error_message"] == (
            "users.json: the file changed since it was first staged for this import"
        )
        assert staging_tables(s3_importer, job_id) == []
    else:
        assert isinstance(outcome, Done), outcome
    assert {user["name"] for user in s3_importer.users().values()} == {
        "Old",
        *(user["name"] for user in USERS),
    }


@pytest.mark.slow
def test_an_object_is_streamed_in_bounded_memory(
    s3_importer: Importer, s3: S3Server, tmp_path: Path
) -> None:
    """A child process reads a 96 MiB object through the importer's reader; its peak RSS
    stays far below the object's size (a download, or a read of the whole body, would
    hold all of it), within what it needs to read a small one."""
    objects = s3_importer.objects
    assert objects is not None
    generate_users(tmp_path / "small.jsonl", 1000, seed=1)
    _upload(s3_importer, s3, "small.jsonl", (tmp_path / "small.jsonl").read_bytes())
    # One user line after another, then a 96 MiB line: every byte streams past the reader.
    line = b'{"name": "Big", "email": "big@example.com", "bio": "' + b"x" * (96 * MIB) + b'"}\n'
    _upload(s3_importer, s3, "big.jsonl", (tmp_path / "small.jsonl").read_bytes() + line)

    small = _peak_rss_reading(s3, str(objects), "small.jsonl")
    big = _peak_rss_reading(s3, str(objects), "big.jsonl")
    print(f"peak RSS reading 96 MiB: {big / MIB:.0f} MiB, a small object: {small / MIB:.0f} MiB")
    assert big - small < 32 * MIB


def _peak_rss_reading(s3: S3Server, base: str, name: str) -> int:
    """Peak RSS (bytes) of a fresh interpreter that reads every item of object ``name``:
    its own VmHWM, since the ``ru_maxrss`` of a child counts its parent's pages at the fork
    (and this process holds the S3 server's objects)."""
    script = textwrap.dedent(
        f"""
        import re
        from pathlib import Path
        from user_import_pipeline import settings
        from user_import_pipeline.ingest import location
        from user_import_pipeline.ingest.formats import read_items
        with location.open_found(location.resolve({name!r}, settings.base_dir())) as source:
            count = sum(1 for _ in read_items(source, {name!r}))
            assert source.bytes_read == source.size, (source.bytes_read, source.size)
        status = Path("/proc/self/status").read_text()
        print(count, re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
        """
    )
    env = {**os.environ, **s3.env, "IMPORT_BASE_DIR": base}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    count, peak_kib = map(int, done.stdout.split())
    assert count >= 1000
    return peak_kib * 1024
