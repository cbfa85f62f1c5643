"""New users' ids (migration 0009): the external id when it is a UUID, else a version 7 UUID
whose leading 48 bits are the time it was made, on both ways a user is created."""

from __future__ import annotations

import time
import uuid

from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import run, user

UUID = "5b0c7a52-3f0e-4c55-9d7e-2f6a1c3b9e10"


def ids_by_external_id(importer: Importer) -> dict[str, uuid.UUID]:
    return {row["external_id"]: row["id"] for row in importer.query("SELECT * FROM users")}


def milliseconds(user_id: uuid.UUID) -> int:
    return user_id.int >> 80


def test_new_ids_are_time_ordered_on_both_paths(importer: Importer) -> None:
    started = time.time_ns() // 1_000_000
    run(importer, [user("a@example.com", id="a"), user("u@example.com", id=UUID)])  # empty
    between = time.time_ns() // 1_000_000
    run(importer, [user("b@example.com", id="b")])  # tables hold users: merged
    ended = time.time_ns() // 1_000_000
    ids = ids_by_external_id(importer)
    assert str(ids[UUID]) == UUID
    assert ids["a"].version == ids["b"].version == 7
    assert ids["a"].variant == ids["b"].variant == uuid.RFC_4122
    # The database's clock and ours may differ by a little; not by a second.
    assert started - 1000 <= milliseconds(ids["a"]) <= between + 1000
    assert between - 1000 <= milliseconds(ids["b"]) <= ended + 1000
