"""Streaming the top-level JSON array item by item, in constant memory.

Two parsers, one result. The fast one is ijson's C ``items``, which builds whole items
itself; it is used while every item is small and shallow. Whatever else it meets - an item
of more than ``FAST_ITEM_BYTES``, nesting near ``MAX_DEPTH``, a document that is not an
array, any parse error - the careful parser takes over from the start of the file, skips the
items already yielded and goes on with the exact same rules and messages.

The careful parser builds items from ``basic_parse`` events (ijson's ``items`` builds a
prefix string per nesting level, so its memory grows with depth squared), refuses nesting
deeper than ``MAX_DEPTH`` before anything deeper is built, and keeps only what validation
reads (``_build_items``). Both parsers see the same bytes through ``_Counting``, which
refuses values longer than ``MAX_VALUE_BYTES`` or ``sys.get_int_max_str_digits()`` digits
while reading. An item either parser yields validates the same way (validate.py reads only
the keys the careful parser keeps), so memory stays bounded for every input (CONTRACT §2).
JSON Lines (ingest/lines.py) read a line too long to hold with the careful parser too
(``careful_value``), under the same limits.
"""

from __future__ import annotations

import decimal
import gzip
import itertools
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import ijson

from user_import_pipeline.ingest.source import ImportFileError
from user_import_pipeline.ingest.validate import (
    ADDRESS_KEYS,
    MAX_ADDRESSES,
    USER_KEYS,
    Oversized,
)

MAX_DEPTH = 64
# yajl holds a whole string in memory before handing it over: longer runs between two
# quotes are refused while reading. Far above every field limit (CONTRACT §2), so it binds
# only values of ignored keys.
MAX_VALUE_BYTES = 8 * 1024 * 1024
# A kept string longer than this is beyond every field limit even after trimming.
_KEPT_CHARS = 1024
# The fast parser hands over to the careful one when it has read this many bytes without
# finishing an item (a user is a few hundred bytes; a valid one at most ~31 MB) or when the
# nesting may reach _FAST_DEPTH: both bound what ijson's C ``items`` may hold at once.
FAST_ITEM_BYTES = 1024 * 1024
_FAST_DEPTH = MAX_DEPTH // 2
_NOT_QUOTE_OR_BRACKET = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_BOM = b"\xef\xbb\xbf"
# yajl also skips vertical tab and form feed between tokens, but JSON whitespace is only
# space, tab, CR and LF. Neither byte can be part of valid JSON anywhere (raw control
# characters are refused inside strings, UTF-8 sequences use bytes >= 0x80): a syntax error.
_NOT_JSON = (b"\x0b", b"\x0c")
_DIGITS = b"0123456789"
_DIGIT_MAP = bytes(int(byte in _DIGITS) for byte in range(256))  # digit → 1, else 0

if ijson.backend != "yajl2_c":
    raise ImportError(
        f"ijson's C backend (yajl2_c) is required for speed, found {ijson.backend!r}; "
        "reinstall ijson from a wheel for this platform"
    )


class _NeedsCare(Exception):
    """The fast parser met something only the careful parser handles exactly."""


class _TooDeep(Exception):
    """Row ``row`` nests deeper than MAX_DEPTH (raised before that level is built)."""

    def __init__(self, row: int) -> None:
        super().__init__(row)
        self.row = row


