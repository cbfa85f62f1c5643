"""Streaming the top-level JSON array item by item, in constant memory.

ijson's ``items``/``parse`` build a prefix string per nesting level (memory grows with
depth squared), so we build items ourselves from ``basic_parse`` events, which carry no
prefix, and refuse nesting deeper than ``MAX_DEPTH`` before anything deeper is built.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import ijson

from user_import_pipeline.ingest.source import ImportFileError

MAX_DEPTH = 64
_BOM = b"\xef\xbb\xbf"

if ijson.backend != "yajl2_c":
    raise ImportError(
        f"ijson's C backend (yajl2_c) is required for speed, found {ijson.backend!r}; "
        "reinstall ijson from a wheel for this platform"
    )


class _Counting:
    """Counts the bytes handed to the parser, to say where in the document an error is."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.consumed = 0
        self._first = True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._first and data:
            self._first = False
            # A UTF-8 byte order mark is tolerated (RFC 8259 lets parsers ignore it).
            if data.startswith(_BOM):
                self.consumed += len(_BOM)
                data = data[len(_BOM) :]
        self.consumed += len(data)
        return data


def iter_items(stream: BinaryIO, name: str) -> Iterator[object]:
    """Yield each element of the top-level array; ImportFileError for anything else."""
    counting = _Counting(stream)
    events = ijson.basic_parse(counting, use_float=True)
    try:
        yield from _build_items(events, name)
    except ImportFileError:
        raise
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
    if isinstance(exc, (EOFError, gzip.BadGzipFile, zlib.error)):
        return f"{name}: not a readable gzip stream near byte {consumed}: {detail}"
    # The parser reads ahead in blocks, so the position is the end of the block it was in.
    return f"{name}: invalid JSON at or before byte {consumed}: {detail}"


def _build_items(events: Iterator[tuple[str, object]], name: str) -> Iterator[object]:
    first = next(events, None)
    if first is None:
        raise ImportFileError(f"{name}: file is empty, expected a JSON array")
    if first[0] != "start_array":
        found = first[0].removeprefix("start_").replace("map", "object")
        raise ImportFileError(f"{name}: the top level must be a JSON array, found {found}")
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
