"""`iter_items` (CONTRACT §2, §2.1): the top-level array item by item, or a file error that
names the file and says where (a byte position or a row index)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from user_import_pipeline.generate import generate_users
from user_import_pipeline.ingest import stream
from user_import_pipeline.ingest.source import ImportFileError, open_source
from user_import_pipeline.ingest.stream import MAX_VALUE_BYTES, careful_items, iter_items
from user_import_pipeline.ingest.validate import MAX_ADDRESSES, Oversized, RowError, validate_user
from user_import_pipeline_tests.corpora import CORPORA

NAME = "incoming/ünïcode users.json"
BOM = b"\xef\xbb\xbf"
BLOCK = 64 * 1024  # ijson's read size: syntax errors are reported at the end of a block


def items(data: bytes, name: str = NAME) -> list[object]:
    return list(iter_items(io.BytesIO(data), name))


def careful(data: bytes) -> list[object]:
    """The items of the careful parser alone, which keeps only what validation reads."""
    return list(careful_items(io.BytesIO(data), NAME))


def file_error(data: bytes, name: str = NAME) -> str:
    """The message of the ImportFileError that ``data`` raises; it names the file and a
    byte position or row index."""
    with pytest.raises(ImportFileError) as error:
        items(data, name)
    message = str(error.value)
    assert message.startswith(f"{name}: ")
    assert re.search(r"\b(?:byte|row) \d+\b", message), message
    return message


def byte_in(message: str) -> int:
    found = re.findall(r"\bbyte (\d+)\b", message)
    assert len(found) == 1, message
    return int(found[0])


def assert_near(message: str, offset: int) -> None:
    """The error at 0-based ``offset`` is reported at byte N, or "at or before byte N" with
    N the end of the block read so far: never before it, never a block past it."""
    position = byte_in(message)
    assert offset <= position <= offset + BLOCK + 1, (offset, message)


def nested(depth: int, open_: bytes = b"[", close: bytes = b"]") -> bytes:
    return open_ * depth + close * depth


def users(count: int) -> list[dict[str, object]]:
    return [{"name": f"User {i}", "email": f"user{i}@example.com"} for i in range(count)]


def dump(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


# --- arrays that parse -------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b"[]", id="empty-array"),
        pytest.param(b" \t\r\n[ \t\r\n] \t\r\n", id="empty-array-json-whitespace"),
        pytest.param(b"[1]", id="one-number"),
        pytest.param(
            b'[1, -0, 1.5, -2e-3, "a", "", true, false, null, {}, [],'
            b' {"name": "n", "addresses": [1, {"street": null}, []]}, {"id": 1, "id": 2}]',
            id="mixed-scalars-objects-arrays",
        ),
        pytest.param(
            '["é", "\\u00e9", "\\ud83d\\ude00", "😀", "李", "\\"\\\\\\/\\b\\f\\n\\r\\t"]'.encode(),
            id="unicode-and-escapes",
        ),
        pytest.param(dump(users(3)), id="users"),
        pytest.param(dump(users(20_000)), id="users-over-many-blocks"),
    ],
)
def test_arrays_stream_as_their_items(document: bytes) -> None:
    # Non-integral numbers come as exact Decimals, integers as int.
    assert items(document) == json.loads(document, parse_float=Decimal)


def test_items_are_yielded_before_a_later_error_is_seen() -> None:
    """Streaming: the caller receives rows before an error near the end - so it must be
    the caller (the staging transaction) that makes a file error leave nothing behind."""
    document = dump(users(20_000))[:-1] + b",}]"
    stream = iter_items(io.BytesIO(document), NAME)
    assert next(stream) == users(1)[0]
    received = 1
    with pytest.raises(ImportFileError, match="invalid JSON"):
        for _ in stream:
            received += 1
    assert received == 20_000


def test_integers_of_any_size_and_huge_exponents_are_values_not_file_errors() -> None:
    """CONTRACT §2: an integer id or phone_number is a valid value at any length (its decimal
    string is checked against the limit), and unknown keys are ignored whatever number
    they hold - none of it is a syntax error of the file."""
    document = (
        b'[{"id": 123456789012345678901234567890, "phone_number": -99999999999999999999,'
        b' "score": 1e400, "tiny": 1e-400, "max": 9223372036854775808}]'
    )
    for parse in (items, careful):
        (item,) = parse(document)
        assert item["id"] == 123456789012345678901234567890  # type: ignore[index]
        assert item["phone_number"] == -99999999999999999999  # type: ignore[index]
        address = b'{"zip_code": 9223372036854775808, "x": 1e400}'
        (item,) = parse(b'[{"addresses": [' + address + b"]}]")
        assert item["addresses"][0]["zip_code"] == 2**63  # type: ignore[index]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b'[{"id": ' + b"9" * 5000 + b"}]", id="int-beyond-python-digit-limit"),
        pytest.param(b"[1, -" + b"9" * 5000 + b", 2]", id="negative-int-beyond-digit-limit"),
        pytest.param(b"[1e" + b"9" * 40 + b"]", id="exponent-beyond-decimal-range"),
    ],
)
def test_numbers_beyond_python_limits_are_file_errors_not_crashes(
    document: bytes, tmp_path: Path
) -> None:
    """Past Python's own limits (4300-digit int() conversion, Decimal's exponent range) a
    number cannot be held at all; the file fails cleanly, plain or gzip-compressed."""
    message = file_error(document)
    assert_near(message, document.index(b"9"))
    path = tmp_path / "numbers.json.gz"
    path.write_bytes(gzip.compress(document))
    with open_source(path) as source, pytest.raises(ImportFileError, match=r"byte \d+"):
        list(iter_items(source.stream, NAME, source.rewind))


class ShortReads:
    """A stream that hands out at most ``size`` bytes per read, like a pipe or a socket."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = io.BytesIO(data)
        self._size = size

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._size if size < 0 else min(size, self._size))

    def seek(self, offset: int) -> int:
        return self._data.seek(offset)


