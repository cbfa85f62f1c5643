"""`users` pages keep room for a re-import's updates (migration 0010): a user whose row
changes is rewritten on its own page, not moved to the end of the table."""

from __future__ import annotations

from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import address, assert_counts, run, user

ROWS = [
    user(f"p{i}@example.com", f"Person {i}", id=f"p{i}", addresses=[address(f"{i} Main St")])
    for i in range(3000)
]


def pages(importer: Importer) -> dict[str, int]:
    rows = importer.query("SELECT external_id, (ctid::text::point)[0]::int AS page FROM users")
    return {row["external_id"]: row["page"] for row in rows}


def test_changed_users_stay_on_their_pages(importer: Importer) -> None:
    run(importer, ROWS)
    before = pages(importer)
    changed = [
        dict(row, name=f"{row['name']} Jr") if i % 10 == 0 else row for i, row in enumerate(ROWS)
    ]
    assert_counts(run(importer, changed), updated=300, unchanged=2700)
    after = pages(importer)
    renamed = [f"p{i}" for i in range(0, len(ROWS), 10)]
    moved = [name for name in renamed if after[name] != before[name]]
    assert len(moved) <= len(renamed) // 20, f"{len(moved)} of {len(renamed)} moved"
