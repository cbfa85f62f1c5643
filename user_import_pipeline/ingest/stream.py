"""Streaming the top-level JSON array item by item, in constant memory.

ijson's ``items``/``parse`` build a prefix string per nesting level (memory grows with
depth squared), so we build items ourselves from ``basic_parse`` events, which carry no
prefix, and refuse nesting deeper than ``MAX_DEPTH`` before anything deeper is built.
"""

from __future__ import annotations

import decimal
import gzip
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import ijson

from user_import_pipeline.ingest.source import ImportFileError

MAX_DEPTH = 64
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


class _Counting:
    """Counts the bytes handed to the parser, to say where in the document an error is."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self._name = name
        self.consumed = 0
        self.start: int | None = None  # offset of the first byte that is not whitespace
        self._first = True
        self._digits = 0  # length of the run of digits that ended the last block

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
        self._refuse_long_digit_runs(data)
        self.consumed += len(data)
        return data

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
            found = data.translate(_DIGIT_MAP).find(b"\x01" * (limit + 1))
            if found < 0:
                tail = len(data) - len(data.rstrip(_DIGITS))
                self._digits = self._digits + tail if tail == len(data) else tail
                return
            at = self.consumed + found
        raise ImportFileError(
            f"{self._name}: more than {limit} digits in a row at byte {at}; "
            "numbers that long are not supported"
        )


def iter_items(stream: BinaryIO, name: str) -> Iterator[object]:
    """Yield each element of the top-level array; ImportFileError for anything else."""
    counting = _Counting(stream, name)
    # Numbers arrive as int (any size) or Decimal: with use_float=True yajl converts them
    # itself and fails the whole file on an integer beyond 64 bits or an exponent beyond a
    # double, though such a number is valid JSON (an id, a phone number, an ignored key).
    events = ijson.basic_parse(counting, use_float=False)
    try:
        yield from _build_items(events, name, counting)
    except ImportFileError:
        raise
    except decimal.InvalidOperation as exc:  # an exponent beyond even Decimal's range
        message = f"{name}: number out of range at or before byte {counting.consumed}"
        raise ImportFileError(message) from exc
    except (ijson.JSONError, ValueError, EOFError, OSError, gzip.BadGzipFile, zlib.error) as exc:
        raise ImportFileError(_describe(exc, name, counting.consumed)) from exc


def _describe(exc: BaseException, name: str, consumed: int) -> str:
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


def _build_items(
    events: Iterator[tuple[str, object]], name: str, counting: _Counting
) -> Iterator[object]:
    first = next(events, None)
    if first is None:
        raise ImportFileError(f"{name}: file is empty, expected a JSON array")
    if first[0] != "start_array":
        found = first[0].removeprefix("start_").replace("map", "object")
        raise ImportFileError(
            f"{name}: the top level must be a JSON array, found {found} at byte {counting.start}"
        )
    stack: list[dict | list] = []
    keys: list[str | None] = []
    key: str | None = None
    row = 0
    for event, value in events:
        if event == "map_key":
            key = value  # type: ignore[assignment]
        elif event == "start_map" or event == "start_array":
            if len(stack) + 2 > MAX_DEPTH:
                raise ImportFileError(
                    f"{name}: nesting deeper than {MAX_DEPTH} levels in row {row}"
                )
            container: dict | list = {} if event == "start_map" else []
            if stack:
                _add(stack[-1], key, container)
            stack.append(container)
            keys.append(key)
        elif event == "end_map" or event == "end_array":
            if not stack:
                break  # the end of the top-level array
            done = stack.pop()
            key = keys.pop()
            if not stack:
                yield done
                row += 1
        elif stack:
            _add(stack[-1], key, value)
        else:
            yield value
            row += 1
    # Drain the parser: trailing garbage after the array is a syntax error too.
    for _ in events:
        pass


def _add(parent: dict | list, key: str | None, value: object) -> None:
    if type(parent) is dict:
        parent[key] = value
    else:
        parent.append(value)  # type: ignore[union-attr]