@pytest.mark.parametrize("read_size", [1, 7, 1000, 4301, BLOCK])
@pytest.mark.parametrize("digits", [4300, 4301, 9000])
def test_digit_runs_are_measured_across_reads(read_size: int, digits: int) -> None:
    prefix = b"[1, 22, "
    document = prefix + b"9" * digits + b", 3]"
    stream = iter_items(ShortReads(document, read_size), NAME)  # type: ignore[arg-type]
    if digits <= 4300:
        assert list(stream) == [1, 22, int("9" * digits), 3]
    else:
        with pytest.raises(ImportFileError) as error:
            list(stream)
        assert f"more than 4300 digits in a row at byte {len(prefix)};" in str(error.value)


# From 4 bytes on: the BOM check looks at the first read only (files and gzip streams
# always fill a read; a first read of 1-3 bytes would miss or end at the BOM).
@pytest.mark.parametrize("read_size", [4, 5, 64])
def test_positions_hold_with_short_reads(read_size: int) -> None:
    def error(document: bytes) -> str:
        with pytest.raises(ImportFileError) as raised:
            list(iter_items(ShortReads(document, read_size), NAME))  # type: ignore[arg-type]
        return str(raised.value)

    assert error(BOM + b"  {}").endswith("found object at byte 5")
    assert "at byte 9:" in error(b"[1, 2, 3,\x0c4]")
    assert items(BOM + b"[1, 2]") == list(
        iter_items(cast(BinaryIO, ShortReads(BOM + b"[1, 2]", read_size)), NAME)
    )


def test_a_4300_digit_integer_is_still_a_value() -> None:
    (item,) = items(b"[" + b"7" * 4300 + b"]")
    assert item == int("7" * 4300)


# --- not an array ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "found", "offset"),
    [
        pytest.param(b'{"users": []}', "object", 0, id="object"),
        pytest.param(b"{}", "object", 0, id="empty-object"),
        pytest.param(b'"[1, 2]"', "string", 0, id="string"),
        pytest.param(b"42", "number", 0, id="integer"),
        pytest.param(b"-1.5e3", "number", 0, id="real"),
        pytest.param(b"true", "boolean", 0, id="true"),
        pytest.param(b"null", "null", 0, id="null"),
        pytest.param(b" \r\n\t {}", "object", 5, id="object-after-whitespace"),
        pytest.param(BOM + b"{}", "object", 3, id="object-after-bom"),
        pytest.param(b" " * (3 * BLOCK) + b"7", "number", 3 * BLOCK, id="after-3-blocks-of-space"),
    ],
)
def test_top_level_must_be_an_array(document: bytes, found: str, offset: int) -> None:
    message = file_error(document)
    assert f"the top level must be a JSON array, found {found}" in message
    assert byte_in(message) == offset


