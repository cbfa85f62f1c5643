"""Reading JSON Lines (CONTRACT §2): one JSON value per line, each line a row of its own.

Lines are split on ``\\n`` (a ``\\r`` before it is JSON whitespace); blank lines are skipped and
the others numbered from 0. A line that cannot be read - not UTF-8, not JSON, or beyond a
limit of the array reader (ingest/stream.py) - is the row error ``invalid_json``, and the next
line is read as usual: the line break frames every line, whatever is inside it. Only what
breaks the file itself (a read error, a bad gzip stream) is a file error.

Memory stays bounded as for arrays. A line of up to ``FAST_ITEM_BYTES`` is held whole and
parsed by ``json`` (the fast parser here), checked for what the array reader refuses that such
a line can hold: a run of digits beyond Python's limit, nesting beyond ``MAX_DEPTH``. A longer
line is never held: it streams through the careful parser (``careful_value``), which keeps
only what validation reads and applies every limit, and what is left of it after an error is
read past. The file is read once; no line needs it rewound.
"""

from __future__ import annotations

import codecs
import io
import json
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import BinaryIO

from user_import_pipeline.ingest.raw import RAW_LIMIT_BYTES, Raw, raw_line
from user_import_pipeline.ingest.source import ImportFileError
from user_import_pipeline.ingest.stream import (
    FAST_ITEM_BYTES,
    MAX_DEPTH,
    careful_value,
    describe_error,
    long_digit_run,
)
from user_import_pipeline.ingest.validate import RowError

_BLOCK = 64 * 1024
_BLANK = b" \t\r"
_LINE = "line"  # what messages of a row error name
_MISPLACED_BOM = f"{_LINE}: invalid JSON at byte 0: a byte order mark only starts the file"
# A line holding no more brackets than this cannot nest beyond MAX_DEPTH (a user and its
# addresses nest 3 levels; only lines with 62 addresses or more are looked at).
_BRACKETS = MAX_DEPTH - 1


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


# Numbers exactly as the array reader gives them: int, or Decimal when not integral.
_decode = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constants).decode


class _Refused(ValueError):
    """A line beyond a limit of the array reader; the message says which."""


class _FileUnreadable(ImportFileError):
    """Reading the file failed: no line can be trusted after it."""


