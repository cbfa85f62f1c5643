"""The raw JSON of a row that failed, as it is kept with its error: at most ``RAW_LIMIT``
characters, and whether it was cut (CONTRACT §2.1).

Only failing rows get here, so none of this costs a valid row anything. An array item is
encoded again from what the parser read (numbers are int or Decimal, so they come out exact;
keys stay in file order); the encoding stops as soon as the limit is passed, however large
the item. A JSON Lines row keeps its line's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import NamedTuple

from user_import_pipeline.ingest.validate import Oversized

RAW_LIMIT = 4096
# The UTF-8 bytes that always hold RAW_LIMIT characters, when a line has that many.
RAW_LIMIT_BYTES = 4 * RAW_LIMIT
# PostgreSQL text holds no lone surrogate and no U+0000: in an item's JSON both stay escapes,
# in a line's text U+0000 (and any byte that is not UTF-8) is shown as U+FFFD.
_SURROGATE = re.compile("[\ud800-\udfff]")


class Raw(NamedTuple):
    text: str
    truncated: bool


def raw_json(item: object) -> Raw:
    """``item`` as compact JSON, cut after RAW_LIMIT characters. ``truncated`` when it was
    cut, or when it shows an over-long string by its head only (``Oversized``)."""
    shortened: list[bool] = []
    pieces = []
    length = 0
    for piece in _encode(item, shortened):
        pieces.append(piece)
        length += len(piece)
        if length > RAW_LIMIT:
            return Raw("".join(pieces)[:RAW_LIMIT], True)
    return Raw("".join(pieces), bool(shortened))


def raw_line(line: bytes, longer: bool = False) -> Raw:
    """The text of a JSON Lines row, cut after RAW_LIMIT characters: ``line`` without its
    line break (``\\n``, and a ``\\r`` before it), or the first bytes of a line ``longer``
    than that."""
    if not longer:
        line = line.removesuffix(b"\r")
    head = line[:RAW_LIMIT_BYTES]
    text = head.decode("utf-8", "replace").replace("\x00", "\ufffd")
    return Raw(text[:RAW_LIMIT], longer or len(head) < len(line) or len(text) > RAW_LIMIT)


def _encode(value: object, shortened: list[bool]) -> Iterator[str]:
    """JSON text of ``value``, piece by piece (the caller stops when it has enough)."""
    if type(value) is str:
        yield _string(value)
    elif type(value) is dict:
        yield "{"
        separator = ""
        for key, member in value.items():
            yield f"{separator}{_string(key)}:"
            yield from _encode(member, shortened)
            separator = ","
        yield "}"
    elif type(value) is list:
        yield "["
        separator = ""
        for member in value:
            yield separator
            yield from _encode(member, shortened)
            separator = ","
        yield "]"
    elif type(value) is int or type(value) is Decimal:
        yield str(value)
    elif type(value) is Oversized:
        shortened.append(True)
        yield _string(value.head)
    elif value is True:
        yield "true"
    elif value is False:
        yield "false"
    else:  # None: the parsers give no other types
        yield "null"


def _string(text: str) -> str:
    """A JSON string, its characters as they are but for the escapes JSON needs; all escaped
    (``\\uXXXX``) when it holds a lone surrogate, which has no UTF-8."""
    encoded: str = encode_basestring(text)
    if not encoded.isascii() and _SURROGATE.search(encoded):
        return encode_basestring_ascii(text)
    return encoded