def test_empty_file_says_it_is_empty() -> None:
    with pytest.raises(ImportFileError) as error:
        items(b"")
    assert str(error.value) == f"{NAME}: file is empty, expected a JSON array"


# --- syntax errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b" ", id="only-whitespace"),
        pytest.param(BOM, id="only-bom"),
        pytest.param(b"[", id="open-bracket"),
        pytest.param(b"[1,", id="after-comma"),
        pytest.param(b'[{"name": "Ann', id="inside-string"),
        pytest.param(b'[{"name": ', id="after-colon"),
        pytest.param(b'[{"name": "Ann"}', id="array-not-closed"),
        pytest.param(dump(users(20_000))[:-1], id="last-byte-of-large-file"),
    ],
)
def test_truncated_documents_say_where_they_end(document: bytes) -> None:
    message = file_error(document)
    assert f"file is truncated, the JSON ends early at byte {len(document)}" in message


@pytest.mark.parametrize(
    ("document", "offset"),
    [
        pytest.param(b"[1] x", 4, id="trailing-letter"),
        pytest.param(b"[1]]", 3, id="trailing-bracket"),
        pytest.param(b"[1] [2]", 4, id="second-array"),
        pytest.param(b"[1]\x00", 3, id="trailing-nul"),
        pytest.param(b"[1],", 3, id="trailing-comma"),
        pytest.param(b"[1,]", 3, id="comma-before-close"),
        pytest.param(b"[1 2]", 3, id="missing-comma"),
        pytest.param(b"[01]", 2, id="leading-zero"),
        pytest.param(b"[NaN]", 1, id="nan"),
        pytest.param(b"['x']", 1, id="single-quotes"),
        pytest.param(b'[{"a" 1}]', 6, id="missing-colon"),
        pytest.param(b'["tab\there"]', 5, id="raw-control-character-in-string"),
        pytest.param(b"[\x0c1]", 1, id="form-feed-is-not-json-whitespace"),
        pytest.param(b"[1,\x0b2]", 3, id="vertical-tab-is-not-json-whitespace"),
        pytest.param(b"[1]\x0c", 3, id="trailing-form-feed"),
        pytest.param(b"[1, 2.", -1, id="truncated-inside-number"),
        pytest.param(b"[tru", -1, id="truncated-inside-literal"),
        pytest.param(b"[\xc2\xa01]", 1, id="no-break-space-is-not-json-whitespace"),
        pytest.param(b"[1,\xef\xbb\xbf2]", 3, id="bom-after-the-start"),
        pytest.param(BOM + BOM + b"[]", 3, id="two-boms"),
        pytest.param(dump(users(20_000))[:-1] + b"}", -1, id="last-byte-of-large-file"),
        pytest.param(
            dump(users(10_000)) + b" " * 100_000 + b"x", -1, id="garbage-after-large-whitespace"
        ),
    ],
)
def test_syntax_errors_say_where(document: bytes, offset: int) -> None:
    """``offset`` is the 0-based offset of the offending byte (negative: from the end)."""
    if offset < 0:
        offset += len(document)
    message = file_error(document)
    assert "invalid JSON" in message
    assert_near(message, offset)


def test_a_syntax_error_mid_file_is_placed_mid_file() -> None:
    head = dump(users(20_000))[:-1]
    document = head + b", {]" + dump(users(20_000))[1:]
    message = file_error(document)
    assert_near(message, len(head) + 3)
    assert byte_in(message) < len(document) // 2 + BLOCK


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"\xff", id="ff-byte"),
        pytest.param(b"\x80", id="lone-continuation-byte"),
        pytest.param(b"\xe9t\xe9", id="latin-1"),
        pytest.param(b"\xc3", id="truncated-sequence"),
        pytest.param(b"\xc0\xaf", id="overlong-2-bytes"),
        pytest.param(b"\xed\xa0\x80", id="utf8-encoded-surrogate"),
        pytest.param(b"\xf4\x90\x80\x80", id="beyond-u10ffff"),
    ],
)
def test_invalid_utf8_is_a_file_error_with_its_position(bad: bytes) -> None:
    prefix = b'[{"name": "Ann", "email": "ann@example.com"}, {"name": "B'
    document = prefix + bad + b'", "email": "b@example.com"}]'
    message = file_error(document)
    assert re.search(r"UTF-?8", message, re.IGNORECASE), message
    assert_near(message, len(prefix))


