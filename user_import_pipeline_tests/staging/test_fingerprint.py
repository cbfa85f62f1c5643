"""A row's fingerprint is stored with its user and compared by every later import, so its
value for a given row must never change without a new tag: these are the values of the
"user-import.r1" fingerprint, as databases written by earlier versions hold them."""

from __future__ import annotations

import pytest

from user_import_pipeline.ingest.validate import Address, UserRow
from user_import_pipeline.staging.fingerprint import fingerprint

ADDRESSES = (
    Address("1 Main St", "Springfield", "IL", "62701", "US"),
    Address("2 Side", "X", "Y", "Z", "FR"),
)


@pytest.mark.parametrize(
    ("row", "stored"),
    [
        pytest.param(
            UserRow("ext-1", None, "Ada", "ada@example.com", "123", ADDRESSES),
            -1185032184435533140,
            id="two-addresses",
        ),
        pytest.param(
            UserRow(None, None, "Bob", "bob@example.com", None, None),
            -9031936652922653018,
            id="no-addresses-key",
        ),
        pytest.param(
            UserRow(None, None, "Cy", "cy@example.com", None, ()),
            4100485104958333694,
            id="empty-list",
        ),
    ],
)
def test_fingerprints_stored_by_earlier_versions_still_match(row: UserRow, stored: int) -> None:
    assert fingerprint(row) == stored
