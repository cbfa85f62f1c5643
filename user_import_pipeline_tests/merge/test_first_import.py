"""A first import into empty tables writes users while it reads the file (merge/bulk_load.py).

That path must end exactly like the usual one - stage everything, then merge - on a file
whose rows repeat each other's keys in every way the merge judges, and leave the tables
empty when the file turns out broken in its last byte. (Crashes and database failures in
it: ops/test_first_import_faults.py.)
"""

from __future__ import annotations

from typing import Any

import pytest

from user_import_pipeline.merge import bulk_load
from user_import_pipeline_tests.first_import import (
    FIRST_USERS,
    add_sentinel,
    import_first_users,
)
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import SOURCE


@pytest.fixture(scope="module")
def usual(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """FIRST_USERS imported the usual way: into tables that hold only the sentinel."""
    importer = Importer(dsn=dsn, base_dir=tmp_path_factory.mktemp("usual"))
    importer.reset()
    add_sentinel(importer)
    copies, state = import_first_users(importer)
    assert "copy_users_directly" not in copies
    return state


def outcome_of(state: dict[str, Any]) -> dict[str, Any]:
    """What an import left, without how much it staged (the point of writing straight away)."""
    staging = ("staged_users", "staged_addresses")
    return {**state, "job": {k: v for k, v in state["job"].items() if k not in staging}}


@pytest.mark.parametrize("bits", [1 << 27, 64], ids=["full-filter", "saturated-filter"])
def test_first_import_ends_like_a_merge_into_tables_that_are_not_empty(
    importer: Importer, usual: dict[str, Any], bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A saturated filter takes nearly every row for a repeat (false positives).
    seen_keys = bulk_load.SeenKeys
    monkeypatch.setattr(bulk_load, "SeenKeys", lambda: seen_keys(bits))
    copies, state = import_first_users(importer)
    assert "copy_users_directly" in copies
    assert outcome_of(state) == outcome_of(usual)


def test_a_file_with_many_repeats_is_imported_the_usual_way(
    importer: Importer, usual: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_load, "MAX_REPEATS", 3)
    importer.chunk_size = 10  # batches of users are written before the fourth repeat
    copies, state = import_first_users(importer)
    # Rolled back at the fourth repeat, then staged in full.
    assert copies[0] == "copy_users_directly" and copies[-1] == "copy_staging_users", copies
    assert state == usual


def test_users_that_share_a_key_with_a_later_row_go_back_to_staging(
    importer: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept: list[int] = []
    restage = bulk_load._restage_colliding

    def counting(*args: Any) -> tuple[int, int]:
        staged, loaded = restage(*args)
        kept.append(loaded)
        return staged, loaded

    monkeypatch.setattr(bulk_load, "_restage_colliding", counting)
    import_first_users(importer)
    # 61 valid rows; 7 repeat a key of an earlier row (ext-9, dup, the UUID, noid, ext-1, and
    # the chain's second and third) and are staged as read; the 6 rows written straight away
    # that they repeat (the chain's first is one) go back.
    assert kept == [61 - 7 - 6]


def test_seen_keys_never_forgets_a_key() -> None:
    seen = bulk_load.SeenKeys(1 << 10)
    keys = [f"key-{n}" for n in range(500)]
    for key in keys:
        seen.add([key])
    assert all(seen.add([key]) for key in keys)


def test_a_file_error_in_the_last_byte_leaves_the_tables_empty(importer: Importer) -> None:
    importer.write(SOURCE, FIRST_USERS)
    path = importer.base_dir / SOURCE
    path.write_bytes(path.read_bytes()[:-1] + b",")

    outcome = importer.run(SOURCE)

    assert outcome.job is not None and outcome.job["status"] == "failed", outcome.job
    assert "JSON" in outcome.job["error_message"], outcome.job["error_message"]
    assert outcome.job["imported_count"] == 0
    assert importer.query("SELECT count(*) AS n FROM users")[0]["n"] == 0
    assert importer.query("SELECT count(*) AS n FROM addresses")[0]["n"] == 0


def test_a_dry_run_never_writes_straight_away(importer: Importer) -> None:
    copies, state = import_first_users(importer, dry_run=True)
    assert "copy_users_directly" not in copies
    assert state["data"] == {}
