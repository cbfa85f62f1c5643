"""Fixtures of the crash-and-resume tests (``resuming.py`` holds the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from user_import_pipeline_tests import crashing
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import SOURCE, USERS, job_state, seed


@pytest.fixture(scope="module")
def reference(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted import of USERS into the SEED state."""
    importer = Importer(dsn=dsn, base_dir=tmp_path_factory.mktemp("reference"))
    seed(importer)
    outcome = importer.run(importer.write(SOURCE, USERS))
    assert outcome.succeeded and outcome.job is not None
    state = job_state(importer, outcome.job["id"])
    c = state["job"]
    # The file really exercises every count (and so can catch one counted twice).
    assert (c["imported_count"], c["updated_count"], c["unchanged_count"]) == (23, 13, 12)
    assert (c["skipped_count"], c["failed_count"]) == (5, 4)
    assert state["staging_tables"] == []
    return state


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """A persistent Dagster instance (runs can be re-executed), shared with child runs;
    one per module, since opening one costs seconds."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def seeded(importer: Importer) -> Importer:
    seed(importer)
    importer.write(SOURCE, USERS)
    return importer


@pytest.fixture
def children() -> Iterator[list[crashing.Child]]:
    started: list[crashing.Child] = []
    yield started
    for child in started:
        child.stop()
