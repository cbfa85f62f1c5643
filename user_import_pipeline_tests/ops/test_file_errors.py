"""File errors through the whole job (CONTRACT §2.1): the import fails with a message that says
what and where, the Dagster run fails, and nothing is merged - ``users`` and ``addresses``
are exactly as before, down to each row version (``xmin``)."""

from __future__ import annotations

import gzip
import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from user_import_pipeline.generate import generate_users
from user_import_pipeline_tests.importing import Importer

pytestmark = pytest.mark.faults

SEED = [
    {
        "id": "seed-1",
        "name": "Ann Seed",
        "email": "ann@example.com",
        "phone_number": "+1 555-0100",
        "addresses": [
            {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip_code": "62701",
             "country": "US"},
            {"street": "2 Oak Ave", "city": "Austin", "state": "TX", "zip_code": 73301,
             "country": "US"},
        ],
    },
    {
        "name": "Bob Seed",
        "email": "bob@example.com",
        "addresses": [
            {"street": "Hauptstraße 3", "city": "Berlin", "state": "Berlin", "zip_code": "10115",
             "country": "DE"},
        ],
    },
    {"id": 42, "name": "Cleo Seed", "email": "cleo@example.com", "addresses": []},
]  # fmt: skip

# What every bad file carries: changes to each seeded user and a new one, so that a
# merge of any part of it would show in the snapshot.
CHANGES = [
    {
        "id": "seed-1",
        "name": "Ann Changed",
        "email": "ann@example.com",
        "addresses": [
            {"street": "9 New Rd", "city": "Łódź", "state": "Łódzkie", "zip_code": "90-001",
             "country": "PL"},
        ],
    },
    {"name": "Bob Changed", "email": "bob@example.com", "phone_number": 5550199},
    {"id": 42, "name": "Cleo Changed", "email": "cleo@example.com",
     "addresses": [{"street": "5 Elm", "city": "London", "state": "England",
                    "zip_code": "NW1 6XE", "country": "GB"}]},
    {"name": "Dan New", "email": "dan@example.com", "addresses": []},
]  # fmt: skip
POSITION = re.compile(r"\b(?:byte|row) \d+\b")


def dump(users: Any) -> bytes:
    return json.dumps(users, ensure_ascii=False, indent=1).encode()


