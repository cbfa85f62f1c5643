"""Synthetic users files: format, determinism, realism and the requested invalid rows."""

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import pytest
from click.testing import CliRunner

from user_import_pipeline.cli.main import cli
from user_import_pipeline.generate import INVALID_KINDS, generate_users
from user_import_pipeline.ingest.validate import RowError, validate_user


def _load(path: Path) -> list[Any]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _classify(items: list[Any]) -> tuple[Counter[str], list[int]]:
    """Row error codes from the validator, plus the indexes of rows whose identity recurs later."""
    codes: Counter[str] = Counter()
    last_index: dict[str, int] = {}
    valid: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        try:
            row = validate_user(item)
        except RowError as err:
            codes[err.code] += 1
            continue
        identity = row.external_id or row.email.lower()
        last_index[identity] = index
        valid.append((index, identity))
    superseded = [index for index, identity in valid if last_index[identity] != index]
    return codes, superseded


@pytest.mark.parametrize("suffix", [".json", ".json.gz"], ids=["plain", "gzip"])
def test_writes_a_json_array_of_count_users(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"users{suffix}"
    stats = generate_users(path, 300, seed=1)

    items = _load(path)
    assert len(items) == stats.users == 300
    assert stats.bytes_written == path.stat().st_size
    assert stats.addresses == sum(len(u.get("addresses", [])) for u in items)
    assert stats.invalid_rows == 0
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary file left"


@pytest.mark.parametrize(
    "name", ["users.jsonl", "users.ndjson", "users.jsonl.gz", "users.ndjson.gz"]
)
def test_a_json_lines_name_gets_the_same_users_one_per_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    stats = generate_users(path, 300, seed=1, invalid_rate=0.2)
    generate_users(tmp_path / "users.json", 300, seed=1, invalid_rate=0.2)

    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as f:
        text = f.read().decode("utf-8")
    assert text.endswith("\n") and "\n\n" not in text
    lines = text.splitlines()
    assert [json.loads(line) for line in lines] == _load(tmp_path / "users.json")
    assert len(lines) == stats.users == 300 and stats.invalid_rows > 0


def test_zero_users_in_json_lines_is_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    generate_users(path, 0)
    assert path.read_bytes() == b""


@pytest.mark.parametrize(
    ("name", "file_format"),
    [("users.json", "jsonl"), ("users.json.gz", "jsonl"), ("users.jsonl", "json"),
     ("users.ndjson.gz", "json")],
)  # fmt: skip
def test_a_format_the_name_does_not_say_is_refused(
    tmp_path: Path, name: str, file_format: Literal["json", "jsonl"]
) -> None:
    with pytest.raises(ValueError, match=f"a {file_format} file's name must end in"):
        generate_users(tmp_path / name, 1, file_format=file_format)
    assert list(tmp_path.iterdir()) == []


def test_zero_users_is_an_empty_array(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    generate_users(path, 0)
    assert _load(path) == []


@pytest.mark.parametrize("suffix", [".json", ".json.gz"], ids=["plain", "gzip"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, suffix: str) -> None:
    a, b, c = (tmp_path / f"{name}{suffix}" for name in "abc")
    generate_users(a, 500, seed=7, invalid_rate=0.1)
    generate_users(b, 500, seed=7, invalid_rate=0.1)
    generate_users(c, 500, seed=8, invalid_rate=0.1)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_gzip_header_has_no_mtime_and_no_file_name(tmp_path: Path) -> None:
    path = tmp_path / "users.json.gz"
    generate_users(path, 10)
    header = path.read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b"
    assert header[3] & 0x08 == 0, "FNAME flag set"
    assert header[4:8] == b"\0\0\0\0", "mtime set"


def test_valid_file_passes_the_validator_with_unique_ids_and_emails(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    generate_users(path, 2000, seed=3)
    items = _load(path)

    rows = [validate_user(item) for item in items]  # raises RowError on any invalid row
    ids = [row.external_id for row in rows if row.external_id is not None]
    assert len(ids) == len(set(ids))
    assert len(ids) < len(rows), "some users have no external id"
    assert {type(item.get("id")) for item in items} >= {str, int, type(None)}
    assert sum(row.external_uuid is not None for row in rows) > 0


def test_every_invalid_kind_occurs_and_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    stats = generate_users(path, 2000, seed=4, invalid_rate=0.2)
    codes, superseded = _classify(_load(path))

    expected = set(INVALID_KINDS) - {"duplicate_in_file"}
    assert expected <= set(codes), f"missing kinds: {expected - set(codes)}"
    assert set(codes) <= expected, f"unexpected kinds: {set(codes) - expected}"
    assert superseded, "no duplicate_in_file"
    assert codes.total() + len(superseded) == stats.invalid_rows
    assert 0.15 < stats.invalid_rows / stats.users < 0.25


def test_all_invalid_still_works(tmp_path: Path) -> None:
    # With nothing valid to repeat, duplicate_in_file cannot be made; every row still fails.
    path = tmp_path / "users.json"
    stats = generate_users(path, 50, invalid_rate=1.0)
    codes, superseded = _classify(_load(path))
    assert stats.invalid_rows == codes.total() == 50
    assert not superseded


@pytest.mark.parametrize("invalid_rate", [0.0, 0.3], ids=["valid", "with-invalid-rows"])
def test_emails_unique_case_insensitively(tmp_path: Path, invalid_rate: float) -> None:
    path = tmp_path / "users.json"
    generate_users(path, 2000, seed=5, invalid_rate=invalid_rate)
    emails = [u["email"].lower() for u in _load(path) if isinstance(u, dict) and "email" in u]
    assert len(emails) == len(set(emails))


def test_realistic_mix(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    stats = generate_users(path, 2000, seed=6)
    users = _load(path)

    assert 1.2 <= stats.addresses / stats.users <= 1.8
    assert any("addresses" not in u for u in users)
    assert {len(u["addresses"]) for u in users if "addresses" in u} == {0, 1, 2, 3}
    assert any("phone_number" not in u for u in users)
    assert any(isinstance(u.get("phone_number"), int) for u in users)
    zips = [a["zip_code"] for u in users for a in u.get("addresses", [])]
    assert any(isinstance(z, int) for z in zips) and any(isinstance(z, str) for z in zips)
    text = path.read_text(encoding="utf-8")
    assert "Łukasz" in text and "\\u" not in text, "non-ASCII written as UTF-8, not escaped"


def test_nul_is_written_as_a_json_escape(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    generate_users(path, 200, invalid_rate=0.5)
    assert b"\\u0000" in path.read_bytes()
    assert b"\x00" not in path.read_bytes()


@pytest.mark.parametrize(
    ("name", "count", "invalid_rate"),
    [
        ("users.csv", 1, 0.0),
        ("users.gz", 1, 0.0),
        ("users.json.bz2", 1, 0.0),
        ("users.jsonl.bz2", 1, 0.0),
        ("users.JSONL", 1, 0.0),
        ("users", 1, 0.0),
        ("users.json", -1, 0.0),
        ("users.json", 1, 1.5),
        ("users.json", 1, float("nan")),
    ],
    ids=[
        "csv",
        "bare-gz",
        "bz2",
        "jsonl-bz2",
        "uppercase-jsonl",
        "no-extension",
        "negative-count",
        "rate-above-1",
        "rate-nan",
    ],
)
def test_bad_arguments_are_refused(
    tmp_path: Path, name: str, count: int, invalid_rate: float
) -> None:
    with pytest.raises(ValueError):
        generate_users(tmp_path / name, count, invalid_rate=invalid_rate)
    assert list(tmp_path.iterdir()) == []


def test_cli_generate(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "users.json.gz"
    args = ["generate", "40", "--out", str(path), "--seed", "2", "--invalid-rate", "0.25"]
    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 1
    assert "wrote 40 users" in result.output
    assert len(_load(path)) == 40


@pytest.mark.parametrize(
    ("name", "options"),
    [("users.jsonl", ["--format", "jsonl"]), ("users.ndjson.gz", []), ("users.jsonl", [])],
)
def test_cli_generate_json_lines(tmp_path: Path, name: str, options: list[str]) -> None:
    path = tmp_path / name
    result = CliRunner().invoke(cli, ["generate", "40", "--out", str(path), *options])
    assert result.exit_code == 0, result.output
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        assert len([json.loads(line) for line in f]) == 40


def test_cli_refuses_a_format_the_name_does_not_say(tmp_path: Path) -> None:
    out = str(tmp_path / "users.json")
    result = CliRunner().invoke(cli, ["generate", "5", "--out", out, "--format", "jsonl"])
    assert result.exit_code == 2
    assert "must end in .jsonl or .ndjson" in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_bad_extension(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", "5", "--out", str(tmp_path / "users.txt")])
    assert result.exit_code == 2
    assert ".json.gz" in result.output
    assert list(tmp_path.iterdir()) == []
