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
from collections.abc import Iterator
from contextlib import contextmanager

_YOUNG = 10_000  # allocations between young collections (CPython: 700)
_FULL = 1000  # second-generation collections before a full one (CPython: 10)


@contextmanager
def fewer_collections() -> Iterator[None]:
    young, middle, full = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(young, _YOUNG), middle, max(full, _FULL))
    try:
        yield
    finally:
        gc.set_threshold(young, middle, full)
        gc.unfreeze()
