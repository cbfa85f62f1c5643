"""CONTRACT §3.5-§3.7 through real imports: address lists, writing nothing when nothing
changed, and two imports of overlapping users at the same time."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest

from user_import_pipeline_tests.importing import Importer, ImportOutcome
from user_import_pipeline_tests.merge.support import (
    address,
    assert_counts,
    check_invariant,
    errors,
    run,
    state,
    stored,
    user,
    user_id,
    versions,
)

A, B, C = address("1 A St"), address("2 B St"), address("3 C St")


def address_rows(importer: Importer) -> list[dict[str, Any]]:
    return importer.query(
        "SELECT id, xmin::text, user_id::text, position, street FROM addresses "
        "ORDER BY user_id, position"
    )


# --- §3.5: addresses -----------------------------------------------------------------------


def test_new_user_gets_its_addresses_in_file_order(importer: Importer) -> None:
    outcome = run(importer, [user("a@example.com", addresses=[C, A, B])])
    assert_counts(outcome, imported=1)
    assert [(r["position"], r["street"]) for r in address_rows(importer)] == [
        (0, "3 C St"),
        (1, "1 A St"),
        (2, "2 B St"),
    ]


@pytest.mark.parametrize(
    ("change", "updated"),
    [({}, False), ({"name": "Renamed"}, True)],
    ids=["row-unchanged", "row-changed"],
)
def test_absent_addresses_key_leaves_stored_list_untouched(
    importer: Importer, change: dict[str, str], updated: bool
) -> None:
    run(importer, [user("a@example.com", "Ann", id="a", addresses=[A, B])])
    before = address_rows(importer)
    outcome = run(importer, [user("a@example.com", "Ann", id="a") | change])
    assert_counts(outcome, updated=int(updated), unchanged=int(not updated))
    assert address_rows(importer) == before
    assert stored(importer, "a@example.com")["addresses"] == [A, B]


def test_empty_list_removes_every_address(importer: Importer) -> None:
    run(
        importer,
        [
            user("a@example.com", id="a", addresses=[A, B]),
            user("b@example.com", id="b", addresses=[C]),
        ],
    )
    outcome = run(importer, [user("a@example.com", id="a", addresses=[])])
    assert_counts(outcome, updated=1)
    assert stored(importer, "a@example.com")["addresses"] == []
    assert stored(importer, "b@example.com")["addresses"] == [C]


@pytest.mark.parametrize(
    "new_list",
    [
        [A, address("2 B St", city="Shelbyville")],
        [A, address("2 B St", zip_code="62702")],
        [A, B, C],
        [A],
        [B],
        [B, A],
        [C, C],
    ],
    ids=[
        "city-changed",
        "zip-changed",
        "appended",
        "last-removed",
        "first-removed",
        "reordered",
        "all-replaced",
    ],
)
def test_changed_list_replaces_stored_one_and_counts_an_unchanged_row_as_updated(
    importer: Importer, new_list: list[dict[str, Any]]
) -> None:
    run(
        importer,
        [
            user("a@example.com", "Ann", id="a", addresses=[A, B]),
            user("b@example.com", "Bob", id="b", addresses=[A, B]),
        ],
    )
    bob_before = [
        r for r in address_rows(importer) if r["user_id"] == user_id(importer, "b@example.com")
    ]
    outcome = run(
        importer,
        [
            user("a@example.com", "Ann", id="a", addresses=new_list),
            user("b@example.com", "Bob", id="b", addresses=[A, B]),
        ],
    )
    assert_counts(outcome, updated=1, unchanged=1)
    assert stored(importer, "a@example.com")["addresses"] == new_list
    ann = [r for r in address_rows(importer) if r["user_id"] == user_id(importer, "a@example.com")]
    assert [r["position"] for r in ann] == list(range(len(new_list)))
    bob = user_id(importer, "b@example.com")
    assert [r for r in address_rows(importer) if r["user_id"] == bob] == bob_before


@pytest.mark.parametrize(
    "same_list",
    [
        [A, B],
        [A, address("2 B St", zip_code=62701)],
        [{key: f"  {value}\t" for key, value in A.items()}, B],
        [A | {"extra": "ignored"}, B],
    ],
    ids=["identical", "integer-zip", "padded", "extra-key"],
)
def test_identical_list_is_not_rewritten(
    importer: Importer, same_list: list[dict[str, Any]]
) -> None:
    run(importer, [user("a@example.com", "Ann", id="a", addresses=[A, B])])
    before = versions(importer)
    outcome = run(importer, [user("a@example.com", "Ann", id="a", addresses=same_list)])
    assert_counts(outcome, unchanged=1)
    assert versions(importer) == before


def test_changed_row_with_identical_list_keeps_its_address_rows(importer: Importer) -> None:
    run(importer, [user("a@example.com", "Ann", id="a", addresses=[A, B])])
    before = address_rows(importer)
    assert_counts(
        run(importer, [user("a@example.com", "Ann B", id="a", addresses=[A, B])]), updated=1
    )
    assert address_rows(importer) == before


@pytest.mark.parametrize("matched_by", ["external-id", "email", "uuid-id"])
def test_addresses_follow_the_matched_user_when_its_email_changes(
    importer: Importer, matched_by: str
) -> None:
    run(
        importer,
        [user("a@example.com", "Ann", addresses=[A]), user("z@example.com", "Zed", addresses=[C])],
    )
    ann = user_id(importer, "a@example.com")
    if matched_by == "external-id":
        run(importer, [user("a@example.com", "Ann", id="a", addresses=[A])])
    key = {"external-id": {"id": "a"}, "email": {}, "uuid-id": {"id": ann}}[matched_by]
    email = "A@EXAMPLE.COM" if matched_by == "email" else "new@example.com"
    outcome = run(importer, [user(email, "Ann", addresses=[B, A], **key)])
    assert_counts(outcome, updated=1)
    assert user_id(importer, email) == ann
    assert stored(importer, email)["addresses"] == [B, A]
    assert stored(importer, "z@example.com")["addresses"] == [C]


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([user("a@example.com", "Other", id="other", addresses=[])], "email_conflict"),
        ([user("b@example.com", "Ann", id="a", addresses=[])], "email_conflict"),
        (
            [
                user("a@example.com", "Ann", id="a", addresses=[]),
                user("a@example.com", "Ann", id="a"),
            ],
            "duplicate_in_file",
        ),
        (
            [user("new@example.com", "Ann", id="a", addresses=[]), user("a@example.com", "Ann")],
            "duplicate_in_file",
        ),
        (
            [
                user("a@example.com", "Ann", id="a", addresses=[C]),
                user("a@example.com", "Ann", id="a", addresses=[A, B]),
            ],
            "duplicate_in_file",
        ),
    ],
    ids=[
        "adoption-conflict",
        "email-taken",
        "superseded-by-row-without-key",
        "other-row-reaches-same-user",
        "superseded-by-identical-list",
    ],
)
def test_addresses_of_a_rejected_row_are_not_applied(
    importer: Importer, rows: list[dict[str, Any]], code: str
) -> None:
    run(
        importer,
        [
            user("a@example.com", "Ann", id="a", addresses=[A, B]),
            user("b@example.com", "Bob", id="b"),
        ],
    )
    before = versions(importer)
    outcome = run(importer, rows)
    assert [c for c, _ in errors(importer, outcome).values()] == [code]
    assert outcome.counts["imported_count"] == outcome.counts["updated_count"] == 0
    assert versions(importer) == before


def test_invalid_address_rejects_the_whole_row_and_keeps_stored_list(importer: Importer) -> None:
    run(importer, [user("a@example.com", "Ann", id="a", addresses=[A, B])])
    before = versions(importer)
    outcome = run(
        importer, [user("a@example.com", "Renamed", id="a", addresses=[C, address(street="")])]
    )
    assert_counts(outcome, skipped=1, failed=1)
    assert errors(importer, outcome) == {0: ("invalid_address", False)}
    assert versions(importer) == before


# --- §3.6: nothing changed, nothing written ---------------------------------------------------

MIXED = [
    user("ext@example.com", "Ext", id="e-1", phone_number=5550100, addresses=[A, B]),
    user("Plain@Example.com", "Plain", addresses=[address(zip_code=2134)]),
    user("uuid@example.com", "Uuid", id="0B3C5A8E-6F0D-4C2A-9E1B-7D4F2A6C8E10", addresses=[]),
    user("int@example.com", "  Int  ", id=77),
    user("dup@example.com", "Dup old", id="d"),
    user("dup@example.com", "Dup", id="d", addresses=[C]),
    user("bad", "Bad"),
]


def test_reimport_of_identical_file_is_all_unchanged_and_writes_nothing(importer: Importer) -> None:
    assert_counts(run(importer, MIXED), imported=5, skipped=2, failed=1)
    first = state(importer)
    before = versions(importer)
    outcome = run(importer, MIXED)
    assert_counts(outcome, unchanged=5, skipped=2, failed=1)
    assert versions(importer) == before
    assert state(importer) == first


def test_only_the_changed_user_is_rewritten(importer: Importer) -> None:
    run(importer, MIXED)
    before = {row[0]: row for row in versions(importer)["users"]}
    changed = [dict(row) for row in MIXED]
    changed[3]["name"] = "Int 2"
    assert_counts(run(importer, changed), updated=1, unchanged=4, skipped=2, failed=1)
    after = {row[0]: row for row in versions(importer)["users"]}
    int_id = user_id(importer, "int@example.com")
    assert after[int_id][1:] != before[int_id][1:]
    assert after[int_id][2] > before[int_id][2]
    assert {k: v for k, v in after.items() if k != int_id} == {
        k: v for k, v in before.items() if k != int_id
    }


def test_edits_made_outside_imports_are_restored_and_counted_updated(importer: Importer) -> None:
    # Whatever an import compares a row with must be the tables as they are, not a record
    # of what an earlier import wrote: plain SQL can change both without telling it.
    run(importer, MIXED)
    first = state(importer)
    importer.query("UPDATE users SET name = 'Edited' WHERE email = 'ext@example.com' RETURNING id")
    importer.query(
        "UPDATE addresses SET street = 'Edited' WHERE user_id ="
        " (SELECT id FROM users WHERE email = 'Plain@Example.com') RETURNING id"
    )
    assert state(importer) != first
    outcome = run(importer, MIXED)
    assert_counts(outcome, updated=2, unchanged=3, skipped=2, failed=1)
    assert state(importer) == first


def test_adopted_user_is_unchanged_on_the_next_identical_import(importer: Importer) -> None:
    run(importer, [user("a@example.com", "Ann")])
    assert_counts(run(importer, [user("a@example.com", "Ann", id="x")]), updated=1)
    before = versions(importer)
    assert_counts(run(importer, [user("a@example.com", "Ann", id="x")]), unchanged=1)
    assert versions(importer) == before


# --- §3.7: concurrent imports ------------------------------------------------------------------

N = 600


def _base() -> list[dict[str, Any]]:
    return [
        user(f"u{i}@example.com", f"base {i}", id=f"u{i}", addresses=[address(f"b {i}")])
        for i in range(N)
    ]


def _files() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two files over overlapping users whose serial orders give different results: the
    overlap takes the later file's values, and one email is wanted by both files."""
    one = [
        user(f"u{i}@example.com", "one", id=f"u{i}", addresses=[address(f"one {i}")])
        for i in range(0, 2 * N // 3)
    ]
    one += [user(f"n{i}@example.com", "new one", id=f"n{i}") for i in range(N // 2)]
    one.append(user("contested@example.com", "moved", id="u0", addresses=[]))
    two = [user(f"u{i}@example.com", "two", id=f"u{i}", phone_number="2") for i in range(N // 3, N)]
    two += [
        user(f"n{i}@example.com", "new two", id=f"n{i}", addresses=[A])
        for i in range(N // 4, 3 * N // 4)
    ]
    two.append(user("contested@example.com", "fresh", id="fresh", addresses=[B, C]))
    return one, two


def _snapshot(importer: Importer) -> dict[str, dict[str, Any]]:
    """The stored users without their generated ids, comparable across database resets."""
    return {
        email: {k: v for k, v in row.items() if k != "id"} for email, row in state(importer).items()
    }


def _counts(outcome: ImportOutcome) -> dict[str, Any]:
    check_invariant(outcome)
    return outcome.counts


def _serial(importer: Importer, first: str, second: str) -> tuple[dict, dict[str, dict]]:
    importer.reset()
    run(importer, _base())
    counts = {path: _counts(importer.run(path)) for path in (first, second)}
    return _snapshot(importer), counts


def test_concurrent_overlapping_imports_both_succeed_as_some_serial_order(
    importer: Importer,
) -> None:
    one, two = _files()
    p1, p2 = importer.write("one.json", one), importer.write("two.json", two)
    results = {"1-2": _serial(importer, p1, p2), "2-1": _serial(importer, p2, p1)}
    assert results["1-2"][0] != results["2-1"][0]
    assert results["1-2"][0]["contested@example.com"]["name"] == "moved"
    assert results["2-1"][0]["contested@example.com"]["name"] == "fresh"

    for _ in range(4):  # the merges must overlap to matter: give them several chances
        importer.reset()
        run(importer, _base())
        barrier = threading.Barrier(2)
        outcomes: dict[str, ImportOutcome | BaseException] = {}

        def work(
            path: str, barrier: threading.Barrier = barrier, outcomes: dict = outcomes
        ) -> None:
            barrier.wait()
            try:
                outcomes[path] = importer.run(path)
            except BaseException as exc:  # reported by the assertions below
                outcomes[path] = exc

        threads = [threading.Thread(target=work, args=(path,)) for path in (p1, p2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        for path in (p1, p2):
            outcome = outcomes[path]
            assert isinstance(outcome, ImportOutcome), outcome
            assert outcome.succeeded and outcome.job is not None
            assert outcome.job["status"] == "succeeded", outcome.job["error_message"]
        final = _snapshot(importer)
        order = next((k for k, (snap, _) in results.items() if snap == final), None)
        assert order is not None, "the result is neither serial order"
        assert {p: _counts(cast(ImportOutcome, outcomes[p])) for p in (p1, p2)} == results[order][1]