class _Counting:
    """Counts the bytes handed to the parser, to say where in the document an error is.
    With ``fast``, it also watches for what the fast parser must not be given."""

    def __init__(self, stream: BinaryIO, name: str, *, fast: bool = False) -> None:
        self._stream = stream
        self._name = name
        self._fast = fast
        self.consumed = 0
        self.item_end = 0  # bytes consumed when the fast parser last yielded an item
        self.start: int | None = None  # offset of the first byte that is not whitespace
        self._first = True
        self._digits = 0  # length of the run of digits that ended the last block
        self._unquoted = 0  # bytes since the last quote that ends or starts a string
        self._escaping = False  # the last block ended in a backslash that escapes
        self._in_string = False  # the last block ended inside a string
        self._depth = 0  # containers open at the end of the last block

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._first and data:
            self._first = False
            # A UTF-8 byte order mark is tolerated (RFC 8259 lets parsers ignore it).
            if data.startswith(_BOM):
                self.consumed += len(_BOM)
                data = data[len(_BOM) :]
        bad = [at for at in map(data.find, _NOT_JSON) if at >= 0]
        if bad:
            at = min(bad)
            raise ImportFileError(
                f"{self._name}: invalid JSON at byte {self.consumed + at}: "
                f"control character U+{data[at]:04X} is not allowed in JSON"
            )
        if self.start is None and (text := data.lstrip(b" \t\r\n")):
            self.start = self.consumed + len(data) - len(text)
            if self._fast and not text.startswith(b"["):
                raise _NeedsCare("the document is not an array")
        self._refuse_long_digit_runs(data)
        quoting = self._mask_escapes(data)
        self._refuse_long_strings(quoting, self.consumed + len(data))
        if self._fast:
            if self.consumed - self.item_end > FAST_ITEM_BYTES:
                raise _NeedsCare("a large item")
            self._follow_depth(quoting)
        self.consumed += len(data)
        return data

    def _mask_escapes(self, data: bytes) -> bytes:
        """``data`` with its escaped quotes and backslashes masked (same length, so positions
        stay exact): every quote left starts or ends a string."""
        if self._escaping:
            data = b"_" + data[1:]
        if b"\\" in data:
            data = data.replace(b"\\\\", b"__").replace(b'\\"', b"__")
        self._escaping = data.endswith(b"\\")
        return data

    def _follow_depth(self, quoting: bytes) -> None:
        """Keep a bound on the nesting depth, for the fast parser: the brackets outside strings
        are reduced by removing adjacent pairs, each round one or two levels; what is left must
        close open containers, then open new ones."""
        # Two adjacent quotes can go without changing which brackets lie inside strings: that
        # removes every string without brackets, and what it joins, in one pass.
        skeleton = quoting.translate(None, _NOT_QUOTE_OR_BRACKET).replace(b'""', b"")
        parts = skeleton.split(b'"')
        brackets = b"".join(parts[1::2] if self._in_string else parts[::2])
        self._in_string ^= len(parts) % 2 == 0
        rounds = 0
        while brackets and rounds <= _FAST_DEPTH:
            reduced = brackets.replace(b"[]", b"").replace(b"{}", b"")
            if reduced == brackets:
                break
            brackets = reduced
            rounds += 1
        closed = len(brackets) - len(brackets.lstrip(b"]}"))
        opened = len(brackets) - closed
        if (
            brackets[closed:].strip(b"[{")  # mismatched brackets: a syntax error
            or closed > self._depth
            or self._depth + opened + 2 * rounds > _FAST_DEPTH
        ):
            raise _NeedsCare("deep nesting")
        self._depth += opened - closed

    def _refuse_long_strings(self, data: bytes, end: int) -> None:
        """Refuse more than MAX_VALUE_BYTES between two string quotes (``data`` with its
        escapes masked), ``end`` being the offset just after it."""
        first = data.find(b'"')
        run = self._unquoted + (len(data) if first < 0 else first)
        self._unquoted = run if first < 0 else len(data) - data.rfind(b'"') - 1
        if run > MAX_VALUE_BYTES:
            raise ImportFileError(
                f"{self._name}: a value longer than {MAX_VALUE_BYTES // 2**20} MiB at or before "
                f"byte {end}; values that long are not supported"
            )

    def _refuse_long_digit_runs(self, data: bytes) -> None:
        """ijson's C backend does not check its int() of an integer longer than Python's
        limit (sys.get_int_max_str_digits()) and the process crashes later; such a run of
        digits (in a string too: the bytes cannot tell) is refused before it is parsed."""
        limit = sys.get_int_max_str_digits()
        if not limit:
            return
        lead = len(data) - len(data.lstrip(_DIGITS))
        if self._digits + lead > limit:  # a run carried over from the last block
            at = self.consumed - self._digits
        else:
            found = long_digit_run(data, limit)
            if found < 0:
                tail = len(data) - len(data.rstrip(_DIGITS))
                self._digits = self._digits + tail if tail == len(data) else tail
                return
            at = self.consumed + found
        raise ImportFileError(
            f"{self._name}: more than {limit} digits in a row at byte {at}; "
            "numbers that long are not supported"
        )


