"""PostgreSQL restarted with ``pg_ctl -m immediate`` in the middle of an import (issue 6).

An immediate stop is a crash: the next start runs crash recovery, which empties every
UNLOGGED table - the job's staging - and the run loses its open transaction and its
connections. The import must notice, stage again from the file, never merge a partial
staging set, and end in the same run (its op retried by the RetryPolicy) exactly like the
uninterrupted reference of ``resuming.py``.

The tests stop the server, so it is a private embedded one, started for this module.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from user_import_pipeline.db.embedded import EmbeddedServer
from user_import_pipeline_tests import crashing
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import (
    job_state,
    staged,
    start_child,
    the_job,
)

pytestmark = pytest.mark.faults


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(root=Path(tmp_path_factory.mktemp("restarted_pg")), port=_free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server_url(server: EmbeddedServer) -> str:
    """Every database of this module lives on the private server."""
    return server.url("postgres")


@pytest.mark.slow
@pytest.mark.parametrize(
    "at",
    [
        pytest.param("streaming", id="while-streaming-users"),
        pytest.param("users_staged", id="after-users_staged"),
        pytest.param("addresses_staged", id="after-addresses_staged"),
        pytest.param("step:insert_new_users", id="inside-user-merge"),
        pytest.param("users_merged", id="after-users_merged"),
        pytest.param("step:insert_changed_addresses", id="inside-replace"),
    ],
)
def test_a_restart_mid_import_restages_and_ends_like_the_reference(
    server: EmbeddedServer,
    seeded: Importer,
    instance: dg.DagsterInstance,
    children: list[crashing.Child],
    reference: dict[str, Any],
    at: str,
) -> None:
    child = start_child(seeded, instance, children, at, action="hold", lease_seconds=60)
    child.wait_reached()
    job = the_job(seeded)
    before = job_state(seeded, job["id"])["data"]

    assert server.stop(mode="immediate")
    server.start()

    assert set(staged(seeded, job["id"]).values()) <= {0}, "crash recovery empties staging"
    if at in ("streaming", "users_staged", "addresses_staged", "step:insert_new_users"):
        assert job_state(seeded, job["id"])["data"] == before, "no user merged yet"
    child.release()
    assert child.wait(120) == 0, child.output()
    outcome_job = the_job(seeded)
    assert outcome_job["attempts"] == 1, "the same run finished it"
    assert job_state(seeded, job["id"]) == reference
    log = child.log()
    if at != "streaming":
        assert "were lost (database restart?); restaging" in log, log[-3000:]
