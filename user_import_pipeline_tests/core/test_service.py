"""The import core on its own: no Dagster, and how a run decides whose job is whose."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from user_import_pipeline.core.outcomes import Done, RunInfo, Stopped
from user_import_pipeline.db.locks import AdvisoryLock
from user_import_pipeline.lifecycle.lease import worker_name
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import SOURCE, job_state

REPO = Path(__file__).resolve().parents[2]


def test_the_core_imports_a_file_without_loading_dagster(importer: Importer) -> None:
    """In a fresh interpreter: import the core, run a whole import, and Dagster is never
    loaded (nor its GraphQL client, nor our Dagster layer)."""
    source = importer.write("plain.json", [{"name": "Ann", "email": "ann@example.com"}])
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from user_import_pipeline.core.service import ImportService
        from user_import_pipeline.db.client import Database
        from user_import_pipeline.settings import ImportSettings
        settings = ImportSettings(Path({str(importer.base_dir)!r}))
        service = ImportService(Database({importer.dsn!r}), settings)
        outcome = service.run(source_path={source!r})
        ours = ("user_import_pipeline.ops", "user_import_pipeline.resources")
        loaded = sorted(m for m in sys.modules if m.startswith(ours)
                        or m.split(".")[0] in ("dagster", "dagster_graphql"))
        print(json.dumps({{"status": outcome.value["status"], "loaded": loaded}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"status": "succeeded", "loaded": []}


def held_connection(dsn: str, application_name: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True, application_name=application_name)


def test_a_live_run_keeps_its_job_and_a_dead_one_loses_it_at_once(
    seeded: Importer, reference: dict[str, Any]
) -> None:
    first, second = RunInfo.first("run-first"), RunInfo.first("run-second")
    owner = seeded.service()
    claim = owner.claim(first, source_path=SOURCE)
    assert isinstance(claim, Done)
    job_id = claim.value.job_id
    other = seeded.service()
    try:
        started = time.monotonic()
        refused = other.claim(second, source_path=SOURCE)
        assert isinstance(refused, Stopped), refused
        assert f"is being worked on by run {first.run_id}" in refused.message
        assert time.monotonic() - started >= 1.0, "a live owner is confirmed for a second"

        owner.close()  # the first run ends without a word: its heartbeat connection closes
        started = time.monotonic()
        taken = other.claim(second, source_path=SOURCE)
        assert isinstance(taken, Done), taken
        assert time.monotonic() - started < 1.0, "a dead owner is not waited for"
        assert (taken.value.job_id, taken.value.took_over) == (job_id, first.run_id)
        assert taken.value.attempts == 2
        for step in ("stage_users", "stage_addresses", "merge_users", "replace_addresses"):
            assert isinstance(getattr(other, step)(job_id, second), Done)
        assert isinstance(other.finish(job_id, second), Done)
    finally:
        other.close()
    assert job_state(seeded, job_id) == reference


def test_what_is_left_of_a_dead_run_is_ended_so_that_the_new_run_can_work(
    seeded: Importer, reference: dict[str, Any]
) -> None:
    """A run died in the middle of a merge, but its backend goes on with the statement and
    holds the merge lock: the run that takes the job over ends that backend instead of
    waiting behind it."""
    first, second = RunInfo.first("run-died"), RunInfo.first("run-next")
    owner = seeded.service()
    claim = owner.claim(first, source_path=SOURCE)
    assert isinstance(claim, Done)
    owner.close()
    with held_connection(seeded.dsn, worker_name(first.run_id)) as leftover:
        leftover.execute("BEGIN")
        leftover.execute("SELECT pg_advisory_xact_lock(%s)", (int(AdvisoryLock.MERGE),))
        started = time.monotonic()
        outcome = seeded.run(SOURCE, run=second)
        assert outcome.succeeded, outcome.message
        assert time.monotonic() - started < 30
        with pytest.raises(psycopg.OperationalError, match="terminating connection"):
            leftover.execute("SELECT 1")  # the dead run's backend was ended
    assert outcome.job is not None
    assert job_state(seeded, outcome.job["id"]) == reference
    assert outcome.job["attempts"] == 2


def test_a_claim_repeated_by_the_same_run_is_not_another_attempt(seeded: Importer) -> None:
    run = RunInfo.first(str(uuid.uuid4()))
    service = seeded.service()
    try:
        first = service.claim(run, source_path=SOURCE)
        again = service.claim(run, source_path=SOURCE)
    finally:
        service.close()
    assert isinstance(first, Done) and isinstance(again, Done)
    assert first.value.job_id == again.value.job_id
    assert (first.value.attempts, again.value.attempts) == (1, 1)


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        pytest.param("not-a-uuid", "is not a UUID", id="malformed"),
        pytest.param(str(uuid.UUID(int=7)), "does not exist", id="unknown"),
    ],
)
def test_a_claim_of_no_such_job_stops_and_touches_nothing(
    importer: Importer, job_id: str, message: str
) -> None:
    service = importer.service()
    try:
        outcome = service.claim(RunInfo.first("run-x"), job_id=job_id)
    finally:
        service.close()
    assert isinstance(outcome, Stopped) and message in outcome.message
    assert importer.query("SELECT * FROM import_jobs") == []
