"""`JsonLines` (CONTRACT §2, §2.1): one item per non-blank line, a line that cannot be read is
an ``invalid_json`` row error and the next line is read as usual, and only what breaks the file
itself is a file error. Memory stays bounded whatever a line holds."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tracemalloc
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from user_import_pipeline.ingest import lines
from user_import_pipeline.ingest.formats import read_items
from user_import_pipeline.ingest.lines import JsonLines
from user_import_pipeline.ingest.raw import RAW_LIMIT, Raw
from user_import_pipeline.ingest.source import ImportFileError, open_source, resolve_source
from user_import_pipeline.ingest.stream import MAX_VALUE_BYTES
from user_import_pipeline.ingest.validate import RowError, validate_user
from user_import_pipeline_tests.corpora import CORPORA

BOM = b"\xef\xbb\xbf"
MIB = 1024 * 1024
ANN = b'{"name": "Ann", "email": "ann@example.com"}'
BOB = b'{"name": "Bob", "email": "bob@example.com"}'
LineReader = Callable[[bytes], object]


def items(data: bytes) -> list[object]:
    return list(JsonLines(io.BytesIO(data), "users.jsonl"))


def with_raw(data: bytes | BinaryIO) -> list[tuple[object, Raw]]:
    """Each item with the raw its reader gives right after it."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    reader = JsonLines(stream, "users.jsonl")
    return [(item, reader.raw(item)) for item in reader]


def error(line: bytes) -> str:
    """The message of the row error of ``line``, read between two good lines."""
    found = items(ANN + b"\n" + line + b"\n" + BOB)
    assert found[0] == json.loads(ANN) and found[2] == json.loads(BOB), found
    return refused(found[1])


