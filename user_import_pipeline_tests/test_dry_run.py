"""A dry run reads, validates and plans a file exactly as an import would, records the
counts and row errors it would produce, and writes neither users nor addresses - not a row,
not a tuple version. Every way in offers it: the core, ``user-import run --dry-run``, the
run config ``dry_run: true`` and the HTTP API's ``"dry_run": true``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from user_import_pipeline.api.app import create_app
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline_tests.api.serving import UNREACHABLE_DAGSTER, serve
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.merge.support import versions
from user_import_pipeline_tests.ops.resuming import SOURCE, data

CLI = str(Path(sys.executable).with_name("user-import"))


def written(importer: Importer) -> dict[str, Any]:
    """Everything that says whether users or addresses were written: the rows with their
    versions, and the tuples inserted, updated or deleted as the server counts them."""
    stats = importer.query(
        "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS tuples FROM pg_stat_user_tables"
        " WHERE relname IN ('users', 'addresses') ORDER BY relname"
    )
    return {"data": data(importer), "versions": versions(importer), "stats": stats}


def errors_of(importer: Importer, job_id: object) -> list[dict[str, Any]]:
    return importer.query(
        "SELECT row_index, code, message, superseded, phase FROM import_job_errors"
        " WHERE job_id = %s ORDER BY row_index",
        (job_id,),
    )


def test_a_dry_run_counts_what_the_import_then_does_and_writes_nothing(
    seeded: Importer, reference: dict[str, Any]
) -> None:
    before = written(seeded)

    dry = seeded.run(SOURCE, dry_run=True)

    assert dry.succeeded, dry.message
    assert dry.job is not None and dry.job["dry_run"] is True
    assert written(seeded) == before, "a dry run writes neither users nor addresses"
    assert dry.counts == {key: reference["job"][key] for key in jobs.COUNT_FIELDS}
    assert [
        {k: e[k] for k in ("row_index", "code", "message", "superseded")}
        for e in errors_of(seeded, dry.job["id"])
    ] == [
        {k: e[k] for k in ("row_index", "code", "message", "superseded")}
        for e in reference["errors"]
    ]

    real = seeded.run(SOURCE)

    assert real.succeeded and real.job is not None and real.job["dry_run"] is False
    assert real.job["id"] != dry.job["id"]
    assert real.counts == dry.counts
    assert data(seeded) == reference["data"]


def test_user_import_run_dry_run_says_so_in_its_summary(seeded: Importer) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": seeded.dsn,
        "DAGSTER_PG_URL": "postgresql+psycopg2://unused@127.0.0.1:1/unused",
        "IMPORT_BASE_DIR": str(seeded.base_dir),
    }
    env.pop("DAGSTER_HOME", None)
    before = written(seeded)
    result = subprocess.run(
        [CLI, "run", SOURCE, "--dry-run"],
        env=env,
        cwd=seeded.base_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert (summary["status"], summary["dry_run"]) == ("succeeded", True)
    assert summary["imported_count"] == 23
    assert written(seeded) == before


def test_the_run_config_and_the_http_api_ask_for_dry_runs(seeded: Importer) -> None:
    before = written(seeded)
    outcome = seeded.run_dagster(SOURCE, dry_run=True)
    assert outcome.succeeded and outcome.job is not None and outcome.job["dry_run"] is True

    with serve(create_app(seeded.dsn, seeded.base_dir, UNREACHABLE_DAGSTER)) as api:
        queued = api.post_json({"source_path": SOURCE, "dry_run": True})
        refused = api.post_json({"source_path": SOURCE, "dry_run": "yes"})
        assert queued.status == 202, queued.body
        assert queued.json["data"]["dry_run"] is True
        job_id = queued.json["data"]["job_id"]
        # The run Dagster would launch for the queued job (Dagster is unreachable here).
        ran = seeded.run(job_id=job_id)
        shown = api.get(f"/api/v1/imports/{job_id}")
    assert refused.status == 400 and refused.error_code == "bad_request"
    assert ran.succeeded and ran.job is not None and ran.job["dry_run"] is True
    assert shown.json["data"]["dry_run"] is True
    assert shown.json["data"]["counts"]["imported"] == 23
    assert written(seeded) == before