def test_invalid_utf8_outside_strings_is_a_file_error() -> None:
    message = file_error(b"[1, \xff]")
    assert_near(message, 4)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(BOM + b"[]", id="bom-empty-array"),
        pytest.param(BOM + dump(users(3)), id="bom-users"),
        pytest.param(BOM + b"\n  [1]\n", id="bom-then-whitespace"),
    ],
)
def test_a_leading_byte_order_mark_is_skipped(document: bytes) -> None:
    assert items(document) == json.loads(document[3:])


def test_bytes_are_counted_from_the_start_of_the_file_including_the_bom() -> None:
    assert "at byte 7" in file_error(BOM + b"[1, ")


# --- nesting -----------------------------------------------------------------------------


def objects(depth: int) -> bytes:
    """``depth`` objects, each the value of the one before: {"a":{"a":...{}...}}."""
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


@pytest.mark.parametrize(
    ("document", "row"),
    [
        pytest.param(nested(64), None, id="64-arrays"),
        pytest.param(nested(65), 0, id="65-arrays"),
        pytest.param(b"[" + objects(63) + b"]", None, id="64-with-objects"),
        pytest.param(b"[" + objects(64) + b"]", 0, id="65-with-objects"),
        pytest.param(b"[1, {}, [], " + nested(63) + b"]", None, id="64-in-fourth-item"),
        pytest.param(b"[1, {}, [], " + nested(64) + b"]", 3, id="65-in-fourth-item"),
        pytest.param(b'[{"a": 1}, {"x": ' + nested(62) + b"}]", None, id="64-in-second-user"),
        pytest.param(b'[{"a": 1}, {"x": ' + nested(63) + b"}]", 1, id="65-in-second-user"),
        pytest.param(b'[{"a": [' + objects(61) + b"]}]", None, id="64-mixing-kinds"),
        pytest.param(b'[{"a": [' + objects(62) + b"]}]", 0, id="65-mixing-kinds"),
        pytest.param(b"[" * 70, 0, id="70-unclosed"),
    ],
)
def test_nesting_deeper_than_64_fails_with_the_row(document: bytes, row: int | None) -> None:
    if row is None:
        assert len(items(document)) == len(json.loads(document))
    else:
        message = file_error(document)
        assert f"nesting deeper than 64 levels in row {row}" in message


def test_depth_boundary_is_exact_for_every_item() -> None:
    ok = b"[" + b", ".join(nested(63) for _ in range(5)) + b"]"
    assert len(items(ok)) == 5
    bad = b"[" + b", ".join([nested(63)] * 4 + [nested(64)]) + b"]"
    assert "in row 4" in file_error(bad)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b"[" * 100_000, id="100000-opening-arrays"),
        pytest.param(b'[{"a":' * 100_000, id="100000-opening-objects"),
        pytest.param(b"[" * 5_000_000 + b"]" * 5_000_000, id="5-million-balanced-arrays"),
    ],
)
def test_deep_nesting_is_refused_quickly_in_bounded_memory(document: bytes) -> None:
    tracemalloc.start()
    try:
        started = time.perf_counter()
        message = file_error(document)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "nesting deeper than 64 levels in row 0" in message
    assert peak < 20 * 1024 * 1024, peak
    assert seconds < 2, seconds


def test_a_long_valid_stream_runs_in_bounded_memory() -> None:
    document = dump(users(200_000))
    assert len(document) > 10 * 1024 * 1024
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_items(io.BytesIO(document), NAME))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < 5 * 1024 * 1024, peak


# --- gzip --------------------------------------------------------------------------------


def gz_items(tmp_path: Path, data: bytes) -> list[object]:
    path = tmp_path / "users.json.gz"
    path.write_bytes(data)
    with open_source(path) as source:
        return list(iter_items(source.stream, "users.json.gz", source.rewind))


def gz_error(tmp_path: Path, data: bytes) -> str:
    with pytest.raises(ImportFileError) as error:
        gz_items(tmp_path, data)
    message = str(error.value)
    assert message.startswith("users.json.gz: ")
    assert re.search(r"\bbyte \d+\b", message), message
    return message


