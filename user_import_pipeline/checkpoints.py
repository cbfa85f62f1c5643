"""Named points an import passes, for code that must act at an exact moment.

The database client reports every connection, statement, COPY and commit before it runs
it; the import core reports each phase right after it committed and the file's streaming
progress. The fault tests listen here to crash, hold or break a run at an exact point,
from any way in (the core called directly, a Dagster run, ``user-import run``), without
reaching into any module. A listener runs in the thread that reached the point; an
exception it raises is raised there, as if the work at that point had raised it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

Kind = Literal["connect", "statement", "copy", "commit", "phase", "progress"]


@dataclass(frozen=True)
class Point:
    """``kind``: what is about to happen (``connect``, ``statement``, ``copy``, ``commit``)
    or what has just happened (``phase``: committed; ``progress``: rows streamed).
    ``name``: the SQL file, the phase or the connection's application name."""

    kind: Kind
    name: str = ""
    in_transaction: bool = False


Listener = Callable[[Point], None]
_listeners: list[Listener] = []


def reach(point: Point) -> None:
    """Tell every listener that ``point`` is reached."""
    for listener in tuple(_listeners):
        listener(point)


def listen(listener: Listener) -> None:
    """Call ``listener`` at every point from now on (for a process that ends with it)."""
    _listeners.append(listener)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` at every point while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
