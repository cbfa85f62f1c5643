"""Stream the file, validate each item and COPY it into the job's ``stg_users`` table.

One pass, one transaction: the rows go to staging (invalid ones with their error code and
their raw JSON, ingest/raw.py), then the row errors are recorded and the phase is marked,
all or nothing. A file error anywhere - even in the last byte - rolls the whole thing back,
so nothing reaches a merge.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from user_import_pipeline.checkpoints import Point, reach
from user_import_pipeline.db.client import Session
from user_import_pipeline.ingest.formats import read_items
from user_import_pipeline.ingest.location import Found, open_found
from user_import_pipeline.ingest.raw import Raw
from user_import_pipeline.ingest.source import MODIFIED, ImportFileError, OpenedSource
from user_import_pipeline.ingest.validate import Address, RowError, UserRow, validate_user
from user_import_pipeline.lifecycle.jobs import HeldJob, read_job, require_ours
from user_import_pipeline.lifecycle.lease import Progress
from user_import_pipeline.staging.fingerprint import fingerprint
from user_import_pipeline.staging.tables import StagingTables, recreate

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
    already_done: bool = False  # an earlier attempt staged them; this one did nothing
    # Users written straight into empty tables, their import done (merge/bulk_load.py).
    users_written: int = 0


def stage_users(
    session: Session,
    job: HeldJob,
    found: Found,
    progress: Progress,
    *,
    report_every: int,
    on_progress: ProgressCallback | None = None,
) -> StagedUsers:
    """Stage every item of the file; raises ImportFileError for a file error."""
    tables = StagingTables.of(job.job_id)
    name = job.source_path
    with open_found(found) as source, session.transaction():
        session.execute("mark_import_transaction")
        known_digest = read_job(session, job.job_id)["source_sha256"]
        progress.bytes_total = source.size
        recreate(session, tables.users, "stg_users")
        with session.copy("copy_staging_users", **tables.names) as write_row:
            processed, errors = _copy_items(
                write_row, source, name, progress, report_every, on_progress
            )
        tables.drop_proven(session)  # what an earlier attempt proved is staged in full now
        record_staged(session, job, source, known_digest, processed, staged=processed)
    return StagedUsers(processed, processed - errors, errors, source.size)


def _copy_items(
    write_row: Callable[[Sequence[object]], None],
    source: OpenedSource,
    name: str,
    progress: Progress,
    report_every: int,
    on_progress: ProgressCallback | None,
) -> tuple[int, int]:
    processed = errors = 0
    items = read_items(source, name)
    for index, item in enumerate(items):
        try:
            row = validate_user(item)
            write_row(valid_row(index, row, fingerprint(row)))
        except RowError as error:
            errors += 1
            write_row(invalid_row(index, error, items.raw(item)))
        processed = index + 1
        if processed % report_every == 0:
            report_progress(progress, source, processed, on_progress)
    progress.bytes_processed = source.size
    progress.rows_processed = processed
    return processed, errors


def report_progress(
    progress: Progress, source: OpenedSource, rows: int, on_progress: ProgressCallback | None
) -> None:
    """Tells the run how far the file has been read (every ``report_every`` rows)."""
    progress.bytes_processed = source.bytes_read
    progress.rows_processed = rows
    if on_progress is not None:
        on_progress(progress)
    reach(Point("progress", "stage_users", True))


def record_staged(
    session: Session,
    job: HeldJob,
    source: OpenedSource,
    known_digest: str | None,
    processed: int,
    *,
    staged: int,
    proven: int = 0,
    loaded: int = 0,
) -> None:
    """Once every row is staged (or proved unchanged, or written straight into empty tables):
    refuses a file that changed, records the row errors, the counts and the phase - in the
    staging transaction."""
    name, tables = job.source_path, StagingTables.of(job.job_id)
    if not source.unchanged_since_open():
        raise ImportFileError(f"{name}: {MODIFIED}")
    digest = source.digest.hexdigest()
    if known_digest is not None and digest != known_digest:
        raise ImportFileError(f"{name}: the file changed since it was first staged for this import")
    session.execute("analyze_table", table=tables.users)
    params = {"job_id": job.job_id, "owner": job.owner}
    session.execute("delete_stage_errors", params)
    session.execute("insert_stage_errors", params, **tables.names)
    recorded = session.execute(
        "record_users_staged",
        {
            **params,
            "staged_users": staged,
            "proven_users": proven,
            "rows_processed": processed,
            "bytes_total": source.size,
            "source_sha256": digest,
            "loaded": loaded,
        },
    )
    require_ours(recorded.rowcount, job.job_id)
    session.execute("update_error_counts", params)


def valid_row(index: int, row: UserRow, fingerprint: int) -> tuple[object, ...]:
    """A valid row as staging holds it (the columns of copy_staging_users.sql)."""
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
        None,
        None,
        fingerprint,
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


def invalid_row(index: int, error: RowError, raw: Raw) -> tuple[object, ...]:
    """A row that failed validation as staging holds it: its error and its raw JSON."""
    return (index, error.code, error.message, None, None, None, None, None, None, None, *raw, None)
