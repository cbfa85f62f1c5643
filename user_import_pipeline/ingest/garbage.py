"""Fewer full garbage collections while a file is read.

Reading a file makes millions of short-lived objects, and a batch of rows waiting for the
writer thread keeps tens of thousands alive, so CPython's collector keeps promoting
objects and running full collections - each of which walks every object of the process,
Dagster's modules included. Nothing the reading makes forms a reference cycle, so
reference counting frees it all anyway; at 1M users the full collections cost about 2 s
of a 13 s read, and as much again once Dagster is loaded. While reading, the objects that
existed before are frozen (left out of every collection), and collections of every
generation run less often; they still run, so that memory stays bounded should something
make cycles after all.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_YOUNG = 10_000  # allocations between young collections (CPython: 700)
_FULL = 1000  # second-generation collections before a full one (CPython: 10)

# Several imports may read at once in one process (threads of a test, of a server): the
# first to start changes the collector's settings, the last to end puts them back.
_lock = threading.Lock()
_readers = 0
_saved = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    global _readers, _saved
    with _lock:
        if _readers == 0:
            _saved = gc.get_threshold()
            young, middle, full = _saved
            gc.freeze()
            gc.set_threshold(max(young, _YOUNG), middle, max(full, _FULL))
        _readers += 1
    try:
        yield
    finally:
        with _lock:
            _readers -= 1
            if _readers == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()
