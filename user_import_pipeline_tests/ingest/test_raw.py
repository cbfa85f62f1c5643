"""The raw JSON kept with a failed row (CONTRACT §2.1): an array item encoded again, exactly and
in file order, or a line's text; at most 4,096 characters, and ``truncated`` when it is not
all of the row."""

from __future__ import annotations

import io
import json
import tracemalloc
from decimal import Decimal

import pytest

from user_import_pipeline.ingest.raw import RAW_LIMIT, Raw, raw_json, raw_line
from user_import_pipeline.ingest.stream import careful_items, iter_items
from user_import_pipeline.ingest.validate import Oversized


def test_the_limit_is_4096_characters() -> None:
    assert RAW_LIMIT == 4096


def test_an_item_is_encoded_as_the_parser_read_it() -> None:
    document = (
        '{"name": "Zoë \\"Z\\" \\\\ \\u00e9\\n", "id": 123456789012345678901234567890,'
        ' "x": 1.50, "e": -1E+400, "z": -0, "t": true, "f": false, "n": null,'
        ' "addresses": [{"street": "李", "zip_code": 1}, [], {}], "b": "\\ud83d\\ude00"}'
    )
    (item,) = iter_items(io.BytesIO(f"[{document}]".encode()), "users.json")
    assert isinstance(item, dict)
    text, truncated = raw_json(item)
    assert not truncated
    assert text == (
        '{"name":"Zoë \\"Z\\" \\\\ é\\n","id":123456789012345678901234567890,'
        '"x":1.50,"e":-1E+400,"z":0,"t":true,"f":false,"n":null,'
        '"addresses":[{"street":"李","zip_code":1},[],{}],"b":"😀"}'
    )
    # Keys stay in file order and numbers keep their exact value.
    assert json.loads(text, parse_float=Decimal) == item
    assert list(json.loads(text)) == list(item)


@pytest.mark.parametrize(
    ("item", "text"),
    [
        pytest.param("text", '"text"', id="string"),
        pytest.param(7, "7", id="integer"),
        pytest.param(Decimal("0.1"), "0.1", id="decimal"),
        pytest.param(None, "null", id="null"),
        pytest.param([1, [2, {}]], "[1,[2,{}]]", id="array"),
    ],
)
def test_items_that_are_not_objects(item: object, text: str) -> None:
    assert raw_json(item) == Raw(text, False)


def test_unstorable_characters_stay_json_escapes() -> None:
    """PostgreSQL text holds neither NUL nor a lone surrogate: both stay escaped."""
    text, _ = raw_json({"name": "a\x00b", "email": "\ud800x", "city": "é"})
    assert text == '{"name":"a\\u0000b","email":"\\ud800x","city":"é"}'
    text.encode("utf-8")
    assert json.loads(text) == {"name": "a\x00b", "email": "\ud800x", "city": "é"}


def test_a_large_item_is_cut_at_the_limit() -> None:
    item = {"name": "n" * 10_000, "email": "e@example.com"}
    text, truncated = raw_json(item)
    assert truncated
    assert text == '{"name":"' + "n" * (RAW_LIMIT - 9)
    assert raw_json({"name": "n" * (RAW_LIMIT - 11)}) == Raw(
        '{"name":"' + "n" * (RAW_LIMIT - 11) + '"}', False
    )
    assert raw_json({"name": "n" * (RAW_LIMIT - 10)})[1]


def test_encoding_stops_at_the_limit() -> None:
    """A huge item costs no more than its first 4 KiB: nothing past them is encoded."""
    item = {"name": "n", "addresses": [{"street": f"{n} Main St"} for n in range(1_000_000)]}
    tracemalloc.start()
    try:
        text, truncated = raw_json(item)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert truncated and len(text) == RAW_LIMIT
    assert peak < 100_000, peak


def test_an_oversized_string_shows_its_head_and_marks_the_row_truncated() -> None:
    """The careful parser keeps the first 1,024 characters of a string beyond every limit."""
    long = "x" * 5000
    (item,) = careful_items(io.BytesIO(json.dumps([{"name": long}]).encode()), "users.json")
    assert item == {"name": Oversized(5000)}
    assert raw_json(item) == Raw('{"name":"' + "x" * 1024 + '"}', True)


def test_a_line_is_kept_as_its_text() -> None:
    assert raw_line(b'{"name": "Zo\xc3\xab"}\r') == Raw('{"name": "Zoë"}', False)
    assert raw_line(b"\t[1,\r2]  ") == Raw("\t[1,\r2]  ", False)


def test_a_line_that_is_not_utf8_or_holds_nul_is_shown_with_replacement_characters() -> None:
    assert raw_line(b'{"name": "\xe9t\xe9\x00"}') == Raw('{"name": "\ufffdt\ufffd\ufffd"}', False)


def test_a_long_line_is_cut_at_the_limit() -> None:
    assert raw_line(b"a" * RAW_LIMIT) == Raw("a" * RAW_LIMIT, False)
    assert raw_line(b"a" * (RAW_LIMIT + 1)) == Raw("a" * RAW_LIMIT, True)
    assert raw_line("é".encode() * 10_000) == Raw("é" * RAW_LIMIT, True)
    assert raw_line(b"a" * 10, longer=True) == Raw("a" * 10, True)
