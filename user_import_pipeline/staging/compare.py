"""A re-import: rows proved unchanged while the file is read; only the others staged in full.

A file imported again mostly brings what the tables hold. Each user carries the fingerprint
of the row it was last written from, and every write that is not an import's clears it
(migration 0008), so a valid row whose user - found by external id, or by email for a row
without one - has the row's fingerprint would change nothing. Such rows are proved in
batches, by a thread of their own, while the next batch is read and validated: each
batch's narrow records (row index, external id or email, fingerprint) are COPY'd and
joined with ``users``; the users proved go to the job's
``stg_proven`` table - one row per user, so a file that repeats a row proves it once - and
every other row of the batch is staged in full, as the usual staging would.

What the whole file decides, the merge decides, from the staged rows: a proved row that
shares an external id, an email or a UUID with a staged row is taken out of ``stg_proven``
at the end and staged as the row it came from, rebuilt from its user, which the fingerprint
says holds exactly that row (``restage_shared_proven``). The users that staged rows share
keys with are looked up batch by batch, by the same thread (``record_shared_users``), so
that the end of the file only takes the proved rows of those users out. The merge then
checks, holding the merge turn, that every user still proved has its fingerprint, and
counts them unchanged; if another import or a plain SQL write changed one since,
everything is staged again in full (merge/merge_users.py). A file error anywhere rolls all
of it back, as in staging.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from user_import_pipeline.db.client import Session
from user_import_pipeline.ingest.formats import read_items
from user_import_pipeline.ingest.location import Found, open_found
from user_import_pipeline.ingest.source import OpenedSource
from user_import_pipeline.ingest.validate import RowError, UserRow, validate_user
from user_import_pipeline.lifecycle.jobs import HeldJob, read_job
from user_import_pipeline.lifecycle.lease import Progress
from user_import_pipeline.staging.fingerprint import fingerprint
from user_import_pipeline.staging.stage_users import (
    ProgressCallback,
    StagedUsers,
    invalid_row,
    record_staged,
    report_progress,
    valid_row,
)
from user_import_pipeline.staging.tables import StagingTables, recreate
from user_import_pipeline.staging.writer import BatchWriter, copy_rows


def stage_compared(
    session: Session,
    job: HeldJob,
    found: Found,
    progress: Progress,
    *,
    report_every: int,
    on_progress: ProgressCallback | None = None,
) -> StagedUsers | None:
    """Stage the file's rows that are not proved unchanged (see the module docstring);
    None, having done nothing, when a proved user changed before the end of staging."""
    tables = StagingTables.of(job.job_id)
    try:
        with open_found(found) as source, session.transaction():
            session.execute("mark_import_transaction")
            known_digest = read_job(session, job.job_id)["source_sha256"]
            progress.bytes_total = source.size
            recreate(session, tables.users, "stg_users")
            recreate(session, tables.proven, "stg_proven")
            session.execute("create_compare_batch")
            session.execute("create_shared_users")
            counts = _Counts()
            writer = _writer(session, tables, counts)
            writer.write_all(
                _read(source, job.source_path, report_every, counts),
                lambda: report_progress(progress, source, counts.processed, on_progress),
            )
            progress.bytes_processed = source.size
            progress.rows_processed = counts.processed
            shared = session.execute("restage_shared_proven", **tables.names).one()
            assert shared is not None
            taken_out, restaged = shared
            if restaged != taken_out:
                raise _ProvedUserChanged
            proven = counts.proven - taken_out
            staged = counts.processed - proven
            record_staged(
                session, job, source, known_digest, counts.processed, staged=staged, proven=proven
            )
    except _ProvedUserChanged:
        return None
    return StagedUsers(counts.processed, staged - counts.errors, counts.errors, source.size)


class _ProvedUserChanged(Exception):
    """A user proved while reading changed before its row had to be rebuilt from it."""


@dataclass
class _Counts:
    processed: int = 0
    errors: int = 0
    proven: int = 0  # by the writer thread


# The narrow record of a row (copy_compare_batch.sql): index, external id, email (only
# without an external id), fingerprint, UUID of the external id, whether it lists addresses.
_Narrow = tuple[int, str | None, str | None, int, str | None, bool]


@dataclass
class _Batch:
    first: int  # the row index the batch starts at
    # The valid rows, which may be proved, and their narrow records.
    rows: list[UserRow] = field(default_factory=list)
    narrow: list[_Narrow] = field(default_factory=list)
    staged: list[tuple[object, ...]] = field(default_factory=list)


def _writer(session: Session, tables: StagingTables, counts: _Counts) -> BatchWriter[_Batch]:
    def write(batch: _Batch) -> None:
        staged = batch.staged
        unproved: set[int] = set()
        if batch.narrow:
            session.execute("clear_compare_batch")
            copy_rows(session, "copy_compare_batch", batch.narrow)
            result = session.execute("prove_batch", **tables.names)
            unproved = {index for (index,) in result.rows}
            counts.proven += len(batch.narrow) - len(unproved)
            if unproved:
                staged += [
                    valid_row(narrow[0], row, narrow[3])
                    for row, narrow in zip(batch.rows, batch.narrow, strict=True)
                    if narrow[0] in unproved
                ]
        copy_rows(session, "copy_staging_users", staged, **tables.names)
        if unproved:  # their users, looked up while the next batch is read
            session.execute("record_shared_users", {"first": batch.first}, **tables.names)

    return BatchWriter(write, "user-import comparer")


def _read(source: OpenedSource, name: str, batch_size: int, counts: _Counts) -> Iterator[_Batch]:
    batch = _Batch(first=0)
    items = read_items(source, name)
    for index, item in enumerate(items):
        try:
            row = validate_user(item)
        except RowError as error:
            counts.errors += 1
            batch.staged.append(invalid_row(index, error, items.raw(item)))
        else:
            external_id = row.external_id
            batch.rows.append(row)
            batch.narrow.append(
                (
                    index,
                    external_id,
                    row.email if external_id is None else None,
                    fingerprint(row),
                    row.external_uuid,
                    row.addresses is not None,
                )
            )
        counts.processed = index + 1
        if counts.processed % batch_size == 0:
            yield batch
            batch = _Batch(first=counts.processed)
    yield batch
