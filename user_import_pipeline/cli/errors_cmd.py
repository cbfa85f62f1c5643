"""``user-import errors JOB_ID --format csv|jsonl [--out FILE]``: every failed row of a job
with the JSON it came as, streamed in row order, to fix and import again."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import click

from user_import_pipeline import row_errors
from user_import_pipeline.cli.reading import job_id_argument, no_such_job, read_only_session

Writer = Callable[[dict[str, Any]], None]


@click.command()
@click.argument("job_id")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "jsonl"]),
    required=True,
    help="csv: RFC 4180 with a header line; jsonl: one JSON object per line.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
def errors(job_id: str, output_format: str, out: Path | None) -> None:
    """Export every failed row of import job JOB_ID in row order: row_index, code, message,
    raw (the row's JSON, at most 4,096 characters) and raw_truncated. Superseded duplicates are not
    failures and are left out. Exit 2 when there is no such job."""
    canonical = job_id_argument(job_id)
    written = 0
    try:
        with read_only_session() as session:
            status = row_errors.job_status(session, canonical)
            if status is None:
                no_such_job(canonical)
            if status in ("queued", "running"):
                click.echo(
                    f"warning: import job {canonical} is {status}: "
                    "rows it records from now on are not in this export",
                    err=True,
                )
            with _opened(out) as stream:
                write = _WRITERS[output_format](stream)
                for row in row_errors.every(session, canonical):
                    write(row)
                    written += 1
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, like other Unix tools. Python would
        # complain again when it flushes stdout at exit, so stdout goes to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    if out is not None:
        click.echo(f"wrote {written} failed rows to {out}")


@contextmanager
def _opened(out: Path | None) -> Iterator[TextIO]:
    """``out``, or stdout, as UTF-8 text whatever the locale, line ends left to the writer."""
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as file:
            yield file
        return
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        yield stdout
    finally:
        stdout.detach()  # flushes, and leaves the process's stdout open


def _csv(stream: TextIO) -> Writer:
    writer = csv.writer(stream)  # the excel dialect is RFC 4180: CRLF, quotes doubled
    writer.writerow(row_errors.FIELDS)

    def write(row: dict[str, Any]) -> None:
        # Booleans as JSON spells them; a missing raw is an empty field.
        writer.writerow(
            [
                json.dumps(row[key]) if isinstance(row[key], bool) else row[key]
                for key in row_errors.FIELDS
            ]
        )

    return write


def _jsonl(stream: TextIO) -> Writer:
    def write(row: dict[str, Any]) -> None:
        stream.write(
            json.dumps({key: row[key] for key in row_errors.FIELDS}, ensure_ascii=False) + "\n"
        )

    return write


_WRITERS: dict[str, Callable[[TextIO], Writer]] = {"csv": _csv, "jsonl": _jsonl}
