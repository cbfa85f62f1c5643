"""No secret is written to disk by a run: an import through Dagster with a password in
``DATABASE_URL`` leaves that password nowhere under ``DAGSTER_HOME`` (op outputs, event
log, run records, compute logs) and nowhere in the run's events.

Dagster pickles every op output under ``DAGSTER_HOME/storage`` when a run is launched
through an instance, so what passes between the ops must be ids, never a DSN."""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import pytest
from psycopg import conninfo

from user_import_pipeline_tests import crashing
from user_import_pipeline_tests.importing import Importer


def with_password(dsn: str) -> tuple[str, str]:
    """``dsn`` with a password, and that password: the server's own when the DSN has one,
    else a made-up one (a trust-authenticated server does not look at it)."""
    params = conninfo.conninfo_to_dict(dsn)
    password = str(params.get("password") or f"pw-{uuid.uuid4().hex}")
    params["password"] = password
    return conninfo.make_conninfo("", **params), password


def test_a_run_writes_the_database_password_nowhere(
    importer: Importer, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, password = with_password(importer.dsn)
    source = importer.write("users.json", [{"name": "Ann", "email": "ann@example.com"}])
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("IMPORT_BASE_DIR", str(importer.base_dir))
    home = tmp_path_factory.mktemp("dagster_home")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = dg.execute_job(
            dg.reconstructable(crashing.import_job),
            instance,
            run_config={"ops": {"claim_import": {"config": {"source_path": source}}}},
        )
        assert result.success
        events = [repr(entry) for entry in instance.all_logs(result.run_id)]
        run = repr(instance.get_run_by_id(result.run_id))
    assert any("STEP_OUTPUT" in event for event in events), "the run's events were read"
    assert [event for event in events if password in event] == []
    assert password not in run
    written = [path for path in Path(home).rglob("*") if path.is_file()]
    assert written, "the instance's files were looked at"
    assert [path for path in written if password.encode() in path.read_bytes()] == []
    # The ops pass each other nothing: no output is pickled under DAGSTER_HOME at all.
    assert [path for path in written if path.name == "result"] == []
