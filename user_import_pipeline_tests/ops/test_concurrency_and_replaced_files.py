"""Ten overlapping imports at once, and a file replaced while it is being imported."""

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from user_import_pipeline.generate import generate_users
from user_import_pipeline_tests.importing import Importer, ImportOutcome, pause_staging
from user_import_pipeline_tests.overlapping import overlapping_users

pytestmark = pytest.mark.faults

USERS = 60
FILES = 10


@pytest.mark.slow
def test_ten_overlapping_imports_at_once_all_succeed_as_some_serial_order(
    importer: Importer,
) -> None:
    paths = [
        importer.write(f"overlap-{i}.json", overlapping_users(i, USERS, vary_email_case=True))
        for i in range(FILES)
    ]
    outcomes: dict[int, ImportOutcome] = {}
    barrier = threading.Barrier(FILES)

    def run(index: int) -> None:
        barrier.wait()
        outcomes[index] = importer.run(paths[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(FILES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)

    assert len(outcomes) == FILES
    for index, outcome in outcomes.items():
        assert outcome.job is not None
        assert outcome.job["status"] == "succeeded", (index, outcome.job["error_message"])
        counts = outcome.counts
        assert counts["skipped_count"] == 0, counts
        assert counts["imported_count"] + counts["updated_count"] == USERS, counts
    # Some import ran first and created every user; each later one changed every user.
    assert sorted(o.counts["imported_count"] for o in outcomes.values()) == [0] * 9 + [USERS]

    # In a serial order the last import wins for every user: all values from one file.
    stored = importer.users()
    assert len(stored) == USERS
    names = {user["name"].rsplit(" ", 1)[1] for user in stored.values()}
    assert len(names) == 1, names
    last = int(names.pop())
    expected = {u["email"].lower(): u for u in overlapping_users(last, USERS, vary_email_case=True)}
    for email, user in stored.items():
        want = expected[email]
        assert (user["name"], user["email"], user["phone_number"]) == (
            want["name"],
            want["email"],
            want["phone_number"],
        )
        assert user["addresses"] == want["addresses"]


def _watch_until_streaming(dsn: str, started: threading.Event) -> None:
    deadline = time.monotonic() + 60
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT bytes_processed FROM import_jobs WHERE status = 'running'"
                " AND phase = 'pending'"
            ).fetchone()
            if row is not None and row[0] > 0:
                started.set()
                return
            time.sleep(0.02)


def _replace_while_streaming(
    importer: Importer,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    replace: Callable[[Path], object],
) -> ImportOutcome:
    """Run the import of ``source``; as soon as it streams, call ``replace(path)``. The
    import waits after its 20,000th item (its progress is written by then) until the file
    has been replaced, so that it is still reading however fast the machine is."""
    importer.lease_seconds = 1  # progress is written every third of a second
    importer.chunk_size = 20_000
    replaced = threading.Event()
    started = threading.Event()
    watcher = threading.Thread(target=_watch_until_streaming, args=(importer.dsn, started))
    watcher.start()
    result: dict[str, ImportOutcome] = {}
    runner = threading.Thread(target=lambda: result.update(outcome=importer.run(source)))
    with pause_staging(lambda: replaced.wait(60)):
        runner.start()
        assert started.wait(60), "the import never started streaming"
        replace(importer.base_dir / source)
        replaced.set()
        runner.join(300)
    watcher.join()
    return result["outcome"]


@pytest.mark.slow
def test_a_file_renamed_over_during_the_import_is_imported_from_the_original_bytes(
    importer: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_users(importer.base_dir / "big.json", 40_000, seed=1)
    generate_users(importer.base_dir / "other.json", 40_000, seed=2)
    original = json.loads((importer.base_dir / "big.json").read_text())
    outcome = _replace_while_streaming(
        importer,
        monkeypatch,
        "big.json",
        lambda path: os.replace(path.with_name("other.json"), path),
    )
    assert outcome.job is not None
    assert outcome.job["status"] == "succeeded", outcome.job["error_message"]
    stored = importer.users()
    assert {u["email"].lower() for u in original} == set(stored)


@pytest.mark.slow
def test_a_file_rewritten_in_place_during_the_import_fails_cleanly(
    importer: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_users(importer.base_dir / "big.json", 40_000, seed=1)

    def overwrite(path: Path) -> None:
        # Same length and still valid JSON: only the size/mtime check can notice it.
        data = path.read_bytes()
        with open(path, "r+b") as handle:
            handle.write(data.replace(b"example", b"EXAMPLE"))

    outcome = _replace_while_streaming(importer, monkeypatch, "big.json", overwrite)
    assert outcome.job is not None
    assert outcome.job["status"] == "failed"
    assert "modified while it was being read" in outcome.job["error_message"]
    assert importer.users() == {}
