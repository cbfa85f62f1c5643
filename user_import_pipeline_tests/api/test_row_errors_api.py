"""``GET /api/v1/imports/{job_id}/errors``: a job's failed rows with their raw JSON, a page
at a time, over a real socket on a real PostgreSQL (CONTRACT §6.4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from user_import_pipeline.api.app import create_app
from user_import_pipeline_tests.api.serving import UNREACHABLE_DAGSTER, Api, serve
from user_import_pipeline_tests.failed_rows import (
    FAILED,
    assert_raw_is_the_row,
    import_bad_rows,
    many_errors,
    record_job,
)
from user_import_pipeline_tests.importing import Importer


@pytest.fixture(scope="module")
def api(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    base_dir = tmp_path_factory.mktemp("api")
    with serve(create_app(dsn, base_dir, dagster_url=UNREACHABLE_DAGSTER)) as running:
        yield running


def test_the_failed_rows_of_an_import_with_their_json(api: Api, importer: Importer) -> None:
    job_id = import_bad_rows(importer)
    reply = api.get(f"/api/v1/imports/{job_id}/errors")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert reply.body.endswith(b"}\n")
    page = reply.json
    assert list(page) == ["data", "next_after"]
    assert page["next_after"] is None
    rows = page["data"]
    # Row 0, a superseded duplicate, is skipped but not failed: not listed.
    assert {row["row_index"]: row["code"] for row in rows} == FAILED
    assert [row["row_index"] for row in rows] == sorted(FAILED)
    for row in rows:
        assert list(row) == ["row_index", "code", "message", "raw", "raw_truncated"]
        assert row["message"]
        assert_raw_is_the_row(row)


def test_pages_follow_next_after_to_the_last_row(api: Api, dsn: str) -> None:
    job_id = record_job(dsn, many_errors(25))
    seen: list[int] = []
    after: int | None = None
    pages = 0
    while True:
        query = "?limit=10" + ("" if after is None else f"&after={after}")
        page = api.get(f"/api/v1/imports/{job_id}/errors{query}").json
        pages += 1
        seen += [row["row_index"] for row in page["data"]]
        after = page["next_after"]
        if after is None:
            break
        assert after == page["data"][-1]["row_index"]
    # 10 + 10 + 5; a last page that is full says null too, when nothing follows it.
    assert (pages, seen) == (3, [2 * n for n in range(25)])
    exact = api.get(f"/api/v1/imports/{job_id}/errors?limit=25").json
    assert (len(exact["data"]), exact["next_after"]) == (25, None)


def test_default_page_is_100_rows_and_at_most_1000_can_be_asked(api: Api, dsn: str) -> None:
    job_id = record_job(dsn, many_errors(1001))
    first = api.get(f"/api/v1/imports/{job_id}/errors").json
    assert (len(first["data"]), first["next_after"]) == (100, 198)
    most = api.get(f"/api/v1/imports/{job_id}/errors?limit=1000&after=0").json
    assert [row["row_index"] for row in most["data"]] == [2 * n for n in range(1, 1001)]
    assert most["next_after"] is None


def test_after_the_last_row_is_an_empty_page(api: Api, dsn: str) -> None:
    job_id = record_job(dsn, many_errors(3))
    page = api.get(f"/api/v1/imports/{job_id}/errors?after=4").json
    assert page == {"data": [], "next_after": None}


def test_raw_cut_short_and_raw_missing_are_said(api: Api, dsn: str) -> None:
    cut = '{"name": "' + "<" * 4086
    job_id = record_job(
        dsn,
        [
            (0, "not_an_object", "no raw recorded", None, False, False),
            (1, "value_too_long", "cut", cut, True, False),
        ],
    )
    reply = api.get(f"/api/v1/imports/{job_id}/errors")
    assert [(row["raw"], row["raw_truncated"]) for row in reply.json["data"]] == [
        (None, False),
        (cut, True),
    ]
    assert b"\\u003c" * 10 in reply.body, "HTML characters escaped like every other body"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("after=-1", id="negative-after"),
        pytest.param("after=1.5", id="fractional-after"),
        pytest.param("after=%2B5", id="plus-sign"),
        pytest.param("after=%205", id="leading-space"),
        pytest.param("after=", id="empty-after"),
        pytest.param("after", id="bare-after"),
        pytest.param("after=abc", id="word"),
        pytest.param("after=9223372036854775808", id="beyond-bigint"),
        pytest.param("after=" + "9" * 5000, id="5000-digits"),
        pytest.param("after=%D9%A1", id="arabic-indic-digit"),
        pytest.param("limit=0", id="limit-0"),
        pytest.param("limit=1001", id="limit-1001"),
        pytest.param("limit=-5", id="negative-limit"),
        pytest.param("limit=ten", id="word-limit"),
        pytest.param("limit=1&limit=2", id="repeated"),
        pytest.param("offset=10", id="unknown-parameter"),
        pytest.param("lmit=10", id="misspelt-limit"),
    ],
)
def test_a_bad_query_is_400_bad_request(api: Api, dsn: str, query: str) -> None:
    job_id = record_job(dsn, many_errors(3))
    reply = api.get(f"/api/v1/imports/{job_id}/errors?{query}")
    assert reply.status == 400, reply.body
    assert reply.error_code == "bad_request"
    assert reply.json["error"]["message"]


def test_the_largest_after_is_accepted(api: Api, dsn: str) -> None:
    job_id = record_job(dsn, many_errors(3))
    reply = api.get(f"/api/v1/imports/{job_id}/errors?after=9223372036854775807&limit=1000")
    assert (reply.status, reply.json) == (200, {"data": [], "next_after": None})


def test_an_unknown_job_is_404_not_found(api: Api) -> None:
    reply = api.get(f"/api/v1/imports/{uuid.uuid4()}/errors")
    assert reply.status == 404
    assert reply.error_code == "not_found"


def test_a_job_without_failed_rows_is_an_empty_page(api: Api, dsn: str) -> None:
    job_id = record_job(dsn, [])
    reply = api.get(f"/api/v1/imports/{job_id.upper()}/errors")
    assert (reply.status, reply.json) == (200, {"data": [], "next_after": None})


@pytest.mark.parametrize("job_id", ["' OR 1=1 --", "users", "123", str(uuid.uuid4()) + "0"])
def test_a_malformed_job_id_is_400_invalid_job_id(api: Api, job_id: str) -> None:
    reply = api.get("/api/v1/imports/" + quote(job_id, safe="") + "/errors")
    assert reply.status == 400, reply.body
    assert reply.error_code == "invalid_job_id"


def test_only_get_is_allowed(api: Api) -> None:
    reply = api.call("POST", f"/api/v1/imports/{uuid.uuid4()}/errors")
    assert reply.status == 405
    assert reply.error_code == "method_not_allowed"


def test_without_a_database_it_is_503_unavailable(tmp_path: Path) -> None:
    """Like the other endpoints: no traceback, no driver error."""
    dsn = "postgresql://postgres@127.0.0.1:1/nothing"
    with serve(create_app(dsn, tmp_path, dagster_url=UNREACHABLE_DAGSTER)) as api:
        reply = api.get(f"/api/v1/imports/{uuid.uuid4()}/errors")
    assert reply.status == 503
    assert reply.error_code == "unavailable"