def long_digit_run(data: bytes, limit: int) -> int:
    """The offset of the first run of more than ``limit`` digits in ``data``, or -1."""
    return data.translate(_DIGIT_MAP).find(b"\x01" * (limit + 1))


def iter_items(
    stream: BinaryIO, name: str, rewind: Callable[[], BinaryIO] | None = None
) -> Iterator[object]:
    """Yield each element of the top-level array; ImportFileError for anything else.
    The careful parser starts over on ``rewind()`` (by default ``stream.seek(0)``)."""
    fast = _Counting(stream, name, fast=True)
    yielded = 0
    try:
        for item in ijson.items(fast, "item", use_float=False):
            yield item
            yielded += 1
            fast.item_end = fast.consumed
        return
    except ImportFileError:
        raise  # refused while reading: the careful parser reads the same bytes
    except (_NeedsCare, decimal.InvalidOperation, *_PARSE_ERRORS):
        pass  # the careful parser says exactly what, or takes it
    if rewind is None:
        stream.seek(0)
    else:
        stream = rewind()
    careful = careful_items(stream, name)
    for _ in itertools.islice(careful, yielded):
        pass
    yield from careful


def careful_items(stream: BinaryIO, name: str) -> Iterator[object]:
    """The careful parser alone: items as far as validation reads them (``_build_items``)."""
    counting = _Counting(stream, name)
    with _reported(name, counting):
        try:
            yield from _build_items(_events(counting), name, counting)
        except _TooDeep as exc:
            message = f"{name}: nesting deeper than {MAX_DEPTH} levels in row {exc.row}"
            raise ImportFileError(message) from None


def careful_value(stream: BinaryIO, name: str) -> object:
    """The careful parser on a stream that holds one JSON value (a JSON Lines row): the value
    as an array item would be kept, under the same limits, nesting from level 2 as an item
    does; ImportFileError if it cannot be read, its positions counted from the stream's start."""
    counting = _Counting(stream, name)
    as_item = itertools.chain([("start_array", None)], _events(counting), [("end_array", None)])
    with _reported(name, counting):
        try:
            (value,) = _build_items(as_item, name, counting)
        except _TooDeep:
            raise ImportFileError(f"{name}: nesting deeper than {MAX_DEPTH} levels") from None
        except ijson.IncompleteJSONError as exc:
            if "premature EOF" not in str(exc):
                raise
            message = f"{name}: the JSON ends early at byte {counting.consumed}"
            raise ImportFileError(message) from exc
    return value


def _events(counting: _Counting) -> Iterator[tuple[str, Any]]:
    # Numbers arrive as int (any size) or Decimal: with use_float=True yajl converts them
    # itself and fails the whole file on an integer beyond 64 bits or an exponent beyond a
    # double, though such a number is valid JSON (an id, a phone number, an ignored key).
    return ijson.basic_parse(counting, use_float=False)


@contextmanager
def _reported(name: str, counting: _Counting) -> Iterator[None]:
    """What goes wrong in the careful parser, as an ImportFileError that says where."""
    try:
        yield
    except ImportFileError:
        raise
    except decimal.InvalidOperation as exc:  # an exponent beyond even Decimal's range
        message = f"{name}: number out of range at or before byte {counting.consumed}"
        raise ImportFileError(message) from exc
    except _PARSE_ERRORS as exc:
        raise ImportFileError(describe_error(exc, name, counting.consumed)) from exc


_PARSE_ERRORS = (ijson.JSONError, ValueError, EOFError, OSError, gzip.BadGzipFile, zlib.error)


