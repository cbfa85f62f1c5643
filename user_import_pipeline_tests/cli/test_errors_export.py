"""``user-import errors JOB_ID --format csv|jsonl [--out FILE]`` run as a user runs it (a
separate process) on this module's database: every failed row, in row order, in batches."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from user_import_pipeline import checkpoints, row_errors
from user_import_pipeline.db.client import Database
from user_import_pipeline_tests.failed_rows import (
    FAILED,
    assert_raw_is_the_row,
    import_bad_rows,
    many_errors,
    record_job,
)
from user_import_pipeline_tests.importing import Importer

CLI = str(Path(sys.executable).with_name("user-import"))
HEADER = "row_index,code,message,raw,raw_truncated\r\n"


def _env(dsn: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        # Set, so that the CLI does not create a Dagster database nobody drops.
        "DAGSTER_PG_URL": "postgresql+psycopg2://unused@127.0.0.1:1/unused",
        # Not UTF-8: the export is UTF-8 whatever the locale says.
        "LC_ALL": "C",
        "PYTHONIOENCODING": "ascii",
    }


def _errors(dsn: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([CLI, "errors", *args], env=_env(dsn), capture_output=True, timeout=120)


def _csv_rows(out: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out.decode("utf-8"), newline="")))


def _jsonl_rows(out: bytes) -> list[dict[str, Any]]:
    lines = out.decode("utf-8").split("\n")
    assert lines[-1] == "", "every object ends its line"
    return [json.loads(line) for line in lines[:-1]]


# --- a real import ---------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["csv", "jsonl"])
def test_the_failed_rows_of_an_import_are_exported_with_their_json(
    importer: Importer, dsn: str, output_format: str
) -> None:
    job_id = import_bad_rows(importer)
    done = _errors(dsn, job_id, "--format", output_format)
    assert done.returncode == 0, done.stderr
    if output_format == "csv":
        assert done.stdout.decode().startswith(HEADER)
        rows: list[dict[str, Any]] = [
            {
                **row,
                "row_index": int(row["row_index"]),
                "raw": row["raw"] or None,
                "raw_truncated": json.loads(row["raw_truncated"]),
            }
            for row in _csv_rows(done.stdout)
        ]
    else:
        rows = _jsonl_rows(done.stdout)
    # The superseded duplicate (row 0) is skipped, not failed: not exported.
    assert {row["row_index"]: row["code"] for row in rows} == FAILED
    assert [row["row_index"] for row in rows] == sorted(FAILED)
    assert all(row["message"] for row in rows)
    for row in rows:
        assert_raw_is_the_row(row)


# --- formats, on rows written directly --------------------------------------------------------

AWKWARD = [
    (0, "invalid_email", 'has, a comma and "quotes"', '{"email": "a,\\"b\\""}', False, False),
    (1, "invalid_address", "line one\nline two", '{"name": "Zoë 😀"}', False, False),
    (3, "not_an_object", "a row with no raw", None, False, False),
    (4, "value_too_long", "cut", '{"name": "' + "x" * 4086, True, False),
    (5, "duplicate_in_file", "superseded by row 6", "{}", False, True),
]


def test_csv_is_rfc_4180_utf_8_with_a_header(dsn: str) -> None:
    job_id = record_job(dsn, AWKWARD)
    done = _errors(dsn, job_id, "--format", "csv")
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8")
    assert text.startswith(HEADER)
    # Fields with commas, quotes or line breaks are quoted, quotes doubled, lines end CRLF.
    assert (
        '0,invalid_email,"has, a comma and ""quotes""","{""email"": ""a,\\""b\\""""}",false\r\n'
        in text
    )
    assert '1,invalid_address,"line one\nline two","{""name"": ""Zoë 😀""}",false\r\n' in text
    assert "3,not_an_object,a row with no raw,,false\r\n" in text
    assert [row["row_index"] for row in _csv_rows(done.stdout)] == ["0", "1", "3", "4"]
    truncated = _csv_rows(done.stdout)[-1]
    assert (len(truncated["raw"]), truncated["raw_truncated"]) == (4096, "true")


def test_jsonl_is_one_object_per_line_with_the_same_fields(dsn: str) -> None:
    job_id = record_job(dsn, AWKWARD)
    done = _errors(dsn, job_id, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    rows = _jsonl_rows(done.stdout)
    assert rows == [
        {"row_index": i, "code": c, "message": m, "raw": r, "raw_truncated": t}
        for i, c, m, r, t, superseded in AWKWARD
        if not superseded
    ]
    assert "Zoë 😀".encode() in done.stdout, "UTF-8, not \\u escapes"


def test_out_writes_the_file_and_says_how_many_rows(dsn: str, tmp_path: Path) -> None:
    job_id = record_job(dsn, AWKWARD)
    out = tmp_path / "errors.jsonl"
    done = _errors(dsn, job_id, "--format", "jsonl", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == f"wrote 4 failed rows to {out}"
    assert [row["row_index"] for row in _jsonl_rows(out.read_bytes())] == [0, 1, 3, 4]


def test_a_job_without_failed_rows_exports_only_the_header(dsn: str) -> None:
    job_id = record_job(dsn, [])
    done = _errors(dsn, job_id, "--format", "csv")
    assert (done.returncode, done.stdout.decode()) == (0, HEADER)


# --- many rows: keyset pages ------------------------------------------------------------------


def test_thousands_of_rows_are_exported_whole_and_in_order(dsn: str) -> None:
    # More than two batches, superseded rows between them.
    job_id = record_job(dsn, many_errors(2 * row_errors.EXPORT_BATCH + 500))
    done = _errors(dsn, job_id, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    indexes = [row["row_index"] for row in _jsonl_rows(done.stdout)]
    assert indexes == [2 * n for n in range(2 * row_errors.EXPORT_BATCH + 500)]


def test_every_row_is_read_a_batch_at_a_time(dsn: str) -> None:
    job_id = record_job(dsn, many_errors(10))
    pages: list[checkpoints.Point] = []

    def count(point: checkpoints.Point) -> None:
        if point.kind == "statement" and point.name == "list_import_job_errors":
            pages.append(point)

    with Database(dsn).session() as session, checkpoints.listening(count):
        rows = list(row_errors.every(session, job_id, batch=3))
    assert [row["row_index"] for row in rows] == [2 * n for n in range(10)]
    # 3 + 3 + 3 + 1: four statements, each for one batch (and one row to see if more follow).
    assert len(pages) == 4


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        pytest.param(str(uuid.uuid4()), "no import job", id="unknown"),
        pytest.param("' OR 1=1 --", "is not a job id", id="sql-injection"),
        pytest.param("12345", "is not a job id", id="number"),
    ],
)
def test_an_unknown_or_malformed_job_id_exits_2_and_writes_nothing(
    dsn: str, tmp_path: Path, job_id: str, message: str
) -> None:
    out = tmp_path / "errors.csv"
    done = _errors(dsn, job_id, "--format", "csv", "--out", str(out))
    assert done.returncode == 2
    assert message in done.stderr.decode()
    assert b"Traceback" not in done.stderr
    assert done.stdout == b""
    assert not out.exists()


def test_a_format_is_required(dsn: str) -> None:
    done = _errors(dsn, str(uuid.uuid4()))
    assert done.returncode == 2
    assert "--format" in done.stderr.decode()


def test_a_running_job_is_exported_with_a_warning(dsn: str) -> None:
    job_id = record_job(dsn, AWKWARD)
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE import_jobs SET status = 'running' WHERE id = %s", (job_id,))
    done = _errors(dsn, job_id, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert "is running" in done.stderr.decode()
    assert len(_csv_rows(done.stdout)) == 4


def test_a_reader_that_goes_away_ends_the_export_quietly(dsn: str) -> None:
    job_id = record_job(dsn, many_errors(3 * row_errors.EXPORT_BATCH))
    process = subprocess.Popen(
        [CLI, "errors", job_id, "--format", "csv"],
        env=_env(dsn),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == HEADER.encode()
    process.stdout.close()  # what `| head -1` does
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr
