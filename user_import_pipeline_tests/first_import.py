"""A file for first imports into empty tables (merge/bulk_load.py) and a way to import it."""

from __future__ import annotations

import uuid
from typing import Any

from user_import_pipeline import checkpoints
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import address
from user_import_pipeline_tests.ops.resuming import SOURCE, USERS, job_state

UPPER_UUID = "0000000A-0000-4000-8000-00000000001F"

# USERS, and rows that repeat an earlier row's key: its external id, its email in another
# case, its UUID in another spelling, an email first seen without an id, a chain of three.
FIRST_USERS: list[Any] = [
    *USERS,
    {"id": "dup-1", "name": "Dup", "email": "dup@example.com"},
    {"id": "dup-2", "name": "Dup 2", "email": "DUP@example.com"},
    {"id": UPPER_UUID, "name": "Upper", "email": "upper@example.com"},
    {"id": UPPER_UUID.lower(), "name": "Lower", "email": "lower@example.com",
     "addresses": [address("u1")]},
    {"name": "No Id", "email": "noid@example.com", "addresses": [address("n1")]},
    {"id": "noid", "name": "No Id 2", "email": "NoId@example.com"},
    {"id": "chain-1", "name": "C1", "email": "c1@example.com", "addresses": [address("c1")]},
    {"id": "chain-2", "name": "C2", "email": "c1@example.com"},
    {"id": "chain-2", "name": "C3", "email": "c3@example.com", "addresses": []},
    {"id": "ext-1", "name": "Ann again", "email": "ann@example.com", "phone_number": "9"},
    {"id": "late", "name": "Late", "email": "late@example.com",
     "addresses": [address("l1"), address("l2")]},
]  # fmt: skip
SENTINEL_EMAIL = "sentinel@example.invalid"


def import_first_users(
    importer: Importer, *, dry_run: bool = False
) -> tuple[list[str], dict[str, Any]]:
    """Import FIRST_USERS; returns the COPYs it made and its job's state, without the
    sentinel user."""
    source = importer.write(SOURCE, FIRST_USERS)
    copies: list[str] = []

    def listener(point: checkpoints.Point) -> None:
        if point.kind == "copy":
            copies.append(point.name)

    with checkpoints.listening(listener):
        outcome = importer.run(source, dry_run=dry_run)
    assert outcome.succeeded, outcome.message
    assert outcome.job is not None
    state = job_state(importer, outcome.job["id"])
    state["data"].pop(SENTINEL_EMAIL, None)
    return copies, state


def add_sentinel(importer: Importer) -> None:
    """A user no row of FIRST_USERS shares a key with: the tables are not empty."""
    importer.query(
        "INSERT INTO users (id, external_id, name, email) VALUES (%s, 'sentinel', 'S', %s)"
        " RETURNING id",
        (str(uuid.uuid4()), SENTINEL_EMAIL),
    )
