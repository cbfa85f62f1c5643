"""Database failures and crashes inside a first import into empty tables (merge/bulk_load.py):
its users are written while the file is read, all in one transaction, so a failure or a
crash anywhere leaves the tables empty and nothing counted, and the import resumed or
retried ends exactly like an uninterrupted one.
"""

from __future__ import annotations

import signal
import uuid
from dataclasses import replace
from typing import Any

import dagster as dg
import psycopg
import pytest

from user_import_pipeline import checkpoints
from user_import_pipeline.core.outcomes import Done, Failed, Retry, RunInfo
from user_import_pipeline_tests import crashing
from user_import_pipeline_tests.first_import import FIRST_USERS, import_first_users
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import (
    SOURCE,
    data,
    failure_messages,
    job_state,
    resume,
    start_child,
    the_job,
)

pytestmark = pytest.mark.faults

LATER_STEPS = ("stage_addresses", "merge_users", "replace_addresses", "finish")
ERRORS = {
    "transient": psycopg.OperationalError("server closed the connection (injected)"),
    "terminal": psycopg.errors.DiskFull("could not extend file (injected)"),
}


class FailOnce:
    """A checkpoint listener that raises ``error`` the first time ``target`` is reached."""

    def __init__(self, target: checkpoints.Point, error: psycopg.Error) -> None:
        self.target, self.error, self.fired = target, error, False

    def __call__(self, point: checkpoints.Point) -> None:
        if point == self.target and not self.fired:
            self.fired = True
            raise self.error


@pytest.fixture(scope="module")
def first(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted first import of FIRST_USERS."""
    importer = Importer(dsn=dsn, base_dir=tmp_path_factory.mktemp("first"))
    importer.reset()
    copies, state = import_first_users(importer)
    assert "copy_users_directly" in copies
    return state


def calls_of_a_first_import(importer: Importer) -> list[checkpoints.Point]:
    """Each statement and COPY the stage_users step of a first import makes inside its
    transaction, in the order of their first calls."""
    importer.write(SOURCE, FIRST_USERS)
    points: list[checkpoints.Point] = []

    def listener(point: checkpoints.Point) -> None:
        # Only the step's calls are in a transaction (the heartbeat's run in autocommit).
        if point.in_transaction and point.kind in ("statement", "copy"):
            points.append(point)

    service = importer.service()
    try:
        run = RunInfo.first(str(uuid.uuid4()))
        claimed = service.claim(run, source_path=SOURCE)
        assert isinstance(claimed, Done)
        with checkpoints.listening(listener):
            assert isinstance(service.stage_users(claimed.value.job_id, run), Done)
    finally:
        service.close()
    return list(dict.fromkeys(points))


@pytest.mark.parametrize("kind", ["transient", "terminal"])
def test_a_database_failure_at_any_call_of_a_first_import_loses_and_counts_nothing(
    importer: Importer, first: dict[str, Any], kind: str
) -> None:
    """Transient (a lost connection): the step says Retry with nothing written, and the
    import retried ends like an uninterrupted one. Terminal (a refusal): the import fails
    with nothing written."""
    points = calls_of_a_first_import(importer)
    names = [point.name for point in points]
    for expected in ("copy_users_directly", "restage_colliding_loaded_rows", "insert_new_users"):
        assert expected in names, names
    for target in points:
        importer.reset()
        importer.write(SOURCE, FIRST_USERS)
        inject = FailOnce(target, ERRORS[kind])
        service = importer.service()
        try:
            run = RunInfo.first(str(uuid.uuid4()))
            claimed = service.claim(run, source_path=SOURCE)
            assert isinstance(claimed, Done)
            job_id = claimed.value.job_id
            with checkpoints.listening(inject):
                outcome = service.stage_users(job_id, run)
            assert inject.fired, target
            assert data(importer) == {}, target
            job = the_job(importer)
            assert job["imported_count"] == 0 and job["phase"] == "pending", (target, job)
            if kind == "terminal":
                assert isinstance(outcome, Failed), (target, outcome)
                assert job["status"] == "failed", (target, job)
                continue
            assert isinstance(outcome, Retry), (target, outcome)
            retry = replace(run, retry_number=1)
            for step in ("stage_users", *LATER_STEPS):
                assert isinstance(getattr(service, step)(job_id, retry), Done), (target, step)
        finally:
            service.close()
        assert job_state(importer, job_id) == first, target


@pytest.mark.slow
@pytest.mark.parametrize(
    "at",
    [
        "streaming",
        "step:restage_colliding_loaded_rows",
        "step:insert_changed_addresses",
        "users_staged",
    ],
)
def test_a_first_import_killed_anywhere_is_resumed_exactly_once(
    importer: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    first: dict[str, Any],
    at: str,
) -> None:
    importer.write(SOURCE, FIRST_USERS)
    child = start_child(importer, instance, children, at)
    assert child.wait() == -signal.SIGKILL, child.output()
    job = the_job(importer)
    if at == "users_staged":  # it committed: the whole file is in, the run never finished
        assert job["phase"] == "addresses_replaced"
        assert data(importer) == first["data"]
    else:
        assert job["phase"] == "pending"
        assert data(importer) == {}
    assert job["imported_count"] == first["job"]["imported_count"] * (at == "users_staged")

    outcome = resume(importer, job["id"], instance)

    assert outcome.succeeded, failure_messages(outcome.result)
    assert job_state(importer, job["id"]) == first
