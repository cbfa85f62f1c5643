"""A row the merge rejects keeps a raw JSON made from its staged values (CONTRACT §2.1): "id"
(its external id, as text), name, email, phone_number when set, and addresses as objects when
the row had the key; superseded duplicates too; cut at 4,096 characters."""

from __future__ import annotations

import json
import uuid
from typing import Any

from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import address, run, user


def raws(importer: Importer, users: list[Any]) -> dict[int, tuple[str, bool, str, bool]]:
    """Import ``users``; its row errors: row index → (code, superseded, raw, raw_truncated)."""
    outcome = run(importer, users)
    assert outcome.job is not None
    rows = importer.query(
        "SELECT row_index, code, superseded, raw, raw_truncated FROM import_job_errors"
        " WHERE job_id = %s",
        (outcome.job["id"],),
    )
    return {
        row["row_index"]: (row["code"], row["superseded"], row["raw"], row["raw_truncated"])
        for row in rows
    }


def test_duplicates_keep_their_staged_values(importer: Importer) -> None:
    first = user("ann@example.com", "  Ann  ", id=42, phone_number=5550100,
                 addresses=[address(zip_code=62701, note="ignored")], extra="ignored")  # fmt: skip
    found = raws(
        importer,
        [
            first,
            user("bob@example.com", "Bob", addresses=[]),
            user("ANN@example.com", "Ann Again", id=42),
            user("Bob@Example.com", "Bob", id="b-1"),
        ],
    )
    assert found == {
        0: ("duplicate_in_file", True,
            '{"id":"42","name":"Ann","email":"ann@example.com","phone_number":"5550100",'
            '"addresses":[{"street":"1 Main St","city":"Springfield","state":"IL",'
            '"zip_code":"62701","country":"US"}]}', False),
        1: ("duplicate_in_file", False,
            '{"name":"Bob","email":"bob@example.com","addresses":[]}', False),
    }  # fmt: skip


def test_conflicts_keep_their_staged_values(importer: Importer) -> None:
    owner = str(uuid.uuid4())
    run(importer, [user("taken@example.com", id="u-1"), user("owner@example.com", id=owner)])
    importer.query("UPDATE users SET external_id = 'renamed' WHERE id = %s RETURNING id", (owner,))

    found = raws(
        importer,
        [
            user("taken@example.com", "Other", id="u-2"),
            user("new@example.com", "By Uuid", id=owner.upper(), addresses=[address()]),
        ],
    )
    assert found == {
        0: ("email_conflict", False,
            '{"id":"u-2","name":"Other","email":"taken@example.com"}', False),
        1: ("id_conflict", False,
            json.dumps({"id": owner.upper(), "name": "By Uuid", "email": "new@example.com",
                        "addresses": [address()]}, separators=(",", ":")), False),
    }  # fmt: skip


def test_a_large_rejected_row_is_cut_at_4096_characters(importer: Importer) -> None:
    addresses = [address(f"{n} Main St") for n in range(100)]
    found = raws(importer, [user("a@example.com", id="a", addresses=addresses),
                            user("a@example.com", id="a")])  # fmt: skip
    ((code, superseded, raw, truncated),) = found.values()
    assert (code, superseded, truncated, len(raw)) == ("duplicate_in_file", True, True, 4096)
    whole = {"id": "a", "name": "Name", "email": "a@example.com", "addresses": addresses}
    assert raw == json.dumps(whole, separators=(",", ":"))[:4096]
