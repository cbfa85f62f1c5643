"""The collector's settings while files are read (ingest/garbage.py)."""

from __future__ import annotations

import gc

from user_import_pipeline.ingest.garbage import fewer_collections


def test_overlapping_reads_leave_the_collector_as_they_found_it() -> None:
    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    raised = gc.get_threshold()
    assert raised[0] > before[0] and raised[2] > before[2]
    assert gc.get_freeze_count() > 0
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start ends first: still reading
    assert gc.get_threshold() == raised
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
