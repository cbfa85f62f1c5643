"""The two input formats (CONTRACT §2), told apart by the file's own name: a JSON array
(ingest/stream.py) or JSON Lines (ingest/lines.py). Either gives the file's items in order,
and the raw JSON of the item it gave last, for a row that fails (ingest/raw.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from user_import_pipeline.ingest.lines import JsonLines
from user_import_pipeline.ingest.raw import Raw, raw_json
from user_import_pipeline.ingest.source import OpenedSource, is_json_lines
from user_import_pipeline.ingest.stream import iter_items


class Items(Protocol):
    def __iter__(self) -> Iterator[object]: ...

    def raw(self, item: object) -> Raw:
        """The raw JSON of ``item``, the item last given."""
        ...


def read_items(source: OpenedSource, name: str) -> Items:
    """The items of an opened file; ``name`` is the one its errors give."""
    if is_json_lines(source.path.name):
        return JsonLines(source.stream, name)
    return _ArrayItems(source, name)


class _ArrayItems:
    def __init__(self, source: OpenedSource, name: str) -> None:
        self._source = source
        self._name = name

    def __iter__(self) -> Iterator[object]:
        return iter_items(self._source.stream, self._name, self._source.rewind)

    def raw(self, item: object) -> Raw:
        return raw_json(item)
