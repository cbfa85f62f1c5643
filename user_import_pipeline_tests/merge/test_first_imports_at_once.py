"""First imports into empty tables load side by side (merge/bulk_load.py): each holds the
merge turn shared while it writes, so one import holding its transaction open does not
stop another; two that share a key meet in a unique index and the one that fails takes
the usual path, after the other; one whose file repeats a key takes the turn whole for
its merge. (Ten imports of the same users at once: ops/test_concurrency_and_replaced_files.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from user_import_pipeline import checkpoints
from user_import_pipeline_tests.importing import Importer, ImportOutcome
from user_import_pipeline_tests.merge.support import address

pytestmark = pytest.mark.faults

USERS = 40


def users_of(part: str, count: int = USERS) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{part}-{n}",
            "name": f"User {n} of {part}",
            "email": f"{part}-{n}@example.com",
            "addresses": [address(f"{n} {part} St")] * (n % 3),
        }
        for n in range(count)
    ]


Outcomes = dict[str, ImportOutcome]


def run_both(
    importer: Importer, first: str, second: str, hold_first_until: Callable[[Outcomes], bool]
) -> tuple[ImportOutcome, ImportOutcome]:
    """Import ``first`` and ``second`` at once; ``first`` stops after handing over its
    first batch (its transaction open, the turn shared) until ``hold_first_until`` is true
    of the outcomes so far; it fails if that takes a minute."""
    outcomes: Outcomes = {}
    holding = threading.Event()

    def hold(point: checkpoints.Point) -> None:
        if point.kind == "progress" and threading.current_thread().name == "first":
            holding.set()
            deadline = time.monotonic() + 60
            while not hold_first_until(outcomes):
                assert time.monotonic() < deadline, "held for a minute"
                time.sleep(0.05)

    def run(name: str, source: str) -> None:
        outcomes[name] = importer.run(source)

    with checkpoints.listening(hold):
        threads = [
            threading.Thread(target=run, args=("first", first), name="first"),
            threading.Thread(target=run, args=("second", second), name="second"),
        ]
        threads[0].start()
        assert holding.wait(60), "the first import never got to its first batch"
        threads[1].start()
        for thread in threads:
            thread.join(120)
    return outcomes["first"], outcomes["second"]


def _waiting_for_the_turn(importer: Importer) -> bool:
    waiting = "SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    return bool(importer.query(waiting))


def test_first_imports_of_different_users_write_side_by_side(importer: Importer) -> None:
    importer.chunk_size = 10
    first = importer.write("first.json", users_of("a"))
    second = importer.write("second.json", users_of("b"))
    # The first holds its transaction open until the second has ended: had the second
    # waited for the first, the first would fail after a minute.
    a, b = run_both(importer, first, second, lambda outcomes: "second" in outcomes)
    assert a.succeeded and b.succeeded, (a.message, b.message)
    for outcome in (a, b):
        assert outcome.job is not None
        assert outcome.job["staged_users"] == 0, "written straight away"
        assert outcome.counts["imported_count"] == USERS
    stored = importer.users()
    assert len(stored) == 2 * USERS
    assert stored["b-4@example.com"]["addresses"] == [address("4 b St")]


def test_first_imports_that_share_a_key_end_as_one_after_the_other(importer: Importer) -> None:
    importer.chunk_size = 10
    shared = {"id": "a-3", "name": "A3 from b", "email": "other@example.com"}
    first = importer.write("first.json", users_of("a"))
    second = importer.write("second.json", [*users_of("b"), shared])
    started = time.monotonic()
    a, b = run_both(importer, first, second, lambda _: time.monotonic() - started > 2)
    assert a.succeeded and b.succeeded, (a.message, b.message)
    assert a.job is not None and b.job is not None
    # Whichever met the other's uncommitted row failed there, was rolled back and staged
    # its file the usual way, against the tables the other had filled.
    if a.job["staged_users"] == 0:
        later, earlier, name = b, a, "A3 from b"
    else:
        later, earlier, name = a, b, "User 3 of a"
    assert earlier.job is not None and earlier.job["staged_users"] == 0
    assert later.job is not None and later.job["staged_users"] > 0
    assert later.counts["updated_count"] == 1
    assert earlier.counts["imported_count"] + later.counts["imported_count"] == 2 * USERS
    stored = importer.users()
    assert len(stored) == 2 * USERS
    found = [user for user in stored.values() if user["external_id"] == "a-3"]
    assert [user["name"] for user in found] == [name]


def test_a_first_import_that_repeats_a_key_waits_for_the_others_to_merge(
    importer: Importer,
) -> None:
    importer.chunk_size = 10
    repeat = {"id": "b-7", "name": "B7 again", "email": "b-7@example.com", "addresses": []}
    first = importer.write("first.json", users_of("a"))
    second = importer.write("second.json", [*users_of("b"), repeat])
    # The first is held until the second, at its end, waits for the whole turn.
    a, b = run_both(importer, first, second, lambda _: _waiting_for_the_turn(importer))
    assert a.succeeded and b.succeeded, (a.message, b.message)
    assert a.job is not None and b.job is not None
    assert a.job["staged_users"] == 0
    # The repeat and the row it repeats, staged and merged: the later row won.
    assert b.job["staged_users"] == 2
    assert b.counts == {**b.counts, "imported_count": USERS, "skipped_count": 1}
    stored = importer.users()
    assert len(stored) == 2 * USERS
    assert stored["b-7@example.com"]["name"] == "B7 again"
    assert stored["b-7@example.com"]["addresses"] == []
