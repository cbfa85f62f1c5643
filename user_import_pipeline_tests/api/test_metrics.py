"""``GET /metrics`` after real imports, parsed with prometheus-client's own parsers: jobs by
status, rows by outcome and import durations, read from ``import_jobs`` at each scrape."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from user_import_pipeline.api.app import create_app
from user_import_pipeline.metrics import DURATION_BUCKETS
from user_import_pipeline_tests.api.serving import UNREACHABLE_DAGSTER, Api, serve
from user_import_pipeline_tests.failed_rows import USERS_WITH_BAD_ROWS
from user_import_pipeline_tests.importing import Importer

SUCCEEDED = ("status", "succeeded")


@pytest.fixture(scope="module")
def api(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with serve(create_app(dsn, tmp_path_factory.mktemp("api"), UNREACHABLE_DAGSTER)) as running:
        yield running


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], Any]


def scrape(api: Api) -> dict[str, tuple[str, Samples]]:
    """Every family of the scrape: {name: (type, {(sample name, sorted labels): value})}."""
    reply = api.get("/metrics")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == CONTENT_TYPE_PLAIN_0_0_4
    return {
        family.name: (
            family.type,
            {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for sample in family.samples
            },
        )
        for family in text_string_to_metric_families(reply.body.decode("utf-8"))
    }


@pytest.fixture
def imports(importer: Importer) -> list[dict[str, Any]]:
    """Two succeeded imports (the second re-imports the first's file), one failed, one dry
    run, one job still queued: their rows in import_jobs."""
    source = importer.write("bad.json", USERS_WITH_BAD_ROWS)
    (importer.base_dir / "broken.json").write_text('[{"name": "x"')
    for outcome in (
        importer.run(source),
        importer.run(source),
        importer.run("broken.json"),
        importer.run(source, dry_run=True),
    ):
        assert outcome.job is not None
    with psycopg.connect(importer.dsn) as conn:
        conn.execute("INSERT INTO import_jobs (source_path) VALUES ('later.json')")
    return importer.query("SELECT * FROM import_jobs ORDER BY created_at")


def test_jobs_by_status_and_rows_by_outcome_are_those_of_import_jobs(
    api: Api, imports: list[dict[str, Any]]
) -> None:
    metrics = scrape(api)
    assert [job["status"] for job in imports] == [
        "succeeded",
        "succeeded",
        "failed",
        "succeeded",
        "queued",
    ]
    # The dry run is not an import.
    assert metrics["user_import_jobs"] == (
        "gauge",
        {
            ("user_import_jobs", (("status", status),)): count
            for status, count in (("queued", 1), ("running", 0), ("succeeded", 2), ("failed", 1))
        },
    )
    # Each import of the file: 3 users applied (new, then unchanged), 5 rows skipped, 4 of
    # them failed; the failed import counted nothing.
    assert metrics["user_import_rows"] == (
        "counter",
        {
            ("user_import_rows_total", (("outcome", outcome),)): count
            for outcome, count in (
                ("imported", 3),
                ("updated", 0),
                ("unchanged", 3),
                ("skipped", 10),
                ("failed", 8),
            )
        },
    )


def test_durations_are_a_histogram_of_finished_imports(
    api: Api, importer: Importer, imports: list[dict[str, Any]]
) -> None:
    # One import made to have taken 90 s: between the 60 s and 120 s bounds.
    first = imports[0]["id"]
    with psycopg.connect(importer.dsn) as conn:
        conn.execute(
            "UPDATE import_jobs SET started_at = finished_at - interval '90 seconds' WHERE id = %s",
            (first,),
        )
    seconds = {
        status: [
            row["seconds"]
            for row in importer.query(
                "SELECT extract(epoch FROM finished_at - started_at)::float8 AS seconds "
                "FROM import_jobs WHERE status = %s AND NOT dry_run",
                (status,),
            )
        ]
        for status in ("succeeded", "failed")
    }
    assert sorted(seconds["succeeded"])[-1] == 90.0 and len(seconds["succeeded"]) == 2
    kind, durations = scrape(api)["user_import_duration_seconds"]
    assert kind == "histogram"
    expected: Samples = {}
    for status, taken in seconds.items():
        for bound in (*DURATION_BUCKETS, float("inf")):
            le = "+Inf" if bound == float("inf") else str(bound)
            key = ("user_import_duration_seconds_bucket", (("le", le), ("status", status)))
            expected[key] = sum(1 for s in taken if s <= bound)
        expected[("user_import_duration_seconds_count", (("status", status),))] = len(taken)
        expected[("user_import_duration_seconds_sum", (("status", status),))] = pytest.approx(
            sum(taken)
        )
    assert durations == expected
    assert durations[("user_import_duration_seconds_bucket", (("le", "60.0"), SUCCEEDED))] == 1
    assert durations[("user_import_duration_seconds_bucket", (("le", "120.0"), SUCCEEDED))] == 2


def test_an_empty_database_reports_zeros_not_nothing(api: Api, importer: Importer) -> None:
    # (The importer fixture has emptied import_jobs.)
    metrics = scrape(api)
    assert {name: len(samples) for name, (_, samples) in metrics.items()} == {
        "user_import_jobs": 4,
        "user_import_rows": 5,
        # Per status: each bound, +Inf, the count and the sum.
        "user_import_duration_seconds": 2 * (len(DURATION_BUCKETS) + 3),
    }
    assert {value for _, samples in metrics.values() for value in samples.values()} == {0}


def test_every_api_process_reports_the_same_numbers(
    api: Api, dsn: str, tmp_path: Path, imports: list[dict[str, Any]]
) -> None:
    with serve(create_app(dsn, tmp_path, UNREACHABLE_DAGSTER)) as other:
        assert other.get("/metrics").body == api.get("/metrics").body


def test_openmetrics_is_answered_to_a_scraper_that_asks_for_it(
    api: Api, imports: list[dict[str, Any]]
) -> None:
    reply = api.call(
        "GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    families = {f.name: f for f in openmetrics_families(reply.body.decode("utf-8"))}
    assert families["user_import_rows"].type == "counter"
    assert families["user_import_duration_seconds"].type == "histogram"


def test_without_a_database_the_scrape_fails_with_503(tmp_path: Path) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:1/{uuid.uuid4().hex}"
    with serve(create_app(dsn, tmp_path, UNREACHABLE_DAGSTER)) as api:
        reply = api.get("/metrics")
    assert reply.status == 503
    assert reply.error_code == "unavailable"
