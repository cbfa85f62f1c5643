"""The lease keeps beating through long statements, and progress moves while streaming."""

import threading
import time
from typing import Any

import psycopg
import pytest

from user_import_pipeline.db.locks import AdvisoryLock
from user_import_pipeline.generate import generate_users
from user_import_pipeline_tests.importing import Importer, pause_staging

MERGE_LOCK = int(AdvisoryLock.MERGE)


def _watch(
    dsn: str, stop: threading.Event, samples: list[tuple[Any, ...]], interval: float = 0.1
) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            row = conn.execute(
                "SELECT status, phase, lease_expires_at > now(), bytes_processed, bytes_total,"
                " progress_processed FROM import_jobs WHERE status = 'running'"
            ).fetchone()
            if row is not None:
                samples.append(row)
            time.sleep(interval)


@pytest.mark.parametrize(
    ("tables", "waiting_in"),
    # A first import into empty tables takes the merge lock before it reads the file.
    [("holding a user", "addresses_staged"), ("empty", "pending")],
)
def test_lease_stays_live_while_a_statement_waits_far_longer_than_the_lease(
    importer: Importer, tables: str, waiting_in: str
) -> None:
    importer.lease_seconds = 1
    source = importer.write("u.json", [{"name": "Ann", "email": "ann@example.com"}])
    if tables != "empty":
        importer.query(
            "INSERT INTO users (id, name, email)"
            " VALUES (gen_random_uuid(), 'Old', 'old@example.com') RETURNING id"
        )
    samples: list[tuple] = []
    stop = threading.Event()
    # Holding the merge lock keeps merge_users blocked inside one SQL statement.
    with psycopg.connect(importer.dsn, autocommit=True) as blocker:
        blocker.execute("SELECT pg_advisory_lock(%s)", (MERGE_LOCK,))
        watcher = threading.Thread(target=_watch, args=(importer.dsn, stop, samples))
        watcher.start()
        runner = threading.Thread(target=lambda: samples.append(("done", importer.run(source))))
        runner.start()
        time.sleep(4)  # four lease lengths
        blocker.execute("SELECT pg_advisory_unlock(%s)", (MERGE_LOCK,))
        runner.join(60)
        stop.set()
        watcher.join()
    outcome = next(s[1] for s in samples if s[0] == "done")
    waiting = [s for s in samples if s[0] == "running" and s[1] == waiting_in]
    assert len(waiting) > 20, "the import should have waited on the merge lock"
    assert all(live for _, _, live, *_ in waiting), "the lease expired during a long statement"
    assert outcome.job["status"] == "succeeded"


def test_bytes_and_rows_processed_advance_while_the_file_streams(importer: Importer) -> None:
    importer.lease_seconds = 1  # beats every third of a second
    # 60 pauses of 50 ms: the stream lasts at least 3 s, several beats, on any machine.
    importer.chunk_size = 1000
    path = importer.base_dir / "big.json"
    generate_users(path, 60_000, seed=5)
    samples: list[tuple] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(importer.dsn, stop, samples, 0.05))
    watcher.start()
    try:
        with pause_staging(lambda: time.sleep(0.05)):
            outcome = importer.run("big.json")
    finally:
        stop.set()
        watcher.join()
    assert outcome.job is not None
    assert outcome.job["status"] == "succeeded"
    total = path.stat().st_size
    streaming = [s for s in samples if s[1] == "pending" and 0 < s[3] < total]
    assert len(streaming) >= 2, samples[:5]
    assert {s[4] for s in streaming} == {total}
    rows = [s[5] for s in streaming]
    assert rows == sorted(rows) and rows[0] < rows[-1] < 60_000
    assert outcome.job["bytes_processed"] == total
    assert outcome.job["progress_processed"] == 60_000
