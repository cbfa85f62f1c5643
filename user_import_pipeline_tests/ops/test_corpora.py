"""Public corpora through the real job (CONTRACT §2, §2.1; fixtures/corpora/README.md).

JSONTestSuite: every ``n_`` document is a file error (import failed, nothing merged);
every ``y_`` array is imported item by item (rows or row errors), every other ``y_``
document is a clean file error; every ``i_`` document ends the import one way or the
other, never a crash and never a job left ``running``. One Dagster run per document.

big-list-of-naughty-strings: each string as a user's ``name`` and ``street`` is stored
trimmed and otherwise byte-exact, or the row is rejected with a fitting row error code.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline.ingest.validate import RowError, validate_user
from user_import_pipeline_tests.conftest import create_database, drop_database
from user_import_pipeline_tests.corpora import CORPORA
from user_import_pipeline_tests.importing import Importer

pytestmark = pytest.mark.slow

SUITE = CORPORA / "JSONTestSuite" / "test_parsing"
BLNS = CORPORA / "big-list-of-naughty-strings" / "blns.json"
SUITE_FILES = sorted(path.name for path in SUITE.glob("*.json"))
POSITION = re.compile(r"\b(?:byte|row) \d+\b")
SEED = [
    {"id": "seed-1", "name": "Ann Seed", "email": "ann@example.com",
     "addresses": [{"street": "1 Main St", "city": "Springfield", "state": "IL",
                    "zip_code": "62701", "country": "US"}]},
    {"name": "Bob Seed", "email": "bob@example.com", "phone_number": 5550100},
]  # fmt: skip


def test_the_corpora_are_all_there() -> None:
    assert len(SUITE_FILES) == 318
    prefixes = [name[:2] for name in SUITE_FILES]
    assert {p: prefixes.count(p) for p in set(prefixes)} == {"y_": 95, "n_": 188, "i_": 35}
    assert BLNS.is_file()


@pytest.fixture(scope="module")
def suite_importer(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Importer]:
    """One database and base directory for the whole suite, seeded once: no suite document
    holds a valid user, so every import - failed or not - must leave the seed untouched."""
    dsn = create_database(server_url)
    try:
        migrate(Database(dsn))
        base = tmp_path_factory.mktemp("json-test-suite")
        for name in SUITE_FILES:
            shutil.copyfile(SUITE / name, base / name)
        importer = Importer(dsn=dsn, base_dir=base)
        importer.reset()
        seeded = importer.import_users(SEED, name="seed.json")
        assert seeded.job is not None
        assert seeded.job["status"] == "succeeded", seeded.job["error_message"]
        yield importer
    finally:
        drop_database(server_url, dsn)


def snapshot(importer: Importer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        importer.query("SELECT *, xmin::text AS row_version FROM users ORDER BY id"),
        importer.query("SELECT *, xmin::text AS row_version FROM addresses ORDER BY id"),
    )


def document_of(name: str) -> Any:
    """The parsed document, or None for a y_ file that is not an array."""
    return json.loads((SUITE / name).read_bytes().decode("utf-8"))


def expected_row_errors(items: list[Any]) -> int:
    errors = 0
    for item in items:
        try:
            validate_user(item)
        except RowError:
            errors += 1
    return errors


def assert_counts_invariant(job: dict[str, Any]) -> None:
    assert job["progress_processed"] == (
        job["imported_count"] + job["updated_count"] + job["unchanged_count"] + job["skipped_count"]
    )
    assert job["failed_count"] <= job["skipped_count"]


def assert_clean_failure(outcome: Any, name: str) -> str:
    assert not outcome.succeeded
    assert outcome.job is not None
    assert outcome.job["status"] == "failed"
    message = outcome.job["error_message"]
    assert message.startswith(f"{name}: "), message
    if (SUITE / name).stat().st_size:
        assert POSITION.search(message), message
    else:
        assert "file is empty" in message
    return message


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """One ephemeral Dagster instance for all 318 runs (a new one per run costs more than
    the import itself)."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.mark.parametrize("name", SUITE_FILES)
