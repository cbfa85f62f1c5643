"""JSON Lines files through the import core (CONTRACT §2, §4): each non-blank line is a row,
a line that is not JSON is a row error like any other, and progress, counts and the staged
file's digest are those of an array file."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

from user_import_pipeline.generate import generate_users
from user_import_pipeline_tests.importing import Importer

PROGRESS = ("progress_total", "bytes_total", "bytes_processed")
LINES = (
    b'{"id": "u-1", "name": "Ann", "email": "ann@example.com", "addresses": [\r\n'  # not JSON
    b"\n"
    b'{"id": "u-1", "name": "Ann", "email": "ann@example.com", "phone_number": 5550100,'
    b' "addresses": [{"street": "1 Main St", "city": "Springfield", "state": "IL",'
    b' "zip_code": 62701, "country": "US"}]}\r\n'
    b"   \n"
    b'"just text"\n'
    b'{"name": "No Email"}\n'
    b"\n\n"
    b'{"id": 7, "name": "Bob", "email": "bob@example.com"}\n'
    b'{"id": 7, "name": "Bob Again", "email": "bob@example.com"}'  # no line break at the end
)


def test_a_json_lines_file_imports_with_a_row_per_line(importer: Importer) -> None:
    (importer.base_dir / "users.jsonl").write_bytes(LINES)

    outcome = importer.run("users.jsonl")

    assert outcome.succeeded, outcome.message
    job = outcome.job
    assert job is not None
    assert {name: job[name] for name in [*PROGRESS, *outcome.counts]} == {
        "progress_total": 6,
        "bytes_total": len(LINES),
        "bytes_processed": len(LINES),
        "progress_processed": 6,
        "imported_count": 2,
        "updated_count": 0,
        "unchanged_count": 0,
        "skipped_count": 4,
        "failed_count": 3,
    }
    assert job["source_sha256"] == hashlib.sha256(LINES).hexdigest()
    assert importer.errors(job["id"]) == {
        0: "invalid_json",
        2: "not_an_object",
        3: "missing_field",
        4: "duplicate_in_file",
    }
    users = importer.users()
    assert sorted(users) == ["ann@example.com", "bob@example.com"]
    ann, bob = users["ann@example.com"], users["bob@example.com"]
    assert (ann["external_id"], ann["phone_number"]) == ("u-1", "5550100")
    assert ann["addresses"] == [
        {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip_code": "62701",
         "country": "US"}
    ]  # fmt: skip
    assert (bob["external_id"], bob["name"]) == ("7", "Bob Again")


def test_an_ndjson_gz_imports_like_the_same_users_as_an_array(importer: Importer) -> None:
    """The generator writes the same users in either format; both imports agree, and the gzip
    file's progress counts its compressed bytes."""
    generate_users(importer.base_dir / "users.json", 400, seed=3, invalid_rate=0.1)
    generate_users(importer.base_dir / "users.ndjson.gz", 400, seed=3, invalid_rate=0.1)

    def imported(source_path: str) -> tuple[dict[str, Any], dict[int, str], dict[str, Any]]:
        importer.reset()
        outcome = importer.run(source_path)
        assert outcome.succeeded, outcome.message
        assert outcome.job is not None
        users = importer.comparable_users()
        job = outcome.job
        data = (importer.base_dir / source_path).read_bytes()
        assert job["source_sha256"] == hashlib.sha256(data).hexdigest()
        assert job["bytes_total"] == job["bytes_processed"] == len(data)
        assert job["progress_total"] == job["progress_processed"]
        return users, importer.errors(job["id"]), outcome.counts

    array_users, array_errors, array_counts = imported("users.json")
    lines_users, lines_errors, lines_counts = imported("users.ndjson.gz")
    assert lines_users == array_users
    assert lines_errors == array_errors and lines_errors
    assert lines_counts == array_counts
    assert lines_counts["progress_processed"] == 400
    with gzip.open(importer.base_dir / "users.ndjson.gz") as lines:
        assert len(lines.read().splitlines()) == 400


def test_a_json_lines_file_of_blank_lines_imports_nothing(importer: Importer) -> None:
    """Unlike an empty array file, which holds no JSON at all and fails (CONTRACT §2.1)."""
    for name, data in (("empty.jsonl", b""), ("blank.ndjson", b"\n \r\n\t\n")):
        (importer.base_dir / name).write_bytes(data)
        outcome = importer.run(name)
        assert outcome.succeeded, outcome.message
        assert outcome.counts["progress_processed"] == 0
    (importer.base_dir / "empty.json").write_bytes(b"")
    assert not importer.run("empty.json").succeeded