class JsonLines:
    """The items of a JSON Lines stream, a ``RowError`` for each line that cannot be read;
    ``raw`` is the text of the line of the item last yielded."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self._name = name
        self._offset = 0  # bytes read (decompressed), for the position of a read error
        self._line = b""  # the line last yielded, or its first RAW_LIMIT_BYTES
        self._cut = False  # ``_line`` is the start of a longer line

    def raw(self, item: object) -> Raw:
        return raw_line(self._line, self._cut)

    def __iter__(self) -> Iterator[object]:
        decode = _decode
        digits = sys.get_int_max_str_digits() or FAST_ITEM_BYTES
        data = self._read().removeprefix(codecs.BOM_UTF8)
        while data:
            lines = data.split(b"\n")
            rest = lines.pop()
            for line in lines:
                try:
                    # The common line is too short for a run of digits Python refuses.
                    long = len(line) > digits
                    item = _longer(line, digits) if long else decode(line.decode())
                    if line.count(b"{") + line.count(b"[") > _BRACKETS:
                        _refuse_deep(item)
                except (ValueError, ArithmeticError, RecursionError, ImportFileError) as exc:
                    if isinstance(exc, _FileUnreadable):
                        raise
                    if not line.strip(_BLANK):
                        continue
                    item = RowError("invalid_json", _message(exc))
                self._line = line
                self._cut = False
                yield item
            if len(rest) > FAST_ITEM_BYTES:
                long_line = _RestOfLine(rest, self._read)
                item = _streamed(long_line)
                rest = long_line.after
                if item is not _BLANK_LINE:
                    self._line = long_line.head
                    self._cut = True
                    yield item
            block = self._read()
            data = rest + block if block else rest and rest + b"\n"

    def _read(self) -> bytes:
        try:
            block = self._stream.read(_BLOCK)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise _FileUnreadable(describe_error(exc, self._name, self._offset)) from exc
        self._offset += len(block)
        return block


_BLANK_LINE = object()


def _longer(line: bytes, digits: int) -> object:
    """A line long enough to hold more digits in a row than Python converts to an int."""
    if len(line) > FAST_ITEM_BYTES:  # held no longer than an item of the fast array parser
        return _careful(io.BytesIO(line), line)
    at = long_digit_run(line, digits)
    if at >= 0:
        message = f"{_LINE}: more than {digits} digits in a row at byte {at}"
        raise _Refused(f"{message}; numbers that long are not supported")
    return _decode(line.decode())


def _streamed(line: _RestOfLine) -> object:
    """The item of a line too long to hold, read as it streams (``_BLANK_LINE``: none)."""
    try:
        return _careful(line, line.head)
    except _FileUnreadable:
        raise
    except (ImportFileError, _Refused) as exc:
        error = exc
    while line.read(_BLOCK):  # what is left of the line, never held
        pass
    return _BLANK_LINE if line.blank else RowError("invalid_json", str(error))


class _RestOfLine:
    """A line from ``head`` on, as a stream that ends at its line break, reading more with
    ``read_block``; what follows the break is kept in ``after``. Remembers the line's first
    RAW_LIMIT_BYTES (``head``) and whether it is all blank."""

    def __init__(self, head: bytes, read_block: Callable[[], bytes]) -> None:
        self.head = head[:RAW_LIMIT_BYTES]
        self.after = b""
        self.blank = not head.strip(_BLANK)
        self._buffer = head
        self._read_block = read_block
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        if not self._buffer and not self._ended:
            block = self._read_block()
            end = block.find(b"\n")
            if end >= 0:
                block, self.after = block[:end], block[end + 1 :]
            self._ended = end >= 0 or not block
            self.blank = self.blank and not block.strip(_BLANK)
            self._buffer = block
        data = self._buffer if size < 0 else self._buffer[:size]
        self._buffer = self._buffer[len(data) :]
        return data


def _careful(stream: BinaryIO | _RestOfLine, head: bytes) -> object:
    """A line read by the careful parser, which skips a byte order mark at the start of its
    stream as at the start of a file: here it is not JSON, as ``json`` says too."""
    if head.startswith(codecs.BOM_UTF8):
        raise _Refused(_MISPLACED_BOM)
    return careful_value(stream, _LINE)  # type: ignore[arg-type]


def _refuse_deep(item: object) -> None:
    if _deeper_than(item, MAX_DEPTH - 1):
        raise _Refused(f"{_LINE}: nesting deeper than {MAX_DEPTH} levels")


def _deeper_than(value: object, levels: int) -> bool:
    """True when ``value`` nests more than ``levels`` containers deep. A line's value counts
    from level 2, as an array item does, so it may nest MAX_DEPTH - 1 levels."""
    members: Iterable[object]
    if type(value) is dict:
        members = value.values()
    elif type(value) is list:
        members = value
    else:
        return False
    return levels == 0 or any(_deeper_than(member, levels - 1) for member in members)


def _message(exc: BaseException) -> str:
    """What the row error says of a line that could not be read."""
    if isinstance(exc, (_Refused, ImportFileError)):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"{_LINE}: invalid UTF-8 at byte {exc.start}: {exc.reason}"
    if isinstance(exc, json.JSONDecodeError):
        if exc.pos == 0 and exc.doc.startswith("\ufeff"):
            return _MISPLACED_BOM
        at = len(exc.doc[: exc.pos].encode())
        return f"{_LINE}: invalid JSON at byte {at}: {exc.msg}"
    if isinstance(exc, RecursionError):
        return f"{_LINE}: nesting deeper than {MAX_DEPTH} levels"
    if isinstance(exc, ArithmeticError):  # an exponent beyond even Decimal's range
        return f"{_LINE}: number out of range"
    return f"{_LINE}: invalid JSON: {exc}"
