"""A first import into empty tables: users and addresses written while the file is read.

When ``users`` and ``addresses`` are empty, no row of the file can match a stored user, so
the comparison that a merge exists for has nothing to compare with. The valid rows are then
COPY'd straight into ``users`` and ``addresses``, in batches, by a thread of their own
while the next batch is read and validated: reading the file and writing the rows
overlap, on the two cores, instead of adding up.

What only the whole file can decide - the last row of an identity wins, two identities
may not share an email, two spellings of one UUID reach one user (CONTRACT §3.1) - is
left to the merge, for the few rows it concerns. A set of the keys already seen (external
id, email, UUID; a Bloom filter: fixed memory, never a false "not seen") sends every row
that may repeat an earlier key to staging instead. At the end, each user written straight
away that shares a key with a staged row goes back to staging as the row it came from
(``restage_colliding_loaded_rows``), and the usual phases merge what is staged, against
tables that hold none of those rows. The outcome, counts included, is the one of the usual
path; all of it - the users written straight away too - is one transaction, so a file
error in the last byte, or a crash, leaves the tables empty. A file in which more than
MAX_REPEATS rows repeat an earlier key is rolled back as soon as that shows, and imported
the usual way.

Several first imports (the parts of one data set, submitted at once) load side by side:
each holds the merge turn in its shared mode, which only excludes the usual merges. A row
of one can match a user of another only through a key that a unique index covers
(external id, lower(email), the id a UUID external id becomes), so two that share a key
meet in the index: the later waits for the earlier to commit and then fails with a unique
violation, or one of the two is ended as a deadlock. The import that fails is rolled back
whole and takes the usual path, against the tables the other filled; those that do not
meet match nothing of each other's, which is what any serial order of them gives. Merging
rows that repeat a key reads and changes the tables as they are, so an import with such
rows takes the turn whole (exclusive) for its merge.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from user_import_pipeline.db.client import Session
from user_import_pipeline.db.errors import DatabaseError
from user_import_pipeline.ingest.formats import read_items
from user_import_pipeline.ingest.location import Found, open_found
from user_import_pipeline.ingest.source import OpenedSource
from user_import_pipeline.ingest.validate import RowError, UserRow, validate_user
from user_import_pipeline.lifecycle.jobs import HeldJob
from user_import_pipeline.lifecycle.lease import WRITING_USERS, Progress
from user_import_pipeline.merge.merge_users import (
    merge_in_turn,
    share_merge_turn,
    take_merge_turn,
)
from user_import_pipeline.merge.replace_addresses import replace_in_turn
from user_import_pipeline.staging.fingerprint import fingerprint
from user_import_pipeline.staging.stage_addresses import stage_addresses
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

# 2**28 bits (32 MiB): at 5 million rows of two keys each, about 0.25% of the rows are
# taken for repeats that are none (and cost a place in the merge), fewer below.
_SEEN_BITS = 1 << 28
# The rows that repeat a key are merged at the end of the transaction, while it holds the
# job row (a merge of 100,000 staged rows takes seconds, far less than a lease); a file with
# more of them is rolled back when it is found to have them and imported the usual way.
MAX_REPEATS = 100_000
_NULL = "\\N"  # in COPY's text format
# What two first imports loading side by side that share a key end in (module docstring).
_MET_ANOTHER_IMPORT = {"23505", "40P01"}  # unique_violation, deadlock_detected
# The variant bits of RFC 4122 (10xx) in the 17th hex digit, whatever the random digit was.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


class SeenKeys:
    """The keys of the rows written so far, as a Bloom filter of three bits per key."""

    def __init__(self, bits: int = _SEEN_BITS) -> None:
        self._mask = bits - 1
        self._bits = bytearray(bits >> 3)

    def add(self, keys: Sequence[str]) -> bool:
        """Add ``keys``; True when one of them may have been added before."""
        bits, mask = self._bits, self._mask
        seen = False
        for key in keys:
            found = True
            # Three positions from one 64-bit hash, by double hashing (Kirsch-Mitzenmacher).
            hashed = hash(key)
            low, high = hashed & 0xFFFFFFFF, (hashed >> 32) & 0xFFFFFFFF
            for position in (low & mask, (low + high) & mask, (low + 2 * high) & mask):
                byte, bit = position >> 3, 1 << (position & 7)
                if not bits[byte] & bit:
                    found = False
                    bits[byte] |= bit
            seen = seen or found
        return seen


def keys_of(row: UserRow) -> tuple[str, ...]:
    """What two rows of one file may not share without the merge deciding between them."""
    email = f"@{row.email.lower()}"
    if row.external_id is None:
        return (email,)
    if row.external_uuid is None:
        return (email, f"#{row.external_id}")
    return (email, f"#{row.external_id}", f"~{row.external_uuid}")


def load_into_empty_tables(
    session: Session,
    job: HeldJob,
    found: Found,
    progress: Progress,
    *,
    report_every: int,
    on_progress: ProgressCallback | None = None,
) -> StagedUsers | None:
    """Import the whole file when the tables are empty (see the module docstring); None,
    having done nothing, when they are not, another import is between its phases, or a
    first import loading at the same time shares a key with this file."""
    activity = progress.activity
    try:
        with session.transaction():
            if not _tables_are_empty(session):
                return None
            share_merge_turn(session)
            session.execute("mark_import_transaction")
            if session.execute("find_unfinished_merge", {"job_id": job.job_id}).one():
                return None
            return _load_file(session, job, found, progress, report_every, on_progress)
    except _ManyRepeats:
        progress.activity = activity
        return None
    except DatabaseError as error:
        if error.sqlstate not in _MET_ANOTHER_IMPORT:
            raise
        progress.activity = activity
        return None


def _tables_are_empty(session: Session) -> bool:
    return bool(session.execute("tables_are_empty").scalar())


class _ManyRepeats(Exception):
    """More than MAX_REPEATS rows repeat an earlier key: the import takes the usual path."""


def _load_file(
    session: Session,
    job: HeldJob,
    found: Found,
    progress: Progress,
    report_every: int,
    on_progress: ProgressCallback | None,
) -> StagedUsers:
    name, tables = job.source_path, StagingTables.of(job.job_id)
    with open_found(found) as source, tempfile.TemporaryFile("w+") as loaded_rows:
        progress.activity, progress.bytes_total = WRITING_USERS, source.size
        recreate(session, tables.users, "stg_users")
        counts, writer = _Counts(), _writer(session, tables)
        writer.write_all(
            _read(source, name, report_every, loaded_rows, counts),
            lambda: report_progress(progress, source, counts.processed, on_progress),
        )
        progress.bytes_processed = source.size
        progress.rows_processed = counts.processed
        staged, loaded = _restage_colliding(session, tables, loaded_rows, counts)
        # A new job: no digest of an earlier staging to compare with.
        record_staged(session, job, source, None, counts.processed, staged=staged, loaded=loaded)
        # The staged rest: usually none, or the few rows that repeat a key. From the first
        # UPDATE of the job row above to the commit, the heartbeat waits for its row lock:
        # MAX_REPEATS keeps that short.
        if counts.repeats:
            take_merge_turn(session)
        stage_addresses(session, job)
        merge_in_turn(session, job, progress)
        replace_in_turn(session, job, progress)
    return StagedUsers(counts.processed, staged, counts.errors, source.size, users_written=loaded)


@dataclass
class _Counts:
    processed: int = 0
    errors: int = 0  # invalid rows, staged with their error
    repeats: int = 0  # valid rows that may repeat an earlier key, staged
    loaded: int = 0  # users written straight away


@dataclass
class _Batch:
    users: list[tuple[object, ...]] = field(default_factory=list)
    addresses: list[tuple[object, ...]] = field(default_factory=list)
    staged: list[tuple[object, ...]] = field(default_factory=list)


def _writer(session: Session, tables: StagingTables) -> BatchWriter[_Batch]:
    """Users straight into ``users``, then their addresses, then the rows for staging."""

    def write(batch: _Batch) -> None:
        for statement, rows, identifiers in (
            ("copy_users_directly", batch.users, {}),
            ("copy_addresses_directly", batch.addresses, {}),
            ("copy_staging_users", batch.staged, tables.names),
        ):
            copy_rows(session, statement, rows, **identifiers)

    return BatchWriter(write, "user-import bulk writer")


def _read(
    source: OpenedSource, name: str, batch_size: int, loaded_rows: IO[str], counts: _Counts
) -> Iterator[_Batch]:
    """The file's rows in batches of ``batch_size``, sorted into users to write straight
    away and rows to stage; which row each user written came from goes to ``loaded_rows``,
    in COPY's text format (needed only if a later row repeats one of its keys)."""
    seen, new_ids, batch = SeenKeys(), _time_ordered_uuids(), _Batch()
    items = read_items(source, name)
    for index, item in enumerate(items):
        try:
            row = validate_user(item)
        except RowError as error:
            counts.errors += 1
            batch.staged.append(invalid_row(index, error, items.raw(item)))
        else:
            if seen.add(keys_of(row)):
                counts.repeats += 1
                if counts.repeats > MAX_REPEATS:
                    raise _ManyRepeats
                batch.staged.append(valid_row(index, row, fingerprint(row)))
            else:
                user_id = row.external_uuid or next(new_ids)
                values = (row.external_id, row.name, row.email, row.phone_number)
                batch.users.append((user_id, *values, fingerprint(row)))
                for position, address in enumerate(row.addresses or ()):
                    batch.addresses.append((user_id, position, *address))
                listed = "f" if row.addresses is None else "t"
                loaded_rows.write(f"{index}\t{user_id}\t{row.external_uuid or _NULL}\t{listed}\n")
                counts.loaded += 1
        counts.processed = index + 1
        if counts.processed % batch_size == 0:
            yield batch
            batch = _Batch()
    yield batch