def snapshot(importer: Importer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every column of every user and address, with the row version of each."""
    return (
        importer.query("SELECT *, xmin::text AS row_version FROM users ORDER BY id"),
        importer.query("SELECT *, xmin::text AS row_version FROM addresses ORDER BY id"),
    )


@pytest.fixture
def seeded(importer: Importer) -> Importer:
    outcome = importer.import_users(SEED, name="seed.json")
    assert outcome.job is not None
    assert outcome.job["status"] == "succeeded", outcome.job["error_message"]
    assert outcome.counts["imported_count"] == 3
    assert len(importer.query("SELECT 1 FROM addresses")) == 3
    return importer


def test_control_the_changes_would_show_in_the_snapshot(seeded: Importer) -> None:
    """Without a defect the payload of the bad files changes every seeded user and adds
    one: a test below that finds the snapshot unchanged really found nothing merged."""
    before = snapshot(seeded)
    (seeded.base_dir / "good.json").write_bytes(dump(CHANGES))
    outcome = seeded.run("good.json")
    assert outcome.job is not None
    assert outcome.job["status"] == "succeeded"
    assert outcome.counts["updated_count"] == 3
    assert outcome.counts["imported_count"] == 1
    (users_before, addresses_before), (users_after, addresses_after) = before, snapshot(seeded)
    after_by_id = {user["id"]: user for user in users_after}
    assert len(after_by_id) == 4
    for user in users_before:
        changed = after_by_id[user["id"]]
        assert changed["name"].endswith("Changed")
        assert changed["row_version"] != user["row_version"]
    assert addresses_after != addresses_before


# Each case writes its file under the base directory (base_dir) and returns the
# source_path to import plus the text the error message must contain.
Case = Callable[[Path], tuple[str, str]]


def _write(base: Path, name: str, data: bytes) -> str:
    (base / name).write_bytes(data)
    return name


def truncated(base: Path) -> tuple[str, str]:
    data = dump(CHANGES)
    cut = len(data) - 25
    return _write(base, "truncated.json", data[:cut]), f"ends early at byte {cut}"


def large_with_bad_last_bytes(base: Path) -> tuple[str, str]:
    path = base / "large.json"
    generate_users(path, 19_000, seed=7)
    data = path.read_bytes()
    assert len(data) > 5_000_000
    assert data.endswith(b"\n]\n")
    path.write_bytes(data[:-3] + b"\n}\n")
    return "large.json", f"invalid JSON at or before byte {len(data)}"


def top_level_object(base: Path) -> tuple[str, str]:
    data = dump({"users": CHANGES})
    return _write(base, "object.json", data), "top level must be a JSON array, found object"


def too_deep_in_last_user(base: Path) -> tuple[str, str]:
    deep: Any = []
    for _ in range(70):
        deep = [deep]
    users = [*CHANGES, {"name": "Deep", "email": "deep@example.com", "extra": deep}]
    message = f"nesting deeper than 64 levels in row {len(users) - 1}"
    return _write(base, "deep.json", dump(users)), message


def invalid_utf8(base: Path) -> tuple[str, str]:
    data = dump(CHANGES).replace(b"Dan New", b"Dan \xff\xfe")
    return _write(base, "latin.json", data), "UTF8"


def encoded_surrogate(base: Path) -> tuple[str, str]:
    data = dump(CHANGES).replace(b"Dan New", b"Dan \xed\xa0\x80")
    return _write(base, "surrogate.json", data), "invalid UTF-8"


def missing(base: Path) -> tuple[str, str]:
    return "missing.json", "'missing.json' cannot be read: No such file or directory"


def outside_by_dotdot(base: Path) -> tuple[str, str]:
    name = f"outside-{uuid.uuid4().hex}.json"
    (base.parent / name).write_bytes(dump(CHANGES))
    return f"../{name}", "outside the import base directory"


def outside_by_absolute_path(base: Path) -> tuple[str, str]:
    path = base.parent / f"outside-{uuid.uuid4().hex}.json"
    path.write_bytes(dump(CHANGES))
    return str(path), "outside the import base directory"


def outside_by_symlink(base: Path) -> tuple[str, str]:
    path = base.parent / f"outside-{uuid.uuid4().hex}.json"
    path.write_bytes(dump(CHANGES))
    os.symlink(path, base / "link.json")
    return "link.json", "outside the import base directory"


def wrong_extension(base: Path) -> tuple[str, str]:
    return _write(base, "users.txt", dump(CHANGES)), "only .json, .jsonl and .ndjson files"


def gzip_truncated(base: Path) -> tuple[str, str]:
    data = gzip.compress(dump(CHANGES))[:-12]
    return _write(base, "users.json.gz", data), "not a readable gzip stream"


def gzip_of_bad_json(base: Path) -> tuple[str, str]:
    data = gzip.compress(dump(CHANGES)[:-1] + b"}")
    return _write(base, "bad.json.gz", data), "invalid JSON at or before byte"


def json_lines(users: list[Any]) -> bytes:
    return b"\n".join(json.dumps(user).encode() for user in users)


def json_lines_gzip_truncated(base: Path) -> tuple[str, str]:
    """JSON Lines are rows of their own, but a broken gzip stream breaks the file."""
    data = gzip.compress(json_lines(CHANGES))[:-12]
    return _write(base, "users.jsonl.gz", data), "not a readable gzip stream"


def json_lines_gzip_corrupt_in_a_long_line(base: Path) -> tuple[str, str]:
    """The careful parser streams a line over 1 MiB: a read error there is still a file error."""
    data = json_lines([*CHANGES, {"name": "Long", "email": "long@example.com",
                                  "bio": os.urandom(1024 * 1024).hex()}])  # fmt: skip
    packed = gzip.compress(data)
    damaged = packed[: len(packed) // 2] + b"\x00" * 64 + packed[len(packed) // 2 + 64 :]
    return _write(base, "users.ndjson.gz", damaged), "not a readable gzip stream"


def empty(base: Path) -> tuple[str, str]:
    return _write(base, "empty.json", b""), "file is empty"


def trailing_garbage(base: Path) -> tuple[str, str]:
    return _write(base, "trailing.json", dump(CHANGES) + b"\n[]"), "trailing garbage"


def form_feed_between_items(base: Path) -> tuple[str, str]:
    data = dump(CHANGES).replace(b"\n {", b"\n\x0c{", 1)
    return _write(base, "formfeed.json", data), "control character U+000C"


def too_many_digits(base: Path) -> tuple[str, str]:
    data = dump([*CHANGES, {"name": "N", "email": "n@example.com", "x": 1}])
    data = data.replace(b'"x": 1', b'"x": ' + b"1" * 5000)
    return _write(base, "digits.json", data), "more than 4300 digits in a row"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(truncated, id="truncated"),
        pytest.param(large_with_bad_last_bytes, id="5mb-syntax-error-in-last-bytes"),
        pytest.param(top_level_object, id="top-level-not-an-array"),
        pytest.param(too_deep_in_last_user, id="nesting-over-64-in-last-user"),
        pytest.param(invalid_utf8, id="invalid-utf8"),
        pytest.param(encoded_surrogate, id="utf8-encoded-surrogate"),
        pytest.param(missing, id="missing-file"),
        pytest.param(outside_by_dotdot, id="outside-by-dotdot"),
        pytest.param(outside_by_absolute_path, id="outside-by-absolute-path"),
        pytest.param(outside_by_symlink, id="outside-by-symlink"),
        pytest.param(wrong_extension, id="wrong-extension"),
        pytest.param(gzip_truncated, id="gzip-truncated"),
        pytest.param(gzip_of_bad_json, id="gzip-of-bad-json"),
        pytest.param(json_lines_gzip_truncated, id="json-lines-gzip-truncated"),
        pytest.param(json_lines_gzip_corrupt_in_a_long_line, id="json-lines-gzip-corrupt"),
        pytest.param(empty, id="empty-file"),
        pytest.param(trailing_garbage, id="trailing-garbage"),
        pytest.param(form_feed_between_items, id="form-feed-as-whitespace"),
        pytest.param(too_many_digits, id="number-beyond-4300-digits"),
    ],
)
def test_file_error_fails_the_import_and_merges_nothing(seeded: Importer, case: Case) -> None:
    source_path, expected = case(seeded.base_dir)
    before = snapshot(seeded)

    outcome = seeded.run(source_path)

    assert not outcome.succeeded
    assert outcome.job is not None, "the run must record the import it refused"
    assert outcome.job["status"] == "failed"
    message = outcome.job["error_message"]
    assert expected in message
    assert source_path in message
    if case not in (missing, outside_by_dotdot, outside_by_absolute_path, outside_by_symlink,
                    wrong_extension, empty):  # fmt: skip
        assert POSITION.search(message), message
    assert snapshot(seeded) == before
    assert seeded.errors(outcome.job["id"]) == {}
    staging = "stg_users_" + str(outcome.job["id"]).replace("-", "")
    assert seeded.query("SELECT to_regclass(%s) AS t", (staging,)) == [{"t": None}]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(os.fsdecode(b"\xff.json"), id="non-utf8-name-existing"),
        pytest.param(os.fsdecode(b"\xfe\xfd.json"), id="non-utf8-name-missing"),
    ],
)
def test_a_non_utf8_file_name_fails_cleanly(seeded: Importer, name: str) -> None:
    """A source_path that cannot be stored as text (a lone surrogate from os.fsdecode of a
    non-UTF-8 name) must still end as a recorded, failed import, not a crashed run."""
    if name == os.fsdecode(b"\xff.json"):
        (seeded.base_dir / name).write_bytes(dump(CHANGES))
    before = snapshot(seeded)
    outcome = seeded.run(name)
    assert not outcome.succeeded
    assert snapshot(seeded) == before
    assert outcome.job is not None, "no import_jobs row recorded the refused import"
    assert outcome.job["status"] == "failed"
    assert "not valid UTF-8" in outcome.job["error_message"]


def test_valid_json_gz_imports_like_the_same_json(importer: Importer) -> None:
    generate_users(importer.base_dir / "users.json", 400, seed=3, invalid_rate=0.1)
    generate_users(importer.base_dir / "users.json.gz", 400, seed=3, invalid_rate=0.1)
    with gzip.open(importer.base_dir / "users.json.gz") as compressed:
        assert compressed.read() == (importer.base_dir / "users.json").read_bytes()

    def imported(source_path: str) -> tuple[dict[str, Any], dict[int, str], dict[str, Any]]:
        importer.reset()
        outcome = importer.run(source_path)
        assert outcome.succeeded
        assert outcome.job is not None
        assert outcome.job["status"] == "succeeded"
        return importer.comparable_users(), importer.errors(outcome.job["id"]), outcome.counts

    plain = imported("users.json")
    packed = imported("users.json.gz")
    assert packed == plain
    users, errors, counts = plain
    assert counts["imported_count"] == len(users) > 300
    assert errors  # the invalid rows are row errors in both
    assert counts["progress_processed"] == 400


def test_valid_json_that_yajl_alone_would_refuse_imports(importer: Importer) -> None:
    """Integers past 64 bits and exponents past a double are valid JSON: an integer id or
    phone number is stored as its decimal string, an unknown key is ignored."""
    users = b"""[
      {"id": 123456789012345678901234567890, "name": "Big Id", "email": "big@example.com",
       "phone_number": 1234567890123456789012345, "score": 1e400, "tiny": -1e-400},
      {"name": "Neg", "email": "neg@example.com", "phone_number": -99999999999999999999}
    ]"""
    (importer.base_dir / "numbers.json").write_bytes(users)
    outcome = importer.run("numbers.json")
    assert outcome.job is not None
    assert outcome.job["status"] == "succeeded", outcome.job["error_message"]
    assert outcome.counts["imported_count"] == 2
    stored = importer.users()
    assert stored["big@example.com"]["external_id"] == "123456789012345678901234567890"
    assert stored["big@example.com"]["phone_number"] == "1234567890123456789012345"
    assert stored["neg@example.com"]["phone_number"] == "-99999999999999999999"
