"""JSON bombs through ``user-import run`` (issue 6): each ends the job cleanly - a file error
or row errors, never a job left ``running`` - in bounded memory and time.

The bound we state (docs/RELIABILITY.md): the importing process peaks at most
``MEMORY_HEADROOM`` above the same command importing a ten-user file. Memory is the peak
RSS of the child process (``wait4``), so it counts what yajl allocates in C too.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from user_import_pipeline.ingest.validate import MAX_ADDRESSES, Oversized, RowError, validate_user
from user_import_pipeline_tests.importing import Importer

pytestmark = pytest.mark.faults

CLI = str(Path(sys.executable).with_name("user-import"))
MIB = 1024 * 1024
MEMORY_HEADROOM = 64 * MIB
SECONDS = 60
MILLION = 1_000_000
ADDRESS = b'{"street": "s", "city": "c", "state": "st", "zip_code": "1", "country": "c"}'


def write_chunks(path: Path, chunks: Iterator[bytes]) -> None:
    with open(path, "wb") as file:
        for chunk in chunks:
            file.write(chunk)


def repeated(head: bytes, unit: bytes, count: int, tail: bytes) -> Iterator[bytes]:
    """head + unit * count + tail, written in slices of 1 MiB or so."""
    yield head
    step = max(1, MIB // len(unit))
    for start in range(0, count, step):
        yield unit * min(step, count - start)
    yield tail


def keys(count: int, known: bool) -> Iterator[bytes]:
    yield b'[{"name": "Ann", "email": "ann@example.com"'
    for start in range(0, count, 10_000):
        if known:
            yield b', "phone_number": "1"' * 10_000
        else:
            yield b"".join(b', "k%d": [%d]' % (n, n) for n in range(start, start + 10_000))
    yield b"}]"


# name → (file content, expected job status, what the job or its errors must say)
BOMBS: dict[str, tuple[Callable[[], Iterator[bytes]], str, str]] = {
    "1e6-deep-nesting": (
        lambda: repeated(b"", b"[", MILLION, b""), "failed", "nesting deeper than 64 levels"),
    "1e6-deep-objects": (
        lambda: repeated(b"[", b'{"a":', MILLION, b""), "failed", "nesting deeper than 64 levels"),
    "100-MB-string": (
        lambda: repeated(b'[{"name": "', b"a", 100 * MIB, b'", "email": "a@example.com"}]'),
        "failed", "a value longer than 8 MiB"),
    "100-MB-string-of-escaped-quotes": (
        lambda: repeated(b'[{"bio": "', b'\\"', 50 * MIB, b'"}]'),
        "failed", "a value longer than 8 MiB"),
    "1e6-digit-number": (
        lambda: repeated(b'[{"id": ', b"7", MILLION, b"}]"), "failed", "more than 4300 digits"),
    "1e6-keys-in-one-object": (lambda: keys(MILLION, known=False), "succeeded", "imported"),
    "1e6-repeats-of-a-known-key": (lambda: keys(MILLION, known=True), "succeeded", "imported"),
    "1e6-addresses": (
        lambda: repeated(b'[{"name": "A", "email": "a@example.com", "addresses": [',
                         ADDRESS + b",", MILLION, ADDRESS + b"]}]"),
        "succeeded", f"value_too_long: more than {MAX_ADDRESSES} addresses"),
    "1e6-items-in-one-item": (
        lambda: repeated(b"[[", b"1,", MILLION, b"1]]"), "succeeded", "not_an_object"),
}  # fmt: skip


def run_measured(importer: Importer, name: str, home: Path) -> tuple[dict[str, Any], int, float]:
    """``user-import run name`` in a child: its summary, peak RSS (bytes) and wall seconds."""
    env = {
        **os.environ,
        "DATABASE_URL": importer.dsn,
        "IMPORT_BASE_DIR": str(importer.base_dir),
        "DAGSTER_HOME": str(home),  # no dagster.yaml: a SQLite instance of this test's own
        "DAGSTER_PG_URL": "unused-without-dagster.yaml",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [CLI, "run", name], env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    assert os.WIFEXITED(status), f"user-import run died: {status}"
    summary = json.loads(output.decode().strip().splitlines()[-1])
    return summary, usage.ru_maxrss * 1024, seconds


@pytest.fixture(scope="module")
def baseline(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> int:
    """Peak RSS of ``user-import run`` on a ten-user file."""
    importer = Importer(dsn=dsn, base_dir=tmp_path_factory.mktemp("baseline"))
    importer.reset()
    users = [{"name": f"U{n}", "email": f"u{n}@example.com"} for n in range(10)]
    importer.write("ten.json", users)
    summary, rss, _ = run_measured(importer, "ten.json", tmp_path_factory.mktemp("home"))
    assert summary["status"] == "succeeded", summary
    return rss


@pytest.mark.slow
@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_json_bomb_ends_the_job_in_bounded_memory(
    importer: Importer, baseline: int, tmp_path: Path, bomb: str
) -> None:
    content, status, says = BOMBS[bomb]
    importer.reset()
    write_chunks(importer.base_dir / "bomb.json", content())
    home = tmp_path / "home"
    home.mkdir()

    summary, rss, seconds = run_measured(importer, "bomb.json", home)
    print(f"{bomb}: {summary['status']}, peak RSS {rss / MIB:.0f} MiB "
          f"({(rss - baseline) / MIB:+.0f} MiB), {seconds:.1f} s")  # fmt: skip

    assert summary["status"] == status, summary
    (job,) = importer.query("SELECT * FROM import_jobs")
    assert job["status"] == status and job["finished_at"] is not None
    if status == "failed":
        assert says in job["error_message"], job["error_message"]
        assert importer.query("SELECT count(*) AS n FROM users") == [{"n": 0}]
    else:
        errors = importer.query(
            "SELECT row_index, code || ': ' || message AS error FROM import_job_errors"
        )
        if says == "imported":
            assert (job["imported_count"], errors) == (1, []), errors
        else:
            assert job["failed_count"] == 1
            assert [(e["row_index"], says in e["error"]) for e in errors] == [(0, True)], errors
    assert rss - baseline <= MEMORY_HEADROOM, f"{bomb}: {rss / MIB:.0f} MiB peak RSS"
    assert seconds < SECONDS, f"{bomb}: {seconds:.0f} s"


# JSON Lines: a bomb is one line, a row error of its own (or a blank line, skipped), and the
# lines around it import. name → (the bomb line, what its row error says; None: skipped).
LINE_BOMBS: dict[str, tuple[Callable[[], Iterator[bytes]], str | None]] = {
    "100-MB-line": (
        lambda: repeated(b'{"name": "', b"a", 100 * MIB, b'", "email": "a@example.com"}'),
        "invalid_json: line: a value longer than 8 MiB"),
    "1e7-deep-line": (
        lambda: repeated(b"", b"[", 10 * MILLION, b""),
        "invalid_json: line: nesting deeper than 64 levels"),
    "1e6-deep-short-line": (
        lambda: repeated(b"", b"[", MILLION, b""),
        "invalid_json: line: nesting deeper than 64 levels"),
    "1e6-digit-line": (
        lambda: repeated(b'{"id": ', b"7", MILLION, b"}"), "invalid_json: line: more than 4300"),
    "1e6-addresses-line": (
        lambda: repeated(b'{"name": "A", "email": "a@example.com", "addresses": [',
                         ADDRESS + b",", MILLION, ADDRESS + b"]}"),
        f"value_too_long: more than {MAX_ADDRESSES} addresses"),
    "100-MB-blank-line": (lambda: repeated(b"", b" ", 100 * MIB, b"\r"), None),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("bomb", list(LINE_BOMBS))
def test_a_json_lines_bomb_is_a_row_error_in_bounded_memory(
    importer: Importer, baseline: int, tmp_path: Path, bomb: str
) -> None:
    content, says = LINE_BOMBS[bomb]
    importer.reset()
    around = (b'{"name": "Ann", "email": "ann@example.com"}\n',
              b'\n{"name": "Bob", "email": "bob@example.com"}\n')  # fmt: skip
    write_chunks(
        importer.base_dir / "bomb.jsonl", itertools.chain(around[:1], content(), around[1:])
    )
    home = tmp_path / "home"
    home.mkdir()

    summary, rss, seconds = run_measured(importer, "bomb.jsonl", home)
    print(f"{bomb}: {summary['status']}, peak RSS {rss / MIB:.0f} MiB "
          f"({(rss - baseline) / MIB:+.0f} MiB), {seconds:.1f} s")  # fmt: skip

    assert summary["status"] == "succeeded", summary
    assert summary["imported_count"] == 2, summary
    errors = importer.query(
        "SELECT row_index, code || ': ' || message AS error, length(raw) AS raw, raw_truncated"
        " FROM import_job_errors"
    )
    if says is None:
        assert errors == []
    else:
        assert [(e["row_index"], says in e["error"]) for e in errors] == [(1, True)], errors
        assert (errors[0]["raw"], errors[0]["raw_truncated"]) == (4096, True)
    assert rss - baseline <= MEMORY_HEADROOM, f"{bomb}: {rss / MIB:.0f} MiB peak RSS"
    assert seconds < SECONDS, f"{bomb}: {seconds:.0f} s"


# --- validation of what the parser keeps of a bomb ----------------------------------------


def test_an_oversized_value_is_too_long_for_any_field() -> None:
    user = {"name": Oversized(5000), "email": "a@example.com"}
    with pytest.raises(RowError) as error:
        validate_user(user)
    assert (error.value.code, error.value.message) == (
        "value_too_long",
        "name is 5000 characters long, the limit is 255",
    )
    address = {"street": "s", "city": "c", "state": "st", "zip_code": Oversized(2000)}
    with pytest.raises(RowError) as error:
        validate_user({"name": "A", "email": "a@example.com", "addresses": [address]})
    assert error.value.code == "invalid_address"
    assert error.value.message == "address 0: zip_code is 2000 characters long, the limit is 20"


def test_an_oversized_string_where_an_address_belongs_is_named_a_string() -> None:
    with pytest.raises(RowError) as error:
        validate_user({"name": "A", "email": "a@example.com", "addresses": [Oversized(5000)]})
    assert error.value.message == "address 0 must be a JSON object, got string"


def test_more_addresses_than_the_limit_make_the_row_too_long() -> None:
    address = {"street": "s", "city": "c", "state": "st", "zip_code": "1", "country": "c"}
    user = {"name": "A", "email": "a@example.com", "addresses": [address] * MAX_ADDRESSES}
    assert len(validate_user(user).addresses or ()) == MAX_ADDRESSES
    user["addresses"] = [address] * (MAX_ADDRESSES + 1)
    with pytest.raises(RowError) as error:
        validate_user(user)
    assert (error.value.code, error.value.message) == (
        "value_too_long",
        f"more than {MAX_ADDRESSES} addresses",
    )
