"""A real PostgreSQL for every test that touches the database.

The server is ``TEST_DATABASE_URL`` when set, the embedded server otherwise (started once
per pytest run, and stopped at its end if that run started it). Each test module gets a
fresh, migrated database of its own, dropped afterwards, so modules run in any order.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from user_import_pipeline.db.client import Database
from user_import_pipeline.db.embedded import EmbeddedServer
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import SOURCE, USERS, job_state, seed
from user_import_pipeline_tests.s3_server import S3Server, s3_server
from user_import_pipeline_tests.webhooks import Receiver, receiving

os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"


def _with_database(url: str, database: str) -> str:
    params = conninfo.conninfo_to_dict(url)
    params["dbname"] = database
    return conninfo.make_conninfo("", **params)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A connection string to the test server's maintenance database."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield _with_database(url, "postgres")
        return
    server = EmbeddedServer.from_settings()
    started_here = not server.is_running()
    server.start()
    yield server.url("postgres")
    if started_here:
        server.stop()


def create_database(server_url: str) -> str:
    """Create an empty database with a unique name; returns its connection string."""
    name = f"uip_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_database(server_url, name)


def drop_database(server_url: str, dsn: str) -> None:
    """Drop the database, and the Dagster storage ``user-import`` made beside it if any."""
    name = conninfo.conninfo_to_dict(dsn)["dbname"]
    assert isinstance(name, str)
    with psycopg.connect(server_url, autocommit=True) as conn:
        for database in (name, f"{name}_dagster"):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


@pytest.fixture(scope="module")
def empty_dsn(server_url: str) -> Iterator[str]:
    """A fresh database without any schema, for this module only."""
    dsn = create_database(server_url)
    yield dsn
    drop_database(server_url, dsn)


@pytest.fixture(scope="module")
def dsn(empty_dsn: str) -> str:
    """A fresh, migrated database for this module only."""
    migrate(Database(empty_dsn))
    return empty_dsn


@pytest.fixture
def importer(dsn: str, tmp_path: Path) -> Iterator[Importer]:
    """An importer on this module's database with an empty base directory; the tables are
    emptied before each test, so tests in a module do not depend on each other."""
    importer = Importer(dsn=dsn, base_dir=tmp_path)
    importer.reset()
    yield importer


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


@pytest.fixture
def seeded(importer: Importer) -> Importer:
    """The SEED state, and the file USERS written (ops/resuming.py)."""
    seed(importer)
    importer.write(SOURCE, USERS)
    return importer


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (webhooks.py)."""
    with receiving() as running:
        yield running


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """A real S3 API on 127.0.0.1 for the session (s3_server.py). Its ``AWS_*`` variables
    are set in this process while it runs, so boto3 here finds it as a deployment's would;
    each test makes its own bucket (``S3Server.new_prefix``)."""
    with s3_server() as server, pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_PROFILE", raising=False)
        for name, value in server.env.items():
            patch.setenv(name, value)
        yield server


@pytest.fixture
def s3_importer(importer: Importer, s3: S3Server) -> Importer:
    """``importer`` reading its files from a new bucket's ``imports/`` prefix."""
    importer.objects = s3.new_prefix()
    return importer