def _restage_colliding(
    session: Session, tables: StagingTables, loaded_rows: IO[str], counts: _Counts
) -> tuple[int, int]:
    """Moves the users written straight away that share a key with a staged row back to
    staging; returns (rows staged, users kept)."""
    staged, kept = counts.errors + counts.repeats, counts.loaded
    if counts.repeats:
        session.execute("create_loaded_rows")
        loaded_rows.seek(0)
        with session.copy_text("copy_loaded_rows") as write:
            while chunk := loaded_rows.read(1 << 20):
                write(chunk)
        moved = session.execute("restage_colliding_loaded_rows", **tables.names).rowcount
        staged, kept = staged + moved, kept - moved
    return staged, kept


def _time_ordered_uuids() -> Iterator[str]:
    """Version 7 UUIDs (RFC 9562) as text: the Unix time in milliseconds, then random bits
    from the operating system 4096 ids at a time (uuid.uuid4() asks it once per id). Ids
    that grow with time put the users written one after another side by side in the
    primary key and in the addresses' (user_id, position) index, instead of all over them:
    at millions of users those indexes outgrow the server's buffers."""
    while True:
        block = os.urandom(16 * 4096).hex()
        for start in range(0, len(block), 32):
            h = block[start : start + 32]
            t = f"{time.time_ns() // 1_000_000:012x}"
            yield f"{t[:8]}-{t[8:12]}-7{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"
