"""``POST /api/v1/imports/users`` with an S3 prefix as IMPORT_BASE_DIR (CONTRACT §6.1, §6.4),
over real sockets, against a real S3 API on 127.0.0.1, with Dagster unreachable: an object
inside the prefix is queued after a look at its metadata (never a download), a path
leaving the prefix or naming no object is ``invalid_source``, and nothing is queued."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from user_import_pipeline.api.app import create_app
from user_import_pipeline.ingest.s3 import S3Prefix
from user_import_pipeline_tests.api.serving import UNREACHABLE_DAGSTER, Api, serve
from user_import_pipeline_tests.s3_server import S3Server

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def base(s3: S3Server) -> S3Prefix:
    prefix = s3.new_prefix("imports/")
    s3.put(prefix, "users.json", b"[]")
    s3.put(prefix, "nested/more.jsonl.gz", b"")
    s3.put(S3Prefix(prefix.bucket, ""), "outside.json", b"[]")
    s3.put(S3Prefix(prefix.bucket, ""), "imports-other/users.json", b"[]")
    return prefix


@pytest.fixture(scope="module")
def calls(base: S3Prefix) -> Iterator[list[str]]:
    """The S3 operations the API's client makes, in order (recorded by botocore's events)."""
    made: list[str] = []

    def record(model: Any, **_: Any) -> None:
        made.append(model.name)

    base.client.meta.events.register("before-call.s3", record)
    yield made
    base.client.meta.events.unregister("before-call.s3", record)


@pytest.fixture(scope="module")
def api(dsn: str, base: S3Prefix, calls: list[str]) -> Iterator[Api]:
    with serve(create_app(dsn, base, dagster_url=UNREACHABLE_DAGSTER)) as running:
        yield running


def _queued(dsn: str, job_id: str) -> tuple[str, str]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT source_path, status FROM import_jobs WHERE id = %s", (job_id,)
        ).fetchone()
    assert row is not None
    return row


def _job_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM import_jobs").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    "source_path", ["users.json", "nested/more.jsonl.gz", "BUCKET_URL/imports/users.json"]
)
def test_an_object_inside_the_prefix_is_queued_after_a_head_only(
    api: Api, dsn: str, base: S3Prefix, calls: list[str], source_path: str
) -> None:
    source_path = source_path.replace("BUCKET_URL", f"s3://{base.bucket}")
    calls.clear()
    reply = api.post_json({"source_path": source_path})
    assert reply.status == 202, reply.body
    assert _queued(dsn, reply.json["data"]["job_id"]) == (source_path, "queued")
    assert calls == ["HeadObject"]


@pytest.mark.parametrize(
    ("source_path", "says"),
    [
        ("../outside.json", "segments are refused"),
        ("nested/../users.json", "segments are refused"),
        ("BUCKET_URL/outside.json", "outside the import base directory $IMPORT_BASE_DIR"),
        ("BUCKET_URL/imports-other/users.json", "outside the import base directory"),
        ("s3://another-bucket/imports/users.json", "outside the import base directory"),
        ("/imports/users.json", "outside the import base directory"),
        ("missing.json", "'missing.json' cannot be read"),
        ("users.txt", "only .json, .jsonl and .ndjson"),
    ],
)
def test_a_path_outside_the_prefix_or_without_object_is_invalid_source(
    api: Api, dsn: str, base: S3Prefix, source_path: str, says: str
) -> None:
    source_path = source_path.replace("BUCKET_URL", f"s3://{base.bucket}")
    before = _job_count(dsn)
    reply = api.post_json({"source_path": source_path})
    assert reply.status == 400, reply.body
    assert reply.error_code == "invalid_source"
    message = reply.json["error"]["message"]
    assert says in message, message
    assert str(base) not in message  # the server's own base is not disclosed
    assert _job_count(dsn) == before