def test_gzip_streams_decompress(tmp_path: Path) -> None:
    document = dump(users(5_000))
    assert gz_items(tmp_path, gzip.compress(document)) == users(5_000)
    assert gz_items(tmp_path, gzip.compress(BOM + document)) == users(5_000)


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda z: z[:-1], id="last-byte"),
        pytest.param(lambda z: z[:-8], id="trailer"),
        pytest.param(lambda z: z[: len(z) // 2], id="half"),
        pytest.param(lambda z: z[:10], id="header-only"),
        pytest.param(lambda z: z[:5], id="inside-header"),
    ],
)
def test_truncated_gzip_is_a_file_error(tmp_path: Path, cut: Callable[[bytes], bytes]) -> None:
    compressed = gzip.compress(dump(users(50_000)))
    message = gz_error(tmp_path, cut(compressed))
    assert "gzip" in message or "truncated" in message, message


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda z: z[:-8] + bytes([z[-8] ^ 0xFF]) + z[-7:], id="crc"),
        pytest.param(lambda z: z[:-1] + bytes([z[-1] ^ 0xFF]), id="size"),
        pytest.param(lambda z: z[:200] + b"\x00" * 50 + z[250:], id="deflate-data"),
        pytest.param(lambda z: z + b"garbage", id="trailing-garbage"),
        pytest.param(lambda z: b"[1, 2, 3]", id="plain-json-named-gz"),
    ],
)
def test_corrupt_gzip_is_a_file_error(tmp_path: Path, corrupt: Callable[[bytes], bytes]) -> None:
    compressed = gzip.compress(dump(users(1_000)))
    gz_error(tmp_path, corrupt(compressed))


def test_gzip_holding_invalid_json_reports_the_decompressed_position(tmp_path: Path) -> None:
    document = dump(users(1_000))[:-1] + b"x"
    message = gz_error(tmp_path, gzip.compress(document))
    assert "invalid JSON" in message
    assert_near(message, len(document) - 1)


# --- what an item keeps --------------------------------------------------------------------
# The careful parser keeps only what validation reads; the fast one keeps everything of an
# item small enough for it, and validation reads the same of both (test_parsers_agree).


def test_items_keep_only_what_validation_reads() -> None:
    user = {
        "id": "x", "name": "n", "email": "e@example.com", "phone_number": 1, "extra": [1, 2],
        "nested": {"name": "inner", "addresses": [{"street": "s"}]},
        "addresses": [
            {"street": "s", "city": "c", "state": "st", "zip_code": 1, "country": "c",
             "note": "dropped", "geo": {"lat": 1}},
            "text", 7, None, [1, 2], {"street": {"no": 1}, "city": ["a"]},
        ],
    }  # fmt: skip
    (item,) = careful(dump([user]))
    assert item == {
        "id": "x", "name": "n", "email": "e@example.com", "phone_number": 1,
        "addresses": [
            {"street": "s", "city": "c", "state": "st", "zip_code": 1, "country": "c"},
            "text", 7, None, [], {"street": {}, "city": []},
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        pytest.param({"a": [1]}, {}, id="object"),
        pytest.param([1, [2]], [], id="array"),
    ],
)
def test_a_container_where_a_value_belongs_is_kept_empty(value: object, kept: object) -> None:
    """Validation names the JSON type it found; the contents would only cost memory."""
    for key in ("id", "name", "email", "phone_number"):
        assert careful(dump([{key: value}])) == [{key: kept}]
    assert careful(dump([value])) == [kept]
    assert careful(dump([{"addresses": [{"city": value}]}])) == [{"addresses": [{"city": kept}]}]
    if isinstance(value, dict):
        assert careful(dump([{"addresses": value}])) == [{"addresses": {}}]


def test_one_address_more_than_the_limit_is_kept() -> None:
    address = {"street": "s", "city": "c", "state": "st", "zip_code": "1", "country": "c"}
    for count in (MAX_ADDRESSES, MAX_ADDRESSES + 1, MAX_ADDRESSES + 50):
        (item,) = careful(dump([{"addresses": [address] * count}]))
        assert len(item["addresses"]) == min(count, MAX_ADDRESSES + 1)  # type: ignore[index]


def test_strings_beyond_every_limit_are_kept_as_their_trimmed_length() -> None:
    padded = " " * 5000 + "Ann" + "\t" * 5000
    long = "x" * 5000
    user = {"name": padded, "email": f" {long} ", "other": long}
    (item,) = careful(dump([user]))
    assert item == {"name": "Ann", "email": Oversized(5000)}
    (item,) = careful(dump([{"addresses": [{"street": long}, long]}]))
    assert item == {"addresses": [{"street": Oversized(5000)}, Oversized(5000)]}
    (item,) = careful(dump([{"name": "y" * 1024}]))
    assert item == {"name": "y" * 1024}