def test_json_test_suite(suite_importer: Importer, instance: dg.DagsterInstance, name: str) -> None:
    before = snapshot(suite_importer)
    outcome = suite_importer.run_dagster(name, instance=instance)
    assert outcome.job is not None, "every run must claim and finish its import job"
    job = outcome.job
    assert job["status"] in ("succeeded", "failed"), job["status"]

    if name.startswith("n_"):
        assert_clean_failure(outcome, name)
    elif name.startswith("y_"):
        document = document_of(name)
        if isinstance(document, list):
            assert outcome.succeeded, job["error_message"]
            assert job["status"] == "succeeded"
            assert job["progress_processed"] == len(document)
            assert_counts_invariant(job)
            errors = suite_importer.errors(job["id"])
            assert len(errors) == job["failed_count"] == expected_row_errors(document)
            assert set(errors) <= set(range(len(document)))
        else:
            message = assert_clean_failure(outcome, name)
            assert "the top level must be a JSON array" in message
    else:
        assert name.startswith("i_")
        if job["status"] == "succeeded":
            assert outcome.succeeded
            assert_counts_invariant(job)
        else:
            assert_clean_failure(outcome, name)
    # No suite document holds a valid user: nothing may change, whatever the outcome.
    assert snapshot(suite_importer) == before


# --- big-list-of-naughty-strings ---------------------------------------------------------

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def rejection_codes(value: str) -> set[str]:
    """The row error codes that may reject ``value`` as a name (and street); empty when it
    must be stored. A name is checked before the address, so a bad string is always
    reported for the name: ``invalid_address`` (street) would mean the two disagree.

    - missing_field: blank after trimming (the empty string, whitespace of any kind)
    - value_too_long: more than 255 characters after trimming
    - invalid_characters: U+0000 or a lone surrogate, which PostgreSQL text cannot hold
    """
    text = value.strip()
    codes = set()
    if not text:
        codes.add("missing_field")
    if len(text) > 255:
        codes.add("value_too_long")
    if _UNSTORABLE.search(text):
        codes.add("invalid_characters")
    return codes


def test_naughty_strings_are_stored_exactly_or_rejected_with_a_row_error(
    importer: Importer,
) -> None:
    strings = json.loads(BLNS.read_text(encoding="utf-8"))
    assert len(strings) > 500
    users = [
        {
            "name": value,
            "email": f"naughty.{index}@example.com",
            "addresses": [
                {"street": value, "city": "Springfield", "state": "IL", "zip_code": "62701",
                 "country": "US"},
            ],
        }
        for index, value in enumerate(strings)
    ]  # fmt: skip
    # ASCII escapes: the file stays valid UTF-8 even if a string held a lone surrogate.
    (importer.base_dir / "naughty.json").write_text(json.dumps(users), encoding="ascii")

    outcome = importer.run("naughty.json")

    job = outcome.job
    assert job is not None
    assert job["status"] == "succeeded", job["error_message"]
    assert job["progress_processed"] == len(strings)
    assert_counts_invariant(job)
    errors = importer.errors(job["id"])
    stored = importer.users()
    rejected = 0
    for index, value in enumerate(strings):
        email = f"naughty.{index}@example.com"
        codes = rejection_codes(value)
        if codes:
            rejected += 1
            assert errors.get(index) in codes, (index, value, errors.get(index))
            assert email not in stored
        else:
            assert index not in errors, (index, value, errors[index])
            user = stored[email]
            assert user["name"] == value.strip(), index
            assert user["name"].encode("utf-8") == value.strip().encode("utf-8")
            assert [a["street"] for a in user["addresses"]] == [value.strip()], index
    assert len(errors) == job["failed_count"] == rejected
    assert job["imported_count"] == len(strings) - rejected
    assert 0 < rejected < 10  # the list has blank and over-long strings, and little else