@pytest.fixture(params=["short", "careful"])
def last_line(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> LineReader:
    """Reads a line as the last of a file, after a good one: by ``json``, or by the careful
    parser, which streams a line longer than FAST_ITEM_BYTES (here: any last line)."""
    if request.param == "careful":
        monkeypatch.setattr(lines, "FAST_ITEM_BYTES", 0)

    def read(line: bytes) -> object:
        first, item = items(ANN + b"\n" + line)
        assert first == json.loads(ANN)
        return item

    return read


def refused(item: object) -> str:
    assert isinstance(item, RowError) and item.code == "invalid_json", item
    return item.message


class Made:
    """A stream of ``head + unit * count + tail`` made as it is read: a line of any size
    without holding it in the test either."""

    def __init__(self, head: bytes, unit: bytes, count: int, tail: bytes) -> None:
        self._parts = self._make(head, unit, count, tail)
        self._buffer = b""

    @staticmethod
    def _make(head: bytes, unit: bytes, count: int, tail: bytes) -> Iterator[bytes]:
        yield head
        step = max(1, MIB // len(unit))
        for start in range(0, count, step):
            yield unit * min(step, count - start)
        yield tail

    def read(self, size: int = -1) -> bytes:
        while len(self._buffer) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._buffer += part
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


# --- lines and rows -------------------------------------------------------------------------


def test_each_line_is_an_item_and_blank_lines_do_not_count() -> None:
    data = b"\n" + ANN + b"\n \t\r\n\n" + b'[1, "x"]\n\r\n' + b'"text"\n' + BOB + b"\n\n"
    assert items(data) == [json.loads(ANN), [1, "x"], "text", json.loads(BOB)]


def test_row_indexes_count_the_non_blank_lines(tmp_path: Path) -> None:
    """Numbered as staging numbers the items: index i is the i-th line that is not blank."""
    path = tmp_path / "users.jsonl"
    path.write_bytes(b"\n\n" + ANN + b"\n\n{bad\n   \n" + BOB + b"\n")
    with open_source(path) as source:
        found = list(enumerate(read_items(source, "users.jsonl")))
    assert [(index, isinstance(item, RowError)) for index, item in found] == [
        (0, False),
        (1, True),
        (2, False),
    ]


def test_crlf_line_breaks() -> None:
    data = ANN + b"\r\n{bad}\r\n" + BOB + b"\r\n"
    found = with_raw(data)
    assert [item for item, _ in found][::2] == [json.loads(ANN), json.loads(BOB)]
    assert found[1][1] == Raw("{bad}", False)  # the row's text, without its line break


def test_a_byte_order_mark_is_skipped_at_the_start_of_the_file_only() -> None:
    assert items(BOM + ANN + b"\n" + BOB) == [json.loads(ANN), json.loads(BOB)]
    assert items(BOM + b"\n" + ANN) == [json.loads(ANN)]
    assert "a byte order mark only starts the file" in error(BOM + BOB)


def test_the_last_line_needs_no_line_break() -> None:
    assert items(ANN + b"\n" + BOB) == items(ANN + b"\n" + BOB + b"\n")
    assert items(b"  " + BOB + b"  ") == [json.loads(BOB)]


@pytest.mark.parametrize("data", [b"", b"\n", b"\n\n \t\r\n", BOM, BOM + b"\n  "])
def test_a_file_without_a_line_that_is_not_blank_has_no_items(data: bytes) -> None:
    assert items(data) == []


def test_numbers_are_read_exactly_as_the_array_reader_reads_them() -> None:
    line = b'{"id": 123456789012345678901234567890, "n": -0, "x": 1.50, "e": 1e400, "s": 1E5}'
    assert items(line) == [
        {
            "id": 123456789012345678901234567890,
            "n": 0,
            "x": Decimal("1.50"),
            "e": Decimal("1e400"),
            "s": Decimal("1E5"),
        }
    ]


# --- lines that cannot be read ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "says"),
    [
        pytest.param(b"{bad", "invalid JSON at byte 1", id="syntax"),
        pytest.param(b'{"name": "Ann",}', "invalid JSON at byte 15", id="trailing-comma"),
        pytest.param(b'{"a": 1} {"b": 2}', "invalid JSON at byte 9: Extra data", id="two-values"),
        pytest.param(b'{"name": "Ann"', "invalid JSON", id="truncated"),
        pytest.param(b"[1,\x0c2]", "invalid JSON at byte 3", id="form-feed"),
        pytest.param(b'{"a": NaN}', "NaN is not a JSON value", id="nan"),
        pytest.param(b"[-Infinity]", "-Infinity is not a JSON value", id="infinity"),
        pytest.param(b'{"name": "\xe9t\xe9"}', "invalid UTF-8 at byte 10", id="latin-1"),
        pytest.param(b'{"name": "\xed\xa0\x80"}', "invalid UTF-8", id="utf8-encoded-surrogate"),
        pytest.param(b"\xff", "invalid UTF-8 at byte 0", id="ff-byte"),
        pytest.param(b'{"a": 1e99999999999999999999}', "number out of range", id="exponent"),
        pytest.param(b"\x00", "invalid JSON at byte 0", id="nul"),
    ],
)
def test_a_line_that_is_not_json_is_a_row_error_and_the_next_line_is_read(
    line: bytes, says: str
) -> None:
    assert says in error(line)


def test_the_rows_around_any_number_of_bad_lines_are_read() -> None:
    bad = [b"{", b"}", b"]", b"[", b'"', b"\xff\xfe", b"\\", b"{{{{", b"nul"]
    found = items(ANN + b"\n" + b"\n".join(bad) + b"\n" + BOB)
    assert found[0] == json.loads(ANN) and found[-1] == json.loads(BOB)
    assert all(isinstance(item, RowError) for item in found[1:-1])
    assert len(found) == len(bad) + 2


def test_nesting_is_limited_as_for_an_array_item(last_line: LineReader) -> None:
    """An array item may nest 63 levels (the array is level 1, the item level 2); so may a
    line's value, whichever parser reads it."""
    for deepest in (b'{"a":' * 62 + b"{}" + b"}" * 62, b"[" * 63 + b"]" * 63):
        assert not isinstance(last_line(deepest), RowError)  # the careful parser keeps less
    for too_deep in (b"[" * 64 + b"]" * 64, b'{"a":' * 63 + b"{}" + b"}" * 63, b"[" * 100_000):
        assert "nesting deeper than 64 levels" in refused(last_line(too_deep))


def test_a_user_with_many_addresses_is_not_too_deep() -> None:
    address = {"street": "s", "city": "c", "state": "st", "zip_code": "1", "country": "c"}
    user = {"name": "Ann", "email": "ann@example.com", "addresses": [address] * 1000}
    assert items(json.dumps(user).encode()) == [user]


def test_a_run_of_digits_beyond_pythons_limit_is_a_row_error(last_line: LineReader) -> None:
    """As in an array, in a string too: the bytes cannot tell without parsing."""
    message = refused(last_line(b'{"id": ' + b"9" * 4301 + b"}"))
    assert "more than 4300 digits in a row at byte 7" in message
    assert "more than 4300 digits" in refused(last_line(b'{"id": "' + b"9" * 4301 + b'"}'))
    assert last_line(b'{"id": ' + b"9" * 4300 + b"}") == {"id": int("9" * 4300)}
    assert "more than 4300 digits" in error(b'{"id": ' + b"9" * 4301 + b"}")


def test_a_line_with_a_byte_order_mark_is_refused_by_either_parser(
    last_line: LineReader,
) -> None:
    assert "a byte order mark only starts the file" in refused(last_line(BOM + BOB))


def test_a_line_holding_a_value_beyond_8_mib_is_a_row_error() -> None:
    message = error(b'{"name": "Ann", "bio": "' + b"a" * (MAX_VALUE_BYTES + 1) + b'"}')
    assert "a value longer than 8 MiB" in message


# --- long lines ---------------------------------------------------------------------------


def test_a_huge_line_is_never_held() -> None:
    """A 100 MB line streams through the careful parser, which refuses its value at 8 MiB and
    reads past the rest; the lines around it are read as usual."""
    stream = Made(ANN + b'\n{"name": "Huge", "bio": "', b"a", 100 * MIB, b'"}\n' + BOB)
    tracemalloc.start()
    try:
        found = with_raw(cast(BinaryIO, stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MIB, peak
    (first, _), (huge, raw), (last, _) = found
    assert (first, last) == (json.loads(ANN), json.loads(BOB))
    assert isinstance(huge, RowError) and huge.code == "invalid_json"
    assert "a value longer than 8 MiB" in huge.message
    assert raw == Raw('{"name": "Huge", "bio": "' + "a" * (RAW_LIMIT - 25), True)


def test_a_long_line_within_the_limits_is_read_by_the_careful_parser() -> None:
    """Longer than the fast parser holds (1 MiB), values within 8 MiB: only what validation
    reads is kept, and the row is valid."""
    head = b'{"name": "Long", "email": "l@example.com", "bio": "'
    stream = Made(head, b"b", 3 * MIB, b'", "phone_number": 1}\n' + BOB)
    found = list(JsonLines(cast(BinaryIO, stream), "users.jsonl"))
    assert found == [
        {"name": "Long", "email": "l@example.com", "phone_number": 1},
        json.loads(BOB),
    ]
    assert validate_user(found[0]).name == "Long"


def test_a_huge_blank_line_is_skipped() -> None:
    stream = Made(ANN + b"\n", b" \t", 50 * MIB, b"\r\n" + BOB)
    assert [item for item, _ in with_raw(cast(BinaryIO, stream))] == [
        json.loads(ANN),
        json.loads(BOB),
    ]


# --- the file ----------------------------------------------------------------------------


def test_the_format_is_that_of_the_files_own_name(tmp_path: Path) -> None:
    """As gzip is: a link named .json to a .jsonl file is read as lines, and the reverse."""
    (tmp_path / "users.jsonl").write_bytes(ANN + b"\n" + BOB)
    (tmp_path / "users.json").write_bytes(b"[" + ANN + b", " + BOB + b"]")
    os.symlink("users.jsonl", tmp_path / "lines.json")
    os.symlink("users.json", tmp_path / "array.jsonl")
    for name in ("lines.json", "array.jsonl"):
        with open_source(resolve_source(name, tmp_path)) as source:
            assert list(read_items(source, name)) == [json.loads(ANN), json.loads(BOB)]


def test_gzip_lines_decompress_and_the_digest_covers_the_whole_file(tmp_path: Path) -> None:
    document = ANN + b"\n{bad\n" + b'{"bio": "' + b"x" * (2 * MIB) + b'"}\n' + BOB
    for name, data in (("u.jsonl", document), ("u.ndjson.gz", gzip.compress(document))):
        path = tmp_path / name
        path.write_bytes(data)
        with open_source(path) as source:
            found = list(read_items(source, name))
            assert source.digest.hexdigest() == hashlib.sha256(data).hexdigest()
            assert source.bytes_read == len(data)
        assert [type(item) for item in found] == [dict, RowError, dict, dict]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda z: z[:-12], id="truncated"),
        pytest.param(lambda z: z[:200] + b"\x00" * 50 + z[250:], id="corrupt-deflate-data"),
        pytest.param(lambda z: z + b"garbage", id="trailing-garbage"),
    ],
)
def test_a_bad_gzip_stream_is_a_file_error_not_a_row_error(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    """Wherever it breaks - in a short line or in a long one the careful parser streams."""
    document = b"\n".join([ANN] * 2000 + [b'{"bio": "' + b"x" * (2 * MIB) + b'"}'])
    path = tmp_path / "users.jsonl.gz"
    path.write_bytes(damage(gzip.compress(document)))
    with open_source(path) as source, pytest.raises(ImportFileError) as raised:
        list(read_items(source, "users.jsonl.gz"))
    assert str(raised.value).startswith("users.jsonl.gz: not a readable gzip stream near byte")


# --- the two parsers ------------------------------------------------------------------------


def outcomes(data: bytes) -> list[object]:
    """The row of each item, or its row error's code."""
    found: list[object] = []
    for item in items(data):
        try:
            found.append(validate_user(item))
        except RowError as row_error:
            found.append(row_error.code)
    return found


@pytest.mark.parametrize("path", sorted((CORPORA / "JSONTestSuite" / "test_parsing").iterdir()),
                         ids=lambda path: path.name)  # fmt: skip
def test_both_parsers_judge_a_line_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each document as the last line of a file: ``json`` reads it, and the careful parser
    when it must stream the line. yajl joins or garbles escapes of lone surrogates (see
    docs/NOTES.md), so only those documents may differ."""
    data = path.read_bytes()
    short = outcomes(data)
    monkeypatch.setattr(lines, "FAST_ITEM_BYTES", 0)
    assert outcomes(data) == short or b"\\ud" in data.lower()