# --- values too long to hold --------------------------------------------------------------


def long_value_error(document: bytes, read_size: int) -> str:
    with pytest.raises(ImportFileError) as error:
        list(iter_items(ShortReads(document, read_size), NAME))  # type: ignore[arg-type]
    return str(error.value)


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """A smaller MAX_VALUE_BYTES, so that reads of a few bytes stay quick."""
    monkeypatch.setattr(stream, "MAX_VALUE_BYTES", 100_000)
    return 100_000


# 3001 is odd and 1 more than a multiple of 6: reads cut every escape at every offset.
@pytest.mark.parametrize("read_size", [BLOCK, 3001])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"a", id="plain"),
        pytest.param(b'\\"', id="escaped-quotes"),
        pytest.param(b'\\\\\\"', id="escaped-backslash-then-escaped-quote"),
        pytest.param(b"\\u0022", id="unicode-escaped-quotes"),
    ],
)
def test_a_string_longer_than_the_limit_is_refused_while_reading(
    body: bytes, read_size: int, limit: int
) -> None:
    prefix = b'[{"name": "Ann", "bio": "'
    string = body * (limit // len(body) + 1)
    message = long_value_error(prefix + string + b'"}]', read_size)
    assert "a value longer than 0 MiB at or before byte" in message
    # Noticed within the read that crossed the limit.
    assert len(prefix) + limit < byte_in(message) <= len(prefix) + limit + read_size + len(body)
    # Up to the limit (ended by a quote), it is a value.
    shorter = body * (limit // len(body))
    (item,) = items(prefix + shorter + b'", "name": "B"}]')
    assert item["name"] == "B"  # type: ignore[index]


def test_the_limit_is_8_mib() -> None:
    assert MAX_VALUE_BYTES == 8 * 1024 * 1024
    document = b'[{"bio": "' + b"a" * (MAX_VALUE_BYTES + 1) + b'"}]'
    assert "a value longer than 8 MiB at or before byte" in file_error(document)
    assert items(document.replace(b"a", b"", 1)) == [{}]


@pytest.mark.parametrize("read_size", [BLOCK, 4097, 3])
def test_backslashes_cut_by_a_read_are_not_taken_for_escapes(read_size: int, limit: int) -> None:
    # 2 x 4096 bytes per step: a pair of backslashes ends a read of 4097 at the first step.
    body = (b"a" * 4095 + b"\\\\" + b"a" * 4095) * (limit // 8192)
    document = b'[{"bio": "' + body + b'"}, {"name": "\\\\"}, {"name": "\\""}]'
    stream_ = iter_items(ShortReads(document, read_size), NAME)  # type: ignore[arg-type]
    assert [item.get("name") for item in stream_] == [None, "\\", '"']  # type: ignore[attr-defined]


def test_a_long_run_without_strings_is_refused_too(limit: int) -> None:
    """Not a string, but the bytes cannot tell without parsing: whitespace, numbers."""
    document = b"[" + b"1, " * (limit // 3 + 1) + b"2]"
    assert "a value longer than 0 MiB" in long_value_error(document, BLOCK)


# --- two parsers, one result ----------------------------------------------------------------


def outcomes(parse: Callable[[], Iterable[object]]) -> list[object]:
    """What staging makes of each item - its row or its row error - or the file error."""
    found: list[object] = []
    try:
        for item in parse():
            try:
                found.append(validate_user(item))
            except RowError as error:
                found.append((error.code, error.message))
    except ImportFileError as error:
        found.append(("file error", str(error)))
    return found


def assert_parsers_agree(document: bytes) -> list[object]:
    fast = outcomes(lambda: items(document))
    assert fast == outcomes(lambda: careful(document))
    return fast


@pytest.fixture
def handovers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times the fast parser hands a document over to the careful one."""
    calls: list[int] = []

    def counted(stream_: BinaryIO, name: str) -> Iterator[object]:
        calls.append(1)
        return careful_items(stream_, name)

    monkeypatch.setattr(stream, "careful_items", counted)
    return calls


def test_the_fast_parser_reads_ordinary_files_alone(tmp_path: Path, handovers: list[int]) -> None:
    for name in ("users.json", "users.json.gz"):
        path = tmp_path / name
        generate_users(path, 3_000, seed=7, invalid_rate=0.2)
        with open_source(path) as source:
            fast = outcomes(partial(iter_items, source.stream, name, source.rewind))
        assert len(fast) == 3_000
        with open_source(path) as source:
            assert fast == outcomes(partial(careful_items, source.stream, name))
    assert handovers == []


BIG_STRING = b'"' + b"x" * (2 * 1024 * 1024) + b'"'


@pytest.mark.parametrize(
    "odd_item",
    [
        pytest.param(b'{"name": "Big", "email": "big@example.com", "bio": ' + BIG_STRING + b"}",
                     id="an-item-beyond-1-MiB"),
        pytest.param(b'{"name": ' + BIG_STRING + b', "email": "big@example.com"}',
                     id="an-over-long-name"),
        pytest.param(b'{"name": "Deep", "email": "d@example.com", "x": ' + nested(40) + b"}",
                     id="nesting-of-41"),
        pytest.param(b'{"name": "Deeper", "email": "d@example.com", "x": ' + nested(70) + b"}",
                     id="nesting-beyond-64"),
        pytest.param(dump({"name": "Many", "email": "m@example.com",
                           "addresses": [{"street": "s" * 300, "city": "c", "state": "s",
                                          "zip_code": 1, "country": "c"}] * 4000}),
                     id="too-many-addresses"),
        pytest.param(b'{"name": "Bad", "email": "b@example.com"', id="syntax-error"),
    ],
)  # fmt: skip
def test_the_fast_parser_hands_over_mid_file(odd_item: bytes, handovers: list[int]) -> None:
    """Whatever the fast parser must not hold, the careful one takes the file over from its
    start, skips what was yielded, and every row comes out once, as the careful parser has it."""
    before, after = dump(users(3_000))[:-1], dump(users(2_000))[1:]
    document = before + b", " + odd_item + b", " + after
    found = assert_parsers_agree(document)
    assert handovers == [1]
    if b"Bad" in odd_item or b"Deeper" in odd_item:
        assert found[-1][0] == "file error"  # type: ignore[index]
    else:
        assert len(found) == 5_001
        assert found[:3_000] == outcomes(lambda: users(3_000))


@pytest.mark.parametrize("path", sorted((CORPORA / "JSONTestSuite" / "test_parsing").iterdir()),
                         ids=lambda path: path.name)  # fmt: skip
def test_parsers_agree_on_json_test_suite(path: Path) -> None:
    assert_parsers_agree(path.read_bytes())


def test_parsers_agree_on_what_validation_reads() -> None:
    """The documents of the tests above that prune items: validation sees no difference."""
    address = {"street": "s", "city": "c", "state": "st", "zip_code": "1", "country": "c"}
    long = "x" * 5000
    documents = [
        dump([{"name": " " * 5000 + "Ann" + "\t" * 5000, "email": f" {long} ", "other": long}]),
        dump([{"name": "A", "email": "a@example.com", "addresses": [{"street": long}, long]}]),
        dump([{"name": "A", "email": "a@example.com", "addresses": [address] * 1001}]),
        dump([{"name": "A", "email": "a@example.com", "addresses": [address] * 1000}]),
        dump([{"name": {"a": [1]}}, {"name": "A", "email": [1, [2]]}, [1, [2]], {"a": [1]}]),
        dump([{"name": "A", "email": "a@example.com", "addresses": {"a": 1}}]),
        dump([{"name": "A", "email": "a@example.com", "addresses": [{"city": [1]}, 5, None]}]),
        dump([{"name": "A", "email": "a@example.com", "id": 10**70, "phone_number": 1.5}]),
        b'[{"name": "A", "name": "B", "email": "a@example.com", "addresses": [], "addresses": 1}]',
    ]
    for document in documents:
        assert_parsers_agree(document)


def test_the_digest_covers_the_whole_file_after_a_handover(
    tmp_path: Path, handovers: list[int]
) -> None:
    document = dump(users(2_000))[:-1] + b", {" + b'"bio": ' + BIG_STRING + b"}]"
    for name, data in (("u.json", document), ("u.json.gz", gzip.compress(document))):
        path = tmp_path / name
        path.write_bytes(data)
        with open_source(path) as source:
            assert len(list(iter_items(source.stream, name, source.rewind))) == 2_001
            assert source.digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert handovers == [1, 1]
