"""The HTTP API over real sockets (uvicorn in a thread; httpx is not installed) on a real
PostgreSQL, with Dagster unreachable: every status code and body shape of CONTRACT §6.4."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import psycopg
import pytest

from user_import_pipeline.api import imports, users
from user_import_pipeline.api.app import create_app
from user_import_pipeline.db.client import Session
from user_import_pipeline_tests.api.serving import UNREACHABLE_DAGSTER, Api, serve
from user_import_pipeline_tests.importing import Importer

pytestmark = pytest.mark.faults

SQL_INJECTION = "' OR 1=1 --"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api")
    base = root / "base"
    base.mkdir()
    (base / "users.json").write_text("[]")
    (base / "nested").mkdir()
    (base / "nested" / "more.json.gz").write_bytes(b"")
    (base / "users.jsonl").write_text("")
    (base / "nested" / "more.ndjson.gz").write_bytes(b"")
    (base / "notes.txt").write_text("[]")
    (base / "folder.json").mkdir()
    # Files outside the base directory, reachable by name or through a symlink inside it.
    (root / "outside.json").write_text("[]")
    (root / "secret.txt").write_text("[]")
    (base / "link_out.json").symlink_to(root / "outside.json")
    (base / "link_to_txt.json").symlink_to(root / "secret.txt")
    return base


@pytest.fixture(scope="module")
def api(dsn: str, base_dir: Path) -> Iterator[Api]:
    with serve(create_app(dsn, base_dir, dagster_url=UNREACHABLE_DAGSTER)) as running:
        yield running


@pytest.fixture(scope="module")
def api_without_database(base_dir: Path) -> Iterator[Api]:
    with closed_port() as port:
        dsn = f"postgresql://postgres@127.0.0.1:{port}/nothing"
        with serve(create_app(dsn, base_dir, dagster_url=UNREACHABLE_DAGSTER)) as running:
            yield running


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (held bound, not listening, so nobody takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _jobs(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT id::text, source_path, status, dagster_run_id FROM import_jobs"
        ).fetchall()


def _job_count(dsn: str) -> int:
    return len(_jobs(dsn))


# --- POST /api/v1/imports/users ------------------------------------------------------------


def test_post_queues_a_job_and_answers_202_with_its_id(
    api: Api, dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = {row[0] for row in _jobs(dsn)}
    with caplog.at_level(logging.WARNING, logger="user_import_pipeline.launch"):
        reply = api.post_json({"source_path": "users.json"})
    assert reply.status == 202
    job_id = reply.json["data"]["job_id"]
    assert uuid.UUID(job_id)
    # Byte-compatible with the Go service: compact JSON, newline-terminated.
    assert reply.body == f'{{"data":{{"job_id":"{job_id}","status":"queued"}}}}\n'.encode()
    assert reply.headers["content-type"] == "application/json"
    new = [row for row in _jobs(dsn) if row[0] not in before]
    assert new == [(job_id, "users.json", "queued", None)]
    # Dagster is unreachable: the job waits for the reaper sensor and the API says why.
    assert f"import job {job_id} stays queued" in caplog.text


@pytest.mark.parametrize(
    ("source_path", "stored"),
    [
        pytest.param("./nested/../users.json", "users.json", id="normalized"),
        pytest.param("nested/more.json.gz", "nested/more.json.gz", id="gzip-in-subfolder"),
        pytest.param("users.jsonl", "users.jsonl", id="json-lines"),
        pytest.param("nested/more.ndjson.gz", "nested/more.ndjson.gz", id="ndjson-gzip"),
    ],
)
def test_post_stores_the_normalized_source_path(
    api: Api, dsn: str, source_path: str, stored: str
) -> None:
    reply = api.post_json({"source_path": source_path})
    assert reply.status == 202, reply.body
    job_id = reply.json["data"]["job_id"]
    assert {row[0]: row[1] for row in _jobs(dsn)}[job_id] == stored


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("", id="no-content-type"),
        pytest.param("application/x-www-form-urlencoded", id="curl-d-form-type"),
        pytest.param("text/plain", id="text-plain"),
    ],
)
def test_post_of_a_json_body_is_accepted_whatever_its_content_type(
    api: Api, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    reply = api.call("POST", "/api/v1/imports/users", b'{"source_path": "users.json"}', headers)
    assert reply.status == 202, reply.body


def test_post_accepts_a_json_content_type_with_charset_and_extra_keys(api: Api) -> None:
    body = json.dumps({"source_path": "users.json", "priority": 3}).encode()
    reply = api.post_json(body, content_type="Application/JSON; charset=utf-8")
    assert reply.status == 202, reply.body


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b'{"source_path": "users.json"', "application/json", id="malformed-json"),
        pytest.param(b"", "application/json", id="empty-body"),
        pytest.param(b'["users.json"]', "application/json", id="array-body"),
        pytest.param(b'"users.json"', "application/json", id="string-body"),
        pytest.param(b"null", "application/json", id="null-body"),
        pytest.param(b'{"source_path": 42}', "application/json", id="number-source-path"),
        pytest.param(b'{"source_path": ["a.json"]}', "application/json", id="array-source-path"),
        pytest.param(b'{"source_path": null}', "application/json", id="null-source-path"),
        pytest.param(b'{"path": "users.json"}', "application/json", id="missing-source-path"),
        pytest.param(b'{"source_path": NaN}', "application/json", id="nan-constant"),
        pytest.param(b'{"source_path": "\xff.json"}', "application/json", id="invalid-utf8"),
        pytest.param(b'{"n": ' + b"9" * 5000 + b"}", "application/json", id="huge-integer"),
        pytest.param(_nested(30_000), "application/json", id="nested-30000-deep"),
        pytest.param(b"source_path=users.json", "application/x-www-form-urlencoded", id="form"),
    ],
)
def test_post_bad_body_is_400_bad_request_and_queues_nothing(
    api: Api, dsn: str, body: bytes, content_type: str
) -> None:
    before = _job_count(dsn)
    headers = {"Content-Type": content_type} if content_type else {}
    reply = api.call("POST", "/api/v1/imports/users", body, headers)
    assert reply.status == 400, reply.body
    assert reply.error_code == "bad_request"
    assert reply.json["error"]["message"]
    assert _job_count(dsn) == before


@pytest.mark.parametrize(
    "source_path",
    [
        pytest.param("", id="empty"),
        pytest.param("../outside.json", id="dot-dot"),
        pytest.param("nested/../../outside.json", id="dot-dot-through-subfolder"),
        pytest.param("/etc/passwd.json", id="absolute-missing"),
        pytest.param("ABSOLUTE_OUTSIDE", id="absolute-existing-outside"),
        pytest.param("link_out.json", id="symlink-out"),
        pytest.param("link_to_txt.json", id="symlink-to-other-extension"),
        pytest.param("notes.txt", id="txt-extension"),
        pytest.param("users.JSON", id="uppercase-extension"),
        pytest.param("users.json\x00.txt", id="nul-byte"),
        pytest.param("missing.json", id="missing-file"),
        pytest.param("folder.json", id="directory"),
        pytest.param("\ud800.json", id="lone-surrogate"),
        pytest.param("x" * 5000 + ".json", id="name-too-long"),
        pytest.param(SQL_INJECTION, id="sql-injection"),
        pytest.param(SQL_INJECTION + ".json", id="sql-injection-json"),
    ],
)
def test_post_refused_path_is_400_invalid_source_and_queues_nothing(
    api: Api, dsn: str, base_dir: Path, source_path: str
) -> None:
    if source_path == "ABSOLUTE_OUTSIDE":
        source_path = str(base_dir.parent / "outside.json")
    before = _job_count(dsn)
    reply = api.post_json({"source_path": source_path})
    assert reply.status == 400, reply.body
    assert reply.error_code == "invalid_source"
    message = reply.json["error"]["message"]
    assert message
    # The server's own folders are not disclosed.
    assert str(base_dir) not in message
    assert _job_count(dsn) == before


def test_post_absolute_path_inside_the_base_dir_is_accepted(api: Api, base_dir: Path) -> None:
    reply = api.post_json({"source_path": str(base_dir / "users.json")})
    assert reply.status == 202, reply.body


def test_post_body_of_exactly_64_kib_is_accepted_one_byte_more_is_413(api: Api) -> None:
    payload = b'{"source_path": "users.json"}'
    exact = payload + b" " * (imports.MAX_BODY_BYTES - len(payload))
    assert api.post_json(exact).status == 202
    reply = api.post_json(exact + b" ")
    assert reply.status == 413
    assert reply.error_code == "payload_too_large"


def test_post_1_mb_body_is_413_payload_too_large(api: Api, dsn: str) -> None:
    before = _job_count(dsn)
    body = json.dumps({"source_path": "users.json", "pad": "x" * 1_000_000}).encode()
    reply = api.post_json(body)
    assert reply.status == 413
    assert reply.error_code == "payload_too_large"
    assert _job_count(dsn) == before


def test_post_chunked_body_over_the_limit_is_413(api: Api) -> None:
    conn = http.client.HTTPConnection(api.host, api.port, timeout=30)
    try:
        chunks = iter([b'{"source_path": "users.json", "pad": "', b"x" * 100_000, b'"}'])
        conn.request(
            "POST",
            "/api/v1/imports/users",
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "payload_too_large"
    finally:
        conn.close()


def test_post_declaring_a_huge_body_is_413_before_it_is_sent(api: Api) -> None:
    # Only the headers go out: the answer must come without the API waiting for the body.
    with socket.create_connection((api.host, api.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/imports/users HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):  # until the API closes the connection
            received += chunk
    assert received.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"payload_too_large"' in received


# --- GET /api/v1/imports/{job_id} ------------------------------------------------------------


def test_get_import_shows_the_job_counts_and_its_first_20_row_errors(
    api: Api, importer: Importer
) -> None:
    # Row 0 is superseded by row 1 (same email): skipped, but not an error.
    users = [
        {"name": "Old", "email": "ann@example.com"},
        {"name": "Ann", "email": "ann@example.com"},
    ]
    users += [{"name": f"Bad {i}", "email": f"not-an-email-{i}"} for i in range(25)]
    users += [{"name": "Bob", "email": "bob@example.com", "phone_number": "+1 555"}]
    outcome = importer.import_users(users)
    assert outcome.job is not None and outcome.job["status"] == "succeeded"
    job_id = str(outcome.job["id"])

    reply = api.get(f"/api/v1/imports/{job_id}")
    assert reply.status == 200, reply.body
    job = reply.json["data"]
    assert list(job) == [
        "id",
        "source_path",
        "status",
        "dry_run",
        "progress",
        "counts",
        "attempts",
        "error_message",
        "bytes_total",
        "bytes_processed",
        "created_at",
        "started_at",
        "finished_at",
        "errors",
    ]
    assert job["id"] == job_id
    assert job["source_path"] == "users.json"
    assert job["status"] == "succeeded"
    assert job["dry_run"] is False
    assert job["progress"] == {"processed": 28, "total": 28}
    assert job["counts"] == {
        "imported": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 26,
        "failed": 25,
    }
    assert job["attempts"] == 1
    assert job["error_message"] is None
    size = (importer.base_dir / "users.json").stat().st_size
    assert job["bytes_total"] == size and job["bytes_processed"] == size
    for name in ("created_at", "started_at", "finished_at"):
        assert RFC3339_UTC.fullmatch(job[name]), job[name]
    times = [
        datetime.fromisoformat(job[f"{name}_at"]) for name in ("created", "started", "finished")
    ]
    assert times == sorted(times)
    assert times[-1] == outcome.job["finished_at"]
    assert [e["row_index"] for e in job["errors"]] == list(range(2, 22))
    assert {e["code"] for e in job["errors"]} == {"invalid_email"}
    assert all(set(e) == {"row_index", "code", "message"} and e["message"] for e in job["errors"])


def test_get_import_of_a_queued_job_has_nulls_where_nothing_happened_yet(api: Api) -> None:
    job_id = api.post_json({"source_path": "users.json"}).json["data"]["job_id"]
    job = api.get(f"/api/v1/imports/{job_id.upper()}").json["data"]
    assert job["id"] == job_id
    assert job["status"] == "queued"
    assert job["progress"] == {"processed": 0, "total": None}
    assert job["started_at"] is None and job["finished_at"] is None
    assert job["bytes_total"] is None and job["bytes_processed"] == 0
    assert job["errors"] == []


def test_get_unknown_import_is_404_not_found(api: Api) -> None:
    reply = api.get(f"/api/v1/imports/{uuid.uuid4()}")
    assert reply.status == 404
    assert reply.error_code == "not_found"


@pytest.mark.parametrize(
    "job_id",
    [
        pytest.param(SQL_INJECTION, id="sql-injection"),
        pytest.param("1 OR 1=1", id="sql-or"),
        pytest.param("123", id="number"),
        pytest.param("not-a-uuid", id="word"),
        pytest.param(str(uuid.uuid4()) + "0", id="uuid-plus-a-digit"),
        pytest.param(str(uuid.uuid4()).replace("-", ""), id="uuid-without-hyphens"),
        pytest.param("{" + str(uuid.uuid4()) + "}", id="uuid-in-braces"),
        pytest.param("00000000-0000-0000-0000-00000000000g", id="non-hex"),
        pytest.param("\x00", id="nul"),
    ],
)
def test_get_import_with_a_bad_id_is_400_invalid_job_id(api: Api, job_id: str) -> None:
    reply = api.get("/api/v1/imports/" + quote(job_id, safe=""))
    assert reply.status == 400, reply.body
    assert reply.error_code == "invalid_job_id"


# --- GET /api/v1/users/{id} ------------------------------------------------------------------


def test_get_user_shows_the_user_and_addresses_in_order(api: Api, importer: Importer) -> None:
    addresses = [
        {"street": f"Rua {n}", "city": "São Paulo", "state": "SP", "zip_code": n, "country": "BR"}
        for n in (3, 1, 2)
    ]
    users = [
        {
            "id": "crm-1042",
            "name": "Ana <Lima> & Co",
            "email": "Ana@Example.com",
            "phone_number": "+55 11",
            "addresses": addresses,
        }
    ]
    outcome = importer.import_users(users)
    assert outcome.job is not None and outcome.job["status"] == "succeeded"
    user_id = str(importer.users()["ana@example.com"]["id"])

    reply = api.get(f"/api/v1/users/{user_id}")
    assert reply.status == 200, reply.body
    user = reply.json["data"]
    assert list(user) == [
        "id",
        "external_id",
        "name",
        "email",
        "phone_number",
        "created_at",
        "updated_at",
        "addresses",
    ]
    assert user["id"] == user_id
    assert user["external_id"] == "crm-1042"
    assert user["name"] == "Ana <Lima> & Co"
    assert user["email"] == "Ana@Example.com"
    assert user["phone_number"] == "+55 11"
    assert RFC3339_UTC.fullmatch(user["created_at"]) and RFC3339_UTC.fullmatch(user["updated_at"])
    assert user["addresses"] == [
        {
            "street": f"Rua {n}",
            "city": "São Paulo",
            "state": "SP",
            "zip_code": str(n),
            "country": "BR",
        }
        for n in (3, 1, 2)
    ]
    # Like Go's encoder: HTML characters escaped, other text as UTF-8.
    assert b"Ana \\u003cLima\\u003e \\u0026 Co" in reply.body
    assert "São Paulo".encode() in reply.body


def test_get_user_without_addresses_or_external_id(api: Api, importer: Importer) -> None:
    importer.import_users([{"name": "Bob", "email": "bob@example.com"}])
    user_id = str(importer.users()["bob@example.com"]["id"])
    user = api.get(f"/api/v1/users/{user_id}").json["data"]
    assert user["external_id"] is None and user["phone_number"] is None
    assert user["addresses"] == []


def test_get_unknown_user_is_404_not_found(api: Api) -> None:
    reply = api.get(f"/api/v1/users/{uuid.uuid4()}")
    assert reply.status == 404
    assert reply.error_code == "not_found"


@pytest.mark.parametrize(
    "user_id",
    [
        pytest.param(SQL_INJECTION, id="sql-injection"),
        pytest.param("1; DROP TABLE users", id="sql-drop"),
        pytest.param("crm-1042", id="external-id"),
        pytest.param("", id="blank-after-decoding"),
    ],
)
def test_get_user_with_a_bad_id_is_400_invalid_user_id(api: Api, dsn: str, user_id: str) -> None:
    reply = api.get("/api/v1/users/" + (quote(user_id, safe="") or "%20"))
    assert reply.status == 400, reply.body
    assert reply.error_code == "invalid_user_id"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass('users')").fetchone() == ("users",)


# --- /healthz, routing, failures -------------------------------------------------------------


def test_healthz_is_200_ok_when_the_database_answers(api: Api) -> None:
    reply = api.get("/healthz")
    assert (reply.status, reply.body) == (200, b'{"status":"ok"}\n')


def test_healthz_is_503_unavailable_when_the_database_does_not(api_without_database: Api) -> None:
    reply = api_without_database.get("/healthz")
    assert (reply.status, reply.json) == (503, {"status": "unavailable"})


def test_reading_a_job_without_a_database_is_503_not_a_traceback(api_without_database: Api) -> None:
    reply = api_without_database.get(f"/api/v1/imports/{uuid.uuid4()}")
    assert reply.status == 503
    assert reply.error_code == "unavailable"
    assert b"Traceback" not in reply.body and b"psycopg" not in reply.body


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/nope",
        "/api/v1/imports",
        "/api/v1/imports/",
        "/api/v1/users/",
        "/healthz/",
        "/api/v1/imports/users/extra",
        "/api/v2/imports/users",
    ],
)
def test_unknown_route_is_404_not_found(api: Api, path: str) -> None:
    reply = api.get(path)
    assert reply.status == 404, reply.body
    assert reply.error_code == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/imports/users", "POST"),
        ("PUT", "/api/v1/imports/users", "POST"),
        ("POST", "/healthz", "GET"),
        ("DELETE", f"/api/v1/users/{uuid.uuid4()}", "GET"),
        ("POST", f"/api/v1/imports/{uuid.uuid4()}", "GET"),
    ],
)
def test_wrong_method_is_405_method_not_allowed(
    api: Api, method: str, path: str, allowed: str
) -> None:
    reply = api.call(method, path)
    assert reply.status == 405, reply.body
    assert reply.error_code == "method_not_allowed"
    assert allowed in reply.headers["allow"]


def test_a_bug_is_500_internal_without_details(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(conn: Session, user_id: str) -> NoReturn:
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(users, "read_user", broken)
    reply = api.get(f"/api/v1/users/{uuid.uuid4()}")
    assert reply.status == 500
    assert reply.json == {"error": {"code": "internal", "message": "internal server error"}}


def test_create_app_refuses_a_malformed_dagster_url(dsn: str, base_dir: Path) -> None:
    with pytest.raises(ValueError, match="http"):
        create_app(dsn, base_dir, dagster_url="dagster-webserver:3000")


def test_the_api_command_serves_on_the_given_port(
    server_url: str, dsn: str, base_dir: Path
) -> None:
    """``user-import api`` as a process: binds the port from $PORT, answers /healthz."""
    with closed_port() as port:
        pass
    cli = str(Path(sys.executable).with_name("user-import"))
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "DAGSTER_PG_URL": "postgresql+psycopg2://unused@127.0.0.1:1/unused",
        "IMPORT_BASE_DIR": str(base_dir),
        "PORT": str(port),
    }
    process = subprocess.Popen(
        [cli, "api"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                reply = Api("127.0.0.1", port).get("/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.2)
        assert reply.status == 200
        assert "server" not in reply.headers
    finally:
        process.terminate()
        process.wait(timeout=30)
