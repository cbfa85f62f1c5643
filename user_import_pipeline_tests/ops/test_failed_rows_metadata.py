"""The run page shows an import's failed rows: ``finish_import``'s output metadata holds how
many rows of each code failed and the first 20 as a table, read back from the instance's
event log as the UI reads it."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import dagster as dg
import psycopg
import pytest

from user_import_pipeline import checkpoints
from user_import_pipeline.db.client import Database
from user_import_pipeline.ops.row_errors_metadata import RAW_SHOWN, row_errors_metadata
from user_import_pipeline_tests.failed_rows import FAILED, USERS_WITH_BAD_ROWS, record_job
from user_import_pipeline_tests.importing import Importer

INJECTED = "injected by test_failed_rows_metadata"


def finish_metadata(instance: dg.DagsterInstance, run_id: str) -> Mapping[str, Any]:
    """The output metadata of the run's finish_import, from the instance's event log."""
    [output] = [
        entry.dagster_event
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT)
        if entry.dagster_event is not None and entry.dagster_event.step_key == "finish_import"
    ]
    return output.event_specific_data.metadata  # type: ignore[union-attr]


def records(value: Any) -> list[dict[str, Any]]:
    assert isinstance(value, dg.TableMetadataValue)
    return [dict(record.data) for record in value.records]


def test_the_run_page_shows_the_failed_rows_of_an_import(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    # 25 more rows with a bad email after the file's own bad rows: 20 are shown, all counted.
    users = USERS_WITH_BAD_ROWS + [{"name": f"N{n}", "email": f"bad-{n}"} for n in range(25)]
    outcome = importer.run_dagster(importer.write("bad.json", users), instance=instance)
    assert outcome.succeeded and outcome.job is not None
    assert outcome.job["failed_count"] == 29

    metadata = finish_metadata(instance, outcome.result.run_id)
    assert records(metadata["failed_rows_by_code"]) == [
        {"code": "invalid_email", "rows": 26},
        {"code": "duplicate_in_file", "rows": 1},  # the superseded row 0 is not counted
        {"code": "missing_field", "rows": 1},
        {"code": "value_too_long", "rows": 1},
    ]
    shown = records(metadata["first_failed_rows"])
    expected = {**FAILED, **{len(USERS_WITH_BAD_ROWS) + n: "invalid_email" for n in range(25)}}
    assert [(row["row_index"], row["code"]) for row in shown] == sorted(expected.items())[:20]
    assert all(row["message"] for row in shown)
    for row in shown:
        assert row["raw"] is not None, f"row {row['row_index']} has no raw JSON"
        assert json.loads(row["raw"])["email"] == users[row["row_index"]]["email"]
    # The counts the op showed before are still there.
    assert metadata["failed_count"].value == 29


def test_an_import_without_failed_rows_shows_empty_tables(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    source = importer.write("good.json", [{"name": "Ann", "email": "ann@example.com"}])
    outcome = importer.run_dagster(source, instance=instance)
    assert outcome.succeeded
    metadata = finish_metadata(instance, outcome.result.run_id)
    assert records(metadata["failed_rows_by_code"]) == []
    assert records(metadata["first_failed_rows"]) == []


def test_a_database_failure_there_does_not_fail_the_succeeded_import(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    def lose_connection(point: checkpoints.Point) -> None:
        if point.kind == "statement" and point.name == "summarize_import_job_errors":
            raise psycopg.OperationalError(f"server closed the connection ({INJECTED})")

    source = importer.write("bad.json", USERS_WITH_BAD_ROWS)
    with checkpoints.listening(lose_connection):
        outcome = importer.run_dagster(source, instance=instance)
    assert outcome.succeeded and outcome.job is not None
    assert outcome.job["status"] == "succeeded"
    metadata = finish_metadata(instance, outcome.result.run_id)
    assert "first_failed_rows" not in metadata and metadata["failed_count"].value == 4
    warnings = [
        entry.user_message
        for entry in instance.all_logs(outcome.result.run_id)
        if entry.level == logging.WARNING and entry.step_key == "finish_import"
    ]
    assert any("failed rows" in message and INJECTED in message for message in warnings)


# --- how rows are shown, on rows written directly ---------------------------------------------


def test_raw_is_cut_for_the_table_and_a_cut_raw_says_so(dsn: str) -> None:
    long = json.dumps({"name": "x" * 500, "email": "bad"})
    job_id = record_job(
        dsn,
        [
            (0, "value_too_long", "long", long, False, False),
            (1, "value_too_long", "cut at the limit", '{"name": "short now', True, False),
            (2, "not_an_object", "none recorded", None, False, False),
            (3, "invalid_email", "fits", '{"email": "x"}', False, False),
        ],
    )
    metadata = row_errors_metadata(Database(dsn), job_id, logging.getLogger(__name__))
    assert [row["raw"] for row in records(metadata["first_failed_rows"])] == [
        long[:RAW_SHOWN] + "…",
        '{"name": "short now…',
        None,
        '{"email": "x"}',
    ]


def test_a_database_failure_is_a_warning_and_no_metadata(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = record_job(dsn, [])
    unreachable = Database("postgresql://postgres@127.0.0.1:1/nothing")
    with caplog.at_level(logging.WARNING):
        found = row_errors_metadata(unreachable, job_id, logging.getLogger(__name__))
    assert found == {}
    assert f"the failed rows of import job {job_id} are not shown" in caplog.text
