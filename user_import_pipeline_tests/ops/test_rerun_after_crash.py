"""``user-import run`` killed at any point of an import, then run again at once: the new run
takes the dead run's job over without waiting for its lease, resumes it from its phase and
ends exactly like an uninterrupted import, every row counted once.

The killed run's lease is 60 s long; the re-run must not wait for it. What tells the new run
that the old one is dead is its heartbeat connection, which PostgreSQL closes the moment
the process is gone (lifecycle/lease.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from user_import_pipeline_tests import crashing
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import (
    CHILD_LEASE_SECONDS,
    SOURCE,
    data,
    job_state,
    start_child,
    the_job,
)

pytestmark = [pytest.mark.slow, pytest.mark.faults]

USER_IMPORT = Path(sys.executable).with_name("user-import")


def rerun(importer: Importer) -> tuple[subprocess.CompletedProcess[str], float]:
    """``user-import run SOURCE`` as a user types it; the result and its wall time."""
    env = {
        **os.environ,
        "DATABASE_URL": importer.dsn,
        "IMPORT_BASE_DIR": str(importer.base_dir),
        "IMPORT_JOB_LEASE_SECONDS": str(CHILD_LEASE_SECONDS),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    env.pop("DAGSTER_HOME", None)
    started = time.monotonic()
    result = subprocess.run(
        [str(USER_IMPORT), "run", SOURCE],
        env=env,
        cwd=crashing.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "at",
    [
        "streaming",
        "users_staged",
        "addresses_staged",
        "step:insert_new_users",
        "users_merged",
        "step:insert_changed_addresses",
        "addresses_replaced",
    ],
)
def test_killed_user_import_run_is_taken_over_by_the_next_run_at_once(
    seeded: Importer,
    reference: dict[str, Any],
    children: list[crashing.Child],
    at: str,
) -> None:
    before = data(seeded)
    child = start_child(seeded, None, children, at)
    assert child.wait(timeout=300) == -signal.SIGKILL, child.output()
    job = the_job(seeded)
    assert job["status"] == "running" and job["attempts"] == 1, job
    if job["phase"] in ("pending", "users_staged", "addresses_staged"):
        assert data(seeded) == before, "nothing may be merged before the merge committed"

    result, seconds = rerun(seeded)
    print(f"{at}: the re-run took {seconds:.1f} s")

    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["job_id"] == str(job["id"]), "the re-run must resume the killed run's job"
    assert summary["status"] == "succeeded"
    assert job_state(seeded, job["id"]) == reference
    assert the_job(seeded)["attempts"] == 2
    # Far below the killed run's 60 s lease: it was not waited for.
    assert seconds < CHILD_LEASE_SECONDS / 2, f"the re-run took {seconds:.1f} s"
