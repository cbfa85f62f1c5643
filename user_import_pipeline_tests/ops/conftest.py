"""Fixtures of the crash-and-resume tests (``resuming.py`` holds the rest; ``reference`` and
``seeded`` are in the top conftest, shared with the core's tests)."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from user_import_pipeline_tests import crashing


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """A persistent Dagster instance (runs can be re-executed), shared with child runs;
    one per module, since opening one costs seconds."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def children() -> Iterator[list[crashing.Child]]:
    started: list[crashing.Child] = []
    yield started
    for child in started:
        child.stop()