def describe_error(exc: BaseException, name: str, consumed: int) -> str:
    """A parse or read error as a message that names ``name`` and the bytes read so far."""
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    detail = str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
    if isinstance(exc, ijson.IncompleteJSONError) and "premature EOF" in detail:
        if consumed == 0:
            return f"{name}: file is empty, expected a JSON array"
        return f"{name}: file is truncated, the JSON ends early at byte {consumed}"
    if isinstance(exc, UnicodeDecodeError):  # its args[0] is just the codec name
        return f"{name}: invalid UTF-8 at or before byte {consumed}: {exc.reason}"
    if isinstance(exc, (EOFError, gzip.BadGzipFile, zlib.error)):
        return f"{name}: not a readable gzip stream near byte {consumed}: {detail}"
    # The parser reads ahead in blocks, so the position is the end of the block it was in.
    return f"{name}: invalid JSON at or before byte {consumed}: {detail}"


# What an open container keeps: the keys validation reads (an object), ``_LIST`` (the address
# list: every entry, up to one more than the limit) or ``_NOTHING`` (dropped, or kept empty).
_LIST = None
_NOTHING: frozenset[str] = frozenset()
_SCALARS = frozenset({"string", "number", "boolean", "null"})


def _build_items(
    events: Iterator[tuple[str, object]], name: str, counting: _Counting
) -> Iterator[object]:
    """Items as far as validation reads them, so that memory stays bounded whatever the
    input: values of unknown keys are dropped, a container where a scalar or address belongs
    is kept as an empty one of its kind (validation names its type), at most one address
    more than the limit is kept, and an over-long string becomes `Oversized`. One loop
    without calls per event: it runs for every token of the file."""
    first = next(events, None)
    if first is None:
        raise ImportFileError(f"{name}: file is empty, expected a JSON array")
    if first[0] != "start_array":
        found = first[0].removeprefix("start_").replace("map", "object")
        raise ImportFileError(
            f"{name}: the top level must be a JSON array, found {found} at byte {counting.start}"
        )
    stack: list[tuple[Any, frozenset[str] | None]] = []
    top: Any = None  # the innermost open container; None between items
    kept: frozenset[str] | None = _NOTHING
    key: Any = None
    row = 0
    for event, value in events:
        if event == "map_key":
            key = value
        elif event in _SCALARS:
            if top is None:
                yield value
                row += 1
                continue
            if type(value) is str and len(value) > _KEPT_CHARS:
                value = _oversized(value)
            if kept is _LIST:
                if len(top) <= MAX_ADDRESSES:
                    top.append(value)
            elif key in kept:
                top[key] = value
        elif event == "start_map" or event == "start_array":
            if len(stack) + 2 > MAX_DEPTH:
                raise _TooDeep(row)
            new: Any = {} if event == "start_map" else []
            inner: frozenset[str] | None = _NOTHING
            if top is None:
                if event == "start_map":
                    inner = USER_KEYS
            elif kept is _LIST:
                if len(top) <= MAX_ADDRESSES:
                    top.append(new)
                    if event == "start_map":
                        inner = ADDRESS_KEYS
            elif key in kept:
                top[key] = new
                if kept is USER_KEYS and key == "addresses" and event == "start_array":
                    inner = _LIST
            stack.append((top, kept))
            top, kept = new, inner
        else:  # end_map, end_array
            if top is None:
                break  # the end of the top-level array
            done = top
            top, kept = stack.pop()
            if top is None:
                yield done
                row += 1
    # Drain the parser: trailing garbage after the array is a syntax error too.
    for _ in events:
        pass


def _oversized(value: str) -> str | Oversized:
    """Every limit is far below: only the trimmed length matters to validation. The head is
    what a failed row shows of the string (ingest/raw.py); no longer than a kept string."""
    trimmed = value.strip()
    if len(trimmed) <= _KEPT_CHARS:
        return trimmed
    return Oversized(len(trimmed), value[:_KEPT_CHARS])
