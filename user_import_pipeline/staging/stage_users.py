"""Stream the file, validate each item and COPY it into the job's ``stg_users`` table.

One pass, one transaction: the rows go to staging (invalid ones with their error code),
then the row errors are recorded and the phase is marked, all or nothing. A file error
anywhere - even in the last byte - rolls the whole thing back, so nothing reaches a merge.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from user_import_pipeline.db.connection import transaction
from user_import_pipeline.db.sqlfiles import statement
from user_import_pipeline.ingest.source import ImportFileError, OpenedSource, open_source
from user_import_pipeline.ingest.stream import iter_items
from user_import_pipeline.ingest.validate import Address, RowError, UserRow, validate_user
from user_import_pipeline.lifecycle.jobs import Ticket, read_job, require_ours
from user_import_pipeline.lifecycle.lease import Progress
from user_import_pipeline.staging.tables import StagingTables

ProgressCallback = Callable[[Progress], None]
# Each address list is staged as a JSON array of [street, city, state, zip_code, country]
# arrays (an `Address` is a named tuple, so it encodes as one): no keys to build or write.
# One encoder for all rows: json.dumps() with options builds a new one per call.
_encode_addresses = json.JSONEncoder(
    ensure_ascii=False, check_circular=False, separators=(",", ":")
).encode
_QUOTES = 2 * len(Address._fields)  # the quotes around the fields of one address


@dataclass(frozen=True)
class StagedUsers:
    rows_processed: int
    rows_staged: int
    row_errors: int
    bytes_total: int


def stage_users(
    conn: psycopg.Connection,
    ticket: Ticket,
    source_path: Path,
    progress: Progress,
    *,
    report_every: int,
    on_progress: ProgressCallback | None = None,
) -> StagedUsers:
    """Stage every item of the file; raises ImportFileError for a file error."""
    tables = StagingTables.of(ticket.job_id)
    name = ticket.source_path
    with open_source(source_path) as source, transaction(conn):
        known_digest = read_job(conn, ticket.job_id)["source_sha256"]
        progress.bytes_total = source.size
        conn.execute(statement("recreate_staging_users", **tables.names))
        processed, errors = _copy_items(
            conn, tables, source, name, progress, report_every, on_progress
        )
        if not source.unchanged_since_open():
            raise ImportFileError(f"{name}: the file was modified while it was being read")
        digest = source.digest.hexdigest()
        if known_digest is not None and digest != known_digest:
            raise ImportFileError(
                f"{name}: the file changed since it was first staged for this import"
            )
        conn.execute(statement("analyze_table", table=tables.users))
        params = {"job_id": ticket.job_id, "owner": ticket.lease.owner}
        conn.execute(statement("delete_stage_errors"), params)
        conn.execute(statement("insert_stage_errors", **tables.names), params)
        recorded = conn.execute(
            statement("record_users_staged"),
            {
                **params,
                "staged_users": processed,
                "rows_processed": processed,
                "bytes_total": source.size,
                "source_sha256": digest,
            },
        )
        require_ours(recorded, ticket)
        conn.execute(statement("update_error_counts"), params)
    return StagedUsers(processed, processed - errors, errors, source.size)


def _copy_items(
    conn: psycopg.Connection,
    tables: StagingTables,
    source: OpenedSource,
    name: str,
    progress: Progress,
    report_every: int,
    on_progress: ProgressCallback | None,
) -> tuple[int, int]:
    processed = errors = 0
    with (
        conn.cursor() as cursor,
        cursor.copy(statement("copy_staging_users", **tables.names)) as copy,
    ):
        for index, item in enumerate(iter_items(source.stream, name, source.rewind)):
            try:
                copy.write_row(_valid_row(index, validate_user(item)))
            except RowError as error:
                errors += 1
                copy.write_row(_invalid_row(index, error))
            processed = index + 1
            if processed % report_every == 0:
                progress.bytes_processed = source.bytes_read
                progress.rows_processed = processed
                if on_progress is not None:
                    on_progress(progress)
    progress.bytes_processed = source.size
    progress.rows_processed = processed
    return processed, errors


def _valid_row(index: int, row: UserRow) -> tuple[object, ...]:
    addresses = row.addresses
    return (
        index,
        None,
        None,
        row.external_id,
        row.external_uuid,
        row.name,
        row.email,
        row.phone_number,
        addresses is not None,
        None if addresses is None else _addresses_json(addresses),
    )


def _addresses_json(addresses: tuple[Address, ...]) -> str:
    """What ``_encode_addresses`` returns, in a fraction of its time for the usual list: a
    field that JSON writes as it is (printable, no quote, no backslash) needs no encoder, so
    the fields are joined between the quotes and brackets; anything else is encoded."""
    if not addresses:
        return "[]"
    inner = '"],["'.join(map('","'.join, addresses))
    if (
        inner.isprintable()
        and "\\" not in inner
        and inner.count('"') == _QUOTES * len(addresses) - 2
    ):
        return f'[["{inner}"]]'
    return _encode_addresses(addresses)


def _invalid_row(index: int, error: RowError) -> tuple[object, ...]:
    return (index, error.code, error.message, None, None, None, None, None, None, None)
